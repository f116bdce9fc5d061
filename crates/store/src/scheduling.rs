//! Schedules, slots, appointments and the notification outbox rows they write.
//! Seats are taken with a conditional UPDATE; one patient's bookings per day
//! with a conditional upsert; the unique (patient_id, active_start) backs both.

use sqlx::{AnyConnection, AssertSqlSafe, FromRow};

use crate::audit::AuditEntry;
use crate::{Backend, Store, StoreError, StoreResult, classify, new_id};

#[derive(Debug, Clone)]
pub struct NewTemplate {
    pub doctor_id: String,
    pub org_id: String,
    pub department_id: Option<String>,
    pub weekday: i64,
    pub start_minute: i64,
    pub end_minute: i64,
    pub slot_minutes: i64,
    pub capacity: i64,
    pub slot_type: String,
    pub fee_fen: i64,
    pub mode: String,
    pub created_by: String,
}

#[derive(Debug, Clone, FromRow)]
pub struct TemplateRow {
    pub id: String,
    pub doctor_id: String,
    pub org_id: String,
    pub department_id: Option<String>,
    pub weekday: i64,
    pub start_minute: i64,
    pub end_minute: i64,
    pub slot_minutes: i64,
    pub capacity: i64,
    pub slot_type: String,
    pub fee_fen: i64,
    pub mode: String,
    pub active: i64,
    pub generated_until: String,
}

const TEMPLATE_COLUMNS: &str = "id, doctor_id, org_id, department_id, weekday, start_minute, end_minute, \
     slot_minutes, capacity, slot_type, fee_fen, mode, active, generated_until";

pub async fn insert_template(
    conn: &mut AnyConnection,
    t: &NewTemplate,
    now: i64,
) -> StoreResult<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO schedule_templates (id, doctor_id, org_id, department_id, weekday, start_minute, \
         end_minute, slot_minutes, capacity, slot_type, fee_fen, mode, active, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1, $13, $14, $14)",
    )
    .bind(&id)
    .bind(&t.doctor_id)
    .bind(&t.org_id)
    .bind(t.department_id.as_deref())
    .bind(t.weekday)
    .bind(t.start_minute)
    .bind(t.end_minute)
    .bind(t.slot_minutes)
    .bind(t.capacity)
    .bind(&t.slot_type)
    .bind(t.fee_fen)
    .bind(&t.mode)
    .bind(&t.created_by)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

/// Replace a template's hours and terms (doctor and organisation stay).
pub async fn update_template(
    conn: &mut AnyConnection,
    id: &str,
    t: &NewTemplate,
    now: i64,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE schedule_templates SET department_id = $2, weekday = $3, start_minute = $4, end_minute = $5, \
         slot_minutes = $6, capacity = $7, slot_type = $8, fee_fen = $9, mode = $10, updated_at = $11 WHERE id = $1",
    )
    .bind(id)
    .bind(t.department_id.as_deref())
    .bind(t.weekday)
    .bind(t.start_minute)
    .bind(t.end_minute)
    .bind(t.slot_minutes)
    .bind(t.capacity)
    .bind(&t.slot_type)
    .bind(t.fee_fen)
    .bind(&t.mode)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Slots of this template exist up to `date` (local, inclusive).
pub async fn set_generated_until(
    conn: &mut AnyConnection,
    id: &str,
    date: &str,
) -> StoreResult<()> {
    sqlx::query("UPDATE schedule_templates SET generated_until = $2 WHERE id = $1")
        .bind(id)
        .bind(date)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn deactivate_template(conn: &mut AnyConnection, id: &str, now: i64) -> StoreResult<()> {
    sqlx::query("UPDATE schedule_templates SET active = 0, updated_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn template(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<TemplateRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {TEMPLATE_COLUMNS} FROM schedule_templates WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?)
}

pub async fn templates_of(
    conn: &mut AnyConnection,
    doctor_id: &str,
) -> StoreResult<Vec<TemplateRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {TEMPLATE_COLUMNS} FROM schedule_templates WHERE doctor_id = $1 AND active = 1 \
         ORDER BY weekday, start_minute"
    )))
    .bind(doctor_id)
    .fetch_all(&mut *conn)
    .await?)
}

pub async fn active_templates(conn: &mut AnyConnection) -> StoreResult<Vec<TemplateRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {TEMPLATE_COLUMNS} FROM schedule_templates WHERE active = 1 ORDER BY id"
    )))
    .fetch_all(&mut *conn)
    .await?)
}

