//! Regional consortium persistence: referrals and their append-only
//! timeline, exam privileges and exam slots, wards and bed requests, and
//! remote consultations. Seats and beds are taken with conditional UPDATEs.

use sqlx::{AnyConnection, AssertSqlSafe, FromRow};

use crate::{StoreResult, classify, new_id};

// ---------- exam privileges and slots ----------

pub async fn grant_privilege(
    conn: &mut AnyConnection,
    practitioner_id: &str,
    exam_type: &str,
    granted_by: &str,
    now: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO exam_privileges (practitioner_id, exam_type, granted_by, granted_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (practitioner_id, exam_type) DO NOTHING",
    )
    .bind(practitioner_id)
    .bind(exam_type)
    .bind(granted_by)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn has_privilege(
    conn: &mut AnyConnection,
    practitioner_id: &str,
    exam_type: &str,
) -> StoreResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM exam_privileges WHERE practitioner_id = $1 AND exam_type = $2",
    )
    .bind(practitioner_id)
    .bind(exam_type)
    .fetch_one(&mut *conn)
    .await?;
    Ok(n > 0)
}

pub async fn privileges_of(
    conn: &mut AnyConnection,
    practitioner_id: &str,
) -> StoreResult<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT exam_type FROM exam_privileges WHERE practitioner_id = $1 ORDER BY exam_type",
    )
    .bind(practitioner_id)
    .fetch_all(&mut *conn)
    .await?)
}

#[derive(Debug, Clone, FromRow)]
pub struct ExamSlotRow {
    pub id: String,
    pub org_id: String,
    pub exam_type: String,
    pub starts_at: i64,
    pub ends_at: i64,
    pub capacity: i64,
    pub remaining: i64,
}

const SLOT_COLUMNS: &str = "id, org_id, exam_type, starts_at, ends_at, capacity, remaining";

#[allow(clippy::too_many_arguments)]
pub async fn insert_exam_slot(
    conn: &mut AnyConnection,
    org_id: &str,
    exam_type: &str,
    starts_at: i64,
    ends_at: i64,
    capacity: i64,
    created_by: &str,
    now: i64,
) -> StoreResult<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO exam_slots (id, org_id, exam_type, starts_at, ends_at, capacity, remaining, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8)",
    )
    .bind(&id)
    .bind(org_id)
    .bind(exam_type)
    .bind(starts_at)
    .bind(ends_at)
    .bind(capacity)
    .bind(created_by)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(|e| classify(e, &["starts_at"]))?;
    Ok(id)
}

pub async fn exam_slot(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<ExamSlotRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {SLOT_COLUMNS} FROM exam_slots WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?)
}

pub async fn open_exam_slots(
    conn: &mut AnyConnection,
    org_id: &str,
    exam_type: Option<&str>,
    from: i64,
) -> StoreResult<Vec<ExamSlotRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {SLOT_COLUMNS} FROM exam_slots WHERE org_id = $1 AND ($2 IS NULL OR exam_type = $2) \
         AND starts_at > $3 AND remaining > 0 ORDER BY starts_at LIMIT 100"
    )))
    .bind(org_id)
    .bind(exam_type)
    .bind(from)
    .fetch_all(&mut *conn)
    .await?)
}

