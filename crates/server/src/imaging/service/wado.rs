//! WADO-RS: retrieving instances, metadata and rendered frames.

use super::*;

// ---------------------------------------------------------------- WADO-RS

/// DICOM JSON metadata of a study / series / instance, as one JSON array text.
pub async fn metadata(
    state: &AppState,
    reader: &Reader,
    study_uid: &str,
    series_uid: Option<&str>,
    sop_uid: Option<&str>,
) -> ApiResult<String> {
    let study = open_study(state, reader, study_uid, "imaging.metadata").await?;
    let mut conn = state.store.conn().await?;
    let items = store::metadata(&mut conn, &study.id, series_uid, sop_uid).await?;
    if items.is_empty() {
        return Err(ApiError::not_found());
    }
    let mut out = String::with_capacity(items.iter().map(|s| s.len() + 1).sum::<usize>() + 2);
    out.push('[');
    for (n, item) in items.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push_str(item);
    }
    out.push(']');
    Ok(out)
}

/// The stored Part 10 files of a study / series / instance.
pub async fn retrieve(
    state: &AppState,
    reader: &Reader,
    study_uid: &str,
    series_uid: Option<&str>,
    sop_uid: Option<&str>,
) -> ApiResult<Vec<Vec<u8>>> {
    let study = open_study(state, reader, study_uid, "imaging.retrieve").await?;
    let rows = {
        let mut conn = state.store.conn().await?;
        store::instances(&mut conn, &study.id, series_uid, sop_uid).await?
    };
    if rows.is_empty() {
        return Err(ApiError::not_found());
    }
    let blobs = blobs(state);
    let mut files = Vec::with_capacity(rows.len());
    for r in rows {
        files.push(blobs.get(&r.blob_key).await.map_err(ApiError::internal)?);
    }
    Ok(files)
}

/// A frame (1-based) rendered to PNG with an optional window.
pub async fn render(
    state: &AppState,
    reader: &Reader,
    study_uid: &str,
    series_uid: &str,
    sop_uid: &str,
    frame: u32,
    window: Option<Window>,
) -> ApiResult<Vec<u8>> {
    if frame == 0 {
        return Err(ApiError::bad_request(
            ErrorCode::NoSuchFrame,
            "Frames are numbered from 1.",
        ));
    }
    let study = open_study(state, reader, study_uid, "imaging.render").await?;
    let row = {
        let mut conn = state.store.conn().await?;
        store::instances(&mut conn, &study.id, Some(series_uid), Some(sop_uid))
            .await?
            .into_iter()
            .next()
            .ok_or_else(ApiError::not_found)?
    };
    let bytes = blobs(state)
        .get(&row.blob_key)
        .await
        .map_err(ApiError::internal)?;
    tokio::task::spawn_blocking(move || dicom::render_png(&bytes, frame - 1, window))
        .await?
        .map_err(|r| {
            let status = if r.code == ErrorCode::NoSuchFrame {
                axum::http::StatusCode::NOT_FOUND
            } else {
                axum::http::StatusCode::UNPROCESSABLE_ENTITY
            };
            ApiError::new(status, r.code, r.message)
        })
}