pub async fn insert_leave(
    conn: &mut AnyConnection,
    doctor_id: &str,
    from_date: &str,
    to_date: &str,
    reason: &str,
    created_by: &str,
    now: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO doctor_leave (id, doctor_id, from_date, to_date, reason, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(new_id())
    .bind(doctor_id)
    .bind(from_date)
    .bind(to_date)
    .bind(reason)
    .bind(created_by)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The doctor's leave periods (from, to, inclusive local dates) ending on or after `from_date`.
pub async fn leave_of(
    conn: &mut AnyConnection,
    doctor_id: &str,
    from_date: &str,
) -> StoreResult<Vec<(String, String)>> {
    Ok(sqlx::query_as(
        "SELECT from_date, to_date FROM doctor_leave WHERE doctor_id = $1 AND to_date >= $2 ORDER BY from_date",
    )
    .bind(doctor_id)
    .bind(from_date)
    .fetch_all(&mut *conn)
    .await?)
}

#[derive(Debug, Clone)]
pub struct NewSlot {
    pub doctor_id: String,
    pub org_id: String,
    pub department_id: Option<String>,
    pub template_id: Option<String>,
    pub service_date: String,
    pub starts_at: i64,
    pub ends_at: i64,
    pub slot_minutes: i64,
    pub mode: String,
    pub slot_type: String,
    pub fee_fen: i64,
    pub capacity: i64,
    pub opens_at: i64,
}

#[derive(Debug, Clone, FromRow)]
pub struct SlotRow {
    pub id: String,
    pub doctor_id: String,
    pub org_id: String,
    pub department_id: Option<String>,
    pub template_id: Option<String>,
    pub service_date: String,
    pub starts_at: i64,
    pub ends_at: i64,
    pub slot_minutes: i64,
    pub mode: String,
    pub slot_type: String,
    pub fee_fen: i64,
    pub capacity: i64,
    pub remaining: i64,
    pub opens_at: i64,
    pub status: String,
}

const SLOT_COLUMNS: &str = "id, doctor_id, org_id, department_id, template_id, service_date, starts_at, \
     ends_at, slot_minutes, mode, slot_type, fee_fen, capacity, remaining, opens_at, status";

/// Insert a slot unless the doctor already has one at that time and mode;
/// answers the new id, or None when it existed.
pub async fn insert_slot(
    conn: &mut AnyConnection,
    s: &NewSlot,
    now: i64,
) -> StoreResult<Option<String>> {
    let id = new_id();
    let done = sqlx::query(
        "INSERT INTO slots (id, doctor_id, org_id, department_id, template_id, service_date, starts_at, ends_at, \
         slot_minutes, mode, slot_type, fee_fen, capacity, remaining, opens_at, status, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14, 'open', $15) \
         ON CONFLICT (doctor_id, mode, starts_at) DO NOTHING",
    )
    .bind(&id)
    .bind(&s.doctor_id)
    .bind(&s.org_id)
    .bind(s.department_id.as_deref())
    .bind(s.template_id.as_deref())
    .bind(&s.service_date)
    .bind(s.starts_at)
    .bind(s.ends_at)
    .bind(s.slot_minutes)
    .bind(&s.mode)
    .bind(&s.slot_type)
    .bind(s.fee_fen)
    .bind(s.capacity)
    .bind(s.opens_at)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok((done.rows_affected() == 1).then_some(id))
}

pub async fn slot(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<SlotRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {SLOT_COLUMNS} FROM slots WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?)
}

/// A slot with the names a booking confirmation shows.
#[derive(Debug, Clone, FromRow)]
pub struct SlotCard {
    #[sqlx(flatten)]
    pub slot: SlotRow,
    pub doctor_name: String,
    pub org_name: String,
}

/// Everything a booking needs before it writes, in one round trip: the
/// slot card, the session's account and role grants, and that account's own
/// patient record. In a rush every seat taken pays for its reads on the
/// shared cores, so three statements on three connections become one.
#[derive(Debug, Clone)]
pub struct BookingContext {
    pub card: SlotCard,
    /// The live session's account, if the token names one (not expired, not disabled).
    pub caller: Option<crate::session::SessionCaller>,
    /// The caller's own patient record, if they have one.
    pub own_patient: Option<crate::identity::PatientRow>,
}

#[derive(FromRow)]
struct BookingContextRow {
    #[sqlx(flatten)]
    card: SlotCard,
    caller_id: Option<String>,
    caller_name: Option<String>,
    caller_role: Option<String>,
    caller_scope: Option<String>,
    p_id: Option<String>,
    p_account_id: Option<String>,
    p_name: Option<String>,
    p_resident_id_enc: Option<String>,
    p_resident_id_masked: Option<String>,
    p_birth_date: Option<String>,
    p_sex: Option<String>,
    p_phone_enc: Option<String>,
    p_guardian_account_id: Option<String>,
    p_guardian_relation: Option<String>,
    p_created_at: Option<i64>,
}

impl BookingContextRow {
    fn own_patient(&self) -> Option<crate::identity::PatientRow> {
        Some(crate::identity::PatientRow {
            id: self.p_id.clone()?,
            account_id: self.p_account_id.clone(),
            name: self.p_name.clone()?,
            resident_id_enc: self.p_resident_id_enc.clone()?,
            resident_id_masked: self.p_resident_id_masked.clone()?,
            birth_date: self.p_birth_date.clone()?,
            sex: self.p_sex.clone()?,
            phone_enc: self.p_phone_enc.clone(),
            guardian_account_id: self.p_guardian_account_id.clone(),
            guardian_relation: self.p_guardian_relation.clone(),
            created_at: self.p_created_at?,
        })
    }
}

/// `None` when there is no such slot. A missing, expired or disabled
/// session gives a context without a caller; the session rules are those
/// of `session::session_caller`.
pub async fn booking_context(
    conn: &mut AnyConnection,
    slot_id: &str,
    token_hash: Option<&str>,
    now: i64,
) -> StoreResult<Option<BookingContext>> {
    let rows: Vec<BookingContextRow> = sqlx::query_as(
        "SELECT s.id, s.doctor_id, s.org_id, s.department_id, s.template_id, s.service_date, s.starts_at, \
         s.ends_at, s.slot_minutes, s.mode, s.slot_type, s.fee_fen, s.capacity, s.remaining, s.opens_at, s.status, \
         d.name AS doctor_name, o.name AS org_name, \
         a.id AS caller_id, a.display_name AS caller_name, g.role AS caller_role, g.scope_id AS caller_scope, \
         p.id AS p_id, p.account_id AS p_account_id, p.name AS p_name, p.resident_id_enc AS p_resident_id_enc, \
         p.resident_id_masked AS p_resident_id_masked, p.birth_date AS p_birth_date, p.sex AS p_sex, \
         p.phone_enc AS p_phone_enc, p.guardian_account_id AS p_guardian_account_id, \
         p.guardian_relation AS p_guardian_relation, p.created_at AS p_created_at \
         FROM slots s JOIN practitioners d ON d.account_id = s.doctor_id JOIN organisations o ON o.id = s.org_id \
         LEFT JOIN sessions ss ON ss.token_hash = $2 AND ss.expires_at > $3 \
         LEFT JOIN accounts a ON a.id = ss.account_id AND a.disabled = 0 \
         LEFT JOIN role_grants g ON g.account_id = a.id \
         LEFT JOIN patients p ON p.account_id = a.id \
         WHERE s.id = $1 ORDER BY g.role, g.scope_id",
    )
    .bind(slot_id)
    .bind(token_hash)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let own_patient = first.own_patient();
    let caller = match (&first.caller_id, &first.caller_name) {
        (Some(account_id), Some(display_name)) => Some(crate::session::SessionCaller {
            account_id: account_id.clone(),
            display_name: display_name.clone(),
            grants: rows
                .iter()
                .filter_map(|r| Some((r.caller_role.clone()?, r.caller_scope.clone()?)))
                .collect(),
        }),
        _ => None,
    };
    let card = rows.into_iter().next().map(|r| r.card);
    Ok(card.map(|card| BookingContext {
        card,
        caller,
        own_patient,
    }))
}

/// Open slots of one template that start after `from`.
pub async fn future_slots_of_template(
    conn: &mut AnyConnection,
    template_id: &str,
    from: i64,
) -> StoreResult<Vec<SlotRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {SLOT_COLUMNS} FROM slots WHERE template_id = $1 AND starts_at > $2 AND status = 'open' \
         ORDER BY starts_at"
    )))
    .bind(template_id)
    .bind(from)
    .fetch_all(&mut *conn)
    .await?)
}

