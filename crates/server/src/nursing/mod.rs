//! HTTP for home nursing (互联网+护理): the catalogue, nurse
//! qualifications, assessments, orders and the visit, safety alerts and
//! reviews. Handlers are thin; the rules live in `ihos_domain::nursing` and
//! the use cases in `service`.

pub mod demo;
pub mod payment_hook;
pub mod service;
pub mod ui;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use axum::{Json as AxumJson, Router};
use serde::Deserialize;
use service::*;

use crate::auth::Caller;
use crate::error::{ApiResult, ErrorBody};
use crate::json::Json;
use crate::state::AppState;

pub use ui::TEXT;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/nursing/services", get(list_services))
        .route(
            "/api/v1/organisations/{org_id}/nursing-services",
            post(create_service),
        )
        .route("/api/v1/organisations/{org_id}/nurses", get(list_nurses))
        .route(
            "/api/v1/organisations/{org_id}/nurses/{nurse_id}/qualifications",
            put(put_qualifications),
        )
        .route(
            "/api/v1/organisations/{org_id}/nursing-orders",
            get(hospital_orders),
        )
        .route("/api/v1/nursing/assessments", post(create_assessment))
        .route("/api/v1/nursing/orders", get(my_orders).post(create_order))
        .route("/api/v1/nursing/assigned", get(assigned_orders))
        .route("/api/v1/nursing/orders/{id}", get(order_record))
        .route("/api/v1/nursing/orders/{id}/assign", post(assign_nurse))
        .route("/api/v1/nursing/orders/{id}/accept", post(accept_order))
        .route("/api/v1/nursing/orders/{id}/decline", post(decline_order))
        .route("/api/v1/nursing/orders/{id}/check-in", post(check_in_visit))
        .route(
            "/api/v1/nursing/orders/{id}/check-out",
            post(check_out_visit),
        )
        .route("/api/v1/nursing/orders/{id}/cancel", post(cancel_order))
        .route(
            "/api/v1/nursing/orders/{id}/safety-alerts",
            post(raise_safety_alert),
        )
        .route("/api/v1/nursing/orders/{id}/review", post(review_visit))
        .merge(ui::router())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct CatalogueQuery {
    /// One hospital's catalogue; omit for all.
    pub org_id: Option<String>,
}

/// The home-nursing catalogue (public).
#[utoipa::path(get, path = "/api/v1/nursing/services", tag = "nursing", params(CatalogueQuery),
    responses((status = 200, body = [ServiceView])))]
pub async fn list_services(
    State(state): State<AppState>,
    Query(q): Query<CatalogueQuery>,
) -> ApiResult<AxumJson<Vec<ServiceView>>> {
    Ok(AxumJson(
        service::catalogue(&state, q.org_id.as_deref()).await?,
    ))
}

/// An org admin adds a service with its fee and the nurse it needs.
#[utoipa::path(post, path = "/api/v1/organisations/{org_id}/nursing-services", tag = "nursing",
    request_body = NewServiceInput,
    responses((status = 201, body = ServiceView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_service(
    State(state): State<AppState>,
    caller: Caller,
    Path(org_id): Path<String>,
    Json(input): Json<NewServiceInput>,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        AxumJson(service::add_service(&state, &caller, &org_id, input).await?),
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct NursesQuery {
    /// Mark which nurses may take this order.
    pub order_id: Option<String>,
}

/// The hospital's nurses with years and qualifications (org admin).
#[utoipa::path(get, path = "/api/v1/organisations/{org_id}/nurses", tag = "nursing", params(NursesQuery),
    responses((status = 200, body = [NurseView]), (status = 404, body = ErrorBody)))]
pub async fn list_nurses(
    State(state): State<AppState>,
    caller: Caller,
    Path(org_id): Path<String>,
    Query(q): Query<NursesQuery>,
) -> ApiResult<AxumJson<Vec<NurseView>>> {
    Ok(AxumJson(
        service::nurses(&state, &caller, &org_id, q.order_id.as_deref()).await?,
    ))
}

/// Record the qualifications the hospital verified for a nurse (replaces the list).
#[utoipa::path(put, path = "/api/v1/organisations/{org_id}/nurses/{nurse_id}/qualifications", tag = "nursing",
    request_body = QualificationsInput,
    responses((status = 200, body = NurseView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn put_qualifications(
    State(state): State<AppState>,
    caller: Caller,
    Path((org_id, nurse_id)): Path<(String, String)>,
    Json(input): Json<QualificationsInput>,
) -> ApiResult<AxumJson<NurseView>> {
    Ok(AxumJson(
        service::set_qualifications(&state, &caller, &org_id, &nurse_id, input).await?,
    ))
}

/// The hospital's orders for dispatch (org admin; masked).
#[utoipa::path(get, path = "/api/v1/organisations/{org_id}/nursing-orders", tag = "nursing",
    responses((status = 200, body = [OrderView]), (status = 404, body = ErrorBody)))]
pub async fn hospital_orders(
    State(state): State<AppState>,
    caller: Caller,
    Path(org_id): Path<String>,
) -> ApiResult<AxumJson<Vec<OrderView>>> {
    Ok(AxumJson(
        service::org_orders(&state, &caller, &org_id).await?,
    ))
}

/// A doctor or nurse of the hospital records an assessment for home nursing.
#[utoipa::path(post, path = "/api/v1/nursing/assessments", tag = "nursing", request_body = AssessmentInput,
    responses((status = 201, body = AssessmentView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create_assessment(
    State(state): State<AppState>,
    caller: Caller,
    Json(input): Json<AssessmentInput>,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        AxumJson(service::assess(&state, &caller, input).await?),
    ))
}

/// Order a home visit (refused without an assessment by the hospital).
#[utoipa::path(post, path = "/api/v1/nursing/orders", tag = "nursing", request_body = NewOrderInput,
    responses((status = 201, body = OrderView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create_order(
    State(state): State<AppState>,
    caller: Caller,
    Json(input): Json<NewOrderInput>,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        AxumJson(service::order(&state, &caller, input).await?),
    ))
}

/// The caller's orders as patient or guardian.
#[utoipa::path(get, path = "/api/v1/nursing/orders", tag = "nursing",
    responses((status = 200, body = [OrderView]), (status = 401, body = ErrorBody)))]
