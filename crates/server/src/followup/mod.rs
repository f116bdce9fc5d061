//! HTTP for follow-up plans (随访) and chronic disease management:
//! templates, assigning a plan, completing tasks, alerts and figures.

pub mod jobs;
pub mod service;
pub mod ui;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json as AxumJson, Router};
use ihos_domain::followup::ResultInput;
use service::*;

use crate::auth::Caller;
use crate::error::{ApiResult, ErrorBody};
use crate::json::Json;
use crate::state::AppState;

pub use ui::TEXT;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/followup/templates", get(list_templates))
        .route("/api/v1/followup/plans", get(my_plans).post(assign_plan))
        .route("/api/v1/followup/doctor-plans", get(doctor_plans))
        .route("/api/v1/followup/plans/{id}", get(plan))
        .route("/api/v1/followup/tasks/{id}/complete", post(complete_task))
        .route("/api/v1/followup/alerts", get(alerts))
        .route(
            "/api/v1/followup/alerts/{id}/acknowledge",
            post(acknowledge),
        )
        .route("/api/v1/followup/figures", get(figures))
        .merge(ui::router())
}

/// The plan templates kept in the repository.
#[utoipa::path(get, path = "/api/v1/followup/templates", tag = "followup",
    responses((status = 200, body = [TemplateView])))]
pub async fn list_templates() -> ApiResult<AxumJson<Vec<TemplateView>>> {
    Ok(AxumJson(service::list_templates()?))
}

/// A doctor with a care relationship assigns a plan (at discharge or after a visit).
#[utoipa::path(post, path = "/api/v1/followup/plans", tag = "followup", request_body = AssignPlanInput,
    responses((status = 201, body = PlanView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn assign_plan(
    State(state): State<AppState>,
    caller: Caller,
    Json(input): Json<AssignPlanInput>,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        AxumJson(service::assign(&state, &caller, input).await?),
    ))
}

/// The caller's plans as patient or guardian, with their tasks.
#[utoipa::path(get, path = "/api/v1/followup/plans", tag = "followup",
    responses((status = 200, body = [PlanView])))]
pub async fn my_plans(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<AxumJson<Vec<PlanView>>> {
    Ok(AxumJson(service::mine(&state, &caller).await?))
}

/// The plans the calling doctor assigned. Audited.
#[utoipa::path(get, path = "/api/v1/followup/doctor-plans", tag = "followup",
    responses((status = 200, body = [PlanView]), (status = 403, body = ErrorBody)))]
pub async fn doctor_plans(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<AxumJson<Vec<PlanView>>> {
    Ok(AxumJson(service::doctor_plans(&state, &caller).await?))
}

/// One plan with its tasks (patient side or treating doctor). Audited.
#[utoipa::path(get, path = "/api/v1/followup/plans/{id}", tag = "followup",
    responses((status = 200, body = PlanView), (status = 404, body = ErrorBody)))]
pub async fn plan(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<AxumJson<PlanView>> {
    Ok(AxumJson(service::get(&state, &caller, &id).await?))
}

/// Complete a task; a reading outside the range alerts the doctor exactly once.
/// Body: `systolic`+`diastolic`, `glucose`, `answers`, `taken_as_prescribed`+`missed_doses`
/// or `confirmed`, by the task kind; an optional `note`.
#[utoipa::path(post, path = "/api/v1/followup/tasks/{id}/complete", tag = "followup",
    responses((status = 200, body = TaskOutcome), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn complete_task(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(input): Json<ResultInput>,
) -> ApiResult<AxumJson<TaskOutcome>> {
    Ok(AxumJson(
        service::complete_task(&state, &caller, &id, input).await?,
    ))
}

/// The calling doctor's alerts (abnormal readings, missed tasks).
#[utoipa::path(get, path = "/api/v1/followup/alerts", tag = "followup",
    responses((status = 200, body = [AlertView]), (status = 403, body = ErrorBody)))]
pub async fn alerts(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<AxumJson<Vec<AlertView>>> {
    Ok(AxumJson(service::alerts(&state, &caller).await?))
}

#[utoipa::path(post, path = "/api/v1/followup/alerts/{id}/acknowledge", tag = "followup",
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn acknowledge(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    service::acknowledge(&state, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Adherence and control rate per doctor and department.
#[utoipa::path(get, path = "/api/v1/followup/figures", tag = "followup", params(FiguresQuery),
    responses((status = 200, body = FiguresView), (status = 404, body = ErrorBody)))]
pub async fn figures(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<FiguresQuery>,
) -> ApiResult<AxumJson<FiguresView>> {
    Ok(AxumJson(
        service::figures(&state, &caller, q.org_id.as_deref()).await?,
    ))
}