/// Open slots of one doctor starting in [from, to).
pub async fn open_slots_of_doctor(
    conn: &mut AnyConnection,
    doctor_id: &str,
    from: i64,
    to: i64,
) -> StoreResult<Vec<SlotRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {SLOT_COLUMNS} FROM slots WHERE doctor_id = $1 AND starts_at >= $2 AND starts_at < $3 \
         AND status = 'open' ORDER BY starts_at"
    )))
    .bind(doctor_id)
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await?)
}

pub async fn slots_of_doctor_on(
    conn: &mut AnyConnection,
    doctor_id: &str,
    service_date: &str,
) -> StoreResult<Vec<SlotRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {SLOT_COLUMNS} FROM slots WHERE doctor_id = $1 AND service_date = $2 AND status = 'open' \
         ORDER BY starts_at, mode"
    )))
    .bind(doctor_id)
    .bind(service_date)
    .fetch_all(&mut *conn)
    .await?)
}

/// New terms for a kept slot. Capacity never drops below the seats already
/// booked, so no booking is lost; fees apply to new bookings only.
pub async fn update_slot_terms(
    conn: &mut AnyConnection,
    id: &str,
    capacity: i64,
    fee_fen: i64,
    slot_type: &str,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE slots SET \
           capacity = CASE WHEN $2 >= capacity - remaining THEN $2 ELSE capacity - remaining END, \
           remaining = CASE WHEN $2 >= capacity - remaining THEN $2 - (capacity - remaining) ELSE 0 END, \
           fee_fen = $3, slot_type = $4 \
         WHERE id = $1",
    )
    .bind(id)
    .bind(capacity)
    .bind(fee_fen)
    .bind(slot_type)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn withdraw_slot(conn: &mut AnyConnection, id: &str) -> StoreResult<()> {
    sqlx::query("UPDATE slots SET status = 'withdrawn', remaining = 0 WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Take one seat: the authoritative, atomic check. Answers false when the
/// slot is full, withdrawn, not yet released or already started.
pub async fn take_seat(conn: &mut AnyConnection, slot_id: &str, now: i64) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE slots SET remaining = remaining - 1 \
         WHERE id = $1 AND remaining > 0 AND status = 'open' AND opens_at <= $2 AND starts_at > $2",
    )
    .bind(slot_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn give_back_seat(conn: &mut AnyConnection, slot_id: &str) -> StoreResult<()> {
    sqlx::query(
        "UPDATE slots SET remaining = remaining + 1 \
         WHERE id = $1 AND status = 'open' AND remaining < capacity",
    )
    .bind(slot_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Count one more booking for the patient's day unless `limit` is reached.
pub async fn count_day_booking(
    conn: &mut AnyConnection,
    patient_id: &str,
    service_date: &str,
    limit: i64,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "INSERT INTO patient_day_bookings (patient_id, service_date, booked) VALUES ($1, $2, 1) \
         ON CONFLICT (patient_id, service_date) DO UPDATE SET booked = patient_day_bookings.booked + 1 \
         WHERE patient_day_bookings.booked < $3",
    )
    .bind(patient_id)
    .bind(service_date)
    .bind(limit)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn uncount_day_booking(
    conn: &mut AnyConnection,
    patient_id: &str,
    service_date: &str,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE patient_day_bookings SET booked = booked - 1 \
         WHERE patient_id = $1 AND service_date = $2 AND booked > 0",
    )
    .bind(patient_id)
    .bind(service_date)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Does the patient hold an active booking overlapping [starts_at, ends_at)?
pub async fn has_overlapping_booking(
    conn: &mut AnyConnection,
    patient_id: &str,
    starts_at: i64,
    ends_at: i64,
) -> StoreResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM appointments WHERE patient_id = $1 AND status = 'booked' \
         AND starts_at < $3 AND ends_at > $2",
    )
    .bind(patient_id)
    .bind(starts_at)
    .bind(ends_at)
    .fetch_one(&mut *conn)
    .await?;
    Ok(n > 0)
}

#[derive(Debug, Clone)]
pub struct NewAppointment<'a> {
    pub slot: &'a SlotRow,
    pub patient_id: &'a str,
    pub booked_by: &'a str,
    pub code: &'a str,
}

/// Insert a booked appointment unless the patient already holds a booking
/// overlapping its time (answers None then). The unique (patient_id,
/// active_start) index backs this under concurrency.
///
/// The overlap check asks by patient only: `active_start` is set exactly
/// while an appointment is booked (NULL never compares), so it needs no
/// `status = 'booked'`. With that condition, and on tables analysed while
/// still empty, both planners chose the (status, starts_at) index and read
/// every booked appointment of the platform: a cost that grew with it.
pub async fn insert_appointment(
    conn: &mut AnyConnection,
    a: &NewAppointment<'_>,
    now: i64,
) -> StoreResult<Option<String>> {
    let id = new_id();
    let inserted = insert_appointment_as(conn, &id, a, now).await?;
    Ok(inserted.then_some(id))
}

async fn insert_appointment_as(
    conn: &mut AnyConnection,
    id: &str,
    a: &NewAppointment<'_>,
    now: i64,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "INSERT INTO appointments (id, slot_id, patient_id, booked_by, doctor_id, org_id, service_date, \
         starts_at, ends_at, fee_fen, code, status, active_start, created_at) \
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'booked', $8, $12 \
         WHERE NOT EXISTS (SELECT 1 FROM appointments WHERE patient_id = $3 AND active_start < $9 \
           AND ends_at > $8)",
    )
    .bind(id)
    .bind(&a.slot.id)
    .bind(a.patient_id)
    .bind(a.booked_by)
    .bind(&a.slot.doctor_id)
    .bind(&a.slot.org_id)
    .bind(&a.slot.service_date)
    .bind(a.slot.starts_at)
    .bind(a.slot.ends_at)
    .bind(a.slot.fee_fen)
    .bind(a.code)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(|e| classify(e, &["active_start", "code"]))?;
    Ok(done.rows_affected() == 1)
}

