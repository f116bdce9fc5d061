//! The audit log: who read or changed what, when, and on what ground. It
//! holds ids only, never patient data.

use sqlx::{AnyConnection, FromRow};

use crate::{StoreResult, new_id, now_ms};

#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    pub actor_id: Option<&'a str>,
    pub actor_roles: &'a str,
    pub action: &'a str,
    pub subject_type: &'a str,
    pub subject_id: &'a str,
    pub ground: &'a str,
    pub org_id: Option<&'a str>,
    pub request_id: Option<&'a str>,
}

#[derive(Debug, Clone, FromRow)]
pub struct AuditRow {
    pub id: String,
    pub at: i64,
    pub actor_id: Option<String>,
    pub actor_roles: String,
    pub action: String,
    pub subject_type: String,
    pub subject_id: String,
    pub ground: String,
    pub org_id: Option<String>,
    pub request_id: Option<String>,
}

pub async fn record(conn: &mut AnyConnection, e: &AuditEntry<'_>) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO audit_log (id, at, actor_id, actor_roles, action, subject_type, subject_id, ground, org_id, request_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(new_id())
    .bind(now_ms())
    .bind(e.actor_id)
    .bind(e.actor_roles)
    .bind(e.action)
    .bind(e.subject_type)
    .bind(e.subject_id)
    .bind(e.ground)
    .bind(e.org_id)
    .bind(e.request_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The trail of one subject, newest first.
pub async fn trail(
    conn: &mut AnyConnection,
    subject_type: &str,
    subject_id: &str,
    limit: i64,
) -> StoreResult<Vec<AuditRow>> {
    Ok(sqlx::query_as(
        "SELECT id, at, actor_id, actor_roles, action, subject_type, subject_id, ground, org_id, request_id \
         FROM audit_log WHERE subject_type = $1 AND subject_id = $2 ORDER BY at DESC, id DESC LIMIT $3",
    )
    .bind(subject_type)
    .bind(subject_id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?)
}
