//! Online consultations, their chat messages (a server sequence number per
//! consultation; client ids make sends idempotent), attachments, reviews,
//! per-department first-visit policy and family-doctor service packages.
//!
//! Status changes are conditional updates (`... WHERE id = $1 AND status = $2`)
//! so two actors racing on one consultation cannot both win.

use sqlx::{AnyConnection, AssertSqlSafe, FromRow};

use crate::{StoreError, StoreResult, classify, new_id};

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

// ---------------------------------------------------------------- policy

/// Whether the department pilots online first visits; `None` = strict default.
pub async fn dept_allows_first_visit(
    conn: &mut AnyConnection,
    department_id: &str,
) -> StoreResult<bool> {
    let v: Option<i64> = sqlx::query_scalar(
        "SELECT allow_first_visit FROM consultation_dept_policies WHERE department_id = $1",
    )
    .bind(department_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(v == Some(1))
}

pub async fn set_dept_policy(
    conn: &mut AnyConnection,
    department_id: &str,
    allow_first_visit: bool,
    by: &str,
    now: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO consultation_dept_policies (department_id, allow_first_visit, updated_by, updated_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (department_id) DO UPDATE SET \
         allow_first_visit = excluded.allow_first_visit, updated_by = excluded.updated_by, \
         updated_at = excluded.updated_at",
    )
    .bind(department_id)
    .bind(i64::from(allow_first_visit))
    .bind(by)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

// ---------------------------------------------------------------- messages

#[derive(Debug, Clone)]
pub struct NewMessage {
    pub consultation_id: String,
    pub sender_id: String,
    pub sender_role: String,
    pub client_id: String,
    pub kind: String,
    pub body: Option<String>,
    pub attachment_id: Option<String>,
    pub created_at: i64,
}

impl NewMessage {
    /// The row this message is stored as, with sequence number `seq` and a new id.
    fn numbered(&self, seq: i64) -> MessageRow {
        MessageRow {
            consultation_id: self.consultation_id.clone(),
            seq,
            id: new_id(),
            sender_id: self.sender_id.clone(),
            sender_role: self.sender_role.clone(),
            client_id: self.client_id.clone(),
            kind: self.kind.clone(),
            body: self.body.clone(),
            attachment_id: self.attachment_id.clone(),
            created_at: self.created_at,
        }
    }
}

#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct MessageRow {
    pub consultation_id: String,
    pub seq: i64,
    pub id: String,
    pub sender_id: String,
    pub sender_role: String,
    pub client_id: String,
    pub kind: String,
    pub body: Option<String>,
    pub attachment_id: Option<String>,
    pub created_at: i64,
}

const MESSAGE_COLUMNS: &str = "consultation_id, seq, id, sender_id, sender_role, client_id, kind, body, \
     attachment_id, created_at";

#[derive(Debug)]
pub enum Appended {
    /// Newly stored with the next sequence number.
    New(MessageRow),
    /// The same client id was sent before: the stored message, unchanged.
    Repeat(MessageRow),
    /// The consultation is not open for chat (or does not exist).
    Closed,
}

pub async fn message_by_client_id(
    conn: &mut AnyConnection,
    consultation_id: &str,
    sender_id: &str,
    client_id: &str,
) -> StoreResult<Option<MessageRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {MESSAGE_COLUMNS} FROM consultation_messages \
         WHERE consultation_id = $1 AND sender_id = $2 AND client_id = $3"
    )))
    .bind(consultation_id)
    .bind(sender_id)
    .bind(client_id)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Store one message: idempotent by (consultation, sender, client id); the
