//! HTTP for e-prescriptions: the drug catalogue, allergies, prescribing
//! inside a consultation, the pharmacists' review queue, the patient's
//! choice of fulfilment, dispensing (window and pharmacy transfer) and
//! delivery tracking.

pub mod demo;
pub mod payment_hook;
pub mod service;
pub mod signature;
pub mod ui;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json as AxumJson, Router};
use ihos_domain::pharmacy::Catalogue;
use serde::Deserialize;
use service::*;

use crate::auth::Caller;
use crate::error::{ApiResult, ErrorBody};
use crate::json::Json;
use crate::payment::service::OrderView;
use crate::settings::PharmacySettings;
use crate::state::AppState;

pub use ui::TEXT;

/// The catalogue kept in the repository.
const BUILT_IN_CATALOGUE: &str = include_str!("../../data/drugs.csv");

/// Load and validate the catalogue; a bad row stops the start with its line.
pub fn load_catalogue(s: &PharmacySettings) -> anyhow::Result<Catalogue> {
    let (text, source) = match &s.catalogue_file {
        Some(p) => (
            std::fs::read_to_string(p)
                .map_err(|e| anyhow::anyhow!("cannot read drug catalogue {}: {e}", p.display()))?,
            p.display().to_string(),
        ),
        None => (BUILT_IN_CATALOGUE.to_string(), "built-in".to_string()),
    };
    let cat = Catalogue::parse(&text).map_err(|e| anyhow::anyhow!("{source} {e}"))?;
    tracing::info!(drugs = cat.len(), %source, "drug catalogue loaded");
    Ok(cat)
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/drugs", get(drugs))
        .route(
            "/api/v1/patients/{id}/allergies",
            get(allergies).post(add_allergy),
        )
        .route(
            "/api/v1/patients/{id}/prescriptions",
            get(patient_prescriptions),
        )
        .route(
            "/api/v1/consultations/{id}/prescriptions",
            get(consultation_prescriptions).post(prescribe),
        )
        .route("/api/v1/consultations/{id}/order", post(consultation_order))
        .route("/api/v1/prescriptions/queue", get(review_queue))
        .route("/api/v1/prescriptions/lookup", get(lookup))
        .route("/api/v1/prescriptions/{id}", get(prescription))
        .route("/api/v1/prescriptions/{id}/revise", post(revise))
        .route("/api/v1/prescriptions/{id}/approve", post(approve))
        .route("/api/v1/prescriptions/{id}/reject", post(reject))
        .route(
            "/api/v1/prescriptions/{id}/fulfilment",
            post(choose_fulfilment),
        )
        .route("/api/v1/prescriptions/{id}/dispense", post(dispense))
        .route("/api/v1/prescriptions/{id}/tracking", post(track))
        .merge(ui::router())
}

#[derive(Debug, Deserialize)]
pub struct DrugQuery {
    pub q: Option<String>,
}

/// The drug catalogue; controlled drugs are listed with `online_allowed: false`.
#[utoipa::path(get, path = "/api/v1/drugs", tag = "pharmacy",
    params(("q" = Option<String>, Query, description = "part of the generic name, or a code")),
    responses((status = 200, body = [DrugView])))]
async fn drugs(
    State(state): State<AppState>,
    Query(q): Query<DrugQuery>,
) -> AxumJson<Vec<DrugView>> {
    AxumJson(service::drugs(&state, q.q.as_deref()))
}

/// The patient's recorded allergies (patient side or treating doctor; audited).
#[utoipa::path(get, path = "/api/v1/patients/{id}/allergies", tag = "pharmacy",
    responses((status = 200, body = [AllergyView]), (status = 404, body = ErrorBody)))]
async fn allergies(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<AxumJson<Vec<AllergyView>>> {
    Ok(AxumJson(service::allergies(&state, &caller, &id).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct AllergyInput {
    /// A substance or drug class, e.g. 青霉素类.
    pub substance: String,
}

/// Record an allergy.
#[utoipa::path(post, path = "/api/v1/patients/{id}/allergies", tag = "pharmacy", request_body = AllergyInput,
    responses((status = 201, body = [AllergyView]), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn add_allergy(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(input): Json<AllergyInput>,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        AxumJson(service::add_allergy(&state, &caller, &id, &input.substance).await?),
    ))
}

/// The attending doctor writes and signs a prescription in an open consultation.
#[utoipa::path(post, path = "/api/v1/consultations/{id}/prescriptions", tag = "pharmacy",
    request_body = PrescriptionInput,
    responses((status = 201, body = PrescriptionView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn prescribe(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(input): Json<PrescriptionInput>,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        AxumJson(service::prescribe(&state, &caller, &id, input).await?),
    ))
}

/// The prescriptions of a consultation (participants; audited).
#[utoipa::path(get, path = "/api/v1/consultations/{id}/prescriptions", tag = "pharmacy",
    responses((status = 200, body = [PrescriptionView]), (status = 404, body = ErrorBody)))]
async fn consultation_prescriptions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<AxumJson<Vec<PrescriptionView>>> {
    Ok(AxumJson(
        service::of_consultation(&state, &caller, &id).await?,
    ))
}

/// The visit's payment order for the patient side (opened with the consultation fee).
#[utoipa::path(post, path = "/api/v1/consultations/{id}/order", tag = "pharmacy",
    responses((status = 200, body = OrderView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn consultation_order(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<AxumJson<OrderView>> {
    Ok(AxumJson(
        service::consultation_order(&state, &caller, &id).await?,
    ))
}

/// A patient's prescriptions, for self, guardian, treating practitioner or regulator (audited).
#[utoipa::path(get, path = "/api/v1/patients/{id}/prescriptions", tag = "pharmacy",
    responses((status = 200, body = [PrescriptionView]), (status = 404, body = ErrorBody)))]
async fn patient_prescriptions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<AxumJson<Vec<PrescriptionView>>> {
    Ok(AxumJson(service::of_patient(&state, &caller, &id).await?))
}

/// One prescription (doctor, patient side, or a pharmacist of its hospital; audited).
#[utoipa::path(get, path = "/api/v1/prescriptions/{id}", tag = "pharmacy",
    responses((status = 200, body = PrescriptionView), (status = 404, body = ErrorBody)))]
