//! Home nursing's part in a visit's payment (registered at assembly): the
//! nursing order is marked paid in the paying transaction, and its payment
//! is cancelled or refunded only with the nursing order itself.

use async_trait::async_trait;
use ihos_domain::ErrorCode;
use ihos_domain::payment::VisitKind;
use ihos_store::AnyConnection;
use ihos_store::payment::OrderRow;

use crate::error::{ApiError, ApiResult};
use crate::payment::hooks::{OrderHook, kind_of};

pub struct NursingPayments;

fn is_nursing(order: &OrderRow) -> bool {
    kind_of(order) == Some(VisitKind::Nursing)
}

#[async_trait]
impl OrderHook for NursingPayments {
    async fn paid(&self, conn: &mut AnyConnection, order: &OrderRow, now: i64) -> ApiResult<()> {
        if is_nursing(order) {
            super::service::mark_paid_in(conn, &order.visit_id, now).await?;
        }
        Ok(())
    }

    fn direct_cancel_refused(&self, order: &OrderRow) -> Option<ApiError> {
        is_nursing(order).then(|| {
            ApiError::conflict(
                ErrorCode::PayCancelTheVisit,
                ErrorCode::PayCancelTheVisit.en(),
            )
        })
    }
}
