//! HTTP for online consultation: triage, requests and the doctor's
//! decisions, the chat (REST and WebSocket), attachments, reviews, service
//! packages and the department first-visit policy.

pub mod blob;
pub mod chat;
pub mod demo;
pub mod expire_job;
pub mod service;
pub mod triage;
pub mod ui;
pub mod ws;

use axum::body::Bytes;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json as AxumJson, Router};
use ihos_domain::consultation::Action;
use serde::Deserialize;
use service::*;

use crate::auth::Caller;
use crate::error::{ApiResult, ErrorBody};
use crate::json::Json;
use crate::state::AppState;

pub use ui::TEXT;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/triage", post(triage_complaint))
        .route(
            "/api/v1/consultations",
            get(my_consultations).post(request_consultation),
        )
        .route("/api/v1/consultations/queue", get(doctor_queue))
        .route("/api/v1/consultations/{id}", get(consultation))
        .route("/api/v1/consultations/{id}/accept", post(accept))
        .route("/api/v1/consultations/{id}/decline", post(decline))
        .route("/api/v1/consultations/{id}/start", post(start))
        .route("/api/v1/consultations/{id}/complete", post(complete))
        .route("/api/v1/consultations/{id}/cancel", post(cancel))
        .route(
            "/api/v1/consultations/{id}/refer-offline",
            post(refer_offline),
        )
        .route("/api/v1/consultations/{id}/escalate", post(escalate))
        .route(
            "/api/v1/consultations/{id}/messages",
            get(messages).post(send_message),
        )
        .route("/api/v1/consultations/{id}/chat", get(chat_socket))
        .route("/api/v1/consultations/{id}/thread", get(thread))
        .route(
            "/api/v1/consultations/{id}/patient-history",
            get(patient_history),
        )
        .route(
            "/api/v1/consultations/{id}/attachments",
            post(upload_picture),
        )
        .route(
            "/api/v1/consultations/{id}/attachments/{attachment_id}",
            get(download),
        )
        .route("/api/v1/consultation-evidence", post(upload_evidence))
        .route("/api/v1/consultations/{id}/review", post(review))
        .route("/api/v1/consultations/{id}/review/reply", post(reply))
        .route("/api/v1/practitioners/{id}/reviews", get(doctor_reviews))
        .route("/api/v1/practitioners/{id}/packages", get(doctor_packages))
        .route("/api/v1/service-packages", post(create_package))
        .route(
            "/api/v1/service-packages/{id}/subscriptions",
            post(subscribe),
        )
        .route("/api/v1/package-subscriptions/{id}", get(subscription))
        .route(
            "/api/v1/departments/{id}/consultation-policy",
            get(policy).put(set_policy),
        )
        .merge(ui::router())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TriageInput {
    /// The complaint in the patient's words (Chinese or English), at most 1000 characters.
    pub complaint: String,
    /// `zh-CN` or `en`; defaults to the page-language cookie, then `Accept-Language`.
    #[serde(default)]
    pub lang: Option<String>,
}

/// Smart triage: emergencies say "call 120" and self-harm gets the crisis line
/// (with tap-to-call numbers and the reasons); routine complaints get up to
/// three departments with reasons and a link to doctors with open slots.
#[utoipa::path(post, path = "/api/v1/triage", tag = "consultation", request_body = TriageInput,
    responses((status = 200, body = triage::TriageResult), (status = 400, body = ErrorBody)))]
async fn triage_complaint(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(input): Json<TriageInput>,
) -> ApiResult<AxumJson<triage::TriageResult>> {
    let complaint = triage::parse_complaint(&input.complaint)?;
    let lang = triage::api_lang(input.lang.as_deref(), &headers);
    let assessment = triage::assess(&state, &complaint)?;
    Ok(AxumJson(triage::result(&state, &assessment, lang)))
}

/// Ask a doctor for a follow-up consultation (evidence of an offline diagnosis required).
#[utoipa::path(post, path = "/api/v1/consultations", tag = "consultation", request_body = NewConsultationInput,
    responses((status = 201, body = ConsultationView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn request_consultation(
    State(state): State<AppState>,
    caller: Caller,
    Json(input): Json<NewConsultationInput>,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        AxumJson(service::request(&state, &caller, input).await?),
    ))
}

