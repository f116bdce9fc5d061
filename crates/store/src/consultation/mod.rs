//! Online consultations, their chat messages (a server sequence number per
//! consultation; client ids make sends idempotent), attachments, reviews,
//! per-department first-visit policy and family-doctor service packages.
//!
//! Status changes are conditional updates (`... WHERE id = $1 AND status = $2`)
//! so two actors racing on one consultation cannot both win.

use sqlx::{AnyConnection, AssertSqlSafe, FromRow};

use crate::{StoreError, StoreResult, classify, new_id};

mod attachments;
mod messages;
mod packages;
mod policy;
mod reviews;
mod writer;
pub use attachments::*;
pub use messages::*;
pub use packages::*;
pub use policy::*;
pub use reviews::*;
pub use writer::*;

#[derive(Debug, Clone)]
pub struct NewConsultation {
    pub patient_id: String,
    pub requester_id: String,
    pub guardian_present: bool,
    pub doctor_id: String,
    pub org_id: String,
    pub department_id: Option<String>,
    pub tier: String,
    pub parent_id: Option<String>,
    pub status: String,
    pub complaint: String,
    pub suggested_specialty: Option<String>,
    pub evidence_kind: Option<String>,
    pub evidence_ref: Option<String>,
    pub evidence_note: Option<String>,
    pub first_visit_pilot: bool,
    pub appointment_id: Option<String>,
    pub subscription_id: Option<String>,
    pub fee_fen: i64,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Debug, Clone, FromRow)]
pub struct ConsultationRow {
    pub id: String,
    pub patient_id: String,
    pub requester_id: String,
    pub guardian_present: i64,
    pub doctor_id: String,
    pub org_id: String,
    pub department_id: Option<String>,
    pub tier: String,
    pub parent_id: Option<String>,
    pub status: String,
    pub complaint: String,
    pub suggested_specialty: Option<String>,
    pub evidence_kind: Option<String>,
    pub evidence_ref: Option<String>,
    pub evidence_note: Option<String>,
    pub qualified_by: Option<String>,
    pub qualified_at: Option<i64>,
    pub first_visit_pilot: i64,
    pub appointment_id: Option<String>,
    pub subscription_id: Option<String>,
    pub fee_fen: i64,
    pub refunded_at: Option<i64>,
    pub end_reason: Option<String>,
    pub summary: Option<String>,
    pub next_seq: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub accepted_at: Option<i64>,
    pub started_at: Option<i64>,
    pub ended_at: Option<i64>,
    // joined
    pub patient_name: String,
    pub patient_birth_date: String,
    pub patient_account_id: Option<String>,
    pub guardian_account_id: Option<String>,
    pub doctor_name: String,
    pub doctor_title: String,
}

const COLUMNS: &str = "c.id, c.patient_id, c.requester_id, c.guardian_present, c.doctor_id, c.org_id, \
     c.department_id, c.tier, c.parent_id, c.status, c.complaint, c.suggested_specialty, c.evidence_kind, \
     c.evidence_ref, c.evidence_note, c.qualified_by, c.qualified_at, c.first_visit_pilot, c.appointment_id, \
     c.subscription_id, c.fee_fen, c.refunded_at, c.end_reason, c.summary, c.next_seq, c.created_at, \
     c.expires_at, c.accepted_at, c.started_at, c.ended_at, \
     p.name AS patient_name, p.birth_date AS patient_birth_date, p.account_id AS patient_account_id, \
     p.guardian_account_id, d.name AS doctor_name, d.title AS doctor_title";
const FROM: &str = "FROM consultations c JOIN patients p ON p.id = c.patient_id \
     JOIN practitioners d ON d.account_id = c.doctor_id";

pub async fn insert_consultation(
    conn: &mut AnyConnection,
    new: &NewConsultation,
) -> StoreResult<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO consultations (id, patient_id, requester_id, guardian_present, doctor_id, org_id, \
         department_id, tier, parent_id, status, complaint, suggested_specialty, evidence_kind, evidence_ref, \
         evidence_note, first_visit_pilot, appointment_id, subscription_id, fee_fen, next_seq, created_at, \
         expires_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
         $16, $17, $18, $19, 0, $20, $21, $20)",
    )
    .bind(&id)
    .bind(&new.patient_id)
    .bind(&new.requester_id)
    .bind(i64::from(new.guardian_present))
    .bind(&new.doctor_id)
    .bind(&new.org_id)
    .bind(new.department_id.as_deref())
    .bind(&new.tier)
    .bind(new.parent_id.as_deref())
    .bind(&new.status)
    .bind(&new.complaint)
    .bind(new.suggested_specialty.as_deref())
    .bind(new.evidence_kind.as_deref())
    .bind(new.evidence_ref.as_deref())
    .bind(new.evidence_note.as_deref())
    .bind(i64::from(new.first_visit_pilot))
    .bind(new.appointment_id.as_deref())
    .bind(new.subscription_id.as_deref())
    .bind(new.fee_fen)
    .bind(new.created_at)
    .bind(new.expires_at)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

