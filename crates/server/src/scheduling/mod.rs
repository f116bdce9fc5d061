//! HTTP for schedules and appointments: templates, extra hours, leave,
//! search with live remaining seats, booking, cancellation, attendance, the
//! in-app inbox, and the booking and schedule pages.

pub mod batch;
pub mod demo;
pub mod gate;
pub mod jobs;
pub mod lane;
pub mod pages;
pub mod runtime;
pub mod service;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use axum::{Json as AxumJson, Router};
use serde::Deserialize;
use service::*;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::json::Json;
use crate::state::AppState;

pub use pages::TEXT;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/doctors/{id}/templates",
            get(doctor_templates).post(create_template),
        )
        .route(
            "/api/v1/schedule-templates/{id}",
            put(change_template).delete(remove_template),
        )
        .route("/api/v1/doctors/{id}/extra-hours", post(add_extra_hours))
        .route("/api/v1/doctors/{id}/leave", post(take_leave))
        .route("/api/v1/doctors/{id}/day", get(doctor_day))
        .route("/api/v1/schedule", get(search))
        .route("/api/v1/slots/{id}/bookings", post(book))
        .route("/api/v1/me/appointments", get(my_appointments))
        .route("/api/v1/me/notifications", get(notifications))
        .route("/api/v1/appointments/{id}", get(appointment))
        .route("/api/v1/appointments/{id}/cancel", post(cancel))
        .route("/api/v1/appointments/{id}/attendance", post(attendance))
        .merge(pages::router())
}

/// A weekly template of consultation hours; its slots are made up to the horizon.
#[utoipa::path(post, path = "/api/v1/doctors/{id}/templates", tag = "scheduling", request_body = TemplateInput,
    responses((status = 201, body = ScheduleChange), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create_template(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(input): Json<TemplateInput>,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        AxumJson(service::create_template(&state, &caller, &id, input).await?),
    ))
}

/// A doctor's active weekly templates (public).
#[utoipa::path(get, path = "/api/v1/doctors/{id}/templates", tag = "scheduling",
    responses((status = 200, body = [TemplateView])))]
pub async fn doctor_templates(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<AxumJson<Vec<TemplateView>>> {
    Ok(AxumJson(service::doctor_templates(&state, &id).await?))
}

/// Change a template: bookings on slots that no longer exist are displaced,
/// refunded and their patients notified; nothing is dropped silently.
#[utoipa::path(put, path = "/api/v1/schedule-templates/{id}", tag = "scheduling", request_body = TemplateInput,
    responses((status = 200, body = ScheduleChange), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn change_template(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(input): Json<TemplateInput>,
) -> ApiResult<AxumJson<ScheduleChange>> {
    Ok(AxumJson(
        service::change_template(&state, &caller, &id, input).await?,
    ))
}

#[utoipa::path(delete, path = "/api/v1/schedule-templates/{id}", tag = "scheduling",
    responses((status = 200, body = ScheduleChange), (status = 404, body = ErrorBody)))]
pub async fn remove_template(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<AxumJson<ScheduleChange>> {
    Ok(AxumJson(
        service::remove_template(&state, &caller, &id).await?,
    ))
}

/// One-off extra hours on one day.
#[utoipa::path(post, path = "/api/v1/doctors/{id}/extra-hours", tag = "scheduling", request_body = ExtraHoursInput,
    responses((status = 201, body = ScheduleChange), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn add_extra_hours(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(input): Json<ExtraHoursInput>,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        AxumJson(service::add_extra_hours(&state, &caller, &id, input).await?),
    ))
}