/// Take one seat of an exam slot; false when it is full or already started.
pub async fn take_exam_seat(conn: &mut AnyConnection, id: &str, now: i64) -> StoreResult<bool> {
    let r = sqlx::query(
        "UPDATE exam_slots SET remaining = remaining - 1 WHERE id = $1 AND remaining > 0 AND starts_at > $2",
    )
    .bind(id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

// ---------- referrals ----------

#[derive(Debug, Clone)]
pub struct NewReferral<'a> {
    pub consortium_id: &'a str,
    pub direction: &'a str,
    pub kind: &'a str,
    pub patient_id: &'a str,
    pub from_org_id: &'a str,
    pub from_doctor_id: &'a str,
    pub to_org_id: &'a str,
    pub to_department_id: Option<&'a str>,
    pub to_doctor_id: Option<&'a str>,
    pub reason: &'a str,
    pub summary: &'a str,
    pub exam_type: Option<&'a str>,
    pub repeat_reason: Option<&'a str>,
    pub follow_up_plan: Option<&'a str>,
    pub status: &'a str,
    pub due_at: Option<i64>,
}

pub async fn insert_referral(
    conn: &mut AnyConnection,
    n: &NewReferral<'_>,
    now: i64,
) -> StoreResult<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO referrals (id, consortium_id, direction, kind, patient_id, from_org_id, from_doctor_id, \
         to_org_id, to_department_id, to_doctor_id, reason, summary, exam_type, repeat_reason, follow_up_plan, \
         status, status_at, due_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $17)",
    )
    .bind(&id)
    .bind(n.consortium_id)
    .bind(n.direction)
    .bind(n.kind)
    .bind(n.patient_id)
    .bind(n.from_org_id)
    .bind(n.from_doctor_id)
    .bind(n.to_org_id)
    .bind(n.to_department_id)
    .bind(n.to_doctor_id)
    .bind(n.reason)
    .bind(n.summary)
    .bind(n.exam_type)
    .bind(n.repeat_reason)
    .bind(n.follow_up_plan)
    .bind(n.status)
    .bind(now)
    .bind(n.due_at)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

#[derive(Debug, Clone, FromRow)]
pub struct ReferralRow {
    pub id: String,
    pub consortium_id: String,
    pub direction: String,
    pub kind: String,
    pub patient_id: String,
    pub patient_name: String,
    pub patient_account_id: Option<String>,
    pub guardian_account_id: Option<String>,
    pub from_org_id: String,
    pub from_org_name: String,
    pub from_doctor_id: String,
    pub from_doctor_name: String,
    pub to_org_id: String,
    pub to_org_name: String,
    pub to_department_id: Option<String>,
    pub to_department_name: Option<String>,
    pub to_doctor_id: Option<String>,
    pub to_doctor_name: Option<String>,
    pub reason: String,
    pub summary: String,
    pub exam_type: Option<String>,
    pub repeat_reason: Option<String>,
    pub status: String,
    pub status_at: i64,
    pub due_at: Option<i64>,
    pub overdue_at: Option<i64>,
    pub decline_reason: Option<String>,
    pub appointment_id: Option<String>,
    pub exam_slot_id: Option<String>,
    pub exam_starts_at: Option<i64>,
    pub results: Option<String>,
    pub results_at: Option<i64>,
    pub follow_up_plan: Option<String>,
    pub created_at: i64,
    pub closed_at: Option<i64>,
}

const REFERRAL_SELECT: &str = "SELECT r.id, r.consortium_id, r.direction, r.kind, r.patient_id, \
    p.name AS patient_name, p.account_id AS patient_account_id, p.guardian_account_id, \
    r.from_org_id, fo.name AS from_org_name, r.from_doctor_id, fd.name AS from_doctor_name, \
    r.to_org_id, tor.name AS to_org_name, r.to_department_id, dep.name AS to_department_name, \
    r.to_doctor_id, td.name AS to_doctor_name, r.reason, r.summary, r.exam_type, r.repeat_reason, \
    r.status, r.status_at, r.due_at, r.overdue_at, r.decline_reason, r.appointment_id, r.exam_slot_id, \
    r.exam_starts_at, r.results, r.results_at, r.follow_up_plan, r.created_at, r.closed_at \
    FROM referrals r JOIN patients p ON p.id = r.patient_id \
    JOIN organisations fo ON fo.id = r.from_org_id JOIN organisations tor ON tor.id = r.to_org_id \
    JOIN practitioners fd ON fd.account_id = r.from_doctor_id \
    LEFT JOIN practitioners td ON td.account_id = r.to_doctor_id \
    LEFT JOIN departments dep ON dep.id = r.to_department_id";

