//! Pictures and records uploaded to a consultation, and their download.

use super::*;

/// Store an uploaded picture or record after checking its size and type.
pub async fn upload(
    state: &AppState,
    caller: &Caller,
    consultation_id: Option<&str>,
    content_type: &str,
    bytes: &[u8],
) -> ApiResult<AttachmentView> {
    if let Some(id) = consultation_id {
        let mut conn = state.store.conn().await?;
        load_for(&mut conn, caller, id).await?;
    } else {
        caller.require(Role::Patient)?;
    }
    if bytes.len() > state.settings.picture_max_bytes {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PictureTooLarge,
            format!(
                "A picture may be at most {} KB.",
                state.settings.picture_max_bytes / 1024
            ),
        ));
    }
    if bytes.is_empty() {
        return Err(ApiError::bad_request(
            ErrorCode::UnsupportedPicture,
            "The upload is empty.",
        ));
    }
    let mime = rules::sniff_picture(content_type, bytes)?;
    let id = new_id();
    let key = super::super::blob::put(&state.settings, &id, bytes).await?;
    let row = AttachmentRow {
        id: id.clone(),
        consultation_id: consultation_id.map(str::to_string),
        uploader_id: caller.account_id.clone(),
        mime: mime.into(),
        size_bytes: bytes.len() as i64,
        sha256: super::super::blob::sha256_hex(bytes),
        blob_key: key,
        created_at: now_ms(),
    };
    let mut conn = state.store.conn().await?;
    cstore::insert_attachment(&mut conn, &row).await?;
    Ok(AttachmentView {
        id,
        mime: mime.into(),
        size_bytes: row.size_bytes,
    })
}

/// An attachment's bytes, for participants of its consultation (audited).
pub async fn download(
    state: &AppState,
    caller: &Caller,
    consultation_id: &str,
    attachment_id: &str,
) -> ApiResult<(String, Vec<u8>)> {
    let mut conn = state.store.conn().await?;
    let (row, side) = load_for(&mut conn, caller, consultation_id).await?;
    let a = cstore::attachment(&mut conn, attachment_id)
        .await?
        .filter(|a| {
            a.consultation_id.as_deref() == Some(consultation_id)
                || row.evidence_ref.as_deref() == Some(&a.id)
        })
        .ok_or_else(ApiError::not_found)?;
    caller
        .audit(
            &mut conn,
            "consultation.attachment.read",
            "patient",
            &row.patient_id,
            side.ground(&row, caller),
            Some(&row.org_id),
        )
        .await?;
    let bytes = super::super::blob::get(&state.settings, &a.blob_key).await?;
    Ok((a.mime, bytes))
}
