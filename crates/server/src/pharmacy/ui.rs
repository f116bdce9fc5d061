//! Web pages for prescriptions.

use axum::Router;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
}

/// (key, 中文, English); keys prefixed `rx_`, error codes included.
pub const TEXT: &[(&str, &str, &str)] = &[];
