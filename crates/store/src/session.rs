//! Login sessions (one token serves as UI cookie and API bearer) and the
//! record of login attempts that rate limiting counts.

use sqlx::AnyConnection;

use crate::StoreResult;

pub async fn insert_session(
    conn: &mut AnyConnection,
    token_hash: &str,
    account_id: &str,
    now: i64,
    expires_at: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO sessions (token_hash, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(token_hash)
    .bind(account_id)
    .bind(now)
    .bind(expires_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The account a live session token belongs to.
pub async fn session_account(
    conn: &mut AnyConnection,
    token_hash: &str,
    now: i64,
) -> StoreResult<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT s.account_id FROM sessions s JOIN accounts a ON a.id = s.account_id \
         WHERE s.token_hash = $1 AND s.expires_at > $2 AND a.disabled = 0",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?)
}

/// A live session's account, display name and role grants in one round
/// trip: one row per grant (role and scope NULL when there is none).
/// An account behind a live session: (role, scope) pairs as stored.
#[derive(Debug, Clone)]
pub struct SessionCaller {
    pub account_id: String,
    pub display_name: String,
    pub grants: Vec<(String, String)>,
}

pub async fn session_caller(
    conn: &mut AnyConnection,
    token_hash: &str,
    now: i64,
) -> StoreResult<Vec<(String, String, Option<String>, Option<String>)>> {
    Ok(sqlx::query_as(
        "SELECT a.id, a.display_name, g.role, g.scope_id FROM sessions s JOIN accounts a ON a.id = s.account_id \
         LEFT JOIN role_grants g ON g.account_id = a.id \
         WHERE s.token_hash = $1 AND s.expires_at > $2 AND a.disabled = 0 ORDER BY g.role, g.scope_id",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?)
}

pub async fn delete_session(conn: &mut AnyConnection, token_hash: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(token_hash)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn record_login_attempt(
    conn: &mut AnyConnection,
    key_hash: &str,
    at: i64,
    succeeded: bool,
) -> StoreResult<()> {
    sqlx::query("INSERT INTO login_attempts (key_hash, at, succeeded) VALUES ($1, $2, $3)")
        .bind(key_hash)
        .bind(at)
        .bind(i64::from(succeeded))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Failed attempts for `key_hash` since `since`, stopping at the last success.
pub async fn failures_since(
    conn: &mut AnyConnection,
    key_hash: &str,
    since: i64,
) -> StoreResult<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM login_attempts WHERE key_hash = $1 AND at >= $2 AND succeeded = 0 \
         AND at > COALESCE((SELECT MAX(at) FROM login_attempts WHERE key_hash = $1 AND succeeded = 1), 0)",
    )
    .bind(key_hash)
    .bind(since)
    .fetch_one(&mut *conn)
    .await?)
}
