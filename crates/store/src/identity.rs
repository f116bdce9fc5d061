//! Accounts, role grants, patients (and dependants), practitioners and their
//! affiliations. Identity numbers and phones arrive already encrypted; the
//! `*_hash` columns are keyed blind indexes for uniqueness and lookup.

use sqlx::{AnyConnection, AssertSqlSafe, FromRow};

use crate::{StoreResult, classify, new_id, now_ms};

#[derive(Debug, Clone)]
pub struct NewAccount {
    pub display_name: String,
    pub phone_enc: String,
    pub phone_hash: String,
    pub password_hash: String,
}

#[derive(Debug, Clone, FromRow)]
pub struct AccountRow {
    pub id: String,
    pub display_name: String,
    pub phone_enc: String,
    pub password_hash: String,
    pub disabled: i64,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct RoleGrant {
    pub role: String,
    pub scope_id: String,
}

#[derive(Debug, Clone)]
pub struct NewPatient {
    pub name: String,
    pub resident_id_enc: String,
    pub resident_id_hash: String,
    pub resident_id_masked: String,
    pub birth_date: String,
    pub sex: String,
    pub phone_enc: Option<String>,
    pub guardian_account_id: Option<String>,
    pub guardian_relation: Option<String>,
}

#[derive(Debug, Clone, FromRow)]
pub struct PatientRow {
    pub id: String,
    pub account_id: Option<String>,
    pub name: String,
    pub resident_id_enc: String,
    pub resident_id_masked: String,
    pub birth_date: String,
    pub sex: String,
    pub phone_enc: Option<String>,
    pub guardian_account_id: Option<String>,
    pub guardian_relation: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewPractitioner {
    pub role: String,
    pub title: String,
    pub licence_no: String,
    pub practising_since: String,
    pub created_by: String,
    pub affiliations: Vec<NewAffiliation>,
}

#[derive(Debug, Clone)]
pub struct NewAffiliation {
    pub org_id: String,
    pub department_id: Option<String>,
    pub is_primary: bool,
}

#[derive(Debug, Clone, FromRow)]
pub struct PractitionerRow {
    pub account_id: String,
    pub name: String,
    pub role: String,
    pub title: String,
    pub licence_no: String,
    pub practising_since: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, FromRow)]
pub struct AffiliationRow {
    pub org_id: String,
    pub org_name: String,
    pub department_id: Option<String>,
    pub department_name: Option<String>,
    pub is_primary: i64,
}

const PATIENT_COLUMNS: &str = "id, account_id, name, resident_id_enc, resident_id_masked, birth_date, sex, \
     phone_enc, guardian_account_id, guardian_relation, created_at";

pub async fn insert_account(conn: &mut AnyConnection, new: &NewAccount) -> StoreResult<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO accounts (id, display_name, phone_enc, phone_hash, password_hash, disabled, created_at) \
         VALUES ($1, $2, $3, $4, $5, 0, $6)",
    )
    .bind(&id)
    .bind(&new.display_name)
    .bind(&new.phone_enc)
    .bind(&new.phone_hash)
    .bind(&new.password_hash)
    .bind(now_ms())
    .execute(&mut *conn)
    .await
    .map_err(|e| classify(e, &["phone_hash"]))?;
    Ok(id)
}

pub async fn grant_role(
    conn: &mut AnyConnection,
    account_id: &str,
    role: &str,
    scope_id: &str,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO role_grants (account_id, role, scope_id, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (account_id, role, scope_id) DO NOTHING",
    )
    .bind(account_id)
    .bind(role)
    .bind(scope_id)
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn account_by_phone_hash(
    conn: &mut AnyConnection,
    phone_hash: &str,
) -> StoreResult<Option<AccountRow>> {
    Ok(sqlx::query_as(
        "SELECT id, display_name, phone_enc, password_hash, disabled, created_at FROM accounts WHERE phone_hash = $1",
    )
    .bind(phone_hash)
    .fetch_optional(&mut *conn)
    .await?)
}

pub async fn account(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<AccountRow>> {
    Ok(sqlx::query_as(
        "SELECT id, display_name, phone_enc, password_hash, disabled, created_at FROM accounts WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?)
}

pub async fn roles_of(conn: &mut AnyConnection, account_id: &str) -> StoreResult<Vec<RoleGrant>> {
    Ok(sqlx::query_as(
        "SELECT role, scope_id FROM role_grants WHERE account_id = $1 ORDER BY role, scope_id",
    )
    .bind(account_id)
    .fetch_all(&mut *conn)
    .await?)
}

pub async fn insert_patient(
    conn: &mut AnyConnection,
    account_id: Option<&str>,
    new: &NewPatient,
) -> StoreResult<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO patients (id, account_id, name, resident_id_enc, resident_id_hash, resident_id_masked, \
         birth_date, sex, phone_enc, guardian_account_id, guardian_relation, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&id)
    .bind(account_id)
    .bind(&new.name)
    .bind(&new.resident_id_enc)
    .bind(&new.resident_id_hash)
    .bind(&new.resident_id_masked)
    .bind(&new.birth_date)
    .bind(&new.sex)
    .bind(new.phone_enc.as_deref())
    .bind(new.guardian_account_id.as_deref())
    .bind(new.guardian_relation.as_deref())
    .bind(now_ms())
    .execute(&mut *conn)
    .await
    .map_err(|e| classify(e, &["resident_id_hash", "account_id"]))?;
    Ok(id)
}

pub async fn patient(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<PatientRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {PATIENT_COLUMNS} FROM patients WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?)
}

pub async fn patient_of_account(
    conn: &mut AnyConnection,
    account_id: &str,
) -> StoreResult<Option<PatientRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {PATIENT_COLUMNS} FROM patients WHERE account_id = $1"
    )))
    .bind(account_id)
    .fetch_optional(&mut *conn)
    .await?)
}

