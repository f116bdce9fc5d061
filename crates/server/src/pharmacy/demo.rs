//! Demo data for prescriptions: 林秀英 has a recorded penicillin allergy, so
//! the prescribing page shows the allergy check at work. The senior
//! pharmacist 郑小红 of the demo hospital reviews; 冯涛 at 城东大药房
//! dispenses transferred prescriptions.

use ihos_store::{identity, now_ms, pharmacy as rxstore};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub async fn load(state: &AppState) -> ApiResult<()> {
    let mut conn = state.store.conn().await?;
    let acc = identity::account_by_phone_hash(
        &mut conn,
        &state.vault.blind_index("phone", "13700000001"),
    )
    .await?
    .ok_or_else(ApiError::not_found)?;
    let patient = identity::patient_of_account(&mut conn, &acc.id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    rxstore::add_allergy(&mut conn, &patient.id, "青霉素类", &acc.id, now_ms()).await?;
    Ok(())
}