/// Leave: withdraw the doctor's slots on those days; booked patients are notified.
#[utoipa::path(post, path = "/api/v1/doctors/{id}/leave", tag = "scheduling", request_body = LeaveInput,
    responses((status = 200, body = ScheduleChange), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn take_leave(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(input): Json<LeaveInput>,
) -> ApiResult<AxumJson<ScheduleChange>> {
    Ok(AxumJson(
        service::take_leave(&state, &caller, &id, input).await?,
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct DayQuery {
    /// YYYY-MM-DD, default today (Asia/Shanghai)
    pub date: Option<String>,
}

/// A doctor's day: slots and booked patients (the doctor or the org's admin).
#[utoipa::path(get, path = "/api/v1/doctors/{id}/day", tag = "scheduling", params(DayQuery),
    responses((status = 200, body = DayView), (status = 404, body = ErrorBody)))]
pub async fn doctor_day(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    q: Result<Query<DayQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<AxumJson<DayView>> {
    let Query(q) = q?;
    Ok(AxumJson(
        service::doctor_day(&state, &caller, &id, q.date.as_deref()).await?,
    ))
}

/// Find doctors by department, specialty, title and date with live remaining seats.
#[utoipa::path(get, path = "/api/v1/schedule", tag = "scheduling", params(SearchQuery),
    responses((status = 200, body = [DoctorSchedule]), (status = 400, body = ErrorBody)))]
pub async fn search(
    State(state): State<AppState>,
    q: Result<Query<SearchQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<AxumJson<Vec<DoctorSchedule>>> {
    let Query(q) = q?;
    Ok(AxumJson(service::search(&state, q).await?))
}

/// Book one seat. A slot known to be full is refused before anything else
/// (its fullness is public); otherwise the database decides atomically.
#[utoipa::path(post, path = "/api/v1/slots/{id}/bookings", tag = "scheduling", request_body = BookingInput,
    responses((status = 201, body = AppointmentView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "slot_unavailable, slot_not_released, slot_started, double_booking or daily_limit_reached", body = ErrorBody)))]
pub async fn book(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(input): Json<BookingInput>,
) -> ApiResult<impl IntoResponse> {
    if runtime::booking(&state).gate.known_full(&id) {
        return Err(slot_unavailable());
    }
    let _turn = runtime::booking(&state).gate.turn(&id).await;
    // The attempt before ours may have taken the last seat.
    if runtime::booking(&state).gate.known_full(&id) {
        return Err(slot_unavailable());
    }
    let (slot, caller, own_patient) = service::booking_context(&state, &id, &headers).await?;
    let caller = caller.ok_or_else(ApiError::unauthenticated)?;
    let for_self = input
        .patient_id
        .as_deref()
        .is_none_or(|p| p.trim().is_empty());
    let own_patient = own_patient.filter(|_| for_self);
    let view = match runtime::booking(&state).lane.clone() {
        Some(lane) => {
            let state = state.clone();
            lane.run(async move { service::book(&state, &caller, slot, input, own_patient).await })
                .await
                .ok_or_else(|| ApiError::internal("the booking lane stopped"))??
        }
        None => service::book(&state, &caller, slot, input, own_patient).await?,
    };
    Ok((StatusCode::CREATED, AxumJson(view)))
}

/// Appointments of the caller and the children in their care.
#[utoipa::path(get, path = "/api/v1/me/appointments", tag = "scheduling",
    responses((status = 200, body = [AppointmentView]), (status = 401, body = ErrorBody)))]
pub async fn my_appointments(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<AxumJson<Vec<AppointmentView>>> {
    Ok(AxumJson(service::my_appointments(&state, &caller).await?))
}

/// The in-app inbox: booking confirmations, reminders, queue notices, schedule changes.
#[utoipa::path(get, path = "/api/v1/me/notifications", tag = "scheduling",
    responses((status = 200, body = [NotificationView]), (status = 401, body = ErrorBody)))]
pub async fn notifications(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<AxumJson<Vec<NotificationView>>> {
    Ok(AxumJson(service::notifications(&state, &caller).await?))
}

/// One appointment; on the day with queue position and estimated wait.
#[utoipa::path(get, path = "/api/v1/appointments/{id}", tag = "scheduling",
    responses((status = 200, body = AppointmentView), (status = 404, body = ErrorBody)))]
pub async fn appointment(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<AxumJson<AppointmentView>> {
    Ok(AxumJson(service::appointment(&state, &caller, &id).await?))
}

/// Cancel: full refund before the cut-off, counted as late after it.
#[utoipa::path(post, path = "/api/v1/appointments/{id}/cancel", tag = "scheduling",
    responses((status = 200, body = AppointmentView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<AxumJson<AppointmentView>> {
    Ok(AxumJson(service::cancel(&state, &caller, &id).await?))
}

/// The doctor records attendance or a no-show once the slot has started.
#[utoipa::path(post, path = "/api/v1/appointments/{id}/attendance", tag = "scheduling", request_body = AttendanceInput,
    responses((status = 200, body = AppointmentView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn attendance(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(input): Json<AttendanceInput>,
) -> ApiResult<AxumJson<AppointmentView>> {
    Ok(AxumJson(
        service::attendance(&state, &caller, &id, input).await?,
    ))
}
