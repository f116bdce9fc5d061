//! Local blob store for pictures and records: files under
//! `<data_dir>/blobs/attachments/`, written to a temporary name and renamed
//! so a crash never leaves half a file under a real key. Keys are relative
//! to the blob root; keys written before the move (no `attachments/`
//! prefix) are read where they were (`Settings::attachment_root`).
//! (object_store would add S3 later; the key layout stays the same.)

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult};
use crate::settings::{ATTACHMENTS_PREFIX, Settings};

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn path_of(dir: &Path, key: &str) -> ApiResult<PathBuf> {
    let safe = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'/')
        && !key.contains("..");
    if !safe {
        return Err(ApiError::internal(format!("unsafe blob key {key:?}")));
    }
    Ok(dir.join(key))
}

/// Store `bytes` under a key derived from `id`; answers the key.
pub async fn put(settings: &Settings, id: &str, bytes: &[u8]) -> ApiResult<String> {
    let shard: String = id.chars().rev().take(2).collect();
    let key = format!("{ATTACHMENTS_PREFIX}{shard}/{id}");
    let path = path_of(&settings.attachment_root(&key), &key)?;
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(ApiError::internal)?;
    }
    let tmp = path.with_extension("part");
    tokio::fs::write(&tmp, bytes)
        .await
        .map_err(ApiError::internal)?;
    tokio::fs::rename(&tmp, &path)
        .await
        .map_err(ApiError::internal)?;
    Ok(key)
}

pub async fn get(settings: &Settings, key: &str) -> ApiResult<Vec<u8>> {
    tokio::fs::read(path_of(&settings.attachment_root(key), key)?)
        .await
        .map_err(ApiError::internal)
}