async fn prescription(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<AxumJson<PrescriptionView>> {
    Ok(AxumJson(service::get(&state, &caller, &id).await?))
}

/// The doctor revises a rejected prescription: a new signed version.
#[utoipa::path(post, path = "/api/v1/prescriptions/{id}/revise", tag = "pharmacy",
    request_body = PrescriptionInput,
    responses((status = 201, body = PrescriptionView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn revise(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(input): Json<PrescriptionInput>,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        AxumJson(service::revise(&state, &caller, &id, input).await?),
    ))
}

/// The pharmacist's review queue (pending prescriptions of their hospitals).
#[utoipa::path(get, path = "/api/v1/prescriptions/queue", tag = "pharmacy",
    responses((status = 200, body = [PrescriptionView]), (status = 403, body = ErrorBody)))]
async fn review_queue(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<AxumJson<Vec<PrescriptionView>>> {
    Ok(AxumJson(service::queue(&state, &caller).await?))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct ApproveInput {
    pub note: Option<String>,
}

/// Approve: the drugs go on the visit's order; a fulfilment awaits payment.
#[utoipa::path(post, path = "/api/v1/prescriptions/{id}/approve", tag = "pharmacy",
    request_body = ApproveInput,
    responses((status = 200, body = PrescriptionView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn approve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(input): Json<ApproveInput>,
) -> ApiResult<AxumJson<PrescriptionView>> {
    Ok(AxumJson(
        service::approve(&state, &caller, &id, input.note).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RejectInput {
    pub reason: String,
}

/// Reject with a reason back to the doctor.
#[utoipa::path(post, path = "/api/v1/prescriptions/{id}/reject", tag = "pharmacy",
    request_body = RejectInput,
    responses((status = 200, body = PrescriptionView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn reject(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(input): Json<RejectInput>,
) -> ApiResult<AxumJson<PrescriptionView>> {
    Ok(AxumJson(
        service::reject(&state, &caller, &id, &input.reason).await?,
    ))
}

/// The patient chooses pickup, delivery or pharmacy transfer (before paying).
#[utoipa::path(post, path = "/api/v1/prescriptions/{id}/fulfilment", tag = "pharmacy",
    request_body = FulfilmentInput,
    responses((status = 200, body = PrescriptionView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn choose_fulfilment(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(input): Json<FulfilmentInput>,
) -> ApiResult<AxumJson<PrescriptionView>> {
    Ok(AxumJson(
        service::choose_fulfilment(&state, &caller, &id, input).await?,
    ))
}

#[derive(Debug, Deserialize)]
pub struct CodeQuery {
    pub code: String,
}

/// A pharmacy (or the hospital window) sees the prescription behind a code (audited).
#[utoipa::path(get, path = "/api/v1/prescriptions/lookup", tag = "pharmacy",
    params(("code" = String, Query, description = "pickup or verification code")),
    responses((status = 200, body = PrescriptionView), (status = 404, body = ErrorBody)))]
async fn lookup(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<CodeQuery>,
) -> ApiResult<AxumJson<PrescriptionView>> {
    Ok(AxumJson(service::lookup(&state, &caller, &q.code).await?))
}

/// Dispense once (window pickup or pharmacy transfer).
#[utoipa::path(post, path = "/api/v1/prescriptions/{id}/dispense", tag = "pharmacy",
    request_body = DispenseInput,
    responses((status = 200, body = PrescriptionView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn dispense(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(input): Json<DispenseInput>,
) -> ApiResult<AxumJson<PrescriptionView>> {
    Ok(AxumJson(
        service::dispense(&state, &caller, &id, input).await?,
    ))
}

/// Move a delivery along: shipped → in_transit → delivered.
#[utoipa::path(post, path = "/api/v1/prescriptions/{id}/tracking", tag = "pharmacy",
    request_body = TrackInput,
    responses((status = 200, body = PrescriptionView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn track(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(input): Json<TrackInput>,
) -> ApiResult<AxumJson<PrescriptionView>> {
    Ok(AxumJson(service::track(&state, &caller, &id, input).await?))
}
