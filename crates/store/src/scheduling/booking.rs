//! Booking a seat: one statement, or group commit on PostgreSQL.

use super::*;

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

pub(super) async fn insert_appointment_as(
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

pub(super) const DAILY_LIMIT_REACHED: &str = "daily_limit_reached";
pub(super) const INCOMPLETE: &str = "incomplete_booking";

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

pub(super) async fn book_rows(
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