pub async fn my_orders(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<AxumJson<Vec<OrderView>>> {
    Ok(AxumJson(service::mine(&state, &caller).await?))
}

/// The orders assigned to the calling nurse.
#[utoipa::path(get, path = "/api/v1/nursing/assigned", tag = "nursing",
    responses((status = 200, body = [OrderView]), (status = 403, body = ErrorBody)))]
pub async fn assigned_orders(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<AxumJson<Vec<OrderView>>> {
    Ok(AxumJson(service::nurse_orders(&state, &caller).await?))
}

/// The complete visit record: order, timeline, safety alerts, review. Audited.
#[utoipa::path(get, path = "/api/v1/nursing/orders/{id}", tag = "nursing",
    responses((status = 200, body = OrderRecord), (status = 404, body = ErrorBody)))]
pub async fn order_record(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<AxumJson<OrderRecord>> {
    Ok(AxumJson(service::get(&state, &caller, &id).await?))
}

/// Assign a qualified nurse (org admin), or take the order as a qualified nurse.
#[utoipa::path(post, path = "/api/v1/nursing/orders/{id}/assign", tag = "nursing", request_body = AssignInput,
    responses((status = 200, body = OrderView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn assign_nurse(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(input): Json<AssignInput>,
) -> ApiResult<AxumJson<OrderView>> {
    Ok(AxumJson(
        service::assign(&state, &caller, &id, input).await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/nursing/orders/{id}/accept", tag = "nursing",
    responses((status = 200, body = OrderView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn accept_order(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<AxumJson<OrderView>> {
    Ok(AxumJson(service::accept(&state, &caller, &id).await?))
}

/// The nurse gives the order back to the hospital for another nurse.
#[utoipa::path(post, path = "/api/v1/nursing/orders/{id}/decline", tag = "nursing", request_body = ReasonInput,
    responses((status = 200, body = OrderView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn decline_order(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(input): Json<ReasonInput>,
) -> ApiResult<AxumJson<OrderView>> {
    Ok(AxumJson(
        service::decline(&state, &caller, &id, input).await?,
    ))
}

/// The nurse arrives: time and place are recorded.
#[utoipa::path(post, path = "/api/v1/nursing/orders/{id}/check-in", tag = "nursing", request_body = LocationInput,
    responses((status = 200, body = OrderView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn check_in_visit(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(input): Json<LocationInput>,
) -> ApiResult<AxumJson<OrderView>> {
    Ok(AxumJson(
        service::check_in(&state, &caller, &id, input).await?,
    ))
}

/// The nurse leaves: time, place and the record of what was done.
#[utoipa::path(post, path = "/api/v1/nursing/orders/{id}/check-out", tag = "nursing", request_body = CheckOutInput,
    responses((status = 200, body = OrderView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn check_out_visit(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(input): Json<CheckOutInput>,
) -> ApiResult<AxumJson<OrderView>> {
    Ok(AxumJson(
        service::check_out(&state, &caller, &id, input).await?,
    ))
}

/// The patient cancels before the visit; a paid order is refunded.
#[utoipa::path(post, path = "/api/v1/nursing/orders/{id}/cancel", tag = "nursing", request_body = ReasonInput,
    responses((status = 200, body = OrderView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn cancel_order(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(input): Json<ReasonInput>,
) -> ApiResult<AxumJson<OrderView>> {
    Ok(AxumJson(
        service::cancel(&state, &caller, &id, input).await?,
    ))
}

/// The nurse raises a safety alert; the hospital's admins are notified.
#[utoipa::path(post, path = "/api/v1/nursing/orders/{id}/safety-alerts", tag = "nursing", request_body = SafetyInput,
    responses((status = 201, body = SafetyAlertView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn raise_safety_alert(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(input): Json<SafetyInput>,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        AxumJson(service::safety_alert(&state, &caller, &id, input).await?),
    ))
}

/// The patient served reviews the completed visit, once.
#[utoipa::path(post, path = "/api/v1/nursing/orders/{id}/review", tag = "nursing", request_body = ReviewInput,
    responses((status = 201, body = NursingReviewView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn review_visit(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(input): Json<ReviewInput>,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        AxumJson(service::review(&state, &caller, &id, input).await?),
    ))
}