pub async fn referral(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<ReferralRow>> {
    Ok(
        sqlx::query_as(AssertSqlSafe(format!("{REFERRAL_SELECT} WHERE r.id = $1")))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?,
    )
}

/// Referrals a doctor sent, or that their organisations (department) received, newest first.
pub async fn for_doctor(
    conn: &mut AnyConnection,
    doctor_id: &str,
) -> StoreResult<Vec<ReferralRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "{REFERRAL_SELECT} WHERE r.from_doctor_id = $1 OR r.to_doctor_id = $1 \
         OR (r.to_doctor_id IS NULL AND EXISTS (SELECT 1 FROM affiliations a WHERE a.practitioner_id = $1 \
             AND a.org_id = r.to_org_id AND (r.to_department_id IS NULL OR a.department_id = r.to_department_id))) \
         ORDER BY r.created_at DESC LIMIT 200"
    )))
    .bind(doctor_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// Referrals of the account's own patient record and the children in their care.
pub async fn for_account(
    conn: &mut AnyConnection,
    account_id: &str,
) -> StoreResult<Vec<ReferralRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "{REFERRAL_SELECT} WHERE p.account_id = $1 OR p.guardian_account_id = $1 ORDER BY r.created_at DESC LIMIT 200"
    )))
    .bind(account_id)
    .fetch_all(&mut *conn)
    .await?)
}

pub async fn of_consortium(
    conn: &mut AnyConnection,
    consortium_id: &str,
) -> StoreResult<Vec<ReferralRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "{REFERRAL_SELECT} WHERE r.consortium_id = $1 ORDER BY r.created_at DESC LIMIT 5000"
    )))
    .bind(consortium_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// Open referrals past their deadline and not yet marked overdue.
pub async fn due_for_overdue(
    conn: &mut AnyConnection,
    now: i64,
    limit: i64,
) -> StoreResult<Vec<ReferralRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "{REFERRAL_SELECT} WHERE r.due_at IS NOT NULL AND r.due_at < $1 AND r.overdue_at IS NULL \
         ORDER BY r.due_at LIMIT $2"
    )))
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?)
}

/// Mark overdue once, only if still in the state that ran late.
pub async fn mark_overdue(
    conn: &mut AnyConnection,
    id: &str,
    status: &str,
    now: i64,
) -> StoreResult<bool> {
    let r = sqlx::query(
        "UPDATE referrals SET overdue_at = $3 WHERE id = $1 AND status = $2 AND overdue_at IS NULL",
    )
    .bind(id)
    .bind(status)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// What a transition writes besides the new status.
#[derive(Debug, Default, Clone)]
pub struct Change<'a> {
    pub to_doctor_id: Option<&'a str>,
    pub decline_reason: Option<&'a str>,
    pub appointment_id: Option<&'a str>,
    pub exam_slot_id: Option<&'a str>,
    pub exam_starts_at: Option<i64>,
    pub results: Option<&'a str>,
    pub follow_up_plan: Option<&'a str>,
    pub closed: bool,
}

