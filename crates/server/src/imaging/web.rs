//! Imaging pages: the study list, the viewer, and the patient's SMS link page.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::auth::MaybeCaller;
use crate::error::ApiResult;
use crate::state::AppState;
use crate::web::{Frame, LangQuery, page_lang, render};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/imaging", get(list_page))
        .route("/imaging/studies/{study}", get(viewer_page))
        .route("/imaging/open/{token}", get(open_page))
        .route("/static/imaging.js", get(imaging_js))
}

#[derive(Template)]
#[template(path = "imaging_list.html")]
struct ListPage {
    f: Frame,
}

async fn list_page(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if caller.is_none() {
        return Ok(Redirect::to("/login").into_response());
    }
    let lang = page_lang(&state, &q, &headers);
    render(
        &ListPage {
            f: Frame::new(&lang.tr, caller.as_ref()),
        },
        &lang,
    )
}

#[derive(Template)]
#[template(path = "imaging_viewer.html")]
struct ViewerPage {
    f: Frame,
    /// Set when the study is known (logged-in viewer).
    study_uid: String,
    /// Set when the page was opened from an SMS link.
    token: String,
    can_share: bool,
    /// A doctor may try to write the report (the API decides).
    can_report: bool,
}

async fn viewer_page(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Path(study): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let lang = page_lang(&state, &q, &headers);
    let can_share = caller
        .as_ref()
        .is_some_and(|c| c.has(ihos_domain::Role::Patient));
    let can_report = caller
        .as_ref()
        .is_some_and(|c| c.has(ihos_domain::Role::Doctor));
    render(
        &ViewerPage {
            f: Frame::new(&lang.tr, caller.as_ref()),
            study_uid: study,
            token: String::new(),
            can_share,
            can_report,
        },
        &lang,
    )
}

async fn open_page(
    State(state): State<AppState>,
    State(_state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Path(token): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let lang = page_lang(&state, &q, &headers);
    render(
        &ViewerPage {
            f: Frame::new(&lang.tr, caller.as_ref()),
            study_uid: String::new(),
            token,
            can_share: false,
            can_report: false,
        },
        &lang,
    )
}

async fn imaging_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        include_str!("../../static/imaging.js"),
    )
}
