//! Appointments, reminders and queue positions.

use super::*;

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

pub(super) const APPOINTMENT_SELECT: &str = "SELECT a.id, a.slot_id, a.patient_id, p.name AS patient_name, a.booked_by, \
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
