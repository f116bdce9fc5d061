//! The one API error: a status, a stable code from [`ErrorCode`] and, in the
//! body, the code's text in the caller's language. 5xx bodies are generic;
//! the cause goes to the log.
//!
//! Language: `IntoResponse` writes the body in Chinese (the default) and
//! leaves the error's parts in the response extensions; [`localize`], a thin
//! layer that knows the request's language (`ihos_lang` cookie, else
//! `Accept-Language`), writes the body again only when that is English. No
//! body is parsed and nothing is looked up on the way in.
//!
//! Body: `{"error": code, "message": code's text, "detail": ..., "field": ...}`.
//! `detail` is the call site's own English sentence when it says more than the
//! code's text (the facts of the case: which drug, how many frames); it is
//! left out when it would repeat the text, and always for 5xx.

use axum::Json;
use axum::body::Body;
use axum::extract::Request;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ihos_domain::{DomainError, ErrorCode};
use ihos_store::StoreError;
use serde::Serialize;

use crate::i18n::LANG_COOKIE;
use crate::i18n::Lang;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    /// The call site's English sentence; the body's `detail`.
    pub message: String,
    pub field: Option<&'static str>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `invalid_resident_id`.
    #[schema(value_type = String)]
    pub error: ErrorCode,
    /// What the code means, in the caller's language (Chinese unless the
    /// `ihos_lang` cookie or `Accept-Language` asks for English).
    pub message: &'static str,
    /// This case's facts, in English, when they add to `message`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'static str>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 409: the request is fine but the record's state refuses it.
    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// A domain refusal that is about the record's state, not the input: 409.
    pub fn domain_conflict(e: DomainError) -> Self {
        Self::from(e).with_status(StatusCode::CONFLICT)
    }

    /// A stored row failed a domain parse (a date, a status): the caller can
    /// do nothing about it, so it is an internal error; the log names the
    /// field, never the value.
    pub fn stored(e: DomainError) -> Self {
        Self::internal(format_args!(
            "stored value refused: {} on {}",
            e.code,
            e.field.unwrap_or("?")
        ))
    }

    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub fn on(mut self, field: &'static str) -> Self {
        self.field = Some(field);
        self
    }

    /// "Not found" and "not yours" look alike to the caller.
    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            ErrorCode::NotFound.en(),
        )
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthenticated,
            ErrorCode::Unauthenticated.en(),
        )
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message)
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::InternalError,
            ErrorCode::InternalError.en(),
        )
    }

    /// The body in `lang`.
    pub fn body(self, lang: Lang) -> ErrorBody {
        let p = Parts::from(self);
        ErrorBody {
            error: p.code,
            message: lang.error(p.code),
            detail: p.detail,
            field: p.field,
        }
    }
}

/// What the body is made of, kept in the response so [`localize`] can write
/// it again in another language.
#[derive(Clone, Debug)]
struct Parts {
    code: ErrorCode,
    detail: Option<String>,
    field: Option<&'static str>,
}

impl From<ApiError> for Parts {
    fn from(e: ApiError) -> Self {
        let says_more =
            !e.status.is_server_error() && !e.message.is_empty() && e.message != e.code.en();
        Self {
            code: e.code,
            detail: says_more.then_some(e.message),
            field: e.field,
        }
    }
}

/// [`ErrorBody`] borrowed from [`Parts`], so writing a body copies nothing.
#[derive(Serialize)]
struct BodyRef<'a> {
    error: ErrorCode,
    message: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'static str>,
}

impl Parts {
    fn body(&self, lang: Lang) -> BodyRef<'_> {
        BodyRef {
            error: self.code,
            message: lang.error(self.code),
            detail: self.detail.as_deref(),
            field: self.field,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status;
        let parts = Parts::from(self);
        let mut resp = (status, Json(parts.body(Lang::Zh))).into_response();
        resp.extensions_mut().insert(parts);
        resp
    }
}

/// Middleware: an error answered to a caller who reads English gets its body
/// in English. Everything else passes untouched.
pub async fn localize(req: Request, next: Next) -> Response {
    let english = wants_english(req.headers());
    let mut resp = next.run(req).await;
    let Some(parts) = resp.extensions_mut().remove::<Parts>() else {
        return resp;
    };
    if english {
        match serde_json::to_vec(&parts.body(Lang::En)) {
            Ok(bytes) => {
                resp.headers_mut().remove(header::CONTENT_LENGTH);
                *resp.body_mut() = Body::from(bytes);
            }
            Err(e) => tracing::error!(error = %e, "error body not written in English"),
        }
    }
    resp
}

