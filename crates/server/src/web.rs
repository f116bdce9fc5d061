//! The web UI: server-rendered pages (askama, autoescaped) and one small
//! script that posts forms to the JSON API.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use chrono::TimeZone;
use chrono_tz::Asia::Shanghai;
use ihos_domain::Role;
use ihos_store::{audit, identity};
use serde::Deserialize;

use crate::auth::{MaybeCaller, cookie};
use crate::error::{ApiError, ApiResult};
use crate::i18n::{Lang, error_texts};
use crate::identity::service as id_service;
use crate::org::service as org_service;
use crate::state::AppState;

use crate::i18n::LANG_COOKIE;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/signup", get(signup))
        .route("/login", get(login))
        .route("/home", get(home))
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
    pub set_cookie: Option<String>,
}

pub fn page_lang(q: &LangQuery, headers: &HeaderMap) -> PageLang {
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
                set_cookie: Some(format!(
                    "{LANG_COOKIE}={}; Path=/; SameSite=Lax; Max-Age=31536000",
                    lang.code()
                )),
            }
        }
        None => PageLang {
            lang: cookie(headers, LANG_COOKIE).map_or(Lang::Zh, |v| from(&v)),
            set_cookie: None,
        },
    }
}

/// Common page frame data.
pub struct Frame {
    pub lang: Lang,
    pub i18n_json: String,
    pub logged_in: bool,
    pub user_name: String,
}

impl Frame {
    pub fn new(lang: Lang, caller: Option<&crate::auth::Caller>) -> Self {
        Self {
            lang,
            i18n_json: error_texts(lang),
            logged_in: caller.is_some(),
            user_name: caller.map(|c| c.display_name.clone()).unwrap_or_default(),
        }
    }

    pub fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }

    /// Consultation tiers share words with slot types, so their texts are keyed `tier_*`.
    pub fn tier(&self, tier: &str) -> &'static str {
        self.lang.t(&format!("tier_{tier}"))
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

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage {
    f: Frame,
    orgs: Vec<org_service::OrgView>,
}

async fn index(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let lang = page_lang(&q, &headers);
    let orgs = org_service::list_orgs(&state, None, None).await?;
    render(
        &IndexPage {
            f: Frame::new(lang.lang, caller.as_ref()),
            orgs,
        },
        &lang,
    )
}

#[derive(Template)]
#[template(path = "signup.html")]
struct SignupPage {
    f: Frame,
}

async fn signup(
    MaybeCaller(caller): MaybeCaller,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let lang = page_lang(&q, &headers);
    render(
        &SignupPage {
            f: Frame::new(lang.lang, caller.as_ref()),
        },
        &lang,
    )
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    f: Frame,
}

async fn login(
    MaybeCaller(caller): MaybeCaller,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let lang = page_lang(&q, &headers);
    render(
        &LoginPage {
            f: Frame::new(lang.lang, caller.as_ref()),
        },
        &lang,
    )
}

pub struct AuditLine {
    pub at: String,
    pub actor_roles: String,
    pub action: String,
    pub ground: String,
}

pub struct AdminOrg {
    pub org: org_service::OrgDetail,
    pub staff: Vec<org_service::StaffMemberView>,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    f: Frame,
    me: id_service::MeView,
    role_names: Vec<&'static str>,
    access_log: Vec<AuditLine>,
    practitioner: Option<org_service::PractitionerView>,
    admin_orgs: Vec<AdminOrg>,
    consortia: Vec<org_service::ConsortiumView>,
    all_orgs: Vec<org_service::OrgView>,
    is_platform_admin: bool,
    supervision: Option<[i64; 4]>,
    specialties: Vec<(&'static str, &'static str)>,
    titles: Vec<(&'static str, &'static str)>,
}

/// Shanghai wall-clock time for display; storage stays UTC milliseconds.
pub fn shanghai_time(ms: i64) -> String {
    Shanghai
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

async fn home(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let lang = page_lang(&q, &headers);
    let Some(caller) = caller else {
        return Ok(Redirect::to("/login").into_response());
    };
    let me = id_service::me(&state, &caller).await?;
    let mut access_log = Vec::new();
    if let Some(p) = &me.patient {
        let mut c = state.store.conn().await?;
        for r in audit::trail(&mut c, "patient", &p.id, 10).await? {
            access_log.push(AuditLine {
                at: shanghai_time(r.at),
                actor_roles: r
                    .actor_roles
                    .split(',')
                    .map(|x| lang.lang.t(x))
                    .collect::<Vec<_>>()
                    .join("、"),
                action: r.action,
                ground: lang.lang.t(&r.ground).to_string(),
            });
        }
    }
    let practitioner = if caller.roles().iter().any(|r| r.is_practitioner()) {
        Some(org_service::practitioner(&state, &caller.account_id).await?)
    } else {
        None
    };
    let mut admin_orgs = Vec::new();
    for org_id in caller.scopes(Role::OrgAdmin) {
        admin_orgs.push(AdminOrg {
            org: org_service::org_detail(&state, org_id).await?,
            staff: org_service::org_staff(&state, &caller, org_id).await?,
        });
    }
    let mut consortia = Vec::new();
    for id in caller.scopes(Role::ConsortiumAdmin) {
        consortia.push(org_service::consortium(&state, id).await?);
    }
    let is_platform_admin = caller.has(Role::PlatformAdmin);
    let all_orgs = if is_platform_admin || caller.has(Role::Regulator) {
        org_service::list_orgs(&state, None, None).await?
    } else {
        Vec::new()
    };
    let supervision = if caller.has(Role::Regulator) {
        let mut c = state.store.conn().await?;
        use identity::Table::*;
        Some([
            identity::count_rows(&mut c, Organisations).await?,
            identity::count_rows(&mut c, Patients).await?,
            identity::count_rows(&mut c, Practitioners).await?,
            identity::count_rows(&mut c, AuditLog).await?,
        ])
    } else {
        None
    };
    let page = HomePage {
        f: Frame::new(lang.lang, Some(&caller)),
        role_names: caller
            .roles()
            .iter()
            .map(|r| lang.lang.t(r.as_str()))
            .collect(),
        me,
        access_log,
        practitioner,
        admin_orgs,
        consortia,
        all_orgs,
        is_platform_admin,
        supervision,
        specialties: ihos_domain::org::SPECIALTIES
            .iter()
            .map(|(c, zh, en)| (*c, if lang.lang == Lang::En { *en } else { *zh }))
            .collect(),
        titles: ihos_domain::Title::ALL
            .iter()
            .map(|t| (t.as_str(), t.label_zh()))
            .collect(),
    };
    render(&page, &lang)
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
