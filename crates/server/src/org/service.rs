//! Organisations, departments, consortia, staff accounts and practitioners.
//! Multi-tenant: an org admin sees and changes only their own organisation.

use ihos_domain::ErrorCode;
use ihos_domain::identity::{mask_phone, may_practise_online, years_of_practice};
use ihos_domain::org::{parse_hospital_level, parse_label};
use ihos_domain::{
    DomainError, LicenceNumber, OrgKind, Password, PhoneNumber, RealName, Role, Specialty, Title,
    parse_date,
};
use ihos_store::AnyConnection;
use ihos_store::identity::{self, NewAffiliation, NewPractitioner, PractitionerRow};
use ihos_store::org::{self, NewOrg, OrgRow};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::clock::today_in_shanghai;
use crate::error::{ApiError, ApiResult};
use crate::identity::service::{hash_password, insert_login_account};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewOrgInput {
    pub name: String,
    /// hospital, community_health_centre, pharmacy or enterprise
    pub kind: String,
    /// Hospitals only, e.g. 三级甲等
    pub level: Option<String>,
    pub province: String,
    pub city: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgView {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub kind_label: String,
    pub level: Option<String>,
    pub province: String,
    pub city: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgDetail {
    #[serde(flatten)]
    pub org: OrgView,
    pub departments: Vec<DepartmentView>,
    pub consortia: Vec<ConsortiumSummary>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewDepartmentInput {
    pub name: String,
    /// One of the 36 specialty codes (or its Chinese name).
    pub specialty: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DepartmentView {
    pub id: String,
    pub name: String,
    pub specialty: String,
    pub specialty_label: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewConsortiumInput {
    pub name: String,
    pub lead_org_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsortiumSummary {
    pub id: String,
    pub name: String,
    pub lead_org_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsortiumView {
    pub id: String,
    pub name: String,
    pub lead_org_id: String,
    pub members: Vec<OrgView>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct MemberInput {
    pub org_id: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewStaffAccountInput {
    pub name: String,
    pub phone: String,
    pub password: String,
    /// org_admin, consortium_admin, regulator or platform_admin
    pub role: String,
    /// The organisation (org_admin) or consortium (consortium_admin); empty otherwise.
    #[serde(default)]
    pub scope_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedAccount {
    pub account_id: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewPractitionerInput {
    pub name: String,
    pub phone: String,
    /// Initial password, to be changed by the practitioner.
    pub password: String,
    /// e.g. chief_physician / 主任医师, pharmacist, nurse
    pub title: String,
    pub licence_no: String,
    /// Date of first independent practice, YYYY-MM-DD.
    pub practising_since: String,
    pub department_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewAffiliationInput {
    pub licence_no: String,
    pub department_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PractitionerView {
    pub id: String,
    pub name: String,
    pub role: String,
    pub title: String,
    pub title_label: String,
    pub licence_no: String,
    pub practising_since: String,
    pub years_of_practice: u32,
    /// At least 3 years of independent practice.
    pub may_practise_online: bool,
    pub affiliations: Vec<AffiliationView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AffiliationView {
    pub org_id: String,
    pub org_name: String,
    pub department_id: Option<String>,
    pub department_name: Option<String>,
    pub is_primary: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StaffMemberView {
    #[serde(flatten)]
    pub practitioner: PractitionerView,
    pub phone_masked: String,
}

pub fn org_view(o: OrgRow) -> OrgView {
    let kind_label = OrgKind::parse(&o.kind)
        .map(|k| k.label_zh())
        .unwrap_or_default()
        .to_string();
    OrgView {
        id: o.id,
        name: o.name,
        kind: o.kind,
        kind_label,
        level: o.level,
        province: o.province,
        city: o.city,
    }
}

fn department_view(d: org::DepartmentRow) -> DepartmentView {
    let specialty_label = Specialty::parse(&d.specialty)
        .map(|s| s.label_zh())
        .unwrap_or_default()
        .to_string();
    DepartmentView {
        id: d.id,
        name: d.name,
        specialty: d.specialty,
        specialty_label,
    }
}

async fn record_change(
    conn: &mut AnyConnection,
    caller: &Caller,
    action: &str,
    subject_type: &str,
    subject_id: &str,
    org_id: Option<&str>,
) -> ApiResult<()> {
    caller
        .audit(conn, action, subject_type, subject_id, "admin", org_id)
        .await?;
    Ok(())
}

pub async fn create_org(
    state: &AppState,
    caller: &Caller,
    input: NewOrgInput,
) -> ApiResult<OrgView> {
    caller.require(Role::PlatformAdmin)?;
    let kind = OrgKind::parse(input.kind.trim())?;
    let new = NewOrg {
        name: parse_label(&input.name, "name", 60)?,
        kind: kind.as_str().to_string(),
        level: parse_hospital_level(kind, input.level.as_deref())?,
        province: parse_label(&input.province, "province", 20)?,
        city: parse_label(&input.city, "city", 20)?,
    };
    let mut tx = state.store.begin().await?;
    let id = org::insert_org(&mut tx, &new).await?;
    record_change(
        &mut tx,
        caller,
        "organisation.create",
        "organisation",
        &id,
        Some(&id),
    )
    .await?;
    let row = org::org(&mut tx, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(org_view(row))
}

pub async fn list_orgs(
    state: &AppState,
    kind: Option<&str>,
    city: Option<&str>,
) -> ApiResult<Vec<OrgView>> {
    if let Some(k) = kind {
        OrgKind::parse(k)?;
    }
    let mut c = state.store.conn().await?;
    Ok(org::list_orgs(&mut c, kind, city)
        .await?
        .into_iter()
        .map(org_view)
        .collect())
}

pub async fn org_detail(state: &AppState, org_id: &str) -> ApiResult<OrgDetail> {
    let mut c = state.store.conn().await?;
    let o = org::org(&mut c, org_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let departments = org::departments_of(&mut c, org_id)
        .await?
        .into_iter()
        .map(department_view)
        .collect();
    let consortia = org::consortia_of(&mut c, org_id)
        .await?
        .into_iter()
        .map(|c| ConsortiumSummary {
            id: c.id,
            name: c.name,
            lead_org_id: c.lead_org_id,
        })
        .collect();
    Ok(OrgDetail {
        org: org_view(o),
        departments,
        consortia,
    })
}

/// Load an organisation the caller administers; others look like "not found".
async fn administered_org(
    c: &mut AnyConnection,
    caller: &Caller,
    org_id: &str,
) -> ApiResult<OrgRow> {
    if !caller.may_admin_org(org_id) {
        return Err(ApiError::not_found());
    }
    org::org(c, org_id).await?.ok_or_else(ApiError::not_found)
}

pub async fn add_department(
    state: &AppState,
    caller: &Caller,
    org_id: &str,
    input: NewDepartmentInput,
) -> ApiResult<DepartmentView> {
    let name = parse_label(&input.name, "name", 40)?;
    let specialty = Specialty::parse(input.specialty.trim())?;
    let mut tx = state.store.begin().await?;
    let o = administered_org(&mut tx, caller, org_id).await?;
    if !OrgKind::parse(&o.kind)?.has_departments() {
        return Err(DomainError::new(
            ErrorCode::NoDepartments,
            "Only hospitals and community health centres have clinical departments.",
        )
        .into());
    }
    let id = org::insert_department(&mut tx, org_id, &name, specialty.code()).await?;
    record_change(
        &mut tx,
        caller,
        "department.create",
        "department",
        &id,
        Some(org_id),
    )
    .await?;
    let row = org::department(&mut tx, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(department_view(row))
}

pub async fn create_consortium(
    state: &AppState,
    caller: &Caller,
    input: NewConsortiumInput,
) -> ApiResult<ConsortiumView> {
    caller.require(Role::PlatformAdmin)?;
    let name = parse_label(&input.name, "name", 60)?;
    let mut tx = state.store.begin().await?;
    let lead = org::org(&mut tx, &input.lead_org_id)
        .await?
        .ok_or_else(|| {
            ApiError::from(
                DomainError::new(
                    ErrorCode::UnknownOrg,
                    "The lead organisation does not exist.",
                )
                .on("lead_org_id"),
            )
        })?;
    if lead.kind != OrgKind::Hospital.as_str() {
        return Err(DomainError::new(
            ErrorCode::LeadNotHospital,
            "A consortium is led by a hospital.",
        )
        .on("lead_org_id")
        .into());
    }
    let id = org::insert_consortium(&mut tx, &name, &lead.id).await?;
    record_change(
        &mut tx,
        caller,
        "consortium.create",
        "consortium",
        &id,
        None,
    )
    .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    consortium(state, &id).await
}

pub async fn consortium(state: &AppState, id: &str) -> ApiResult<ConsortiumView> {
    let mut c = state.store.conn().await?;
    let row = org::consortium(&mut c, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let members = org::members_of(&mut c, id)
        .await?
        .into_iter()
        .map(org_view)
        .collect();
    Ok(ConsortiumView {
        id: row.id,
        name: row.name,
        lead_org_id: row.lead_org_id,
        members,
    })
}

pub async fn add_member(
    state: &AppState,
    caller: &Caller,
    consortium_id: &str,
    input: MemberInput,
) -> ApiResult<ConsortiumView> {
    let allowed = caller.has(Role::PlatformAdmin)
        || caller
            .scopes(Role::ConsortiumAdmin)
            .any(|s| s == consortium_id);
    if !allowed {
        return Err(ApiError::not_found());
    }
    let mut tx = state.store.begin().await?;
    org::consortium(&mut tx, consortium_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    org::org(&mut tx, &input.org_id).await?.ok_or_else(|| {
        ApiError::from(
            DomainError::new(ErrorCode::UnknownOrg, "No such organisation.").on("org_id"),
        )
    })?;
    org::add_member(&mut tx, consortium_id, &input.org_id).await?;
    record_change(
        &mut tx,
        caller,
        "consortium.member.add",
        "consortium",
        consortium_id,
        Some(&input.org_id),
    )
    .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    consortium(state, consortium_id).await
}

/// Platform admins create administrative and supervisory accounts.
pub async fn create_staff_account(
    state: &AppState,
    caller: &Caller,
    input: NewStaffAccountInput,
) -> ApiResult<CreatedAccount> {
    caller.require(Role::PlatformAdmin)?;
    let name = RealName::parse(&input.name)?;
    let phone = PhoneNumber::parse(&input.phone)?;
    let password = Password::parse(&input.password, Some(&phone))?;
    let role = Role::parse(input.role.trim()).map_err(|e| e.on("role"))?;
    let scope = input.scope_id.trim().to_string();
    let mut tx = state.store.begin().await?;
    match role {
        Role::OrgAdmin => {
            org::org(&mut tx, &scope).await?.ok_or_else(|| {
                ApiError::from(
                    DomainError::new(
                        ErrorCode::UnknownOrg,
                        "An org admin needs the id of their organisation as scope_id.",
                    )
                    .on("scope_id"),
                )
            })?;
        }
        Role::ConsortiumAdmin => {
            org::consortium(&mut tx, &scope).await?.ok_or_else(|| {
                ApiError::from(
                    DomainError::new(
                        ErrorCode::UnknownConsortium,
                        "A consortium admin needs the consortium's id as scope_id.",
                    )
                    .on("scope_id"),
                )
            })?;
        }
        Role::Regulator | Role::PlatformAdmin if scope.is_empty() => {}
        Role::Regulator | Role::PlatformAdmin => {
            return Err(DomainError::new(
                ErrorCode::InvalidField,
                "This role is platform-wide; leave scope_id empty.",
            )
            .on("scope_id")
            .into());
        }
        _ => {
            return Err(DomainError::new(
                ErrorCode::InvalidRole,
                "Patients sign up themselves and practitioners are added by their organisation.",
            )
            .on("role")
            .into());
        }
    }
    let hash = hash_password(password).await?;
    let account_id = insert_login_account(state, &mut tx, name.as_str(), &phone, hash).await?;
    identity::grant_role(&mut tx, &account_id, role.as_str(), &scope).await?;
    record_change(
        &mut tx,
        caller,
        "account.create",
        "account",
        &account_id,
        (!scope.is_empty()).then_some(scope.as_str()),
    )
    .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(CreatedAccount { account_id })
}

async fn department_of_org(
    c: &mut AnyConnection,
    org_id: &str,
    department_id: Option<&str>,
) -> ApiResult<Option<String>> {
    let Some(dep) = department_id.map(str::trim).filter(|d| !d.is_empty()) else {
        return Ok(None);
    };
    match org::department(c, dep).await? {
        Some(d) if d.org_id == org_id => Ok(Some(d.id)),
        _ => Err(DomainError::new(
            ErrorCode::UnknownDepartment,
            "That department does not belong to this organisation.",
        )
        .on("department_id")
        .into()),
    }
}

pub async fn create_practitioner(
    state: &AppState,
    caller: &Caller,
    org_id: &str,
    input: NewPractitionerInput,
) -> ApiResult<PractitionerView> {
    let name = RealName::parse(&input.name)?;
    let phone = PhoneNumber::parse(&input.phone)?;
    let password = Password::parse(&input.password, Some(&phone))?;
    let title = Title::parse(input.title.trim())?;
    let licence = LicenceNumber::parse(&input.licence_no)?;
    let since = parse_date(&input.practising_since, "practising_since")
        .ok()
        .filter(|d| *d <= today_in_shanghai())
        .ok_or_else(|| {
            DomainError::new(
                ErrorCode::InvalidDate,
                "Date of first independent practice is YYYY-MM-DD and not in the future.",
            )
            .on("practising_since")
        })?;
    let mut tx = state.store.begin().await?;
    let o = administered_org(&mut tx, caller, org_id).await?;
    let kind = OrgKind::parse(&o.kind)?;
    if matches!(kind, OrgKind::Enterprise)
        || (kind == OrgKind::Pharmacy && title.role() != Role::Pharmacist)
    {
        return Err(DomainError::new(
            ErrorCode::RoleNotAllowedHere,
            "This kind of organisation cannot employ that practitioner.",
        )
        .on("title")
        .into());
    }
    let department_id = department_of_org(&mut tx, org_id, input.department_id.as_deref()).await?;
    let hash = hash_password(password).await?;
    let account_id = insert_login_account(state, &mut tx, name.as_str(), &phone, hash).await?;
    let new = NewPractitioner {
        role: title.role().as_str().to_string(),
        title: title.as_str().to_string(),
        licence_no: licence.as_str().to_string(),
        practising_since: since.format("%Y-%m-%d").to_string(),
        created_by: caller.account_id.clone(),
        affiliations: vec![NewAffiliation {
            org_id: org_id.to_string(),
            department_id,
            is_primary: true,
        }],
    };
    identity::insert_practitioner(&mut tx, &account_id, name.as_str(), &new).await?;
    record_change(
        &mut tx,
        caller,
        "practitioner.create",
        "practitioner",
        &account_id,
        Some(org_id),
    )
    .await?;
    let view = practitioner_view(&mut tx, &account_id).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(view)
}

/// 多点执业: an org admin adds an existing practitioner (by licence number) to their organisation.
pub async fn add_affiliation(
    state: &AppState,
    caller: &Caller,
    org_id: &str,
    input: NewAffiliationInput,
) -> ApiResult<PractitionerView> {
    let licence = LicenceNumber::parse(&input.licence_no)?;
    let mut tx = state.store.begin().await?;
    administered_org(&mut tx, caller, org_id).await?;
    let p = identity::practitioner_by_licence(&mut tx, licence.as_str())
        .await?
        .ok_or_else(|| {
            ApiError::from(
                DomainError::new(
                    ErrorCode::UnknownLicence,
                    "No practitioner holds that licence number.",
                )
                .on("licence_no"),
            )
        })?;
    let department_id = department_of_org(&mut tx, org_id, input.department_id.as_deref()).await?;
    identity::insert_affiliation(
        &mut tx,
        &p.account_id,
        &NewAffiliation {
            org_id: org_id.to_string(),
            department_id,
            is_primary: false,
        },
    )
    .await
    .map_err(|e| match e {
        ihos_store::StoreError::Duplicate { .. } => ApiError::from(
            DomainError::new(
                ErrorCode::AlreadyAffiliated,
                "This practitioner already works here.",
            )
            .on("licence_no"),
        ),
        other => other.into(),
    })?;
    identity::grant_role(&mut tx, &p.account_id, &p.role, org_id).await?;
    record_change(
        &mut tx,
        caller,
        "affiliation.create",
        "practitioner",
        &p.account_id,
        Some(org_id),
    )
    .await?;
    let view = practitioner_view(&mut tx, &p.account_id).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(view)
}

async fn practitioner_view(c: &mut AnyConnection, id: &str) -> ApiResult<PractitionerView> {
    let p = identity::practitioner(c, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let affiliations = identity::affiliations_of(c, id).await?;
    to_view(p, affiliations)
}

fn to_view(
    p: PractitionerRow,
    affiliations: Vec<identity::AffiliationRow>,
) -> ApiResult<PractitionerView> {
    let since = parse_date(&p.practising_since, "practising_since").map_err(ApiError::stored)?;
    let today = today_in_shanghai();
    let title = Title::parse(&p.title).ok();
    Ok(PractitionerView {
        id: p.account_id,
        name: p.name,
        role: p.role,
        title_label: title.map(|t| t.label_zh()).unwrap_or_default().to_string(),
        title: p.title,
        licence_no: p.licence_no,
        practising_since: p.practising_since,
        years_of_practice: years_of_practice(since, today),
        may_practise_online: may_practise_online(since, today),
        affiliations: affiliations
            .into_iter()
            .map(|a| AffiliationView {
                org_id: a.org_id,
                org_name: a.org_name,
                department_id: a.department_id,
                department_name: a.department_name,
                is_primary: a.is_primary != 0,
            })
            .collect(),
    })
}

pub async fn practitioner(state: &AppState, id: &str) -> ApiResult<PractitionerView> {
    let mut c = state.store.conn().await?;
    practitioner_view(&mut c, id).await
}

/// The public page of an organisation; each view is a browse event for the influence index.
pub async fn public_org_page(state: &AppState, org_id: &str) -> ApiResult<OrgDetail> {
    let detail = org_detail(state, org_id).await?;
    let mut c = state.store.conn().await?;
    ihos_store::events::record(
        &mut c,
        &ihos_store::events::NewEvent {
            kind: ihos_store::events::BROWSE,
            org_id,
            ..Default::default()
        },
    )
    .await?;
    Ok(detail)
}

/// A practitioner's public page; each view is a browse event for the influence index.
pub async fn public_practitioner_page(state: &AppState, id: &str) -> ApiResult<PractitionerView> {
    let mut c = state.store.conn().await?;
    let view = practitioner_view(&mut c, id).await?;
    if let Some(primary) = view.affiliations.first() {
        ihos_store::events::record(
            &mut c,
            &ihos_store::events::NewEvent {
                kind: ihos_store::events::BROWSE,
                org_id: &primary.org_id,
                department_id: primary.department_id.as_deref(),
                practitioner_id: Some(&view.id),
                rating: None,
            },
        )
        .await?;
    }
    Ok(view)
}

/// The staff list of one organisation: its own admins only (and platform admins).
pub async fn org_staff(
    state: &AppState,
    caller: &Caller,
    org_id: &str,
) -> ApiResult<Vec<StaffMemberView>> {
    let mut c = state.store.conn().await?;
    administered_org(&mut c, caller, org_id).await?;
    let mut out = Vec::new();
    for p in identity::practitioners_of_org(&mut c, org_id).await? {
        let id = p.account_id.clone();
        let phone = identity::account(&mut c, &id)
            .await?
            .map(|a| state.vault.decrypt(&a.phone_enc).unwrap_or_default())
            .unwrap_or_default();
        let affiliations = identity::affiliations_of(&mut c, &id).await?;
        out.push(StaffMemberView {
            practitioner: to_view(p, affiliations)?,
            phone_masked: mask_phone(&phone),
        });
    }
    Ok(out)
}