/// sequence number comes from an atomic counter on the consultation row that
/// only moves while chat is open. Run inside a transaction. The common path
/// is two statements; a repeated client id gives its number back.
pub async fn append_message(conn: &mut AnyConnection, m: &NewMessage) -> StoreResult<Appended> {
    let seq: Option<i64> = sqlx::query_scalar(
        "UPDATE consultations SET next_seq = next_seq + 1 \
         WHERE id = $1 AND status IN ('accepted', 'in_progress') RETURNING next_seq",
    )
    .bind(&m.consultation_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(seq) = seq else {
        // Closed now; a resend of something stored while it was open is still answered.
        return Ok(
            match message_by_client_id(conn, &m.consultation_id, &m.sender_id, &m.client_id).await?
            {
                Some(prev) => Appended::Repeat(prev),
                None => Appended::Closed,
            },
        );
    };
    let row = m.numbered(seq);
    let inserted = sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO consultation_messages ({MESSAGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (consultation_id, sender_id, client_id) DO NOTHING"
    )))
    .bind(&row.consultation_id)
    .bind(row.seq)
    .bind(&row.id)
    .bind(&row.sender_id)
    .bind(&row.sender_role)
    .bind(&row.client_id)
    .bind(&row.kind)
    .bind(row.body.as_deref())
    .bind(row.attachment_id.as_deref())
    .bind(row.created_at)
    .execute(&mut *conn)
    .await
    .map_err(|e| classify(e, &["client_id", "seq"]))?
    .rows_affected();
    if inserted == 1 {
        return Ok(Appended::New(row));
    }
    // A repeat: give the number back (the row lock is ours) and answer the stored message.
    sqlx::query("UPDATE consultations SET next_seq = next_seq - 1 WHERE id = $1")
        .bind(&m.consultation_id)
        .execute(&mut *conn)
        .await?;
    message_by_client_id(conn, &m.consultation_id, &m.sender_id, &m.client_id)
        .await?
        .map(Appended::Repeat)
        .ok_or(StoreError::NotFound)
}

/// Messages with a sequence number above `after`, in order.
pub async fn messages_after(
    conn: &mut AnyConnection,
    consultation_id: &str,
    after: i64,
    limit: i64,
) -> StoreResult<Vec<MessageRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {MESSAGE_COLUMNS} FROM consultation_messages WHERE consultation_id = $1 AND seq > $2 \
         ORDER BY seq LIMIT $3"
    )))
    .bind(consultation_id)
    .bind(after)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?)
}

// ---------------------------------------------------------------- attachments

#[derive(Debug, Clone, FromRow)]
pub struct AttachmentRow {
    pub id: String,
    pub consultation_id: Option<String>,
    pub uploader_id: String,
    pub mime: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub blob_key: String,
    pub created_at: i64,
}

pub async fn insert_attachment(conn: &mut AnyConnection, a: &AttachmentRow) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO consultation_attachments (id, consultation_id, uploader_id, mime, size_bytes, sha256, \
         blob_key, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&a.id)
    .bind(a.consultation_id.as_deref())
    .bind(&a.uploader_id)
    .bind(&a.mime)
    .bind(a.size_bytes)
    .bind(&a.sha256)
    .bind(&a.blob_key)
    .bind(a.created_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn attachment(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<AttachmentRow>> {
    Ok(sqlx::query_as(
        "SELECT id, consultation_id, uploader_id, mime, size_bytes, sha256, blob_key, created_at \
         FROM consultation_attachments WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?)
}

// ---------------------------------------------------------------- reviews

#[derive(Debug, Clone, FromRow)]
pub struct ReviewRow {
    pub consultation_id: String,
    pub doctor_id: String,
    pub author_id: String,
    pub rating: i64,
    pub body: Option<String>,
    pub reply: Option<String>,
    pub replied_at: Option<i64>,
    pub created_at: i64,
}

/// One review per consultation: a second one is `Duplicate { what: "review" }`.
pub async fn insert_review(conn: &mut AnyConnection, r: &ReviewRow) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO consultation_reviews (consultation_id, doctor_id, author_id, rating, body, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&r.consultation_id)
    .bind(&r.doctor_id)
    .bind(&r.author_id)
    .bind(r.rating)
    .bind(r.body.as_deref())
    .bind(r.created_at)
    .execute(&mut *conn)
    .await
    .map_err(|e| match classify(e, &["consultation_reviews"]) {
        StoreError::Duplicate { .. } => StoreError::Duplicate {
            what: "review".into(),
        },
        other => other,
    })?;
    Ok(())
}

/// The doctor's one reply; false when there is no review or it was answered.
pub async fn reply_review(
    conn: &mut AnyConnection,
    consultation_id: &str,
    doctor_id: &str,
    reply: &str,
    now: i64,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE consultation_reviews SET reply = $3, replied_at = $4 \
         WHERE consultation_id = $1 AND doctor_id = $2 AND reply IS NULL",
    )
    .bind(consultation_id)
    .bind(doctor_id)
    .bind(reply)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

const REVIEW_COLUMNS: &str =
    "consultation_id, doctor_id, author_id, rating, body, reply, replied_at, created_at";

pub async fn review(
    conn: &mut AnyConnection,
    consultation_id: &str,
) -> StoreResult<Option<ReviewRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {REVIEW_COLUMNS} FROM consultation_reviews WHERE consultation_id = $1"
    )))
    .bind(consultation_id)
    .fetch_optional(&mut *conn)
    .await?)
}

