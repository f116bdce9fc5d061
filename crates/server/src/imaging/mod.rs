//! HTTP for cloud imaging: DICOMweb (STOW-RS, QIDO-RS, WADO-RS, rendered
//! frames) under /dicom-web, the imaging JSON API under /api/v1/imaging,
//! and the viewer pages.

pub mod blob;
pub mod demo;
pub mod dicom;
pub mod service;
mod text;
mod web;

pub use text::TEXT;

use axum::body::Body;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{AppendHeaders, IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json as AxumJson, Router};
use futures_util::TryStreamExt;
use ihos_domain::ErrorCode;
use serde::Deserialize;
use serde_json::{Value, json};
use service::{
    CodeInput, CodeSent, ConsentInput, ConsentView, LinkInput, PartOutcome, QidoParams, Reader,
    ReportInput, ReportSaved, ReviewItem, StudyView, Verified,
};

use crate::auth::{Caller, cookie, resolve};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::json::Json;
use crate::state::AppState;

pub const GRANT_COOKIE: &str = "ihos_imaging";
pub const GRANT_HEADER: &str = "x-imaging-grant";
const DICOM_JSON: &str = "application/dicom+json";

/// DICOMweb routes; they get their own (larger) body limit in `app.rs`.
pub fn dicom_router() -> Router<AppState> {
    let s = "/dicom-web/studies/{study}";
    Router::new()
        .route("/dicom-web/studies", post(stow).get(qido_studies))
        .route(s, post(stow_into).get(retrieve_study))
        .route(&format!("{s}/metadata"), get(metadata_study))
        .route(&format!("{s}/series"), get(qido_series))
        .route(&format!("{s}/instances"), get(qido_study_instances))
        .route(&format!("{s}/series/{{series}}"), get(retrieve_series))
        .route(
            &format!("{s}/series/{{series}}/metadata"),
            get(metadata_series),
        )
        .route(
            &format!("{s}/series/{{series}}/instances"),
            get(qido_instances),
        )
        .route(
            &format!("{s}/series/{{series}}/instances/{{sop}}"),
            get(retrieve_instance),
        )
        .route(
            &format!("{s}/series/{{series}}/instances/{{sop}}/metadata"),
            get(metadata_instance),
        )
        .route(
            &format!("{s}/series/{{series}}/instances/{{sop}}/rendered"),
            get(rendered_instance),
        )
        .route(
            &format!("{s}/series/{{series}}/instances/{{sop}}/frames/{{frame}}/rendered"),
            get(rendered_frame),
        )
}

/// The imaging JSON API and pages.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/imaging/studies", get(list_studies))
        .route("/api/v1/imaging/studies/{study}", get(study))
        .route("/api/v1/imaging/studies/{study}/report", post(write_report))
        .route(
            "/api/v1/imaging/studies/{study}/patient",
            post(link_patient),
        )
        .route(
            "/api/v1/imaging/studies/{study}/patient-link",
            post(send_patient_link),
        )
        .route("/api/v1/imaging/review", get(review))
        .route(
            "/api/v1/imaging/consents",
            get(list_consents).post(grant_consent),
        )
        .route("/api/v1/imaging/consents/{id}", delete(revoke_consent))
        .route("/api/v1/imaging/links/{token}/code", post(send_code))
        .route("/api/v1/imaging/links/{token}/verify", post(verify_code))
        .merge(web::router())
}

/// A reader of images: a session, or an SMS-verified view grant (cookie or header).
pub struct ImagingReader(pub Reader);

impl FromRequestParts<AppState> for ImagingReader {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(c) = resolve(state, &parts.headers).await? {
            return Ok(Self(Reader::Account(c)));
        }
        let grant = parts
            .headers
            .get(GRANT_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .or_else(|| cookie(&parts.headers, GRANT_COOKIE));
        if let Some(g) = grant
            && let Some(r) = service::grant_reader(state, &g).await?
        {
            return Ok(Self(r));
        }
        Err(ApiError::unauthenticated())
    }
}

fn dicom_json(body: String) -> Response {
    ([(header::CONTENT_TYPE, DICOM_JSON)], body).into_response()
}

fn dicom_json_value(v: &Value) -> Response {
    dicom_json(v.to_string())
}

// ---------------------------------------------------------------- STOW-RS