/// The caller's consultations as patient or guardian.
#[utoipa::path(get, path = "/api/v1/consultations", tag = "consultation",
    responses((status = 200, body = [ConsultationView]), (status = 401, body = ErrorBody)))]
async fn my_consultations(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<AxumJson<Vec<ConsultationView>>> {
    Ok(AxumJson(service::mine(&state, &caller).await?))
}

/// The doctor's workbench queue, oldest first.
#[utoipa::path(get, path = "/api/v1/consultations/queue", tag = "consultation",
    responses((status = 200, body = [QueueEntry]), (status = 403, body = ErrorBody)))]
async fn doctor_queue(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<AxumJson<Vec<QueueEntry>>> {
    Ok(AxumJson(service::queue(&state, &caller).await?))
}

#[utoipa::path(get, path = "/api/v1/consultations/{id}", tag = "consultation",
    responses((status = 200, body = ConsultationView), (status = 404, body = ErrorBody)))]
async fn consultation(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<AxumJson<ConsultationView>> {
    Ok(AxumJson(service::get(&state, &caller, &id).await?))
}

/// The doctor accepts and records that the patient qualifies; opens a care relationship.
#[utoipa::path(post, path = "/api/v1/consultations/{id}/accept", tag = "consultation", request_body = AcceptInput,
    responses((status = 200, body = ConsultationView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn accept(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(input): Json<AcceptInput>,
) -> ApiResult<AxumJson<ConsultationView>> {
    Ok(AxumJson(
        service::accept(&state, &caller, &id, input).await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/consultations/{id}/decline", tag = "consultation", request_body = ReasonInput,
    responses((status = 200, body = ConsultationView), (status = 409, body = ErrorBody)))]
async fn decline(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(input): Json<ReasonInput>,
) -> ApiResult<AxumJson<ConsultationView>> {
    Ok(AxumJson(
        service::act(&state, &caller, &id, Action::Decline, Some(input.reason)).await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/consultations/{id}/start", tag = "consultation",
    responses((status = 200, body = ConsultationView), (status = 409, body = ErrorBody)))]
async fn start(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<AxumJson<ConsultationView>> {
    Ok(AxumJson(
        service::act(&state, &caller, &id, Action::Start, None).await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/consultations/{id}/complete", tag = "consultation", request_body = CompleteInput,
    responses((status = 200, body = ConsultationView), (status = 409, body = ErrorBody)))]
async fn complete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(input): Json<CompleteInput>,
) -> ApiResult<AxumJson<ConsultationView>> {
    Ok(AxumJson(
        service::act(&state, &caller, &id, Action::Complete, Some(input.summary)).await?,
    ))
}

/// The patient (or guardian) cancels before the consultation starts; refunded.
#[utoipa::path(post, path = "/api/v1/consultations/{id}/cancel", tag = "consultation",
    responses((status = 200, body = ConsultationView), (status = 409, body = ErrorBody)))]
async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<AxumJson<ConsultationView>> {
    Ok(AxumJson(
        service::act(&state, &caller, &id, Action::Cancel, None).await?,
    ))
}

/// The doctor ends the consultation because the case needs an in-person visit.
#[utoipa::path(post, path = "/api/v1/consultations/{id}/refer-offline", tag = "consultation", request_body = ReasonInput,
    responses((status = 200, body = ConsultationView), (status = 409, body = ErrorBody)))]
async fn refer_offline(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(input): Json<ReasonInput>,
) -> ApiResult<AxumJson<ConsultationView>> {
    Ok(AxumJson(
        service::act(
            &state,
            &caller,
            &id,
            Action::ReferOffline,
            Some(input.reason),
        )
        .await?,
    ))
}

/// Hand the case to the next tier (GP → specialist → expert's studio).
#[utoipa::path(post, path = "/api/v1/consultations/{id}/escalate", tag = "consultation", request_body = EscalateInput,
    responses((status = 201, body = ConsultationView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn escalate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(input): Json<EscalateInput>,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        AxumJson(service::escalate(&state, &caller, &id, input).await?),
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct AfterQuery {
    /// The last sequence number the client has seen (0 for all).
    after: Option<i64>,
    limit: Option<i64>,
}

/// Chat history after a sequence number.
#[utoipa::path(get, path = "/api/v1/consultations/{id}/messages", tag = "consultation", params(AfterQuery),
    responses((status = 200, body = [MessageView]), (status = 404, body = ErrorBody)))]
async fn messages(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    q: Result<Query<AfterQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<AxumJson<Vec<MessageView>>> {
    let Query(q) = q?;
    Ok(AxumJson(
        service::messages(
            &state,
            &caller,
            &id,
            q.after.unwrap_or(0),
            q.limit.unwrap_or(500),
        )
        .await?,
    ))
}

/// Send a chat message over HTTP (the WebSocket does the same); idempotent by client_id.
#[utoipa::path(post, path = "/api/v1/consultations/{id}/messages", tag = "consultation", request_body = SendInput,
    responses((status = 201, body = MessageView), (status = 200, body = MessageView, description = "already stored"), (status = 409, body = ErrorBody)))]
async fn send_message(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(input): Json<SendInput>,
) -> ApiResult<impl IntoResponse> {
    let (row, side) = {
        let mut conn = state.store.conn().await?;
        load_for(&mut conn, &caller, &id).await?
    };
    let (m, new) = service::send(&state, &row, side, &caller.account_id, input).await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, AxumJson(message_view(m))))
}