pub async fn dependants_of(
    conn: &mut AnyConnection,
    guardian_account_id: &str,
) -> StoreResult<Vec<PatientRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {PATIENT_COLUMNS} FROM patients WHERE guardian_account_id = $1 ORDER BY created_at"
    )))
    .bind(guardian_account_id)
    .fetch_all(&mut *conn)
    .await?)
}

pub async fn insert_practitioner(
    conn: &mut AnyConnection,
    account_id: &str,
    name: &str,
    new: &NewPractitioner,
) -> StoreResult<()> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO practitioners (account_id, name, role, title, licence_no, practising_since, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(account_id)
    .bind(name)
    .bind(&new.role)
    .bind(&new.title)
    .bind(&new.licence_no)
    .bind(&new.practising_since)
    .bind(&new.created_by)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(|e| classify(e, &["licence_no"]))?;
    for a in &new.affiliations {
        insert_affiliation(conn, account_id, a).await?;
        grant_role(conn, account_id, &new.role, &a.org_id).await?;
    }
    Ok(())
}

pub async fn insert_affiliation(
    conn: &mut AnyConnection,
    practitioner_id: &str,
    a: &NewAffiliation,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO affiliations (practitioner_id, org_id, department_id, is_primary, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(practitioner_id)
    .bind(&a.org_id)
    .bind(a.department_id.as_deref())
    .bind(i64::from(a.is_primary))
    .bind(now_ms())
    .execute(&mut *conn)
    .await
    .map_err(|e| classify(e, &["affiliations", "practitioner_id"]))?;
    Ok(())
}

pub async fn practitioner(
    conn: &mut AnyConnection,
    account_id: &str,
) -> StoreResult<Option<PractitionerRow>> {
    Ok(sqlx::query_as(
        "SELECT account_id, name, role, title, licence_no, practising_since, created_at \
         FROM practitioners WHERE account_id = $1",
    )
    .bind(account_id)
    .fetch_optional(&mut *conn)
    .await?)
}

pub async fn affiliations_of(
    conn: &mut AnyConnection,
    practitioner_id: &str,
) -> StoreResult<Vec<AffiliationRow>> {
    Ok(sqlx::query_as(
        "SELECT a.org_id, o.name AS org_name, a.department_id, d.name AS department_name, a.is_primary \
         FROM affiliations a JOIN organisations o ON o.id = a.org_id \
         LEFT JOIN departments d ON d.id = a.department_id \
         WHERE a.practitioner_id = $1 ORDER BY a.is_primary DESC, o.name",
    )
    .bind(practitioner_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// Practitioners affiliated with `org_id` (多点执业 means one may appear under several orgs).
pub async fn practitioners_of_org(
    conn: &mut AnyConnection,
    org_id: &str,
) -> StoreResult<Vec<PractitionerRow>> {
    Ok(sqlx::query_as(
        "SELECT p.account_id, p.name, p.role, p.title, p.licence_no, p.practising_since, p.created_at \
         FROM practitioners p JOIN affiliations a ON a.practitioner_id = p.account_id \
         WHERE a.org_id = $1 ORDER BY p.role, p.name",
    )
    .bind(org_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// Whether `practitioner_id` has a care relationship with the patient that is active at `at`.
pub async fn is_treating(
    conn: &mut AnyConnection,
    patient_id: &str,
    practitioner_id: &str,
    at: i64,
) -> StoreResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM care_relationships WHERE patient_id = $1 AND practitioner_id = $2 \
         AND starts_at <= $3 AND ends_at > $3",
    )
    .bind(patient_id)
    .bind(practitioner_id)
    .bind(at)
    .fetch_one(&mut *conn)
    .await?;
    Ok(n > 0)
}

pub async fn insert_care_relationship(
    conn: &mut AnyConnection,
    patient_id: &str,
    practitioner_id: &str,
    org_id: &str,
    kind: &str,
    starts_at: i64,
    ends_at: i64,
) -> StoreResult<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO care_relationships (id, patient_id, practitioner_id, org_id, kind, starts_at, ends_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(patient_id)
    .bind(practitioner_id)
    .bind(org_id)
    .bind(kind)
    .bind(starts_at)
    .bind(ends_at)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

pub async fn count_rows(conn: &mut AnyConnection, table: Table) -> StoreResult<i64> {
    Ok(sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM {}",
        table.name()
    )))
    .fetch_one(&mut *conn)
    .await?)
}

/// Tables whose size tests and readiness checks may ask for.
#[derive(Debug, Clone, Copy)]
pub enum Table {
    Accounts,
    Patients,
    Practitioners,
    Organisations,
    AuditLog,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Accounts => "accounts",
            Table::Patients => "patients",
            Table::Practitioners => "practitioners",
            Table::Organisations => "organisations",
            Table::AuditLog => "audit_log",
        }
    }
}

pub async fn practitioner_by_licence(
    conn: &mut AnyConnection,
    licence_no: &str,
) -> StoreResult<Option<PractitionerRow>> {
    Ok(sqlx::query_as(
        "SELECT account_id, name, role, title, licence_no, practising_since, created_at \
         FROM practitioners WHERE licence_no = $1",
    )
    .bind(licence_no)
    .fetch_optional(&mut *conn)
    .await?)
}
