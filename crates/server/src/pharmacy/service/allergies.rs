//! A patient's recorded drug allergies.

use super::*;

// ------------------------------------------------------------------ allergies

#[derive(Debug, Serialize, ToSchema)]
pub struct AllergyView {
    pub substance: String,
    pub created_at: i64,
}

/// Who may read or add to a patient's allergy list: the patient side or a
/// treating practitioner. Answers the audit ground.
pub(super) async fn allergy_access(
    conn: &mut AnyConnection,
    caller: &Caller,
    patient_id: &str,
) -> ApiResult<&'static str> {
    let patient = identity::patient(conn, patient_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if let Some(g) = patient_side(&patient, caller) {
        return Ok(g);
    }
    if caller.has(Role::Doctor)
        && identity::is_treating(conn, patient_id, &caller.account_id, now_ms()).await?
    {
        return Ok("treating_practitioner");
    }
    Err(ApiError::not_found())
}

pub async fn allergies(
    state: &AppState,
    caller: &Caller,
    patient_id: &str,
) -> ApiResult<Vec<AllergyView>> {
    let mut conn = state.store.conn().await?;
    let ground = allergy_access(&mut conn, caller, patient_id).await?;
    caller
        .audit(
            &mut conn,
            "allergy.read",
            "patient",
            patient_id,
            ground,
            None,
        )
        .await?;
    Ok(rxstore::allergies(&mut conn, patient_id)
        .await?
        .into_iter()
        .map(|a| AllergyView {
            substance: a.substance,
            created_at: a.created_at,
        })
        .collect())
}

pub async fn add_allergy(
    state: &AppState,
    caller: &Caller,
    patient_id: &str,
    substance: &str,
) -> ApiResult<Vec<AllergyView>> {
    let substance = rules::parse_allergy(substance)?;
    let mut tx = state.store.begin().await?;
    let ground = allergy_access(&mut tx, caller, patient_id).await?;
    rxstore::add_allergy(
        &mut tx,
        patient_id,
        &substance,
        &caller.account_id,
        now_ms(),
    )
    .await?;
    caller
        .audit(&mut tx, "allergy.add", "patient", patient_id, ground, None)
        .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    allergies(state, caller, patient_id).await
}
