//! The front door: the platform's landing page, sign-up, login and each
//! caller's home page.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use ihos_domain::Role;
use ihos_store::{audit, identity};

use crate::error::ApiResult;
use crate::i18n::Lang;
use crate::identity::service as id_service;
use crate::org::service as org_service;
use crate::state::AppState;
use crate::web::{AnyCaller, Frame, SignedIn, render, shanghai_time};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/signup", get(signup))
        .route("/login", get(login))
        .route("/home", get(home))
}

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage {
    f: Frame,
    orgs: Vec<org_service::OrgView>,
}

async fn index(
    State(state): State<AppState>,
    AnyCaller { caller, lang }: AnyCaller,
) -> ApiResult<Response> {
    let orgs = org_service::list_orgs(&state, None, None).await?;
    render(
        &IndexPage {
            f: Frame::new(&lang.tr, caller.as_ref()),
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

async fn signup(AnyCaller { caller, lang }: AnyCaller) -> ApiResult<Response> {
    render(
        &SignupPage {
            f: Frame::new(&lang.tr, caller.as_ref()),
        },
        &lang,
    )
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    f: Frame,
}

async fn login(AnyCaller { caller, lang }: AnyCaller) -> ApiResult<Response> {
    render(
        &LoginPage {
            f: Frame::new(&lang.tr, caller.as_ref()),
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

async fn home(
    State(state): State<AppState>,
    SignedIn { caller, lang }: SignedIn,
) -> ApiResult<Response> {
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
                    .map(|x| lang.tr.t(x))
                    .collect::<Vec<_>>()
                    .join("、"),
                action: r.action,
                ground: lang.tr.t(&r.ground).to_string(),
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
        f: Frame::new(&lang.tr, Some(&caller)),
        role_names: caller
            .roles()
            .iter()
            .map(|r| lang.tr.t(r.as_str()))
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
