//! Payment: one order per visit ("pay at most once"), the insurance split
//! per item, a payment-provider interface with a sandbox provider, signed
//! idempotent callbacks, refunds and a job that closes unpaid orders.
//!
//! # For other capabilities
//!
//! An order belongs to a visit, keyed by `(visit_kind, visit_id)` (unique):
//! `consultation` for online consultations; home nursing uses `nursing`.
//! To charge for something, put items on the visit's order:
//!
//! ```ignore
//! use crate::payment::service::{open_or_extend_order, OrderItemInput, Visit};
//! use ihos_domain::payment::ItemKind;
//! let order = open_or_extend_order(&state, Visit { kind: VisitKind::Nursing, id: &order_id,
//!     patient_id: &patient_id, org_id: &org_id },
//!     &[OrderItemInput { kind: ItemKind::NursingService, ref_id: service_id,
//!        description: "PICC 维护".into(), quantity: 1, unit_price_fen: 12000,
//!        reimburse_permille: 500 }]).await?;
//! ```
//!
//! (`open_or_extend_in` does the same inside your own transaction.) Items
//! are accepted only before payment starts; afterwards the call fails with
//! `pay_order_locked`. The patient pays the whole order once at
//! `/orders/{id}`. To learn that it was paid, either call
//! `service::is_paid(&state, VisitKind::Nursing, id)`, or consume the outbox topic
//! `payment.paid` (payload `{order_id, visit_kind, visit_id}`), written in
//! the same transaction that marks the order paid.
//!
//! Money is integer fen. The insurance share of each item is rounded down
//! to the fen; the patient pays the rest (see `ihos_domain::payment`).

pub mod hooks;
pub mod provider;
pub mod runtime;
pub mod service;
pub mod timeout_job;
pub mod ui;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json as AxumJson, Router};
use serde::Deserialize;

use crate::auth::Caller;
use crate::error::{ApiResult, ErrorBody};
use crate::json::Json;
use crate::state::AppState;
use service::{CallbackAnswer, OrderView, PayStarted};

pub use runtime::{Payments, payments};
pub use ui::TEXT;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/payment-orders", get(my_orders))
        .route("/api/v1/payment-orders/{id}", get(order))
        .route("/api/v1/payment-orders/{id}/pay", post(pay))
        .route("/api/v1/payment-orders/{id}/cancel", post(cancel))
        .route("/api/v1/payments/callback/{provider}", post(callback))
        .route(
            "/api/v1/payments/sandbox/{txn}/confirm",
            post(sandbox_confirm),
        )
        .merge(ui::router())
}

/// The caller's orders (and those of children in their care), newest first.
#[utoipa::path(get, path = "/api/v1/payment-orders", tag = "payment",
    responses((status = 200, body = [OrderView]), (status = 401, body = ErrorBody)))]
async fn my_orders(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<AxumJson<Vec<OrderView>>> {
    Ok(AxumJson(service::mine(&state, &caller).await?))
}

/// One order with every item's insurance and self-paid share.
#[utoipa::path(get, path = "/api/v1/payment-orders/{id}", tag = "payment",
    responses((status = 200, body = OrderView), (status = 404, body = ErrorBody)))]
async fn order(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<AxumJson<OrderView>> {
    Ok(AxumJson(service::get(&state, &caller, &id).await?))
}

/// Pay the whole visit once: starts a provider payment for the self-paid share.
#[utoipa::path(post, path = "/api/v1/payment-orders/{id}/pay", tag = "payment",
    responses((status = 200, body = PayStarted), (status = 409, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn pay(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<AxumJson<PayStarted>> {
    Ok(AxumJson(service::pay(&state, &caller, &id).await?))
}

/// Cancel the order; a paid one is refunded if nothing was dispensed or shipped.
#[utoipa::path(post, path = "/api/v1/payment-orders/{id}/cancel", tag = "payment",
    responses((status = 200, body = OrderView), (status = 409, body = ErrorBody)))]
async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<AxumJson<OrderView>> {
    Ok(AxumJson(service::cancel(&state, &caller, &id).await?))
}

/// Provider notification (signed with `Ihos-Signature`); idempotent per event id.
#[utoipa::path(post, path = "/api/v1/payments/callback/{provider}", tag = "payment",
    request_body = provider::Notification,
    responses((status = 200, body = CallbackAnswer), (status = 401, body = ErrorBody), (status = 400, body = ErrorBody)))]
async fn callback(
    State(state): State<AppState>,
    Path(provider_name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<AxumJson<CallbackAnswer>> {
    let sig = headers
        .get(provider::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok());
    Ok(AxumJson(
        service::callback(&state, &provider_name, sig, &body).await?,
    ))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct ConfirmInput {
    /// false simulates the payer refusing or the bank declining.
    pub succeed: Option<bool>,
}

/// Sandbox checkout: the payer authorises; the sandbox calls back asynchronously.
#[utoipa::path(post, path = "/api/v1/payments/sandbox/{txn}/confirm", tag = "payment",
    request_body = ConfirmInput,
    responses((status = 202), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn sandbox_confirm(
    State(state): State<AppState>,
    caller: Caller,
    Path(txn): Path<String>,
    Json(input): Json<ConfirmInput>,
) -> ApiResult<axum::http::StatusCode> {
    service::sandbox_confirm(&state, &caller, &txn, input.succeed.unwrap_or(true)).await?;
    Ok(axum::http::StatusCode::ACCEPTED)
}