pub async fn reviews_of_doctor(
    conn: &mut AnyConnection,
    doctor_id: &str,
    limit: i64,
) -> StoreResult<Vec<ReviewRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {REVIEW_COLUMNS} FROM consultation_reviews WHERE doctor_id = $1 \
         ORDER BY created_at DESC LIMIT $2"
    )))
    .bind(doctor_id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?)
}

// ---------------------------------------------------------------- packages

#[derive(Debug, Clone, FromRow)]
pub struct PackageRow {
    pub id: String,
    pub doctor_id: String,
    pub org_id: String,
    pub name: String,
    pub period_days: i64,
    pub consultations: i64,
    pub price_fen: i64,
    pub active: i64,
    pub created_at: i64,
}

const PACKAGE_COLUMNS: &str =
    "id, doctor_id, org_id, name, period_days, consultations, price_fen, active, created_at";

pub async fn insert_package(conn: &mut AnyConnection, p: &PackageRow) -> StoreResult<()> {
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO service_packages ({PACKAGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    )))
    .bind(&p.id)
    .bind(&p.doctor_id)
    .bind(&p.org_id)
    .bind(&p.name)
    .bind(p.period_days)
    .bind(p.consultations)
    .bind(p.price_fen)
    .bind(p.active)
    .bind(p.created_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn package(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<PackageRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {PACKAGE_COLUMNS} FROM service_packages WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?)
}

pub async fn packages_of_doctor(
    conn: &mut AnyConnection,
    doctor_id: &str,
) -> StoreResult<Vec<PackageRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {PACKAGE_COLUMNS} FROM service_packages WHERE doctor_id = $1 AND active = 1 ORDER BY created_at"
    )))
    .bind(doctor_id)
    .fetch_all(&mut *conn)
    .await?)
}

#[derive(Debug, Clone, FromRow)]
pub struct SubscriptionRow {
    pub id: String,
    pub package_id: String,
    pub patient_id: String,
    pub account_id: String,
    pub doctor_id: String,
    pub starts_at: i64,
    pub ends_at: i64,
    pub remaining: i64,
    pub created_at: i64,
}

const SUBSCRIPTION_COLUMNS: &str =
    "id, package_id, patient_id, account_id, doctor_id, starts_at, ends_at, remaining, created_at";

pub async fn insert_subscription(conn: &mut AnyConnection, s: &SubscriptionRow) -> StoreResult<()> {
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO package_subscriptions ({SUBSCRIPTION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    )))
    .bind(&s.id)
    .bind(&s.package_id)
    .bind(&s.patient_id)
    .bind(&s.account_id)
    .bind(&s.doctor_id)
    .bind(s.starts_at)
    .bind(s.ends_at)
    .bind(s.remaining)
    .bind(s.created_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn subscription(
    conn: &mut AnyConnection,
    id: &str,
) -> StoreResult<Option<SubscriptionRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {SUBSCRIPTION_COLUMNS} FROM package_subscriptions WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?)
}

