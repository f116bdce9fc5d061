//! Demo data for home nursing.

use crate::error::ApiResult;
use crate::state::AppState;

pub async fn load(_state: &AppState) -> ApiResult<()> {
    Ok(())
}