/// Everything one booking writes: the seat, the patient's day count, the
/// appointment, its audit entry and the confirmation notice.
#[derive(Debug, Clone)]
pub struct Booking<'a> {
    pub appointment_id: &'a str,
    pub appointment: NewAppointment<'a>,
    pub daily_limit: i64,
    pub now: i64,
    pub audit: AuditEntry<'a>,
    pub notice_topic: &'a str,
    pub notice_recipient: Option<&'a str>,
    pub notice_payload: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookOutcome {
    Booked,
    /// No seat left (or the slot is closed, not yet released or started).
    SlotFull,
    DailyLimitReached,
    /// The patient holds a booking overlapping this time.
    Overlapping,
}

/// Write one booking, all or nothing: the seat, the patient's day count, the
/// appointment, its audit entry and the notice are committed together, or
/// nothing is. A second booking at the same start that slips in
/// concurrently fails with `StoreError::Duplicate { what: "active_start" }`.
///
/// On PostgreSQL this is the batch statement of `book_queued` with one row
/// (no explicit transaction). SQLite has no data-modifying CTEs; its
/// statements are in-process calls in one transaction.
pub async fn book_seat(store: &Store, b: &Booking<'_>) -> StoreResult<BookOutcome> {
    if store.backend() == Backend::Postgres {
        let mut conn = store.conn().await?;
        let queued = [QueuedBooking::new(b)];
        return book_queued(&mut conn, &queued, b.daily_limit)
            .await
            .into_iter()
            .next()
            .unwrap_or(Err(StoreError::NotFound));
    }
    let mut tx = store.begin().await?;
    let a = &b.appointment;
    // Anything but Booked returns early: dropping `tx` rolls back what was written.
    if !take_seat(&mut tx, &a.slot.id, b.now).await? {
        return Ok(BookOutcome::SlotFull);
    }
    if !count_day_booking(&mut tx, a.patient_id, &a.slot.service_date, b.daily_limit).await? {
        return Ok(BookOutcome::DailyLimitReached);
    }
    if !insert_appointment_as(&mut tx, b.appointment_id, a, b.now).await? {
        return Ok(BookOutcome::Overlapping);
    }
    crate::audit::record(&mut tx, &b.audit).await?;
    crate::outbox::put_json(
        &mut tx,
        b.notice_topic,
        b.notice_recipient,
        b.notice_payload,
        b.now,
    )
    .await?;
    tx.commit().await?;
    Ok(BookOutcome::Booked)
}

