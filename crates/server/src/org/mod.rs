//! HTTP for organisations, departments, consortia, staff and practitioners.

pub mod service;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json as AxumJson, Router};
use serde::{Deserialize, Serialize};
use service::*;

use crate::auth::Caller;
use crate::error::{ApiResult, ErrorBody};
use crate::json::Json;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/specialties", get(specialties))
        .route("/api/v1/organisations", get(list_orgs).post(create_org))
        .route("/api/v1/organisations/{id}", get(org_detail))
        .route(
            "/api/v1/organisations/{id}/departments",
            post(add_department),
        )
        .route(
            "/api/v1/organisations/{id}/practitioners",
            get(org_staff).post(create_practitioner),
        )
        .route(
            "/api/v1/organisations/{id}/affiliations",
            post(add_affiliation),
        )
        .route("/api/v1/practitioners/{id}", get(practitioner))
        .route("/api/v1/consortia", post(create_consortium))
        .route("/api/v1/consortia/{id}", get(consortium))
        .route("/api/v1/consortia/{id}/members", post(add_member))
        .route("/api/v1/accounts", post(create_staff_account))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SpecialtyView {
    pub code: &'static str,
    pub name_zh: &'static str,
    pub name_en: &'static str,
}

/// The 36 specialties of the hospital internet influence index.
#[utoipa::path(get, path = "/api/v1/specialties", tag = "organisations", responses((status = 200, body = [SpecialtyView])))]
async fn specialties() -> AxumJson<Vec<SpecialtyView>> {
    AxumJson(
        ihos_domain::org::SPECIALTIES
            .iter()
            .map(|(code, name_zh, name_en)| SpecialtyView {
                code,
                name_zh,
                name_en,
            })
            .collect(),
    )
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct OrgFilter {
    kind: Option<String>,
    city: Option<String>,
}

/// Public directory of organisations.
#[utoipa::path(get, path = "/api/v1/organisations", tag = "organisations", params(OrgFilter),
    responses((status = 200, body = [OrgView]), (status = 400, body = ErrorBody)))]
async fn list_orgs(
    State(state): State<AppState>,
    q: Result<Query<OrgFilter>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<AxumJson<Vec<OrgView>>> {
    let Query(q) = q?;
    Ok(AxumJson(
        service::list_orgs(&state, q.kind.as_deref(), q.city.as_deref()).await?,
    ))
}

/// Platform admin registers an organisation.
#[utoipa::path(post, path = "/api/v1/organisations", tag = "organisations", request_body = NewOrgInput,
    responses((status = 201, body = OrgView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_org(
    State(state): State<AppState>,
    caller: Caller,
    Json(input): Json<NewOrgInput>,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        AxumJson(service::create_org(&state, &caller, input).await?),
    ))
}

/// An organisation with its departments and consortia.
#[utoipa::path(get, path = "/api/v1/organisations/{id}", tag = "organisations",
    responses((status = 200, body = OrgDetail), (status = 404, body = ErrorBody)))]
async fn org_detail(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<AxumJson<OrgDetail>> {
    Ok(AxumJson(service::public_org_page(&state, &id).await?))
}

/// The org's admin adds a department mapped to one of the 36 specialties.
#[utoipa::path(post, path = "/api/v1/organisations/{id}/departments", tag = "organisations", request_body = NewDepartmentInput,
    responses((status = 201, body = DepartmentView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn add_department(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(input): Json<NewDepartmentInput>,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        AxumJson(service::add_department(&state, &caller, &id, input).await?),
    ))
}

/// The org's practitioners (its own admins and platform admins only).
#[utoipa::path(get, path = "/api/v1/organisations/{id}/practitioners", tag = "organisations",
    responses((status = 200, body = [StaffMemberView]), (status = 404, body = ErrorBody)))]
async fn org_staff(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<AxumJson<Vec<StaffMemberView>>> {
    Ok(AxumJson(service::org_staff(&state, &caller, &id).await?))
}

/// The org's admin creates a doctor, pharmacist or nurse with licence and title.
#[utoipa::path(post, path = "/api/v1/organisations/{id}/practitioners", tag = "organisations", request_body = NewPractitionerInput,
    responses((status = 201, body = PractitionerView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_practitioner(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(input): Json<NewPractitionerInput>,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        AxumJson(service::create_practitioner(&state, &caller, &id, input).await?),
    ))
}

/// 多点执业: add an existing practitioner to this organisation.
#[utoipa::path(post, path = "/api/v1/organisations/{id}/affiliations", tag = "organisations", request_body = NewAffiliationInput,
    responses((status = 201, body = PractitionerView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn add_affiliation(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(input): Json<NewAffiliationInput>,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        AxumJson(service::add_affiliation(&state, &caller, &id, input).await?),
    ))
}

/// A practitioner's public profile.
#[utoipa::path(get, path = "/api/v1/practitioners/{id}", tag = "organisations",
    responses((status = 200, body = PractitionerView), (status = 404, body = ErrorBody)))]
async fn practitioner(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<AxumJson<PractitionerView>> {
    Ok(AxumJson(
        service::public_practitioner_page(&state, &id).await?,
    ))
}

#[utoipa::path(post, path = "/api/v1/consortia", tag = "organisations", request_body = NewConsortiumInput,
    responses((status = 201, body = ConsortiumView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create_consortium(
    State(state): State<AppState>,
    caller: Caller,
    Json(input): Json<NewConsortiumInput>,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        AxumJson(service::create_consortium(&state, &caller, input).await?),
    ))
}

#[utoipa::path(get, path = "/api/v1/consortia/{id}", tag = "organisations",
    responses((status = 200, body = ConsortiumView), (status = 404, body = ErrorBody)))]
async fn consortium(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<AxumJson<ConsortiumView>> {
    Ok(AxumJson(service::consortium(&state, &id).await?))
}

#[utoipa::path(post, path = "/api/v1/consortia/{id}/members", tag = "organisations", request_body = MemberInput,
    responses((status = 200, body = ConsortiumView), (status = 404, body = ErrorBody)))]
async fn add_member(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Json(input): Json<MemberInput>,
) -> ApiResult<AxumJson<ConsortiumView>> {
    Ok(AxumJson(
        service::add_member(&state, &caller, &id, input).await?,
    ))
}

/// Platform admin creates an org admin, consortium admin, regulator or platform admin.
#[utoipa::path(post, path = "/api/v1/accounts", tag = "identity", request_body = NewStaffAccountInput,
    responses((status = 201, body = CreatedAccount), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create_staff_account(
    State(state): State<AppState>,
    caller: Caller,
    Json(input): Json<NewStaffAccountInput>,
) -> ApiResult<impl IntoResponse> {
    Ok((
        StatusCode::CREATED,
        AxumJson(service::create_staff_account(&state, &caller, input).await?),
    ))
}
