//! Consultation attachments.

use super::*;

// ---------------------------------------------------------------- attachments

#[derive(Debug, Clone, FromRow)]
pub struct AttachmentRow {
    pub id: String,
    pub consultation_id: Option<String>,
    pub uploader_id: String,
    pub mime: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub blob_key: String,
    pub created_at: i64,
}

pub async fn insert_attachment(conn: &mut AnyConnection, a: &AttachmentRow) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO consultation_attachments (id, consultation_id, uploader_id, mime, size_bytes, sha256, \
         blob_key, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&a.id)
    .bind(a.consultation_id.as_deref())
    .bind(&a.uploader_id)
    .bind(&a.mime)
    .bind(a.size_bytes)
    .bind(&a.sha256)
    .bind(&a.blob_key)
    .bind(a.created_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn attachment(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<AttachmentRow>> {
    Ok(sqlx::query_as(
        "SELECT id, consultation_id, uploader_id, mime, size_bytes, sha256, blob_key, created_at \
         FROM consultation_attachments WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Attach an uploaded evidence record to the consultation it supports.
pub async fn link_attachment(
    conn: &mut AnyConnection,
    attachment_id: &str,
    consultation_id: &str,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE consultation_attachments SET consultation_id = $2 WHERE id = $1 AND consultation_id IS NULL",
    )
    .bind(attachment_id)
    .bind(consultation_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A transaction on the store (so callers need not name sqlx).
pub type Tx = crate::Tx;