/// Conditional on the current status: false when someone else moved it first.
/// A new state starts a new deadline and clears the overdue mark.
pub async fn change_status(
    conn: &mut AnyConnection,
    id: &str,
    from: &str,
    to: &str,
    due_at: Option<i64>,
    c: &Change<'_>,
    now: i64,
) -> StoreResult<bool> {
    let r = sqlx::query(
        "UPDATE referrals SET status = $3, status_at = $4, due_at = $5, overdue_at = NULL, \
         to_doctor_id = COALESCE($6, to_doctor_id), decline_reason = COALESCE($7, decline_reason), \
         appointment_id = COALESCE($8, appointment_id), exam_slot_id = COALESCE($9, exam_slot_id), \
         exam_starts_at = COALESCE($10, exam_starts_at), results = COALESCE($11, results), \
         results_at = CASE WHEN $11 IS NULL THEN results_at ELSE $4 END, \
         follow_up_plan = COALESCE($12, follow_up_plan), closed_at = CASE WHEN $13 = 1 THEN $4 ELSE closed_at END \
         WHERE id = $1 AND status = $2",
    )
    .bind(id)
    .bind(from)
    .bind(to)
    .bind(now)
    .bind(due_at)
    .bind(c.to_doctor_id)
    .bind(c.decline_reason)
    .bind(c.appointment_id)
    .bind(c.exam_slot_id)
    .bind(c.exam_starts_at)
    .bind(c.results)
    .bind(c.follow_up_plan)
    .bind(i64::from(c.closed))
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

#[derive(Debug, Clone, FromRow)]
pub struct EventRow {
    pub seq: i64,
    pub at: i64,
    pub actor_id: Option<String>,
    pub actor_name: Option<String>,
    pub action: String,
    pub from_status: Option<String>,
    pub to_status: String,
    pub note: Option<String>,
}

/// Append one step to the timeline (in the caller's transaction).
#[allow(clippy::too_many_arguments)]
pub async fn append_event(
    conn: &mut AnyConnection,
    referral_id: &str,
    actor_id: Option<&str>,
    action: &str,
    from_status: Option<&str>,
    to_status: &str,
    note: Option<&str>,
    now: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO referral_events (id, referral_id, seq, at, actor_id, action, from_status, to_status, note) \
         VALUES ($1, $2, (SELECT COALESCE(MAX(seq), 0) + 1 FROM referral_events WHERE referral_id = $2), $3, $4, $5, $6, $7, $8)",
    )
    .bind(new_id())
    .bind(referral_id)
    .bind(now)
    .bind(actor_id)
    .bind(action)
    .bind(from_status)
    .bind(to_status)
    .bind(note)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn timeline(conn: &mut AnyConnection, referral_id: &str) -> StoreResult<Vec<EventRow>> {
    Ok(sqlx::query_as(
        "SELECT e.seq, e.at, e.actor_id, a.display_name AS actor_name, e.action, e.from_status, e.to_status, e.note \
         FROM referral_events e LEFT JOIN accounts a ON a.id = e.actor_id \
         WHERE e.referral_id = $1 ORDER BY e.seq",
    )
    .bind(referral_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// An earlier exam of the same type for the patient, at any member of the
/// consortium, since `since` (ms): a referral with results, or an imaging
/// study of the matching modality linked to the patient.
#[derive(Debug, Clone, FromRow)]
pub struct EarlierExam {
    pub source: String,
    pub id: String,
    pub org_name: String,
    pub at_text: String,
    pub at: i64,
    pub result: String,
}

pub async fn earlier_exams(
    conn: &mut AnyConnection,
    consortium_id: &str,
    patient_id: &str,
    exam_type: &str,
    modality: &str,
    since: i64,
    since_date: &str,
) -> StoreResult<Vec<EarlierExam>> {
    let members = "(SELECT org_id FROM consortium_members WHERE consortium_id = $1 \
                    UNION SELECT lead_org_id FROM consortia WHERE id = $1)";
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT 'referral' AS source, r.id, o.name AS org_name, '' AS at_text, r.results_at AS at, r.results AS result \
         FROM referrals r JOIN organisations o ON o.id = r.to_org_id \
         WHERE r.patient_id = $2 AND r.exam_type = $3 AND r.results_at IS NOT NULL AND r.results_at >= $5 \
         AND r.to_org_id IN {members} \
         UNION ALL \
         SELECT 'imaging' AS source, s.id, o.name AS org_name, s.study_date AS at_text, s.created_at AS at, \
         COALESCE((SELECT rep.impression FROM imaging_reports rep WHERE rep.study_id = s.id LIMIT 1), s.description) AS result \
         FROM imaging_studies s JOIN organisations o ON o.id = s.org_id \
         WHERE s.patient_id = $2 AND s.modalities LIKE $4 AND s.study_date >= $6 AND s.org_id IN {members} \
         ORDER BY at DESC"
    )))
    .bind(consortium_id)
    .bind(patient_id)
    .bind(exam_type)
    .bind(format!("%{modality}%"))
    .bind(since)
    .bind(since_date)
    .fetch_all(&mut *conn)
    .await?)
}

// ---------- wards and beds ----------

