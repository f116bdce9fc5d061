//! Reviews and replies.

use super::*;

// ---------------------------------------------------------------- reviews

#[derive(Debug, Clone, FromRow)]
pub struct ReviewRow {
    pub consultation_id: String,
    pub doctor_id: String,
    pub author_id: String,
    pub rating: i64,
    pub body: Option<String>,
    pub reply: Option<String>,
    pub replied_at: Option<i64>,
    pub created_at: i64,
}

/// One review per consultation: a second one is `Duplicate { what: "review" }`.
pub async fn insert_review(conn: &mut AnyConnection, r: &ReviewRow) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO consultation_reviews (consultation_id, doctor_id, author_id, rating, body, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&r.consultation_id)
    .bind(&r.doctor_id)
    .bind(&r.author_id)
    .bind(r.rating)
    .bind(r.body.as_deref())
    .bind(r.created_at)
    .execute(&mut *conn)
    .await
    .map_err(|e| match classify(e, &["consultation_reviews"]) {
        StoreError::Duplicate { .. } => StoreError::Duplicate {
            what: "review".into(),
        },
        other => other,
    })?;
    Ok(())
}

/// The doctor's one reply; false when there is no review or it was answered.
pub async fn reply_review(
    conn: &mut AnyConnection,
    consultation_id: &str,
    doctor_id: &str,
    reply: &str,
    now: i64,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE consultation_reviews SET reply = $3, replied_at = $4 \
         WHERE consultation_id = $1 AND doctor_id = $2 AND reply IS NULL",
    )
    .bind(consultation_id)
    .bind(doctor_id)
    .bind(reply)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(super) const REVIEW_COLUMNS: &str =
    "consultation_id, doctor_id, author_id, rating, body, reply, replied_at, created_at";

pub async fn review(
    conn: &mut AnyConnection,
    consultation_id: &str,
) -> StoreResult<Option<ReviewRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {REVIEW_COLUMNS} FROM consultation_reviews WHERE consultation_id = $1"
    )))
    .bind(consultation_id)
    .fetch_optional(&mut *conn)
    .await?)
}

pub async fn reviews_of_doctor(
    conn: &mut AnyConnection,
    doctor_id: &str,
    limit: i64,
) -> StoreResult<Vec<ReviewRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {REVIEW_COLUMNS} FROM consultation_reviews WHERE doctor_id = $1 \
         ORDER BY created_at DESC LIMIT $2"
    )))
    .bind(doctor_id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?)
}