#[derive(Debug, Deserialize)]
struct StowQuery {
    /// The organisation uploading (when the caller belongs to several).
    org_id: Option<String>,
    /// The referral or exam order the images answer.
    order_ref: Option<String>,
}

async fn read_parts(headers: &HeaderMap, body: Body) -> ApiResult<Vec<bytes::Bytes>> {
    let unsupported = || {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "STOW-RS takes Content-Type: multipart/related; type=\"application/dicom\"; boundary=...",
        )
    };
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(unsupported)?;
    let m: mime::Mime = ct.parse().map_err(|_| unsupported())?;
    if m.type_() != mime::MULTIPART || m.subtype() != "related" {
        return Err(unsupported());
    }
    if let Some(t) = m.get_param("type")
        && t.as_str() != "application/dicom"
    {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "Only application/dicom parts are accepted (no JSON/XML metadata with bulk data).",
        ));
    }
    let boundary = m
        .get_param(mime::BOUNDARY)
        .map(|b| b.as_str().to_string())
        .ok_or_else(|| {
            ApiError::bad_request(
                ErrorCode::NoBoundary,
                "The multipart Content-Type has no boundary.",
            )
        })?;
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    let mut mp = multer::Multipart::new(stream, boundary);
    let mut parts = Vec::new();
    loop {
        let field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Err(multipart_error(e)),
        };
        if let Some(ct) = field.content_type()
            && ct.essence_str() != "application/dicom"
        {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
                format!("A part has Content-Type {ct}; only application/dicom is accepted."),
            ));
        }
        parts.push(field.bytes().await.map_err(multipart_error)?);
    }
    Ok(parts)
}

fn multipart_error(e: multer::Error) -> ApiError {
    let text = e.to_string();
    if text.contains("length limit") || text.contains("size limit") {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            "The upload is larger than this server accepts; send fewer instances per request.",
        );
    }
    ApiError::bad_request(
        ErrorCode::MalformedMultipart,
        format!("The multipart/related body cannot be read: {text}"),
    )
}

fn stow_response(outcomes: Vec<PartOutcome>, study_in_path: Option<&str>) -> ApiResult<Response> {
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    let mut messages = Vec::new();
    let mut first_code = None;
    let mut study_url = study_in_path.map(|s| format!("/dicom-web/studies/{s}"));
    for (n, o) in outcomes.iter().enumerate() {
        match o {
            PartOutcome::Stored {
                sop_class_uid,
                sop_uid,
                study_uid,
                series_uid,
                ..
            } => {
                study_url.get_or_insert_with(|| format!("/dicom-web/studies/{study_uid}"));
                ok.push(json!({
                    "00081150": service::attr("UI", sop_class_uid),
                    "00081155": service::attr("UI", sop_uid),
                    "00081190": service::attr("UR", &format!("/dicom-web/studies/{study_uid}/series/{series_uid}/instances/{sop_uid}")),
                }));
            }
            PartOutcome::Failed {
                sop_class_uid,
                sop_uid,
                code,
                message,
            } => {
                first_code.get_or_insert(*code);
                messages.push(format!("part {}: {message}", n + 1));
                let reason: u16 = match *code {
                    ErrorCode::UidConflict | ErrorCode::StudyMismatch => 0xA900,
                    _ => 0xC000,
                };
                failed.push(json!({
                    "00081150": service::attr("UI", sop_class_uid.as_deref().unwrap_or("")),
                    "00081155": service::attr("UI", sop_uid.as_deref().unwrap_or("")),
                    "00081197": {"vr": "US", "Value": [reason]},
                    "00000902": service::attr("LO", &format!("{code}: {message}")),
                }));
            }
        }
    }
    if ok.is_empty() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            first_code.unwrap_or(ErrorCode::InvalidDicom),
            format!("Nothing was stored. {}", messages.join("; ")),
        ));
    }
    let mut body = json!({ "00081199": {"vr": "SQ", "Value": ok} });
    if let Some(u) = study_url {
        body["00081190"] = service::attr("UR", &u);
    }
    let status = if failed.is_empty() {
        StatusCode::OK
    } else {
        body["00081198"] = json!({"vr": "SQ", "Value": failed});
        StatusCode::ACCEPTED
    };
    Ok((status, dicom_json_value(&body)).into_response())
}