#[derive(Debug, Clone, FromRow)]
pub struct WardRow {
    pub id: String,
    pub org_id: String,
    pub org_name: String,
    pub department_id: Option<String>,
    pub name: String,
    pub beds_total: i64,
    pub beds_free: i64,
}

const WARD_SELECT: &str = "SELECT w.id, w.org_id, o.name AS org_name, w.department_id, w.name, w.beds_total, w.beds_free \
    FROM wards w JOIN organisations o ON o.id = w.org_id";

pub async fn insert_ward(
    conn: &mut AnyConnection,
    org_id: &str,
    department_id: Option<&str>,
    name: &str,
    beds: i64,
    now: i64,
) -> StoreResult<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO wards (id, org_id, department_id, name, beds_total, beds_free, created_at) VALUES ($1, $2, $3, $4, $5, $5, $6)",
    )
    .bind(&id)
    .bind(org_id)
    .bind(department_id)
    .bind(name)
    .bind(beds)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(|e| classify(e, &["name"]))?;
    Ok(id)
}

pub async fn ward(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<WardRow>> {
    Ok(
        sqlx::query_as(AssertSqlSafe(format!("{WARD_SELECT} WHERE w.id = $1")))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?,
    )
}

/// Wards of the consortium's members (and lead).
pub async fn wards_of_consortium(
    conn: &mut AnyConnection,
    consortium_id: &str,
) -> StoreResult<Vec<WardRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "{WARD_SELECT} WHERE w.org_id IN (SELECT org_id FROM consortium_members WHERE consortium_id = $1 \
         UNION SELECT lead_org_id FROM consortia WHERE id = $1) ORDER BY o.name, w.name"
    )))
    .bind(consortium_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// Take a free bed; false when none is left.
pub async fn take_bed(conn: &mut AnyConnection, ward_id: &str) -> StoreResult<bool> {
    let r =
        sqlx::query("UPDATE wards SET beds_free = beds_free - 1 WHERE id = $1 AND beds_free > 0")
            .bind(ward_id)
            .execute(&mut *conn)
            .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn give_back_bed(conn: &mut AnyConnection, ward_id: &str) -> StoreResult<()> {
    sqlx::query(
        "UPDATE wards SET beds_free = beds_free + 1 WHERE id = $1 AND beds_free < beds_total",
    )
    .bind(ward_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow)]
pub struct BedRequestRow {
    pub id: String,
    pub ward_id: String,
    pub ward_name: String,
    pub ward_org_id: String,
    pub patient_id: String,
    pub patient_name: String,
    pub patient_account_id: Option<String>,
    pub guardian_account_id: Option<String>,
    pub requested_by: String,
    pub from_org_id: String,
    pub referral_id: Option<String>,
    pub reason: String,
    pub status: String,
    pub reviewed_by: Option<String>,
    pub review_note: Option<String>,
    pub admit_on: Option<String>,
    pub created_at: i64,
    pub reviewed_at: Option<i64>,
}

const BED_SELECT: &str = "SELECT b.id, b.ward_id, w.name AS ward_name, w.org_id AS ward_org_id, b.patient_id, \
    p.name AS patient_name, p.account_id AS patient_account_id, p.guardian_account_id, b.requested_by, \
    b.from_org_id, b.referral_id, b.reason, b.status, b.reviewed_by, b.review_note, b.admit_on, b.created_at, b.reviewed_at \
    FROM bed_requests b JOIN wards w ON w.id = b.ward_id JOIN patients p ON p.id = b.patient_id";

#[allow(clippy::too_many_arguments)]
pub async fn insert_bed_request(
    conn: &mut AnyConnection,
    ward_id: &str,
    patient_id: &str,
    requested_by: &str,
    from_org_id: &str,
    referral_id: Option<&str>,
    reason: &str,
    now: i64,
) -> StoreResult<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO bed_requests (id, ward_id, patient_id, requested_by, from_org_id, referral_id, reason, status, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'requested', $8)",
    )
    .bind(&id)
    .bind(ward_id)
    .bind(patient_id)
    .bind(requested_by)
    .bind(from_org_id)
    .bind(referral_id)
    .bind(reason)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

pub async fn bed_request(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<BedRequestRow>> {
    Ok(
        sqlx::query_as(AssertSqlSafe(format!("{BED_SELECT} WHERE b.id = $1")))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?,
    )
}

pub async fn bed_requests_of_org(
    conn: &mut AnyConnection,
    org_id: &str,
) -> StoreResult<Vec<BedRequestRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "{BED_SELECT} WHERE w.org_id = $1 OR b.from_org_id = $1 ORDER BY b.created_at DESC LIMIT 200"
    )))
    .bind(org_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// Move a bed request on, conditional on its current status.
#[allow(clippy::too_many_arguments)]
pub async fn change_bed_request(
    conn: &mut AnyConnection,
    id: &str,
    from: &str,
    to: &str,
    reviewer: &str,
    note: Option<&str>,
    admit_on: Option<&str>,
    now: i64,
) -> StoreResult<bool> {
    let r = sqlx::query(
        "UPDATE bed_requests SET status = $3, reviewed_by = COALESCE(reviewed_by, $4), \
         review_note = COALESCE($5, review_note), admit_on = COALESCE($6, admit_on), \
         reviewed_at = CASE WHEN $2 = 'requested' THEN $7 ELSE reviewed_at END, \
         discharged_at = CASE WHEN $3 = 'discharged' THEN $7 ELSE discharged_at END \
         WHERE id = $1 AND status = $2",
    )
    .bind(id)
    .bind(from)
    .bind(to)
    .bind(reviewer)
    .bind(note)
    .bind(admit_on)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

// ---------- remote consultation ----------

#[derive(Debug, Clone, FromRow)]
pub struct RemoteConsultRow {
    pub id: String,
    pub consortium_id: String,
    pub patient_id: String,
    pub patient_name: String,
    pub requested_by: String,
    pub requester_name: String,
    pub from_org_id: String,
    pub from_org_name: String,
    pub expert_id: String,
    pub expert_name: String,
    pub question: String,
    pub study_ids: String,
    pub records: Option<String>,
    pub status: String,
    pub opinion: Option<String>,
    pub created_at: i64,
    pub answered_at: Option<i64>,
}

const RC_SELECT: &str = "SELECT c.id, c.consortium_id, c.patient_id, p.name AS patient_name, c.requested_by, \
    rq.name AS requester_name, c.from_org_id, o.name AS from_org_name, c.expert_id, ex.name AS expert_name, \
    c.question, c.study_ids, c.records, c.status, c.opinion, c.created_at, c.answered_at \
    FROM remote_consults c JOIN patients p ON p.id = c.patient_id \
    JOIN practitioners rq ON rq.account_id = c.requested_by JOIN practitioners ex ON ex.account_id = c.expert_id \
    JOIN organisations o ON o.id = c.from_org_id";

#[allow(clippy::too_many_arguments)]
pub async fn insert_remote_consult(
    conn: &mut AnyConnection,
    consortium_id: &str,
    patient_id: &str,
    requested_by: &str,
    from_org_id: &str,
    expert_id: &str,
    question: &str,
    study_ids: &str,
    records: Option<&str>,
    now: i64,
) -> StoreResult<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO remote_consults (id, consortium_id, patient_id, requested_by, from_org_id, expert_id, question, \
         study_ids, records, status, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'requested', $10)",
    )
    .bind(&id)
    .bind(consortium_id)
    .bind(patient_id)
    .bind(requested_by)
    .bind(from_org_id)
    .bind(expert_id)
    .bind(question)
    .bind(study_ids)
    .bind(records)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

pub async fn remote_consult(
    conn: &mut AnyConnection,
    id: &str,
) -> StoreResult<Option<RemoteConsultRow>> {
    Ok(
        sqlx::query_as(AssertSqlSafe(format!("{RC_SELECT} WHERE c.id = $1")))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?,
    )
}

pub async fn remote_consults_of(
    conn: &mut AnyConnection,
    account_id: &str,
) -> StoreResult<Vec<RemoteConsultRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "{RC_SELECT} WHERE c.requested_by = $1 OR c.expert_id = $1 ORDER BY c.created_at DESC LIMIT 200"
    )))
    .bind(account_id)
    .fetch_all(&mut *conn)
    .await?)
}

