//! The behaviour event log that feeds the influence index.

use sqlx::{AnyConnection, FromRow};

use crate::{StoreResult, new_id, now_ms};

pub const BROWSE: i64 = 1;
pub const SERVICE: i64 = 2;
pub const EXCHANGE: i64 = 3;
pub const REVIEW: i64 = 4;

#[derive(Debug, Clone, Default)]
pub struct NewEvent<'a> {
    pub kind: i64,
    pub org_id: &'a str,
    pub department_id: Option<&'a str>,
    pub practitioner_id: Option<&'a str>,
    pub rating: Option<i64>,
}

pub async fn record(conn: &mut AnyConnection, e: &NewEvent<'_>) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO analytics_events (id, at, kind, org_id, department_id, practitioner_id, rating) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(new_id())
    .bind(now_ms())
    .bind(e.kind)
    .bind(e.org_id)
    .bind(e.department_id)
    .bind(e.practitioner_id)
    .bind(e.rating)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A consultation closed: its messages become exchange events (with their
/// own times, once: the message id is the event id) and, when it was
/// completed, one online-service event. Done here, once per consultation,
/// so the chat path writes nothing extra per message.
pub async fn record_consultation_closed(
    conn: &mut AnyConnection,
    consultation_id: &str,
    completed: bool,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO analytics_events (id, at, kind, org_id, department_id, practitioner_id, rating) \
         SELECT m.id, m.created_at, $2, c.org_id, c.department_id, c.doctor_id, NULL \
         FROM consultation_messages m JOIN consultations c ON c.id = m.consultation_id \
         WHERE m.consultation_id = $1 ON CONFLICT (id) DO NOTHING",
    )
    .bind(consultation_id)
    .bind(EXCHANGE)
    .execute(&mut *conn)
    .await?;
    if completed {
        sqlx::query(
            "INSERT INTO analytics_events (id, at, kind, org_id, department_id, practitioner_id, rating) \
             SELECT $1, $2, $3, org_id, department_id, doctor_id, NULL FROM consultations WHERE id = $4",
        )
        .bind(new_id())
        .bind(now_ms())
        .bind(SERVICE)
        .bind(consultation_id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Events per kind for one practitioner, as `(kind, count)` sorted by kind.
pub async fn counts_for_practitioner(
    conn: &mut AnyConnection,
    practitioner_id: &str,
) -> StoreResult<Vec<(i64, i64)>> {
    Ok(sqlx::query_as(
        "SELECT kind, COUNT(*) FROM analytics_events WHERE practitioner_id = $1 GROUP BY kind ORDER BY kind",
    )
    .bind(practitioner_id)
    .fetch_all(&mut *conn)
    .await?)
}

#[derive(Debug, Clone, FromRow)]
pub struct EventRow {
    pub id: String,
    pub at: i64,
    pub kind: i64,
    pub department_id: Option<String>,
    pub practitioner_id: Option<String>,
    pub rating: Option<i64>,
}

/// Events after the cursor `(at, id)`, oldest first, for streaming export.
pub async fn page_after(
    conn: &mut AnyConnection,
    at: i64,
    id: &str,
    limit: i64,
) -> StoreResult<Vec<EventRow>> {
    Ok(sqlx::query_as(
        "SELECT id, at, kind, department_id, practitioner_id, rating FROM analytics_events \
         WHERE at > $1 OR (at = $1 AND id > $2) ORDER BY at, id LIMIT $3",
    )
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?)
}

#[derive(Debug, Clone, FromRow)]
pub struct DepartmentDim {
    pub department_id: String,
    pub department_name: String,
    pub specialty: String,
    pub org_id: String,
    pub org_name: String,
    pub level: Option<String>,
    pub province: String,
    pub city: String,
}

/// Departments with their organisation, for the dimension files.
pub async fn department_dims(conn: &mut AnyConnection) -> StoreResult<Vec<DepartmentDim>> {
    Ok(sqlx::query_as(
        "SELECT d.id AS department_id, d.name AS department_name, d.specialty, o.id AS org_id, o.name AS org_name, \
         o.level, o.province, o.city FROM departments d JOIN organisations o ON o.id = d.org_id ORDER BY o.id, d.id",
    )
    .fetch_all(&mut *conn)
    .await?)
}

/// (practitioner, department) for doctors with a department affiliation.
pub async fn doctor_departments(conn: &mut AnyConnection) -> StoreResult<Vec<(String, String)>> {
    Ok(sqlx::query_as(
        "SELECT a.practitioner_id, a.department_id FROM affiliations a JOIN practitioners p ON p.account_id = a.practitioner_id \
         WHERE p.role = 'doctor' AND a.department_id IS NOT NULL ORDER BY a.practitioner_id, a.is_primary DESC",
    )
    .fetch_all(&mut *conn)
    .await?)
}
