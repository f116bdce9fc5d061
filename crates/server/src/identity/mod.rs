//! HTTP for identity: sign-up, sessions, the caller's profile, dependants and
//! patient records.

pub mod service;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{AppendHeaders, IntoResponse};
use axum::routing::{get, post};
use axum::{Json as AxumJson, Router};
use service::{
    AuditView, Credentials, LoggedIn, MeView, NewDependantInput, PatientView, SignUp, SignedUp,
};

use crate::auth::{Caller, SESSION_COOKIE, token_from_headers};
use crate::error::{ApiResult, ErrorBody};
use crate::json::Json;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/patients", post(sign_up))
        .route("/api/v1/patients/{id}", get(read_patient))
        .route("/api/v1/patients/{id}/audit", get(patient_audit))
        .route("/api/v1/sessions", post(login))
        .route("/api/v1/sessions/current", axum::routing::delete(logout))
        .route("/api/v1/me", get(me))
        .route("/api/v1/me/dependants", post(add_dependant))
}

pub fn session_cookie(state: &AppState, token: &str, max_age_s: i64) -> String {
    let secure = if state.settings.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_s}{secure}")
}

/// Real-name patient sign-up; logs the new patient in.
#[utoipa::path(post, path = "/api/v1/patients", tag = "identity", request_body = SignUp,
    responses((status = 201, body = SignedUp), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn sign_up(
    State(state): State<AppState>,
    Json(input): Json<SignUp>,
) -> ApiResult<impl IntoResponse> {
    let out = service::sign_up(&state, input).await?;
    let cookie = session_cookie(&state, &out.token, state.settings.session_hours * 3600);
    Ok((
        StatusCode::CREATED,
        AppendHeaders([(header::SET_COOKIE, cookie)]),
        AxumJson(out),
    ))
}

/// Log in with phone and password; answers a bearer token and sets the session cookie.
#[utoipa::path(post, path = "/api/v1/sessions", tag = "identity", request_body = Credentials,
    responses((status = 200, body = LoggedIn), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    Json(input): Json<Credentials>,
) -> ApiResult<impl IntoResponse> {
    let out = service::login(&state, input, &peer.ip().to_string()).await?;
    let cookie = session_cookie(&state, &out.token, state.settings.session_hours * 3600);
    Ok((AppendHeaders([(header::SET_COOKIE, cookie)]), AxumJson(out)))
}

#[utoipa::path(delete, path = "/api/v1/sessions/current", tag = "identity", responses((status = 204)))]
async fn logout(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<impl IntoResponse> {
    if let Some(token) = token_from_headers(&headers) {
        service::logout(&state, &token).await?;
    }
    Ok((
        StatusCode::NO_CONTENT,
        AppendHeaders([(header::SET_COOKIE, session_cookie(&state, "", 0))]),
    ))
}

/// The caller's account, roles, own patient record and dependants (masked).
#[utoipa::path(get, path = "/api/v1/me", tag = "identity", responses((status = 200, body = MeView), (status = 401, body = ErrorBody)))]
async fn me(State(state): State<AppState>, caller: Caller) -> ApiResult<AxumJson<MeView>> {
    Ok(AxumJson(service::me(&state, &caller).await?))
}

/// A guardian registers a child (under 18) as a patient in their care.
#[utoipa::path(post, path = "/api/v1/me/dependants", tag = "identity", request_body = NewDependantInput,
    responses((status = 201, body = PatientView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn add_dependant(
    State(state): State<AppState>,
    caller: Caller,
    Json(input): Json<NewDependantInput>,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        AxumJson(service::add_dependant(&state, &caller, input).await?),
    ))
}

/// One patient's record, if the caller's role and relationship allow; audited.
#[utoipa::path(get, path = "/api/v1/patients/{id}", tag = "identity",
    responses((status = 200, body = PatientView), (status = 404, body = ErrorBody)))]
async fn read_patient(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<AxumJson<PatientView>> {
    Ok(AxumJson(service::read_patient(&state, &caller, &id).await?))
}

/// Who read or changed this patient's record.
#[utoipa::path(get, path = "/api/v1/patients/{id}/audit", tag = "identity",
    responses((status = 200, body = [AuditView]), (status = 404, body = ErrorBody)))]
async fn patient_audit(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<AxumJson<Vec<AuditView>>> {
    Ok(AxumJson(
        service::patient_audit_trail(&state, &caller, &id).await?,
    ))
}
