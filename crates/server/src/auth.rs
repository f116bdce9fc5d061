//! Who is calling: a session token from the `Authorization: Bearer` header
//! (API) or the `ihos_session` cookie (UI), resolved to an account and its
//! role grants.

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ihos_domain::{ErrorCode, Role};
use ihos_store::now_ms;
use ihos_store::session::{self, SessionCaller};

use crate::crypto::token_hash;
use crate::error::ApiError;
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "ihos_session";

#[derive(Debug, Clone)]
pub struct Caller {
    pub account_id: String,
    pub display_name: String,
    /// (role, scope): the scope is an organisation or consortium id, or "".
    pub grants: Vec<(Role, String)>,
    pub request_id: Option<String>,
}

impl Caller {
    pub fn has(&self, role: Role) -> bool {
        self.grants.iter().any(|(r, _)| *r == role)
    }

    pub fn roles(&self) -> Vec<Role> {
        let mut roles: Vec<Role> = self.grants.iter().map(|(r, _)| *r).collect();
        roles.dedup();
        roles
    }

    /// Comma-separated role names for the audit log.
    pub fn roles_label(&self) -> String {
        self.roles()
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn scopes(&self, role: Role) -> impl Iterator<Item = &str> {
        self.grants
            .iter()
            .filter(move |(r, _)| *r == role)
            .map(|(_, s)| s.as_str())
    }

    /// Platform admins administer every organisation; an org admin only their own.
    pub fn may_admin_org(&self, org_id: &str) -> bool {
        self.has(Role::PlatformAdmin) || self.scopes(Role::OrgAdmin).any(|s| s == org_id)
    }

    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.has(role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "This needs the {} role.",
                role.as_str()
            )))
        }
    }
}

pub fn token_from_headers(headers: &HeaderMap) -> Option<String> {
    if let Some(auth) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        && let Some(token) = auth.strip_prefix("Bearer ")
    {
        return Some(token.trim().to_string());
    }
    cookie(headers, SESSION_COOKIE)
}

pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

pub async fn resolve(state: &AppState, headers: &HeaderMap) -> Result<Option<Caller>, ApiError> {
    let Some(token) = token_from_headers(headers) else {
        return Ok(None);
    };
    let mut conn = state.store.conn().await?;
    // One round trip: session, account and grants together.
    let rows = session::session_caller(&mut conn, &token_hash(&token), now_ms()).await?;
    let Some((account_id, display_name, _, _)) = rows.first().cloned() else {
        return Ok(None);
    };
    let grants = rows
        .into_iter()
        .filter_map(|(_, _, role, scope)| Some((role?, scope.unwrap_or_default())))
        .collect();
    let session = SessionCaller {
        account_id,
        display_name,
        grants,
    };
    Ok(Some(Caller::from_session(session, headers)))
}

impl Caller {
    /// The caller behind a live session, with this request's id.
    pub fn from_session(session: SessionCaller, headers: &HeaderMap) -> Self {
        let grants = session
            .grants
            .into_iter()
            .filter_map(|(role, scope)| Some((Role::parse(&role).ok()?, scope)))
            .collect();
        let request_id = headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Caller {
            account_id: session.account_id,
            display_name: session.display_name,
            grants,
            request_id,
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        resolve(state, &parts.headers)
            .await?
            .ok_or_else(ApiError::unauthenticated)
    }
}

/// A caller who may or may not be logged in (public pages).
pub struct MaybeCaller(pub Option<Caller>);

impl FromRequestParts<AppState> for MaybeCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(MaybeCaller(resolve(state, &parts.headers).await?))
    }
}

/// Requests that change something and carry the session cookie must come
/// from our own pages. A browser says where a request comes from
/// (`Sec-Fetch-Site`, else `Origin`); a page on another origin, even on
/// another port of this host, is refused before any handler runs. A bearer
/// token is never attached by a browser on its own, so API clients that
/// send one are not affected, nor are requests without the cookie
/// (provider callbacks).
pub async fn same_origin_writes(req: Request, next: Next) -> Response {
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if unsafe_method && cookie_session(req.headers()) && !from_own_origin(req.headers()) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::CrossSiteRequest,
            "A state-changing request authenticated by the session cookie came from another origin.",
        )
        .into_response();
    }
    next.run(req).await
}

/// The session comes from the cookie, not from an `Authorization` header.
fn cookie_session(headers: &HeaderMap) -> bool {
    !headers.contains_key(axum::http::header::AUTHORIZATION)
        && cookie(headers, SESSION_COOKIE).is_some()
}

fn from_own_origin(headers: &HeaderMap) -> bool {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site") {
        // `none`: the user's own action (typed address, bookmark).
        return matches!(site, "same-origin" | "none");
    }
    match (text("origin"), text("host")) {
        (Some(origin), Some(host)) => origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"))
            .is_some_and(|o| o.eq_ignore_ascii_case(host)),
        (Some(_), None) => false,
        // Neither header: not a browser's cross-site request.
        (None, _) => true,
    }
}

#[cfg(test)]
mod origin_tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("header value"));
        }
        h
    }

    #[test]
    fn only_our_own_origin_passes() {
        assert!(from_own_origin(&headers(&[(
            "sec-fetch-site",
            "same-origin"
        )])));
        assert!(!from_own_origin(&headers(&[(
            "sec-fetch-site",
            "same-site"
        )])));
        assert!(!from_own_origin(&headers(&[(
            "sec-fetch-site",
            "cross-site"
        )])));
        let own = [
            ("origin", "http://127.0.0.1:8080"),
            ("host", "127.0.0.1:8080"),
        ];
        assert!(from_own_origin(&headers(&own)));
        let other_port = [
            ("origin", "http://127.0.0.1:9999"),
            ("host", "127.0.0.1:8080"),
        ];
        assert!(!from_own_origin(&headers(&other_port)));
        assert!(!from_own_origin(&headers(&[
            ("origin", "null"),
            ("host", "a")
        ])));
        assert!(from_own_origin(&HeaderMap::new()));
    }

    #[test]
    fn only_a_cookie_session_is_checked() {
        assert!(cookie_session(&headers(&[("cookie", "ihos_session=abc")])));
        assert!(!cookie_session(&headers(&[
            ("cookie", "ihos_session=abc"),
            ("authorization", "Bearer abc"),
        ])));
        assert!(!cookie_session(&headers(&[("cookie", "ihos_lang=en")])));
    }
}
