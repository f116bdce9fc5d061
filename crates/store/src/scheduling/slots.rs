//! Slots, the booking context read and seat counters.

use super::*;

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

pub(super) const SLOT_COLUMNS: &str = "id, doctor_id, org_id, department_id, template_id, service_date, starts_at, \
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
pub(super) struct BookingContextRow {
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
