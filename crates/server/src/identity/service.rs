//! Identity use cases: patient sign-up, dependants, login, profiles and
//! audited patient reads.

use ihos_domain::ErrorCode;
use ihos_domain::access::{Relationship, patient_read_ground};
use ihos_domain::identity::{ADULT_AGE, age_on, mask_phone};
use ihos_domain::{DomainError, Password, PhoneNumber, RealName, ResidentId, Role, parse_date};
use ihos_store::identity::{self, NewAccount, NewPatient, PatientRow};
use ihos_store::{AnyConnection, audit, now_ms, session};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::clock::today_in_shanghai;
use crate::crypto::{self, token_hash};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
pub struct SignUp {
    /// Real name as on the identity card.
    pub name: String,
    /// 18-character resident ID number (GB 11643).
    pub resident_id: String,
    pub phone: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SignedUp {
    pub account_id: String,
    pub patient_id: String,
    /// Session token: send as `Authorization: Bearer <token>`.
    pub token: String,
    pub expires_at: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewDependantInput {
    pub name: String,
    pub resident_id: String,
    /// father, mother, grandparent or legal_guardian
    pub relation: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Credentials {
    pub phone: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoggedIn {
    pub account_id: String,
    pub token: String,
    pub expires_at: i64,
    /// patient, doctor, pharmacist, nurse, org_admin, consortium_admin, regulator, platform_admin
    pub roles: Vec<String>,
}

/// A patient as shown on screen: identity number and phone masked.
#[derive(Debug, Serialize, ToSchema)]
pub struct PatientView {
    pub id: String,
    pub name: String,
    pub resident_id_masked: String,
    pub phone_masked: Option<String>,
    pub birth_date: String,
    pub age: u32,
    pub sex: String,
    pub guardian_relation: Option<String>,
    pub has_own_account: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeView {
    pub account_id: String,
    pub display_name: String,
    pub phone_masked: String,
    pub roles: Vec<RoleView>,
    pub patient: Option<PatientView>,
    pub dependants: Vec<PatientView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleView {
    pub role: String,
    /// Organisation or consortium id; empty for platform-wide roles.
    pub scope_id: String,
}

const RELATIONS: [&str; 4] = ["father", "mother", "grandparent", "legal_guardian"];

fn sex_of(id: &ResidentId) -> &'static str {
    if id.is_male() { "male" } else { "female" }
}

pub(crate) fn patient_view(state: &AppState, row: &PatientRow) -> ApiResult<PatientView> {
    let birth = parse_date(&row.birth_date, "birth_date").map_err(ApiError::stored)?;
    Ok(PatientView {
        id: row.id.clone(),
        name: row.name.clone(),
        resident_id_masked: row.resident_id_masked.clone(),
        phone_masked: row
            .phone_enc
            .as_deref()
            .map(|p| mask_phone(&state.vault.decrypt(p).unwrap_or_default())),
        birth_date: row.birth_date.clone(),
        age: age_on(birth, today_in_shanghai()),
        sex: row.sex.clone(),
        guardian_relation: row.guardian_relation.clone(),
        has_own_account: row.account_id.is_some(),
    })
}

fn new_patient(
    state: &AppState,
    name: RealName,
    id: &ResidentId,
    phone: Option<&PhoneNumber>,
) -> NewPatient {
    NewPatient {
        name: name.as_str().to_string(),
        resident_id_enc: state.vault.encrypt(id.as_str()),
        resident_id_hash: state.vault.blind_index("resident_id", id.as_str()),
        resident_id_masked: id.masked(),
        birth_date: id.birth_date().format("%Y-%m-%d").to_string(),
        sex: sex_of(id).to_string(),
        phone_enc: phone.map(|p| state.vault.encrypt(p.as_str())),
        guardian_account_id: None,
        guardian_relation: None,
    }
}

pub async fn hash_password(password: Password) -> ApiResult<String> {
    tokio::task::spawn_blocking(move || crypto::hash_password(password.expose()))
        .await?
        .map_err(ApiError::internal)
}

/// Account + credentials in one transaction's connection.
pub async fn insert_login_account(
    state: &AppState,
    conn: &mut AnyConnection,
    display_name: &str,
    phone: &PhoneNumber,
    password_hash: String,
) -> ApiResult<String> {
    Ok(identity::insert_account(
        conn,
        &NewAccount {
            display_name: display_name.to_string(),
            phone_enc: state.vault.encrypt(phone.as_str()),
            phone_hash: state.vault.blind_index("phone", phone.as_str()),
            password_hash,
        },
    )
    .await?)
}

#[tracing::instrument(skip_all)]
pub async fn sign_up(state: &AppState, input: SignUp) -> ApiResult<SignedUp> {
    let name = RealName::parse(&input.name)?;
    let id = ResidentId::parse(&input.resident_id)?;
    let phone = PhoneNumber::parse(&input.phone)?;
    let password = Password::parse(&input.password, Some(&phone))?;
    if age_on(id.birth_date(), today_in_shanghai()) < ADULT_AGE {
        return Err(DomainError::new(
            ErrorCode::GuardianRequired,
            "Patients under 18 are registered by a parent or guardian: sign up yourself, then add the child under 'My family'.",
        )
        .on("resident_id")
        .into());
    }
    let password_hash = hash_password(password).await?;

    let mut tx = state.store.begin().await?;
    let account_id =
        insert_login_account(state, &mut tx, name.as_str(), &phone, password_hash).await?;
    identity::grant_role(&mut tx, &account_id, Role::Patient.as_str(), "").await?;
    let patient_id = identity::insert_patient(
        &mut tx,
        Some(&account_id),
        &new_patient(state, name, &id, Some(&phone)),
    )
    .await?;
    audit::record(
        &mut tx,
        &audit::AuditEntry {
            actor_id: Some(&account_id),
            actor_roles: "patient",
            action: "patient.create",
            subject_type: "patient",
            subject_id: &patient_id,
            ground: "self",
            org_id: None,
            request_id: None,
        },
    )
    .await?;
    let (token, expires_at) = open_session(state, &mut tx, &account_id).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    tracing::info!(account_id, patient_id, "patient signed up");
    Ok(SignedUp {
        account_id,
        patient_id,
        token,
        expires_at,
    })
}

async fn open_session(
    state: &AppState,
    conn: &mut AnyConnection,
    account_id: &str,
) -> ApiResult<(String, i64)> {
    let token = crypto::new_token();
    let now = now_ms();
    let expires_at = now + state.settings.session_hours * 3_600_000;
    session::insert_session(conn, &token_hash(&token), account_id, now, expires_at).await?;
    Ok((token, expires_at))
}

#[tracing::instrument(skip_all)]
pub async fn add_dependant(
    state: &AppState,
    caller: &Caller,
    input: NewDependantInput,
) -> ApiResult<PatientView> {
    caller.require(Role::Patient)?;
    let name = RealName::parse(&input.name)?;
    let id = ResidentId::parse(&input.resident_id)?;
    let relation = input.relation.trim();
    if !RELATIONS.contains(&relation) {
        return Err(DomainError::new(
            ErrorCode::InvalidRelation,
            format!("Relation must be one of {}.", RELATIONS.join(", ")),
        )
        .on("relation")
        .into());
    }
    if age_on(id.birth_date(), today_in_shanghai()) >= ADULT_AGE {
        return Err(DomainError::new(
            ErrorCode::NotAMinor,
            "Only children under 18 are added by a guardian; adults sign up themselves.",
        )
        .on("resident_id")
        .into());
    }
    let mut new = new_patient(state, name, &id, None);
    new.guardian_account_id = Some(caller.account_id.clone());
    new.guardian_relation = Some(relation.to_string());

    let mut tx = state.store.begin().await?;
    let patient_id = identity::insert_patient(&mut tx, None, &new).await?;
    caller
        .audit(
            &mut tx,
            "patient.create",
            "patient",
            &patient_id,
            "guardian",
            None,
        )
        .await?;
    let row = identity::patient(&mut tx, &patient_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    tx.commit().await.map_err(ApiError::internal)?;
    patient_view(state, &row)
}

#[tracing::instrument(skip_all)]
pub async fn login(state: &AppState, input: Credentials, client: &str) -> ApiResult<LoggedIn> {
    let phone = PhoneNumber::parse(&input.phone)?;
    let s = &state.settings;
    let now = now_ms();
    let since = now - s.login_window_minutes * 60_000;
    let phone_key = state.vault.blind_index("login-phone", phone.as_str());
    let client_key = state.vault.blind_index("login-client", client);
    let mut conn = state.store.conn().await?;
    if session::failures_since(&mut conn, &phone_key, since).await? >= s.login_max_failures
        || session::failures_since(&mut conn, &client_key, since).await? >= s.login_max_failures * 4
    {
        return Err(ApiError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::TooManyAttempts,
            format!(
                "Too many failed logins. Wait {} minutes and try again.",
                s.login_window_minutes
            ),
        ));
    }
    let account = identity::account_by_phone_hash(
        &mut conn,
        &state.vault.blind_index("phone", phone.as_str()),
    )
    .await?;
    // Verify against a dummy hash when the account is unknown, so timing does not tell.
    let hash = account
        .as_ref()
        .map_or_else(|| DUMMY_HASH.to_string(), |a| a.password_hash.clone());
    let password = input.password;
    let ok = tokio::task::spawn_blocking(move || crypto::verify_password(&password, &hash)).await?;
    let account = account.filter(|a| ok && a.disabled == 0);
    session::record_login_attempt(&mut conn, &phone_key, now, account.is_some()).await?;
    session::record_login_attempt(&mut conn, &client_key, now, account.is_some()).await?;
    let Some(account) = account else {
        return Err(ApiError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidCredentials,
            "Phone number or password is wrong.",
        ));
    };
    let (token, expires_at) = open_session(state, &mut conn, &account.id).await?;
    let mut roles: Vec<String> = identity::roles_of(&mut conn, &account.id)
        .await?
        .into_iter()
        .map(|g| g.role)
        .collect();
    roles.dedup();
    tracing::info!(account_id = %account.id, "logged in");
    Ok(LoggedIn {
        account_id: account.id,
        token,
        expires_at,
        roles,
    })
}

const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3i3v1vC0jrdW2LVH0VUKkgeUkObrPS0mR0s5dz6W4fE";

pub async fn logout(state: &AppState, token: &str) -> ApiResult<()> {
    let mut conn = state.store.conn().await?;
    session::delete_session(&mut conn, &token_hash(token)).await?;
    Ok(())
}

pub async fn me(state: &AppState, caller: &Caller) -> ApiResult<MeView> {
    let mut conn = state.store.conn().await?;
    let account = identity::account(&mut conn, &caller.account_id)
        .await?
        .ok_or_else(ApiError::unauthenticated)?;
    let patient = identity::patient_of_account(&mut conn, &caller.account_id).await?;
    let dependants = identity::dependants_of(&mut conn, &caller.account_id).await?;
    for p in patient.iter().chain(&dependants) {
        let ground = if p.account_id.as_deref() == Some(caller.account_id.as_str()) {
            "self"
        } else {
            "guardian"
        };
        audit_read(&mut conn, caller, &p.id, ground, "patient.read").await?;
    }
    Ok(MeView {
        account_id: account.id,
        display_name: account.display_name,
        phone_masked: mask_phone(&state.vault.decrypt(&account.phone_enc).unwrap_or_default()),
        roles: caller
            .grants
            .iter()
            .map(|(role, scope_id)| RoleView {
                role: role.as_str().to_string(),
                scope_id: scope_id.clone(),
            })
            .collect(),
        patient: patient
            .as_ref()
            .map(|p| patient_view(state, p))
            .transpose()?,
        dependants: dependants
            .iter()
            .map(|p| patient_view(state, p))
            .collect::<ApiResult<_>>()?,
    })
}

async fn audit_read(
    conn: &mut AnyConnection,
    caller: &Caller,
    patient_id: &str,
    ground: &str,
    action: &str,
) -> ApiResult<()> {
    caller
        .audit(conn, action, "patient", patient_id, ground, None)
        .await
}

/// Read one patient's record, authorised by role and relationship. Every
/// attempt, granted or refused, is written to the audit log.
#[tracing::instrument(skip_all, fields(patient_id = %patient_id))]
pub async fn read_patient(
    state: &AppState,
    caller: &Caller,
    patient_id: &str,
) -> ApiResult<PatientView> {
    let mut conn = state.store.conn().await?;
    let row = identity::patient(&mut conn, patient_id).await?;
    let rel = match &row {
        Some(p) => Relationship {
            is_self: p.account_id.as_deref() == Some(caller.account_id.as_str()),
            is_guardian: p.guardian_account_id.as_deref() == Some(caller.account_id.as_str()),
            is_treating: identity::is_treating(&mut conn, &p.id, &caller.account_id, now_ms())
                .await?,
        },
        None => Relationship::default(),
    };
    match (row, patient_read_ground(&caller.roles(), &rel)) {
        (Some(p), Ok(ground)) => {
            audit_read(&mut conn, caller, &p.id, ground.as_str(), "patient.read").await?;
            patient_view(state, &p)
        }
        (_, _) => {
            audit_read(&mut conn, caller, patient_id, "none", "patient.read.denied").await?;
            Err(ApiError::not_found())
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    pub at: i64,
    pub actor_id: Option<String>,
    pub actor_roles: String,
    pub action: String,
    pub ground: String,
}

/// Who has read or changed a patient's record: visible to the patient, their
/// guardian and regulators (reading the trail is itself audited).
pub async fn patient_audit_trail(
    state: &AppState,
    caller: &Caller,
    patient_id: &str,
) -> ApiResult<Vec<AuditView>> {
    let mut conn = state.store.conn().await?;
    let p = identity::patient(&mut conn, patient_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let rel = Relationship {
        is_self: p.account_id.as_deref() == Some(caller.account_id.as_str()),
        is_guardian: p.guardian_account_id.as_deref() == Some(caller.account_id.as_str()),
        is_treating: false,
    };
    let ground = patient_read_ground(&caller.roles(), &rel).map_err(|_| ApiError::not_found())?;
    let rows = audit::trail(&mut conn, "patient", &p.id, 500).await?;
    audit_read(
        &mut conn,
        caller,
        &p.id,
        ground.as_str(),
        "patient.audit.read",
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| AuditView {
            at: r.at,
            actor_id: r.actor_id,
            actor_roles: r.actor_roles,
            action: r.action,
            ground: r.ground,
        })
        .collect())
}

/// Bootstrap a platform admin (first install, demo, tests): nobody exists yet
/// who could create one through the API.
pub async fn create_platform_admin(
    state: &AppState,
    name: &str,
    phone: &str,
    password: &str,
) -> ApiResult<String> {
    let name = RealName::parse(name)?;
    let phone = PhoneNumber::parse(phone)?;
    let password = Password::parse(password, Some(&phone))?;
    let hash = hash_password(password).await?;
    let mut tx = state.store.begin().await?;
    let id = insert_login_account(state, &mut tx, name.as_str(), &phone, hash).await?;
    identity::grant_role(&mut tx, &id, Role::PlatformAdmin.as_str(), "").await?;
    crate::audit::record(
        &mut tx,
        None,
        "account.create",
        "account",
        &id,
        "bootstrap",
        None,
    )
    .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(id)
}
