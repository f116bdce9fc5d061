//! Web pages for followup.

use axum::Router;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
}

pub const TEXT: &[(&str, &str, &str)] = &[];