pub async fn answer_remote_consult(
    conn: &mut AnyConnection,
    id: &str,
    opinion: &str,
    now: i64,
) -> StoreResult<bool> {
    let r = sqlx::query(
        "UPDATE remote_consults SET status = 'answered', opinion = $2, answered_at = $3 WHERE id = $1 AND status = 'requested'",
    )
    .bind(id)
    .bind(opinion)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// The consortia both organisations belong to (as member or lead).
pub async fn shared_consortium(
    conn: &mut AnyConnection,
    a: &str,
    b: &str,
) -> StoreResult<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT c.id FROM consortia c WHERE \
         (c.lead_org_id = $1 OR EXISTS (SELECT 1 FROM consortium_members m WHERE m.consortium_id = c.id AND m.org_id = $1)) AND \
         (c.lead_org_id = $2 OR EXISTS (SELECT 1 FROM consortium_members m WHERE m.consortium_id = c.id AND m.org_id = $2)) \
         ORDER BY c.created_at LIMIT 1",
    )
    .bind(a)
    .bind(b)
    .fetch_optional(&mut *conn)
    .await?)
}

/// A patient found by the blind index of their resident ID number.
pub async fn patient_id_by_resident_hash(
    conn: &mut AnyConnection,
    hash: &str,
) -> StoreResult<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM patients WHERE resident_id_hash = $1")
            .bind(hash)
            .fetch_optional(&mut *conn)
            .await?,
    )
}