/// The language to answer a request in (see [`wants_english`]).
pub fn request_lang(headers: &HeaderMap) -> Lang {
    if wants_english(headers) {
        Lang::En
    } else {
        Lang::Zh
    }
}

/// The page language cookie decides; without it, `Accept-Language` whose
/// first choice is English.
pub fn wants_english(headers: &HeaderMap) -> bool {
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| kv.trim().strip_prefix(LANG_COOKIE)?.strip_prefix('='));
    match cookie {
        Some(v) => v.starts_with("en"),
        None => headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.trim_start()
                    .get(..2)
                    .is_some_and(|l| l.eq_ignore_ascii_case("en"))
            }),
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        let status = match e.code {
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        };
        Self {
            status,
            code: e.code,
            message: e.message,
            field: e.field,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Duplicate { what } => {
                let (code, message, field) = match what.as_str() {
                    "phone_hash" => (
                        ErrorCode::PhoneTaken,
                        "This phone number already has an account; log in instead.",
                        Some("phone"),
                    ),
                    "resident_id_hash" | "account_id" => (
                        ErrorCode::ResidentIdTaken,
                        "A patient with this resident ID number is already registered.",
                        Some("resident_id"),
                    ),
                    "licence_no" => (
                        ErrorCode::LicenceTaken,
                        "A practitioner with this licence number already exists; add an affiliation instead.",
                        Some("licence_no"),
                    ),
                    "name" => (
                        ErrorCode::NameTaken,
                        "This name is already in use.",
                        Some("name"),
                    ),
                    _ => (ErrorCode::Duplicate, "This record already exists.", None),
                };
                Self {
                    status: StatusCode::CONFLICT,
                    code,
                    message: message.into(),
                    field,
                }
            }
            StoreError::NotFound => Self::not_found(),
            other => Self::internal(other),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::MissingJsonContentType(_) => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
                "Send the request body as JSON with Content-Type: application/json.",
            ),
            JsonRejection::JsonDataError(e) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidField,
                format!(
                    "The JSON is well-formed but a field is missing or has the wrong type: {}",
                    e.body_text()
                ),
            ),
            other => Self::bad_request(
                ErrorCode::MalformedJson,
                format!("The request body is not valid JSON: {}", other.body_text()),
            ),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        Self::bad_request(ErrorCode::InvalidQuery, r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        Self::bad_request(ErrorCode::InvalidPath, r.body_text())
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        Self::internal(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn the_cookie_decides_then_the_first_accepted_language() {
        assert!(!wants_english(&headers(&[])));
        assert!(wants_english(&headers(&[(
            "accept-language",
            "en-US,en;q=0.9"
        )])));
        assert!(wants_english(&headers(&[("accept-language", "EN")])));
        assert!(!wants_english(&headers(&[(
            "accept-language",
            "zh-CN,en;q=0.8"
        )])));
        assert!(wants_english(&headers(&[(
            "cookie",
            "sid=1; ihos_lang=en"
        )])));
        assert!(!wants_english(&headers(&[
            ("cookie", "ihos_lang=zh-CN"),
            ("accept-language", "en")
        ])));
        // Only the cookie of that exact name counts.
        assert!(!wants_english(&headers(&[(
            "cookie",
            "xihos_lang=en; ihos_language=en"
        )])));
    }

    async fn body_of(resp: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 16)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn a_body_is_chinese_by_default_with_the_call_sites_facts_as_detail() {
        let e = ApiError::bad_request(ErrorCode::RxAllergy, "The patient is allergic to 青霉素类.")
            .on("items");
        let resp = e.into_response();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert!(resp.extensions().get::<Parts>().is_some());
        let b = body_of(resp).await;
        assert_eq!(b["error"], "rx_allergy");
        assert_eq!(b["message"], ErrorCode::RxAllergy.zh());
        assert_eq!(b["detail"], "The patient is allergic to 青霉素类.");
        assert_eq!(b["field"], "items");
    }

    #[tokio::test]
    async fn a_5xx_body_is_generic_and_a_repeated_sentence_is_no_detail() {
        let b = body_of(ApiError::internal("disk on fire").into_response()).await;
        assert_eq!(b["error"], "internal_error");
        assert_eq!(b["message"], ErrorCode::InternalError.zh());
        assert!(b.get("detail").is_none(), "{b}");
        assert!(!b.to_string().contains("disk"));
        let b = body_of(ApiError::not_found().into_response()).await;
        assert!(b.get("detail").is_none(), "{b}");
    }
}