pub async fn consultation(
    conn: &mut AnyConnection,
    id: &str,
) -> StoreResult<Option<ConsultationRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} {FROM} WHERE c.id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?)
}

/// A status change: only applied if the consultation is still in `from`.
#[derive(Debug, Clone, Default)]
pub struct StatusChange<'a> {
    pub accepted: bool,
    pub started: bool,
    pub ended: bool,
    pub refunded: bool,
    pub end_reason: Option<&'a str>,
    pub summary: Option<&'a str>,
    pub qualified_by: Option<&'a str>,
}

/// Move `id` from `from` to `to` at `now`; answers false when someone else
/// changed it first (the caller reports a conflict).
pub async fn change_status(
    conn: &mut AnyConnection,
    id: &str,
    from: &str,
    to: &str,
    now: i64,
    ch: &StatusChange<'_>,
) -> StoreResult<bool> {
    let mut sets = vec!["status = $3".to_string(), "updated_at = $4".to_string()];
    if ch.accepted {
        sets.push("accepted_at = $4".into());
    }
    if ch.started {
        sets.push("started_at = $4".into());
    }
    if ch.ended {
        sets.push("ended_at = $4".into());
    }
    if ch.refunded {
        sets.push("refunded_at = $4".into());
    }
    sets.push("end_reason = COALESCE($5, end_reason)".into());
    sets.push("summary = COALESCE($6, summary)".into());
    sets.push("qualified_by = COALESCE($7, qualified_by)".into());
    if ch.qualified_by.is_some() {
        sets.push("qualified_at = $4".into());
    }
    let sql = format!(
        "UPDATE consultations SET {} WHERE id = $1 AND status = $2",
        sets.join(", ")
    );
    let done = sqlx::query(AssertSqlSafe(sql))
        .bind(id)
        .bind(from)
        .bind(to)
        .bind(now)
        .bind(ch.end_reason)
        .bind(ch.summary)
        .bind(ch.qualified_by)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The doctor's workbench: consultations assigned to them in `statuses`,
/// oldest first.
pub async fn for_doctor(
    conn: &mut AnyConnection,
    doctor_id: &str,
    statuses: &[&str],
    limit: i64,
) -> StoreResult<Vec<ConsultationRow>> {
    let list = in_list(statuses, 3);
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} {FROM} WHERE c.doctor_id = $1 AND c.status IN ({list}) \
         ORDER BY c.created_at, c.id LIMIT $2"
    )))
    .bind(doctor_id)
    .bind(limit)
    .bind_all(statuses)
    .fetch_all(&mut *conn)
    .await?)
}

/// Consultations of patients whose own account or guardian is `account_id`, newest first.
pub async fn for_patient_side(
    conn: &mut AnyConnection,
    account_id: &str,
    limit: i64,
) -> StoreResult<Vec<ConsultationRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} {FROM} WHERE p.account_id = $1 OR p.guardian_account_id = $1 \
         ORDER BY c.created_at DESC, c.id DESC LIMIT $2"
    )))
    .bind(account_id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?)
}

/// A patient's consultations (their online record), newest first.
pub async fn for_patient(
    conn: &mut AnyConnection,
    patient_id: &str,
    limit: i64,
) -> StoreResult<Vec<ConsultationRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} {FROM} WHERE c.patient_id = $1 ORDER BY c.created_at DESC, c.id DESC LIMIT $2"
    )))
    .bind(patient_id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?)
}

/// Requested consultations whose answer time ran out at `now`.
pub async fn overdue(
    conn: &mut AnyConnection,
    now: i64,
    limit: i64,
) -> StoreResult<Vec<ConsultationRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} {FROM} WHERE c.status = 'requested' AND c.expires_at <= $1 \
         ORDER BY c.expires_at LIMIT $2"
    )))
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?)
}

fn in_list(values: &[&str], first: usize) -> String {
    (0..values.len().max(1))
        .map(|i| format!("${}", first + i))
        .collect::<Vec<_>>()
        .join(", ")
}

trait BindAll<'q> {
    fn bind_all(self, values: &'q [&'q str]) -> Self;
}

impl<'q, O> BindAll<'q> for sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments> {
    fn bind_all(self, values: &'q [&'q str]) -> Self {
        if values.is_empty() {
            return self.bind("");
        }
        values.iter().fold(self, |q, v| q.bind(*v))
    }
}