/// A booking waiting to be written with others in one PostgreSQL statement
/// (`book_queued`): the row as that statement reads it, and the keys a
/// batch must not hold twice.
#[derive(Debug, Clone)]
pub struct QueuedBooking {
    pub slot_id: String,
    pub patient_id: String,
    appointment_id: String,
    row: String,
}

impl QueuedBooking {
    pub fn new(b: &Booking<'_>) -> Self {
        let a = &b.appointment;
        let row = serde_json::json!({
            "appointment_id": b.appointment_id, "slot_id": a.slot.id, "patient_id": a.patient_id,
            "booked_by": a.booked_by, "doctor_id": a.slot.doctor_id, "org_id": a.slot.org_id,
            "service_date": a.slot.service_date, "starts_at": a.slot.starts_at,
            "ends_at": a.slot.ends_at, "fee_fen": a.slot.fee_fen, "code": a.code, "now": b.now,
            "audit_id": new_id(), "actor_id": b.audit.actor_id, "actor_roles": b.audit.actor_roles,
            "action": b.audit.action, "subject_type": b.audit.subject_type,
            "subject_id": b.audit.subject_id, "ground": b.audit.ground,
            "audit_org_id": b.audit.org_id, "request_id": b.audit.request_id,
            "notice_id": new_id(), "topic": b.notice_topic, "recipient_id": b.notice_recipient,
            "payload": b.notice_payload,
        });
        Self {
            slot_id: a.slot.id.clone(),
            patient_id: a.patient_id.to_string(),
            appointment_id: b.appointment_id.to_string(),
            row: row.to_string(),
        }
    }
}

const DAILY_LIMIT_REACHED: &str = "daily_limit_reached";
const INCOMPLETE: &str = "incomplete_booking";

/// Write several bookings in one PostgreSQL statement; one answer per
/// booking, in order. Each booking is decided on its own, as `book_seat`
/// would: a patient's overlapping booking or full day is found before the
/// seat is taken, and a booking that does not get its seat writes nothing.
///
/// A batch should not hold one slot or one patient twice (the caller groups
/// them so); if it does, the statement refuses itself (two bookings would
/// share one seat) and the bookings are written one by one. If the statement fails as a whole (a concurrent write got in
/// between: another server booked for the same patient, say), nothing of
/// it is kept and every booking is written again on its own, so one
/// booking's race never decides another's.
pub async fn book_queued(
    conn: &mut AnyConnection,
    batch: &[QueuedBooking],
    daily_limit: i64,
) -> Vec<StoreResult<BookOutcome>> {
    match book_rows(conn, batch, daily_limit).await {
        Ok(outcomes) => outcomes.into_iter().map(Ok).collect(),
        Err(e) if batch.len() == 1 => vec![Err(e)],
        Err(_) => {
            let mut answers = Vec::with_capacity(batch.len());
            for one in batch {
                let answer = book_rows(conn, std::slice::from_ref(one), daily_limit).await;
                answers.push(answer.map(|mut o| o.pop().unwrap_or(BookOutcome::SlotFull)));
            }
            answers
        }
    }
}

