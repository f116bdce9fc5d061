//! What other capabilities do inside payment's transactions. Payment knows
//! a visit's kind ([`VisitKind`]), never the capability behind it: pharmacy,
//! home nursing and whatever comes next register an [`OrderHook`] at
//! assembly (`app.rs`), and payment calls every hook for every order in the
//! transaction that changes it, so their reaction commits or rolls back with
//! the payment. A hook looks at what concerns it (its visit kind, its items)
//! and ignores the rest.

use std::sync::Arc;

use async_trait::async_trait;
use ihos_domain::payment::VisitKind;
use ihos_store::AnyConnection;
use ihos_store::payment::OrderRow;

use super::service::OrderView;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::web::Frame;

/// The order's visit kind, if this build knows it.
pub fn kind_of(order: &OrderRow) -> Option<VisitKind> {
    VisitKind::parse(&order.visit_kind)
}

#[async_trait]
pub trait OrderHook: Send + Sync {
    /// Refuse to start paying while part of the visit is not ready (a
    /// prescription still under review), so the visit is paid once.
    async fn check_payable(&self, _conn: &mut AnyConnection, _order: &OrderRow) -> ApiResult<()> {
        Ok(())
    }

    /// The order was marked paid in this transaction.
    async fn paid(&self, _conn: &mut AnyConnection, _order: &OrderRow, _now: i64) -> ApiResult<()> {
        Ok(())
    }

    /// The order was cancelled or refunded as a whole in this transaction.
    async fn cancelled(
        &self,
        _conn: &mut AnyConnection,
        _order: &OrderRow,
        _now: i64,
    ) -> ApiResult<()> {
        Ok(())
    }

    /// Whether something of the visit was already handed over (a drug
    /// dispensed or shipped): then the visit can no longer be undone online.
    async fn handed_over(&self, _conn: &mut AnyConnection, _order: &OrderRow) -> ApiResult<bool> {
        Ok(false)
    }

    /// Why the patient may not cancel this order on its own (it is
    /// cancelled with its visit instead), or `None`.
    fn direct_cancel_refused(&self, _order: &OrderRow) -> Option<ApiError> {
        None
    }

    /// A section of the order page about this capability's part of the
    /// visit (the drugs with their tracking), rendered by its owner.
    async fn order_page_section(
        &self,
        _state: &AppState,
        _caller: &Caller,
        _order: &OrderView,
        _f: &Frame,
    ) -> ApiResult<Option<String>> {
        Ok(None)
    }
}

/// Every registered hook, called in registration order.
#[derive(Default, Clone)]
pub struct OrderHooks(Vec<Arc<dyn OrderHook>>);

impl OrderHooks {
    pub fn with(mut self, hook: impl OrderHook + 'static) -> Self {
        self.0.push(Arc::new(hook));
        self
    }

    pub async fn check_payable(&self, conn: &mut AnyConnection, order: &OrderRow) -> ApiResult<()> {
        for h in &self.0 {
            h.check_payable(conn, order).await?;
        }
        Ok(())
    }

    pub async fn paid(
        &self,
        conn: &mut AnyConnection,
        order: &OrderRow,
        now: i64,
    ) -> ApiResult<()> {
        for h in &self.0 {
            h.paid(conn, order, now).await?;
        }
        Ok(())
    }

    pub async fn cancelled(
        &self,
        conn: &mut AnyConnection,
        order: &OrderRow,
        now: i64,
    ) -> ApiResult<()> {
        for h in &self.0 {
            h.cancelled(conn, order, now).await?;
        }
        Ok(())
    }

    pub async fn handed_over(&self, conn: &mut AnyConnection, order: &OrderRow) -> ApiResult<bool> {
        for h in &self.0 {
            if h.handed_over(conn, order).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    pub fn direct_cancel_refused(&self, order: &OrderRow) -> Option<ApiError> {
        self.0.iter().find_map(|h| h.direct_cancel_refused(order))
    }

    /// The sections other capabilities add to the order page, in order.
    pub async fn order_page_sections(
        &self,
        state: &AppState,
        caller: &Caller,
        order: &OrderView,
        f: &Frame,
    ) -> ApiResult<Vec<String>> {
        let mut out = Vec::new();
        for h in &self.0 {
            if let Some(html) = h.order_page_section(state, caller, order, f).await? {
                out.push(html);
            }
        }
        Ok(out)
    }
}
