//! The web UI: server-rendered pages (askama, autoescaped) and one small
//! script that posts forms to the JSON API.

use askama::Template;
use axum::Router;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;
use std::sync::Arc;

use crate::auth::{Caller, cookie, resolve};
pub use crate::clock::shanghai_time;
use crate::error::{ApiError, ApiResult};
use crate::i18n::{Lang, Tr};
use crate::state::AppState;

use crate::i18n::LANG_COOKIE;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/static/app.js", get(app_js))
        .route("/static/app.css", get(app_css))
}

#[derive(Deserialize)]
pub struct LangQuery {
    pub lang: Option<String>,
}

/// The page language: `?lang=en` (remembered in a cookie), else the cookie, else Chinese.
pub struct PageLang {
    pub lang: Lang,
    /// The language with the texts to speak it.
    pub tr: Tr,
    pub set_cookie: Option<String>,
}

pub fn page_lang(state: &AppState, q: &LangQuery, headers: &HeaderMap) -> PageLang {
    let from = |v: &str| {
        if v.starts_with("en") {
            Lang::En
        } else {
            Lang::Zh
        }
    };
    match q.lang.as_deref() {
        Some(v) => {
            let lang = from(v);
            PageLang {
                lang,
                tr: Tr::new(lang, state.texts.clone()),
                set_cookie: Some(format!(
                    "{LANG_COOKIE}={}; Path=/; SameSite=Lax; Max-Age=31536000",
                    lang.code()
                )),
            }
        }
        None => {
            let lang = cookie(headers, LANG_COOKIE).map_or(Lang::Zh, |v| from(&v));
            PageLang {
                lang,
                tr: Tr::new(lang, state.texts.clone()),
                set_cookie: None,
            }
        }
    }
}

/// The page language of a request: `?lang=` or the cookie.
fn lang_of(state: &AppState, parts: &Parts) -> PageLang {
    let q = Query::<LangQuery>::try_from_uri(&parts.uri)
        .map(|Query(q)| q)
        .unwrap_or(LangQuery { lang: None });
    page_lang(state, &q, &parts.headers)
}

/// A page for a signed-in caller: who is calling and the page language.
/// Anyone not signed in is sent to the login page.
pub struct SignedIn {
    pub caller: Caller,
    pub lang: PageLang,
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let lang = lang_of(state, parts);
        match resolve(state, &parts.headers).await {
            Ok(Some(caller)) => Ok(SignedIn { caller, lang }),
            Ok(None) => Err(Redirect::to("/login").into_response()),
            Err(e) => Err(e.into_response()),
        }
    }
}

/// A page anyone may open: the caller if signed in, and the page language.
pub struct AnyCaller {
    pub caller: Option<Caller>,
    pub lang: PageLang,
}

impl FromRequestParts<AppState> for AnyCaller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let lang = lang_of(state, parts);
        match resolve(state, &parts.headers).await {
            Ok(caller) => Ok(AnyCaller { caller, lang }),
            Err(e) => Err(e.into_response()),
        }
    }
}

/// Common page frame data.
pub struct Frame {
    pub lang: Lang,
    pub tr: Tr,
    pub i18n_json: Arc<str>,
    pub logged_in: bool,
    pub user_name: String,
}

impl Frame {
    pub fn new(tr: &Tr, caller: Option<&crate::auth::Caller>) -> Self {
        Self {
            lang: tr.lang,
            tr: tr.clone(),
            i18n_json: tr.json(),
            logged_in: caller.is_some(),
            user_name: caller.map(|c| c.display_name.clone()).unwrap_or_default(),
        }
    }

    pub fn t(&self, key: &str) -> &'static str {
        self.tr.t(key)
    }

    /// Consultation tiers share words with slot types, so their texts are keyed `tier_*`.
    pub fn tier(&self, tier: &str) -> &'static str {
        self.tr.t(&format!("tier_{tier}"))
    }

    pub fn other_lang(&self) -> &'static str {
        if self.lang == Lang::En { "zh" } else { "en" }
    }
}

pub fn render(t: &impl Template, lang: &PageLang) -> ApiResult<Response> {
    let html = t.render().map_err(ApiError::internal)?;
    let mut resp = Html(html).into_response();
    if let Some(c) = &lang.set_cookie
        && let Ok(v) = c.parse()
    {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(resp)
}

/// A time in ms however askama passes it (value or reference).
pub trait Millis {
    fn ms(&self) -> i64;
}

impl Millis for i64 {
    fn ms(&self) -> i64 {
        *self
    }
}

impl<T: Millis + ?Sized> Millis for &T {
    fn ms(&self) -> i64 {
        (**self).ms()
    }
}

async fn app_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        include_str!("../static/app.js"),
    )
}

async fn app_css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        include_str!("../static/app.css"),
    )
}