async fn book_rows(
    conn: &mut AnyConnection,
    batch: &[QueuedBooking],
    daily_limit: i64,
) -> StoreResult<Vec<BookOutcome>> {
    let rows = format!(
        "[{}]",
        batch
            .iter()
            .map(|q| q.row.as_str())
            .collect::<Vec<_>>()
            .join(",")
    );
    // The per-booking checks read the rows as they were before this
    // statement; the day count's conditional upsert and the unique
    // (patient_id, active_start) index catch a concurrent writer, and
    // `ihos_abort` then undoes the whole statement.
    let answer: Result<Vec<(String, String, i64)>, sqlx::Error> = sqlx::query_as(
        "WITH input AS ( \
           SELECT * FROM json_to_recordset($1::json) AS r(appointment_id text, slot_id text, patient_id text, \
             booked_by text, doctor_id text, org_id text, service_date text, starts_at bigint, ends_at bigint, \
             fee_fen bigint, code text, now bigint, audit_id text, actor_id text, actor_roles text, action text, \
             subject_type text, subject_id text, ground text, audit_org_id text, request_id text, notice_id text, \
             topic text, recipient_id text, payload text)), \
         checked AS ( \
           SELECT i.*, \
             EXISTS (SELECT 1 FROM appointments a WHERE a.patient_id = i.patient_id \
               AND a.active_start < i.ends_at AND a.ends_at > i.starts_at) AS overlapping, \
             COALESCE((SELECT d.booked FROM patient_day_bookings d \
               WHERE d.patient_id = i.patient_id AND d.service_date = i.service_date), 0) >= $2 AS day_full \
           FROM input i), \
         seat AS ( \
           UPDATE slots s SET remaining = s.remaining - 1 FROM checked c \
           WHERE s.id = c.slot_id AND NOT c.overlapping AND NOT c.day_full AND s.remaining > 0 \
             AND s.status = 'open' AND s.opens_at <= c.now AND s.starts_at > c.now \
           RETURNING s.id), \
         booked AS (SELECT c.* FROM checked c JOIN seat ON seat.id = c.slot_id), \
         day AS ( \
           INSERT INTO patient_day_bookings (patient_id, service_date, booked) \
           SELECT patient_id, service_date, 1 FROM booked \
           ON CONFLICT (patient_id, service_date) DO UPDATE SET booked = patient_day_bookings.booked + 1 \
           WHERE patient_day_bookings.booked < $2 \
           RETURNING 1), \
         appointment AS ( \
           INSERT INTO appointments (id, slot_id, patient_id, booked_by, doctor_id, org_id, service_date, \
             starts_at, ends_at, fee_fen, code, status, active_start, created_at) \
           SELECT appointment_id, slot_id, patient_id, booked_by, doctor_id, org_id, service_date, starts_at, \
             ends_at, fee_fen, code, 'booked', starts_at, now FROM booked \
           RETURNING 1), \
         audited AS ( \
           INSERT INTO audit_log (id, at, actor_id, actor_roles, action, subject_type, subject_id, ground, \
             org_id, request_id) \
           SELECT audit_id, now, actor_id, actor_roles, action, subject_type, subject_id, ground, audit_org_id, \
             request_id FROM booked RETURNING 1), \
         noticed AS ( \
           INSERT INTO outbox (id, created_at, topic, recipient_id, payload, attempts) \
           SELECT notice_id, now, topic, recipient_id, payload, 0 FROM booked RETURNING 1), \
         counts AS ( \
           SELECT (SELECT COUNT(*) FROM booked) AS booked, (SELECT COUNT(*) FROM seat) AS seats, \
             (SELECT COUNT(*) FROM day) AS counted, \
             (SELECT COUNT(*) FROM appointment) AS appointments, (SELECT COUNT(*) FROM audited) AS audits, \
             (SELECT COUNT(*) FROM noticed) AS notices) \
         SELECT c.appointment_id, \
           CASE WHEN c.overlapping THEN 'overlapping' WHEN c.day_full THEN 'daily_limit' \
             WHEN b.appointment_id IS NOT NULL THEN 'booked' ELSE 'full' END, \
           CASE WHEN k.counted <> k.booked THEN ihos_abort($3) \
             WHEN k.seats <> k.booked OR k.appointments <> k.booked OR k.audits <> k.booked \
               OR k.notices <> k.booked \
             THEN ihos_abort($4) ELSE 0 END \
         FROM checked c LEFT JOIN booked b ON b.appointment_id = c.appointment_id CROSS JOIN counts k",
    )
    .bind(rows)
    .bind(daily_limit)
    .bind(DAILY_LIMIT_REACHED)
    .bind(INCOMPLETE)
    .fetch_all(&mut *conn)
    .await;
    let answer = match answer {
        Ok(answer) => answer,
        // One booking whose day filled up between the check and the upsert.
        Err(sqlx::Error::Database(db))
            if db.code().as_deref() == Some("P0001") && db.message() == DAILY_LIMIT_REACHED =>
        {
            return if batch.len() == 1 {
                Ok(vec![BookOutcome::DailyLimitReached])
            } else {
                Err(StoreError::Db(sqlx::Error::Database(db)))
            };
        }
        Err(e) => return Err(classify(e, &["active_start", "code"])),
    };
    batch
        .iter()
        .map(|q| {
            let outcome = answer
                .iter()
                .find(|(id, _, _)| *id == q.appointment_id)
                .map(|(_, outcome, _)| outcome.as_str());
            match outcome {
                Some("booked") => Ok(BookOutcome::Booked),
                Some("full") => Ok(BookOutcome::SlotFull),
                Some("daily_limit") => Ok(BookOutcome::DailyLimitReached),
                Some("overlapping") => Ok(BookOutcome::Overlapping),
                _ => Err(StoreError::NotFound),
            }
        })
        .collect()
}

#[derive(Debug, Clone, FromRow)]
pub struct AppointmentRow {
    pub id: String,
    pub slot_id: String,
    pub patient_id: String,
    pub patient_name: String,
    pub booked_by: String,
    pub doctor_id: String,
    pub doctor_name: String,
    pub org_id: String,
    pub org_name: String,
    pub service_date: String,
    pub starts_at: i64,
    pub ends_at: i64,
    pub fee_fen: i64,
    pub code: String,
    pub status: String,
    pub refund_fen: i64,
    pub mode: String,
    pub slot_type: String,
    pub slot_minutes: i64,
    pub capacity: i64,
    pub created_at: i64,
    pub patient_account_id: Option<String>,
    pub guardian_account_id: Option<String>,
}

