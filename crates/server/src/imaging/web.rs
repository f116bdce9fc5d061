//! Imaging pages: the study list, the viewer, and the patient's SMS link page.

use askama::Template;
use axum::Router;
use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::error::ApiResult;
use crate::state::AppState;
use crate::web::{AnyCaller, Frame, render};

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

async fn list_page(AnyCaller { caller, lang }: AnyCaller) -> ApiResult<Response> {
    if caller.is_none() {
        return Ok(Redirect::to("/login").into_response());
    }
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
    AnyCaller { caller, lang }: AnyCaller,
    Path(study): Path<String>,
) -> ApiResult<Response> {
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
    AnyCaller { caller, lang }: AnyCaller,
    Path(token): Path<String>,
) -> ApiResult<Response> {
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
