//! The in-app inbox and the delivery of appointment notices.

use super::*;

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