const APPOINTMENT_SELECT: &str = "SELECT a.id, a.slot_id, a.patient_id, p.name AS patient_name, a.booked_by, \
     a.doctor_id, d.name AS doctor_name, a.org_id, o.name AS org_name, a.service_date, a.starts_at, a.ends_at, \
     a.fee_fen, a.code, a.status, a.refund_fen, s.mode, s.slot_type, s.slot_minutes, s.capacity, a.created_at, \
     p.account_id AS patient_account_id, p.guardian_account_id \
     FROM appointments a JOIN patients p ON p.id = a.patient_id JOIN practitioners d ON d.account_id = a.doctor_id \
     JOIN organisations o ON o.id = a.org_id JOIN slots s ON s.id = a.slot_id";

pub async fn appointment(
    conn: &mut AnyConnection,
    id: &str,
) -> StoreResult<Option<AppointmentRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "{APPOINTMENT_SELECT} WHERE a.id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Appointments of the patients an account books for (self and dependants), newest first.
pub async fn appointments_for_account(
    conn: &mut AnyConnection,
    account_id: &str,
) -> StoreResult<Vec<AppointmentRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "{APPOINTMENT_SELECT} WHERE p.account_id = $1 OR p.guardian_account_id = $1 \
         ORDER BY a.starts_at DESC LIMIT 200"
    )))
    .bind(account_id)
    .fetch_all(&mut *conn)
    .await?)
}

pub async fn appointments_of_doctor_on(
    conn: &mut AnyConnection,
    doctor_id: &str,
    service_date: &str,
) -> StoreResult<Vec<AppointmentRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "{APPOINTMENT_SELECT} WHERE a.doctor_id = $1 AND a.service_date = $2 ORDER BY a.starts_at, a.created_at, a.id"
    )))
    .bind(doctor_id)
    .bind(service_date)
    .fetch_all(&mut *conn)
    .await?)
}

pub async fn active_appointments_of_slot(
    conn: &mut AnyConnection,
    slot_id: &str,
) -> StoreResult<Vec<AppointmentRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "{APPOINTMENT_SELECT} WHERE a.slot_id = $1 AND a.status = 'booked' ORDER BY a.created_at, a.id"
    )))
    .bind(slot_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// Close a booked appointment (cancel, displace, attend, no-show). Answers
/// false when it was not booked any more, so it is closed exactly once.
pub async fn close_appointment(
    conn: &mut AnyConnection,
    id: &str,
    status: &str,
    refund_fen: i64,
    now: i64,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE appointments SET status = $2, refund_fen = $3, active_start = NULL, closed_at = $4 \
         WHERE id = $1 AND status = 'booked'",
    )
    .bind(id)
    .bind(status)
    .bind(refund_fen)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// How often a patient cancelled late or did not show up.
pub async fn patient_record_counts(
    conn: &mut AnyConnection,
    patient_id: &str,
) -> StoreResult<(i64, i64)> {
    let late: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM appointments WHERE patient_id = $1 AND status = 'late_cancelled'",
    )
    .bind(patient_id)
    .fetch_one(&mut *conn)
    .await?;
    let no_show: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM appointments WHERE patient_id = $1 AND status = 'no_show'",
    )
    .bind(patient_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok((late, no_show))
}

/// Booked appointments starting in [from, to) not yet reminded.
pub async fn due_for_reminder(
    conn: &mut AnyConnection,
    from: i64,
    to: i64,
) -> StoreResult<Vec<AppointmentRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "{APPOINTMENT_SELECT} WHERE a.status = 'booked' AND a.starts_at >= $1 AND a.starts_at < $2 \
         AND a.reminded_at IS NULL ORDER BY a.starts_at LIMIT 1000"
    )))
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await?)
}

pub async fn mark_reminded(conn: &mut AnyConnection, id: &str, now: i64) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE appointments SET reminded_at = $2 WHERE id = $1 AND reminded_at IS NULL",
    )
    .bind(id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Booked appointments of one local day not yet told their queue position.
pub async fn due_for_queue_notice(
    conn: &mut AnyConnection,
    service_date: &str,
    now: i64,
) -> StoreResult<Vec<AppointmentRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "{APPOINTMENT_SELECT} WHERE a.service_date = $1 AND a.status = 'booked' AND a.starts_at > $2 \
         AND a.queue_notified_at IS NULL ORDER BY a.starts_at LIMIT 1000"
    )))
    .bind(service_date)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?)
}

