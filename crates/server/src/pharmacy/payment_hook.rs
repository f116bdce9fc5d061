//! Pharmacy's part in a visit's payment (registered at assembly): no payment
//! while a prescription is under review; fulfilments become ready when the
//! order is paid and are withdrawn when it is cancelled; a dispensed drug
//! makes the visit final; the order page shows the drugs and their tracking.

use askama::Template;
use async_trait::async_trait;
use ihos_domain::payment::VisitKind;
use ihos_store::AnyConnection;
use ihos_store::payment::OrderRow;

use super::service::{self, PrescriptionView};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::payment::hooks::{OrderHook, kind_of};
use crate::payment::service::OrderView;
use crate::state::AppState;
use crate::web::{Frame, Millis, shanghai_time};

pub struct PharmacyPayments;

#[async_trait]
impl OrderHook for PharmacyPayments {
    async fn check_payable(&self, conn: &mut AnyConnection, order: &OrderRow) -> ApiResult<()> {
        service::check_visit_payable(conn, order).await
    }

    async fn paid(&self, conn: &mut AnyConnection, order: &OrderRow, now: i64) -> ApiResult<()> {
        service::on_order_paid(conn, order, now).await
    }

    async fn cancelled(
        &self,
        conn: &mut AnyConnection,
        order: &OrderRow,
        now: i64,
    ) -> ApiResult<()> {
        service::on_order_cancelled(conn, order, now).await
    }

    async fn handed_over(&self, conn: &mut AnyConnection, order: &OrderRow) -> ApiResult<bool> {
        service::handed_over(conn, &order.id).await
    }

    async fn order_page_section(
        &self,
        state: &AppState,
        caller: &Caller,
        order: &OrderView,
        f: &Frame,
    ) -> ApiResult<Option<String>> {
        if VisitKind::parse(&order.visit_kind) != Some(VisitKind::Consultation) {
            return Ok(None);
        }
        let prescriptions: Vec<PrescriptionView> =
            service::of_consultation(state, caller, &order.visit_id)
                .await
                .unwrap_or_default()
                .into_iter()
                .filter(|p| {
                    p.fulfilment
                        .as_ref()
                        .is_some_and(|ff| ff.order_id == order.id)
                })
                .collect();
        if prescriptions.is_empty() {
            return Ok(None);
        }
        let html = RxOrderSection { f, prescriptions }
            .render()
            .map_err(ApiError::internal)?;
        Ok(Some(html))
    }
}

/// Whether an order pays for a consultation (the visits prescriptions belong to).
pub fn is_consultation(order: &OrderRow) -> bool {
    kind_of(order) == Some(VisitKind::Consultation)
}

#[derive(Template)]
#[template(path = "rx_order_section.html")]
struct RxOrderSection<'a> {
    f: &'a Frame,
    prescriptions: Vec<PrescriptionView>,
}

impl RxOrderSection<'_> {
    fn rx_st(&self, s: &str) -> &'static str {
        self.f.t(&super::ui::status_key(s))
    }
    fn method(&self, m: &str) -> &'static str {
        self.f.t(&format!("rx_m_{m}"))
    }
    fn when(&self, ms: impl Millis) -> String {
        shanghai_time(ms.ms())
    }
}