/// STOW-RS: store DICOM instances (multipart/related of application/dicom parts).
#[utoipa::path(post, path = "/dicom-web/studies", tag = "imaging",
    responses((status = 200, description = "All stored (DICOM JSON)"), (status = 202, description = "Some stored"),
              (status = 409, body = ErrorBody), (status = 415, body = ErrorBody)))]
async fn stow(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<StowQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let parts = read_parts(&headers, body).await?;
    let out = service::stow(
        &state,
        &caller,
        q.org_id.as_deref(),
        None,
        q.order_ref.as_deref(),
        parts,
    )
    .await?;
    stow_response(out, None)
}

async fn stow_into(
    State(state): State<AppState>,
    caller: Caller,
    Path(study): Path<String>,
    Query(q): Query<StowQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let parts = read_parts(&headers, body).await?;
    let out = service::stow(
        &state,
        &caller,
        q.org_id.as_deref(),
        Some(&study),
        q.order_ref.as_deref(),
        parts,
    )
    .await?;
    stow_response(out, Some(&study))
}

// ---------------------------------------------------------------- QIDO-RS

/// QIDO-RS: search studies by PatientID, PatientName, StudyDate, ModalitiesInStudy, AccessionNumber.
#[utoipa::path(get, path = "/dicom-web/studies", tag = "imaging",
    responses((status = 200, description = "DICOM JSON array of studies"), (status = 400, body = ErrorBody)))]
async fn qido_studies(
    State(state): State<AppState>,
    ImagingReader(reader): ImagingReader,
    Query(q): Query<QidoParams>,
) -> ApiResult<Response> {
    let rows = service::search_studies(&state, &reader, &q).await?;
    let arr: Vec<Value> = rows.iter().map(service::study_json).collect();
    Ok(dicom_json_value(&Value::Array(arr)))
}

async fn qido_series(
    State(state): State<AppState>,
    ImagingReader(reader): ImagingReader,
    Path(study): Path<String>,
) -> ApiResult<Response> {
    Ok(dicom_json_value(&Value::Array(
        service::series_json(&state, &reader, &study).await?,
    )))
}

async fn qido_study_instances(
    State(state): State<AppState>,
    ImagingReader(reader): ImagingReader,
    Path(study): Path<String>,
) -> ApiResult<Response> {
    Ok(dicom_json_value(&Value::Array(
        service::instances_json(&state, &reader, &study, None).await?,
    )))
}

async fn qido_instances(
    State(state): State<AppState>,
    ImagingReader(reader): ImagingReader,
    Path((study, series)): Path<(String, String)>,
) -> ApiResult<Response> {
    Ok(dicom_json_value(&Value::Array(
        service::instances_json(&state, &reader, &study, Some(&series)).await?,
    )))
}

// ---------------------------------------------------------------- WADO-RS

/// WADO-RS: metadata of all instances of a study as DICOM JSON.
#[utoipa::path(get, path = "/dicom-web/studies/{study}/metadata", tag = "imaging",
    responses((status = 200, description = "DICOM JSON array"), (status = 404, body = ErrorBody)))]
async fn metadata_study(
    State(state): State<AppState>,
    ImagingReader(reader): ImagingReader,
    Path(study): Path<String>,
) -> ApiResult<Response> {
    Ok(dicom_json(
        service::metadata(&state, &reader, &study, None, None).await?,
    ))
}

async fn metadata_series(
    State(state): State<AppState>,
    ImagingReader(reader): ImagingReader,
    Path((study, series)): Path<(String, String)>,
) -> ApiResult<Response> {
    Ok(dicom_json(
        service::metadata(&state, &reader, &study, Some(&series), None).await?,
    ))
}

async fn metadata_instance(
    State(state): State<AppState>,
    ImagingReader(reader): ImagingReader,
    Path((study, series, sop)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    Ok(dicom_json(
        service::metadata(&state, &reader, &study, Some(&series), Some(&sop)).await?,
    ))
}

fn multipart_dicom(files: Vec<Vec<u8>>) -> Response {
    let boundary = format!("ihos-{}", uuid::Uuid::new_v4().simple());
    let mut body = Vec::with_capacity(files.iter().map(|f| f.len() + 128).sum::<usize>());
    for f in files {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Type: application/dicom\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(&f);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let ct = format!("multipart/related; type=\"application/dicom\"; boundary={boundary}");
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_str(&ct).unwrap_or(HeaderValue::from_static("multipart/related")),
        )],
        body,
    )
        .into_response()
}