pub async fn subscriptions_of_patient(
    conn: &mut AnyConnection,
    patient_id: &str,
) -> StoreResult<Vec<SubscriptionRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {SUBSCRIPTION_COLUMNS} FROM package_subscriptions WHERE patient_id = $1 ORDER BY created_at DESC"
    )))
    .bind(patient_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// Take one consultation from a subscription: atomic, never below zero,
/// only within its period and for its patient and doctor.
pub async fn use_subscription(
    conn: &mut AnyConnection,
    id: &str,
    patient_id: &str,
    doctor_id: &str,
    now: i64,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE package_subscriptions SET remaining = remaining - 1 WHERE id = $1 AND patient_id = $2 \
         AND doctor_id = $3 AND remaining > 0 AND starts_at <= $4 AND ends_at > $4",
    )
    .bind(id)
    .bind(patient_id)
    .bind(doctor_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Give back a consultation taken from a subscription (declined, cancelled, expired).
pub async fn restore_subscription(conn: &mut AnyConnection, id: &str) -> StoreResult<()> {
    sqlx::query("UPDATE package_subscriptions SET remaining = remaining + 1 WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Attach an uploaded evidence record to the consultation it supports.
pub async fn link_attachment(
    conn: &mut AnyConnection,
    attachment_id: &str,
    consultation_id: &str,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE consultation_attachments SET consultation_id = $2 WHERE id = $1 AND consultation_id IS NULL",
    )
    .bind(attachment_id)
    .bind(consultation_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A transaction on the store (so callers need not name sqlx).
pub type Tx = crate::Tx;

/// The error a caller sees when the chat writer has stopped (shutdown).
pub fn writer_stopped() -> StoreError {
    StoreError::Db(sqlx::Error::PoolClosed)
}

/// Counter updates and inserts go in chunks of these sizes only, so every
/// statement the chat writer runs is one of a handful of cached prepared
/// statements whatever the batch size.
const COUNTER_CHUNK: usize = 128;
const INSERT_CHUNKS: [usize; 5] = [256, 64, 16, 4, 1];

/// The chat writer's fast path (group commit): store a batch of new messages
/// in the caller's transaction with a few statements per 32 consultations
/// and 64 messages. Answers the stored rows in input order, numbered as
/// `append_message` one by one would.
///
/// Answers `None` when the batch holds anything unusual: a consultation not
/// open for chat, or a client id stored before or repeated within the batch.
/// The transaction has then consumed sequence numbers: the caller rolls it
/// back and writes the batch one message at a time with `append_message`,
/// which answers repeats and closed chats.
pub async fn append_batch(
    conn: &mut AnyConnection,
    msgs: &[&NewMessage],
) -> StoreResult<Option<Vec<MessageRow>>> {
    use std::collections::HashMap;
    let positional = conn.backend_name() == "SQLite";
    let mut counts: Vec<(&str, i64)> = Vec::new();
    let mut at: HashMap<&str, usize> = HashMap::new();
    for m in msgs {
        let i = *at.entry(m.consultation_id.as_str()).or_insert_with(|| {
            counts.push((m.consultation_id.as_str(), 0));
            counts.len() - 1
        });
        counts[i].1 += 1;
    }
    // First number of each consultation's share of the batch.
    let mut next: HashMap<String, i64> = HashMap::with_capacity(counts.len());
    for chunk in counts.chunks(COUNTER_CHUNK) {
        let mut q = sqlx::query_as::<_, (String, i64)>(AssertSqlSafe(counter_sql(positional)));
        // Short chunks repeat their last pair: a repeated WHEN or IN value changes nothing.
        let padded = (0..COUNTER_CHUNK).map(|i| chunk[i.min(chunk.len() - 1)]);
        for (c, n) in padded.clone() {
            q = q.bind(c).bind(n);
        }
        for (c, _) in padded {
            q = q.bind(c);
        }
        for (id, last) in q.fetch_all(&mut *conn).await? {
            let n = chunk.iter().find(|(c, _)| *c == id).map_or(0, |(_, n)| *n);
            next.insert(id, last - n + 1);
        }
    }
    if next.len() != counts.len() {
        return Ok(None);
    }
    let mut rows = Vec::with_capacity(msgs.len());
    for m in msgs {
        let Some(seq) = next.get_mut(&m.consultation_id) else {
            return Ok(None);
        };
        rows.push(m.numbered(*seq));
        *seq += 1;
    }
    let mut rest: &[MessageRow] = &rows;
    while !rest.is_empty() {
        let size = INSERT_CHUNKS
            .into_iter()
            .find(|s| *s <= rest.len())
            .unwrap_or(1);
        let (chunk, tail) = rest.split_at(size);
        let mut q = sqlx::query(AssertSqlSafe(insert_sql(positional, size)));
        for r in chunk {
            q = q
                .bind(&r.consultation_id)
                .bind(r.seq)
                .bind(&r.id)
                .bind(&r.sender_id)
                .bind(&r.sender_role)
                .bind(&r.client_id)
                .bind(&r.kind)
                .bind(r.body.as_deref())
                .bind(r.attachment_id.as_deref())
                .bind(r.created_at);
        }
        let inserted = q
            .execute(&mut *conn)
            .await
            .map_err(|e| classify(e, &["client_id", "seq"]))?
            .rows_affected();
        if inserted != size as u64 {
            // A client id seen before: a resend.
            return Ok(None);
        }
        rest = tail;
    }
    Ok(Some(rows))
}

/// Placeholders `$from..$from+n`, or plain `?` in order on SQLite: sqlx
/// resolves every numbered SQLite parameter by name, a linear search per
/// parameter that dominated statements with hundreds of them.
fn placeholders(positional: bool, from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| {
            if positional {
                "?".to_string()
            } else {
                format!("${i}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Statement texts by (SQLite or not, shape), built once.
type SqlCache = std::sync::OnceLock<String>;

/// `UPDATE consultations ... RETURNING id, next_seq` for `COUNTER_CHUNK`
/// (id, count) pairs; the ids are bound again for the IN list.
fn counter_sql(positional: bool) -> &'static str {
    static SQL: [SqlCache; 2] = [const { SqlCache::new() }; 2];
    SQL[usize::from(positional)].get_or_init(|| {
        let n = COUNTER_CHUNK;
        let cases = (0..n)
            .map(|i| {
                format!(
                    "WHEN {} THEN {}",
                    placeholders(positional, 2 * i + 1, 1),
                    placeholders(positional, 2 * i + 2, 1)
                )
            })
            .collect::<Vec<_>>()
            .join(" ");
        format!(
            "UPDATE consultations SET next_seq = next_seq + (CASE id {cases} ELSE 0 END) \
             WHERE id IN ({}) AND status IN ('accepted', 'in_progress') RETURNING id, next_seq",
            placeholders(positional, 2 * n + 1, n)
        )
    })
}

/// A multi-row message insert of one of the `INSERT_CHUNKS` sizes.
fn insert_sql(positional: bool, rows: usize) -> &'static str {
    static SQL: [[SqlCache; INSERT_CHUNKS.len()]; 2] =
        [const { [const { SqlCache::new() }; INSERT_CHUNKS.len()] }; 2];
    let k = INSERT_CHUNKS
        .iter()
        .position(|s| *s == rows)
        .unwrap_or(INSERT_CHUNKS.len() - 1);
    SQL[usize::from(positional)][k].get_or_init(|| {
        let values = (0..INSERT_CHUNKS[k])
            .map(|i| format!("({})", placeholders(positional, 10 * i + 1, 10)))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "INSERT INTO consultation_messages ({MESSAGE_COLUMNS}) VALUES {values} \
             ON CONFLICT (consultation_id, sender_id, client_id) DO NOTHING"
        )
    })
}
