//! The outbox: side effects (notifications, refunds to send, reports) are
//! written here in the same transaction as the change that causes them, and
//! a worker delivers them after commit. Every capability writes through
//! this module.

use sqlx::AnyConnection;

use crate::{StoreResult, new_id};

/// Queue an entry in the caller's transaction.
pub async fn put(
    conn: &mut AnyConnection,
    topic: &str,
    recipient_id: Option<&str>,
    payload: &serde_json::Value,
    now: i64,
) -> StoreResult<()> {
    put_json(conn, topic, recipient_id, &payload.to_string(), now).await
}

/// `put` for a payload already serialised as JSON text.
pub async fn put_json(
    conn: &mut AnyConnection,
    topic: &str,
    recipient_id: Option<&str>,
    payload: &str,
    now: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO outbox (id, created_at, topic, recipient_id, payload, attempts) VALUES ($1, $2, $3, $4, $5, 0)",
    )
    .bind(new_id())
    .bind(now)
    .bind(topic)
    .bind(recipient_id)
    .bind(payload)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Entries of `topic` whose payload contains `needle` (tests, supervision).
pub async fn count_matching(
    conn: &mut AnyConnection,
    topic: &str,
    needle: &str,
) -> StoreResult<i64> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE topic = $1 AND payload LIKE $2")
            .bind(topic)
            .bind(format!("%{needle}%"))
            .fetch_one(&mut *conn)
            .await?,
    )
}

/// The newest payload of a topic for a recipient (tests, dev tools).
pub async fn latest(
    conn: &mut AnyConnection,
    topic: &str,
    recipient_id: &str,
) -> StoreResult<Option<serde_json::Value>> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT payload FROM outbox WHERE topic = $1 AND recipient_id = $2 ORDER BY created_at DESC, id DESC LIMIT 1",
    )
    .bind(topic)
    .bind(recipient_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.and_then(|r| serde_json::from_str(&r.0).ok()))
}