/// WADO-RS: the study's instances as multipart/related application/dicom.
#[utoipa::path(get, path = "/dicom-web/studies/{study}", tag = "imaging",
    responses((status = 200, description = "multipart/related of DICOM files"), (status = 404, body = ErrorBody)))]
async fn retrieve_study(
    State(state): State<AppState>,
    ImagingReader(reader): ImagingReader,
    Path(study): Path<String>,
) -> ApiResult<Response> {
    Ok(multipart_dicom(
        service::retrieve(&state, &reader, &study, None, None).await?,
    ))
}

async fn retrieve_series(
    State(state): State<AppState>,
    ImagingReader(reader): ImagingReader,
    Path((study, series)): Path<(String, String)>,
) -> ApiResult<Response> {
    Ok(multipart_dicom(
        service::retrieve(&state, &reader, &study, Some(&series), None).await?,
    ))
}

async fn retrieve_instance(
    State(state): State<AppState>,
    ImagingReader(reader): ImagingReader,
    Path((study, series, sop)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    Ok(multipart_dicom(
        service::retrieve(&state, &reader, &study, Some(&series), Some(&sop)).await?,
    ))
}

#[derive(Debug, Deserialize)]
struct RenderQuery {
    /// `center,width` (DICOMweb `window`), e.g. `40,400`.
    window: Option<String>,
}

fn parse_window(q: &RenderQuery) -> ApiResult<Option<dicom::Window>> {
    let Some(w) = q.window.as_deref().filter(|w| !w.is_empty()) else {
        return Ok(None);
    };
    let mut it = w.split(',').map(|x| x.trim().parse::<f64>());
    match (it.next(), it.next()) {
        (Some(Ok(center)), Some(Ok(width))) if width > 0.0 && center.is_finite() => {
            Ok(Some(dicom::Window { center, width }))
        }
        _ => Err(ApiError::bad_request(
            ErrorCode::InvalidWindow,
            "window is center,width with a positive width, e.g. 40,400.",
        )),
    }
}

fn png(bytes: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "image/png")], bytes).into_response()
}

async fn rendered_instance(
    State(state): State<AppState>,
    ImagingReader(reader): ImagingReader,
    Path((study, series, sop)): Path<(String, String, String)>,
    Query(q): Query<RenderQuery>,
) -> ApiResult<Response> {
    let w = parse_window(&q)?;
    Ok(png(service::render(
        &state, &reader, &study, &series, &sop, 1, w,
    )
    .await?))
}

/// A frame rendered to PNG (window `center,width` optional).
#[utoipa::path(get, path = "/dicom-web/studies/{study}/series/{series}/instances/{sop}/frames/{frame}/rendered", tag = "imaging",
    responses((status = 200, description = "image/png"), (status = 404, body = ErrorBody)))]
async fn rendered_frame(
    State(state): State<AppState>,
    ImagingReader(reader): ImagingReader,
    Path((study, series, sop, frame)): Path<(String, String, String, String)>,
    Query(q): Query<RenderQuery>,
) -> ApiResult<Response> {
    let w = parse_window(&q)?;
    let frame: u32 = frame.parse().map_err(|_| {
        ApiError::bad_request(
            ErrorCode::NoSuchFrame,
            "The frame number is a whole number from 1.",
        )
    })?;
    Ok(png(service::render(
        &state, &reader, &study, &series, &sop, frame, w,
    )
    .await?))
}

// ---------------------------------------------------------------- JSON API

#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct StudySummary {
    pub study_uid: String,
    pub patient_name: String,
    pub study_date: String,
    pub modalities: String,
    pub description: String,
    pub num_instances: i64,
    pub link_status: String,
}

/// Studies the caller may see (own, children's, their organisation's, consented).
#[utoipa::path(get, path = "/api/v1/imaging/studies", tag = "imaging",
    responses((status = 200, body = [StudySummary]), (status = 401, body = ErrorBody)))]
async fn list_studies(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<QidoParams>,
) -> ApiResult<AxumJson<Vec<StudySummary>>> {
    let rows = service::search_studies(&state, &Reader::Account(caller), &q).await?;
    Ok(AxumJson(
        rows.into_iter()
            .map(|s| StudySummary {
                study_uid: s.study_uid,
                patient_name: s.dicom_patient_name,
                study_date: s.study_date,
                modalities: s.modalities,
                description: s.description,
                num_instances: s.num_instances,
                link_status: s.link_status,
            })
            .collect(),
    ))
}

