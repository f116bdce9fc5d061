//! Chat messages, numbered per consultation and idempotent by client id.

use super::*;

// ---------------------------------------------------------------- messages

#[derive(Debug, Clone)]
pub struct NewMessage {
    pub consultation_id: String,
    pub sender_id: String,
    pub sender_role: String,
    pub client_id: String,
    pub kind: String,
    pub body: Option<String>,
    pub attachment_id: Option<String>,
    pub created_at: i64,
}

impl NewMessage {
    /// The row this message is stored as, with sequence number `seq` and a new id.
    pub(super) fn numbered(&self, seq: i64) -> MessageRow {
        MessageRow {
            consultation_id: self.consultation_id.clone(),
            seq,
            id: new_id(),
            sender_id: self.sender_id.clone(),
            sender_role: self.sender_role.clone(),
            client_id: self.client_id.clone(),
            kind: self.kind.clone(),
            body: self.body.clone(),
            attachment_id: self.attachment_id.clone(),
            created_at: self.created_at,
        }
    }
}

#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct MessageRow {
    pub consultation_id: String,
    pub seq: i64,
    pub id: String,
    pub sender_id: String,
    pub sender_role: String,
    pub client_id: String,
    pub kind: String,
    pub body: Option<String>,
    pub attachment_id: Option<String>,
    pub created_at: i64,
}

pub(super) const MESSAGE_COLUMNS: &str = "consultation_id, seq, id, sender_id, sender_role, client_id, kind, body, \
     attachment_id, created_at";

#[derive(Debug)]
pub enum Appended {
    /// Newly stored with the next sequence number.
    New(MessageRow),
    /// The same client id was sent before: the stored message, unchanged.
    Repeat(MessageRow),
    /// The consultation is not open for chat (or does not exist).
    Closed,
}

pub async fn message_by_client_id(
    conn: &mut AnyConnection,
    consultation_id: &str,
    sender_id: &str,
    client_id: &str,
) -> StoreResult<Option<MessageRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {MESSAGE_COLUMNS} FROM consultation_messages \
         WHERE consultation_id = $1 AND sender_id = $2 AND client_id = $3"
    )))
    .bind(consultation_id)
    .bind(sender_id)
    .bind(client_id)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Store one message: idempotent by (consultation, sender, client id); the
/// sequence number comes from an atomic counter on the consultation row that
/// only moves while chat is open. Run inside a transaction. The common path
/// is two statements; a repeated client id gives its number back.
pub async fn append_message(conn: &mut AnyConnection, m: &NewMessage) -> StoreResult<Appended> {
    let seq: Option<i64> = sqlx::query_scalar(
        "UPDATE consultations SET next_seq = next_seq + 1 \
         WHERE id = $1 AND status IN ('accepted', 'in_progress') RETURNING next_seq",
    )
    .bind(&m.consultation_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(seq) = seq else {
        // Closed now; a resend of something stored while it was open is still answered.
        return Ok(
            match message_by_client_id(conn, &m.consultation_id, &m.sender_id, &m.client_id).await?
            {
                Some(prev) => Appended::Repeat(prev),
                None => Appended::Closed,
            },
        );
    };
    let row = m.numbered(seq);
    let inserted = sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO consultation_messages ({MESSAGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (consultation_id, sender_id, client_id) DO NOTHING"
    )))
    .bind(&row.consultation_id)
    .bind(row.seq)
    .bind(&row.id)
    .bind(&row.sender_id)
    .bind(&row.sender_role)
    .bind(&row.client_id)
    .bind(&row.kind)
    .bind(row.body.as_deref())
    .bind(row.attachment_id.as_deref())
    .bind(row.created_at)
    .execute(&mut *conn)
    .await
    .map_err(|e| classify(e, &["client_id", "seq"]))?
    .rows_affected();
    if inserted == 1 {
        return Ok(Appended::New(row));
    }
    // A repeat: give the number back (the row lock is ours) and answer the stored message.
    sqlx::query("UPDATE consultations SET next_seq = next_seq - 1 WHERE id = $1")
        .bind(&m.consultation_id)
        .execute(&mut *conn)
        .await?;
    message_by_client_id(conn, &m.consultation_id, &m.sender_id, &m.client_id)
        .await?
        .map(Appended::Repeat)
        .ok_or(StoreError::NotFound)
}

/// Messages with a sequence number above `after`, in order.
pub async fn messages_after(
    conn: &mut AnyConnection,
    consultation_id: &str,
    after: i64,
    limit: i64,
) -> StoreResult<Vec<MessageRow>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {MESSAGE_COLUMNS} FROM consultation_messages WHERE consultation_id = $1 AND seq > $2 \
         ORDER BY seq LIMIT $3"
    )))
    .bind(consultation_id)
    .bind(after)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?)
}
