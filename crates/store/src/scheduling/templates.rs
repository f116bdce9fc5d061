//! Schedule templates and leave.

use super::*;

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

pub(super) const TEMPLATE_COLUMNS: &str = "id, doctor_id, org_id, department_id, weekday, start_minute, end_minute, \
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