pub async fn mark_queue_notified(
    conn: &mut AnyConnection,
    id: &str,
    now: i64,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE appointments SET queue_notified_at = $2 WHERE id = $1 AND queue_notified_at IS NULL",
    )
    .bind(id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Position (1-based) in the doctor's queue of the day: booked or attended
/// appointments that start earlier, or at the same time and were booked earlier.
pub async fn queue_position(conn: &mut AnyConnection, a: &AppointmentRow) -> StoreResult<i64> {
    let ahead: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM appointments WHERE doctor_id = $1 AND service_date = $2 \
         AND status IN ('booked', 'attended') \
         AND (starts_at < $3 OR (starts_at = $3 AND (created_at < $4 OR (created_at = $4 AND id < $5))))",
    )
    .bind(&a.doctor_id)
    .bind(&a.service_date)
    .bind(a.starts_at)
    .bind(a.created_at)
    .bind(&a.id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(ahead + 1)
}

/// Position (1-based) among the bookings of the same slot, in booking order.
pub async fn position_in_slot(conn: &mut AnyConnection, a: &AppointmentRow) -> StoreResult<i64> {
    let ahead: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM appointments WHERE slot_id = $1 AND status IN ('booked', 'attended') \
         AND (created_at < $2 OR (created_at = $2 AND id < $3))",
    )
    .bind(&a.slot_id)
    .bind(a.created_at)
    .bind(&a.id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(ahead + 1)
}

#[derive(Debug, Clone, FromRow)]
pub struct OutboxRow {
    pub id: String,
    pub created_at: i64,
    pub topic: String,
    pub recipient_id: Option<String>,
    pub payload: String,
    pub attempts: i64,
    pub delivered_at: Option<i64>,
}

/// One account's notifications, newest first (the in-app inbox).
pub async fn inbox(
    conn: &mut AnyConnection,
    recipient_id: &str,
    limit: i64,
) -> StoreResult<Vec<OutboxRow>> {
    Ok(sqlx::query_as(
        "SELECT id, created_at, topic, recipient_id, payload, attempts, delivered_at FROM outbox \
         WHERE recipient_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
    )
    .bind(recipient_id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?)
}

/// A failed delivery attempt: counted, tried again on the next pass.
pub async fn mark_attempt(conn: &mut AnyConnection, id: &str) -> StoreResult<()> {
    sqlx::query("UPDATE outbox SET attempts = attempts + 1 WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Undelivered notifications on `topic_prefix` with fewer than 10 failed
/// attempts, oldest first.
pub async fn pending(
    conn: &mut AnyConnection,
    topic_prefix: &str,
    limit: i64,
) -> StoreResult<Vec<OutboxRow>> {
    Ok(sqlx::query_as(
        "SELECT id, created_at, topic, recipient_id, payload, attempts, delivered_at FROM outbox \
         WHERE delivered_at IS NULL AND attempts < 10 AND topic LIKE $1 ORDER BY created_at, id LIMIT $2",
    )
    .bind(format!("{topic_prefix}%"))
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?)
}

pub async fn mark_delivered(conn: &mut AnyConnection, id: &str, now: i64) -> StoreResult<()> {
    sqlx::query(
        "UPDATE outbox SET delivered_at = $2, attempts = attempts + 1 WHERE id = $1 AND delivered_at IS NULL",
    )
    .bind(id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow)]
pub struct DoctorCard {
    pub doctor_id: String,
    pub name: String,
    pub title: String,
    pub org_id: String,
    pub org_name: String,
    pub department_id: Option<String>,
    pub department_name: Option<String>,
    pub specialty: Option<String>,
}

/// Doctors with open slots on `service_date`, narrowed by department,
/// specialty and title (any may be None).
pub async fn search_doctors(
    conn: &mut AnyConnection,
    service_date: &str,
    department_id: Option<&str>,
    specialty: Option<&str>,
    title: Option<&str>,
) -> StoreResult<Vec<DoctorCard>> {
    Ok(sqlx::query_as(
        "SELECT DISTINCT s.doctor_id, d.name, d.title, s.org_id, o.name AS org_name, s.department_id, \
           dep.name AS department_name, dep.specialty \
         FROM slots s JOIN practitioners d ON d.account_id = s.doctor_id \
         JOIN organisations o ON o.id = s.org_id LEFT JOIN departments dep ON dep.id = s.department_id \
         WHERE s.service_date = $1 AND s.status = 'open' \
           AND ($2 IS NULL OR s.department_id = $2) AND ($3 IS NULL OR dep.specialty = $3) \
           AND ($4 IS NULL OR d.title = $4) \
         ORDER BY o.name, dep.name, d.name LIMIT 200",
    )
    .bind(service_date)
    .bind(department_id)
    .bind(specialty)
    .bind(title)
    .fetch_all(&mut *conn)
    .await?)
}

/// Invariants after a registration rush, for benchmarks and tests:
/// (confirmed bookings, slots whose bookings exceed capacity, patients holding
/// two active bookings at one time, slots whose `remaining` disagrees with their bookings).
pub async fn rush_invariants(
    conn: &mut AnyConnection,
    doctor_id: &str,
) -> StoreResult<(i64, i64, i64, i64)> {
    let confirmed: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM appointments WHERE doctor_id = $1 AND status = 'booked'",
    )
    .bind(doctor_id)
    .fetch_one(&mut *conn)
    .await?;
    let oversold: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT s.id FROM slots s JOIN appointments a ON a.slot_id = s.id \
         WHERE s.doctor_id = $1 AND a.status = 'booked' GROUP BY s.id, s.capacity \
         HAVING COUNT(*) > s.capacity) x",
    )
    .bind(doctor_id)
    .fetch_one(&mut *conn)
    .await?;
    let duplicates: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT patient_id, starts_at FROM appointments \
         WHERE doctor_id = $1 AND status = 'booked' GROUP BY patient_id, starts_at HAVING COUNT(*) > 1) x",
    )
    .bind(doctor_id)
    .fetch_one(&mut *conn)
    .await?;
    let mismatched: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM slots s WHERE s.doctor_id = $1 AND s.status = 'open' AND s.capacity - s.remaining <> \
         (SELECT COUNT(*) FROM appointments a WHERE a.slot_id = s.id AND a.status = 'booked')",
    )
    .bind(doctor_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok((confirmed, oversold, duplicates, mismatched))
}