/// The chat WebSocket; `after` is the last sequence number the client has seen.
#[utoipa::path(get, path = "/api/v1/consultations/{id}/chat", tag = "consultation", params(AfterQuery),
    responses((status = 101, description = "WebSocket: see crate docs for frames"), (status = 404, body = ErrorBody)))]
async fn chat_socket(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    q: Result<Query<AfterQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> ApiResult<Response> {
    let Query(q) = q?;
    // Browsers send cookies with cross-site WebSocket handshakes: only our own pages may open the chat.
    if !same_origin(&headers) {
        return Err(crate::error::ApiError::forbidden(
            "The chat opens only from this site's own pages.",
        ));
    }
    let (row, side) = {
        let mut conn = state.store.conn().await?;
        let (row, side) = load_for(&mut conn, &caller, &id).await?;
        caller
            .audit(
                &mut conn,
                "consultation.chat.open",
                "patient",
                &row.patient_id,
                if side == Side::Doctor {
                    "treating_practitioner"
                } else {
                    "participant"
                },
                Some(&row.org_id),
            )
            .await?;
        (row, side)
    };
    let after = q.after.unwrap_or(0);
    let me = caller.account_id;
    let lang = crate::error::request_lang(&headers);
    Ok(upgrade
        .max_message_size(ws::MAX_FRAME)
        // tungstenite zeroes the whole read buffer on every read: the default
        // 128 KiB cost more CPU than the rest of a chat message's handling.
        .read_buffer_size(ws::READ_BUFFER)
        .on_upgrade(move |socket| ws::run(state, row, side, me, after, lang, socket)))
}

/// The escalation chain of this consultation with its chat (history travels along).
#[utoipa::path(get, path = "/api/v1/consultations/{id}/thread", tag = "consultation",
    responses((status = 200, body = [ThreadEntry]), (status = 404, body = ErrorBody)))]
async fn thread(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<AxumJson<Vec<ThreadEntry>>> {
    Ok(AxumJson(service::thread(&state, &caller, &id).await?))
}

/// The patient's consultation record, for the treating doctor (audited).
#[utoipa::path(get, path = "/api/v1/consultations/{id}/patient-history", tag = "consultation",
    responses((status = 200, body = [ConsultationView]), (status = 404, body = ErrorBody)))]
async fn patient_history(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<AxumJson<Vec<ConsultationView>>> {
    Ok(AxumJson(
        service::patient_history(&state, &caller, &id).await?,
    ))
}

/// No Origin (non-browser clients) or an Origin naming this host.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let origin_host = origin
        .split_once("://")
        .map_or(origin, |(_, rest)| rest)
        .trim_end_matches('/');
    !host.is_empty() && origin_host == host
}

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// Upload a picture (JPEG, PNG, WebP) to a consultation; raw body with its Content-Type.
#[utoipa::path(post, path = "/api/v1/consultations/{id}/attachments", tag = "consultation",
    request_body(content = Vec<u8>, content_type = "image/jpeg"),
    responses((status = 201, body = AttachmentView), (status = 400, body = ErrorBody), (status = 413, body = ErrorBody)))]