/// One study for the viewer: series, instances, frames and the report; audited.
#[utoipa::path(get, path = "/api/v1/imaging/studies/{study}", tag = "imaging",
    responses((status = 200, body = StudyView), (status = 404, body = ErrorBody)))]
async fn study(
    State(state): State<AppState>,
    ImagingReader(reader): ImagingReader,
    Path(study): Path<String>,
) -> ApiResult<AxumJson<StudyView>> {
    Ok(AxumJson(
        service::study_view(&state, &reader, &study).await?,
    ))
}

/// A radiologist of the performing organisation writes (or signs) the report.
#[utoipa::path(post, path = "/api/v1/imaging/studies/{study}/report", tag = "imaging", request_body = ReportInput,
    responses((status = 200, body = ReportSaved), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn write_report(
    State(state): State<AppState>,
    caller: Caller,
    Path(study): Path<String>,
    Json(input): Json<ReportInput>,
) -> ApiResult<AxumJson<ReportSaved>> {
    Ok(AxumJson(
        service::write_report(&state, &caller, &study, input).await?,
    ))
}

/// Review queue: link a study to a registered patient by resident ID number.
#[utoipa::path(post, path = "/api/v1/imaging/studies/{study}/patient", tag = "imaging", request_body = LinkInput,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn link_patient(
    State(state): State<AppState>,
    caller: Caller,
    Path(study): Path<String>,
    Json(input): Json<LinkInput>,
) -> ApiResult<StatusCode> {
    service::link_to_patient(&state, &caller, &study, input).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Send the patient an SMS with a link to the study (staff of the performing org).
#[utoipa::path(post, path = "/api/v1/imaging/studies/{study}/patient-link", tag = "imaging",
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn send_patient_link(
    State(state): State<AppState>,
    caller: Caller,
    Path(study): Path<String>,
) -> ApiResult<StatusCode> {
    service::resend_link(&state, &caller, &study).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Studies of the caller's organisations whose patient could not be matched.
#[utoipa::path(get, path = "/api/v1/imaging/review", tag = "imaging",
    responses((status = 200, body = [ReviewItem])))]
async fn review(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<AxumJson<Vec<ReviewItem>>> {
    Ok(AxumJson(service::review_queue(&state, &caller).await?))
}

/// Consents the caller gave for their own or their children's images.
#[utoipa::path(get, path = "/api/v1/imaging/consents", tag = "imaging",
    responses((status = 200, body = [ConsentView])))]
async fn list_consents(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<AxumJson<Vec<ConsentView>>> {
    Ok(AxumJson(service::my_consents(&state, &caller).await?))
}

/// Authorise a practitioner to see one study or all studies, for 1-365 days.
#[utoipa::path(post, path = "/api/v1/imaging/consents", tag = "imaging", request_body = ConsentInput,
    responses((status = 201, body = ConsentView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn grant_consent(
    State(state): State<AppState>,
    caller: Caller,
    Json(input): Json<ConsentInput>,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        AxumJson(service::grant_consent(&state, &caller, input).await?),
    ))
}

/// Revoke a consent at once.
#[utoipa::path(delete, path = "/api/v1/imaging/consents/{id}", tag = "imaging",
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn revoke_consent(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    service::revoke_consent(&state, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Send a one-time SMS code for a patient link (rate-limited).
#[utoipa::path(post, path = "/api/v1/imaging/links/{token}/code", tag = "imaging",
    responses((status = 200, body = CodeSent), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn send_code(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> ApiResult<AxumJson<CodeSent>> {
    Ok(AxumJson(service::send_code(&state, &token).await?))
}

/// Check the SMS code; on success the study opens for 30 minutes (cookie `ihos_imaging`).
#[utoipa::path(post, path = "/api/v1/imaging/links/{token}/verify", tag = "imaging", request_body = CodeInput,
    responses((status = 200, body = Verified), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn verify_code(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Json(input): Json<CodeInput>,
) -> ApiResult<impl IntoResponse> {
    let v = service::verify_code(&state, &token, input).await?;
    let secure = if state.settings.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{GRANT_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        v.grant,
        ihos_domain::imaging::sms::VIEW_TTL_MS / 1000
    );
    Ok((AppendHeaders([(header::SET_COOKIE, cookie)]), AxumJson(v)))
}