/// Whether the practitioner is affiliated with the organisation (and department, when given).
pub async fn works_at(
    conn: &mut AnyConnection,
    practitioner_id: &str,
    org_id: &str,
    department_id: Option<&str>,
) -> StoreResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM affiliations WHERE practitioner_id = $1 AND org_id = $2 \
         AND ($3 IS NULL OR department_id = $3)",
    )
    .bind(practitioner_id)
    .bind(org_id)
    .bind(department_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(n > 0)
}

/// Doctors of a department (notified of a referral addressed to the department).
pub async fn doctors_of_department(
    conn: &mut AnyConnection,
    department_id: &str,
) -> StoreResult<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT a.practitioner_id FROM affiliations a JOIN practitioners p ON p.account_id = a.practitioner_id \
         WHERE a.department_id = $1 AND p.role = 'doctor' ORDER BY a.practitioner_id",
    )
    .bind(department_id)
    .fetch_all(&mut *conn)
    .await?)
}

pub async fn give_back_exam_seat(conn: &mut AnyConnection, id: &str) -> StoreResult<()> {
    sqlx::query(
        "UPDATE exam_slots SET remaining = remaining + 1 WHERE id = $1 AND remaining < capacity",
    )
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The appointment booked when the receiving hospital accepted.
pub async fn set_appointment(
    conn: &mut AnyConnection,
    referral_id: &str,
    appointment_id: &str,
) -> StoreResult<()> {
    sqlx::query("UPDATE referrals SET appointment_id = $2 WHERE id = $1")
        .bind(referral_id)
        .bind(appointment_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Consortia an organisation belongs to, as member or lead: (id, name, lead_org_id).
pub async fn consortia_of_org(
    conn: &mut AnyConnection,
    org_id: &str,
) -> StoreResult<Vec<crate::org::ConsortiumRow>> {
    Ok(sqlx::query_as(
        "SELECT c.id, c.name, c.lead_org_id FROM consortia c WHERE c.lead_org_id = $1 \
         OR EXISTS (SELECT 1 FROM consortium_members m WHERE m.consortium_id = c.id AND m.org_id = $1) ORDER BY c.name",
    )
    .bind(org_id)
    .fetch_all(&mut *conn)
    .await?)
}