async fn upload_picture(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<impl IntoResponse> {
    let a = service::upload(&state, &caller, Some(&id), &content_type(&headers), &body).await?;
    Ok((StatusCode::CREATED, AxumJson(a)))
}

/// Upload an outpatient or discharge record (picture or PDF) as evidence before requesting.
#[utoipa::path(post, path = "/api/v1/consultation-evidence", tag = "consultation",
    request_body(content = Vec<u8>, content_type = "application/pdf"),
    responses((status = 201, body = AttachmentView), (status = 400, body = ErrorBody), (status = 413, body = ErrorBody)))]
async fn upload_evidence(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<impl IntoResponse> {
    let a = service::upload(&state, &caller, None, &content_type(&headers), &body).await?;
    Ok((StatusCode::CREATED, AxumJson(a)))
}

#[utoipa::path(get, path = "/api/v1/consultations/{id}/attachments/{attachment_id}", tag = "consultation",
    responses((status = 200, description = "the picture"), (status = 404, body = ErrorBody)))]
async fn download(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, attachment_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (mime, bytes) = service::download(&state, &caller, &id, &attachment_id).await?;
    Ok(([(header::CONTENT_TYPE, mime)], bytes).into_response())
}

/// The patient served rates a finished consultation, once.
#[utoipa::path(post, path = "/api/v1/consultations/{id}/review", tag = "consultation", request_body = ReviewInput,
    responses((status = 201, body = ReviewView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn review(
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

/// The doctor replies to the review once.
#[utoipa::path(post, path = "/api/v1/consultations/{id}/review/reply", tag = "consultation", request_body = ReplyInput,
    responses((status = 200, body = ReviewView), (status = 409, body = ErrorBody)))]
async fn reply(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(input): Json<ReplyInput>,
) -> ApiResult<AxumJson<ReviewView>> {
    Ok(AxumJson(service::reply(&state, &caller, &id, input).await?))
}

#[utoipa::path(get, path = "/api/v1/practitioners/{id}/reviews", tag = "consultation",
    responses((status = 200, body = DoctorReviews)))]
async fn doctor_reviews(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<AxumJson<DoctorReviews>> {
    Ok(AxumJson(service::doctor_reviews(&state, &id).await?))
}

#[utoipa::path(get, path = "/api/v1/practitioners/{id}/packages", tag = "consultation",
    responses((status = 200, body = [PackageView])))]
async fn doctor_packages(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<AxumJson<Vec<PackageView>>> {
    Ok(AxumJson(service::doctor_packages(&state, &id).await?))
}

/// A doctor offers a family-doctor service package.
#[utoipa::path(post, path = "/api/v1/service-packages", tag = "consultation", request_body = NewPackageInput,
    responses((status = 201, body = PackageView), (status = 400, body = ErrorBody)))]
async fn create_package(
    State(state): State<AppState>,
    caller: Caller,
    Json(input): Json<NewPackageInput>,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        AxumJson(service::create_package(&state, &caller, input).await?),
    ))
}

/// Subscribe to a doctor's package for its period.
#[utoipa::path(post, path = "/api/v1/service-packages/{id}/subscriptions", tag = "consultation", request_body = SubscribeInput,
    responses((status = 201, body = SubscriptionView), (status = 404, body = ErrorBody)))]
async fn subscribe(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(input): Json<SubscribeInput>,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        AxumJson(service::subscribe(&state, &caller, &id, input).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/package-subscriptions/{id}", tag = "consultation",
    responses((status = 200, body = SubscriptionView), (status = 404, body = ErrorBody)))]
async fn subscription(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<AxumJson<SubscriptionView>> {
    Ok(AxumJson(service::subscription(&state, &caller, &id).await?))
}

#[utoipa::path(get, path = "/api/v1/departments/{id}/consultation-policy", tag = "consultation",
    responses((status = 200, body = PolicyView), (status = 404, body = ErrorBody)))]
async fn policy(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<AxumJson<PolicyView>> {
    Ok(AxumJson(service::policy(&state, &id).await?))
}

/// The org admin lets a department pilot online first visits (default: strict, follow-up only).
#[utoipa::path(put, path = "/api/v1/departments/{id}/consultation-policy", tag = "consultation", request_body = PolicyInput,
    responses((status = 200, body = PolicyView), (status = 404, body = ErrorBody)))]
async fn set_policy(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(input): Json<PolicyInput>,
) -> ApiResult<AxumJson<PolicyView>> {
    Ok(AxumJson(
        service::set_policy(&state, &caller, &id, input).await?,
    ))
}
