//! The doctor prescribes inside a consultation (a new prescription or a revision).

use super::*;

// ------------------------------------------------------------------ doctor

/// The attending doctor writes and signs a prescription inside an accepted
/// or running consultation; it goes to the pharmacists' queue.
#[tracing::instrument(skip_all, fields(consultation = %consultation_id))]
pub async fn prescribe(
    state: &AppState,
    caller: &Caller,
    consultation_id: &str,
    input: PrescriptionInput,
) -> ApiResult<PrescriptionView> {
    caller.require(Role::Doctor)?;
    let mut tx = state.store.begin().await?;
    let (c, side) = load_for(&mut tx, caller, consultation_id).await?;
    if side != Side::Doctor {
        return Err(ApiError::forbidden(
            "Only the attending doctor of this consultation prescribes.",
        ));
    }
    if !matches!(c.status.as_str(), "accepted" | "in_progress") {
        return Err(ApiError::conflict(
            ErrorCode::RxConsultationNotOpen,
            "Prescriptions are written inside an accepted or running consultation.",
        ));
    }
    check_visit_open_for_items(&mut tx, &c).await?;
    let patient = identity::patient(&mut tx, &c.patient_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let checked = check_input(&mut tx, state, &patient, &input).await?;
    let now = now_ms();
    let id = insert_version(&mut tx, state, caller, &c, checked, None, now).await?;
    let row = rxstore::prescription(&mut tx, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let v = view(&mut tx, row, false).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(v)
}

/// The doctor revises a prescription the pharmacist sent back: a new
/// signed version replaces it and goes to the queue again.
#[tracing::instrument(skip_all, fields(prescription = %id))]
pub async fn revise(
    state: &AppState,
    caller: &Caller,
    id: &str,
    input: PrescriptionInput,
) -> ApiResult<PrescriptionView> {
    caller.require(Role::Doctor)?;
    let mut tx = state.store.begin().await?;
    let old = rxstore::prescription(&mut tx, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if old.doctor_id != caller.account_id {
        return Err(ApiError::not_found());
    }
    rules::rx_transition(RxStatus::parse(&old.status)?, RxAction::Revise)
        .map_err(ApiError::domain_conflict)?;
    let c = cstore::consultation(&mut tx, &old.consultation_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if !matches!(c.status.as_str(), "accepted" | "in_progress" | "completed") {
        return Err(ApiError::conflict(
            ErrorCode::RxConsultationNotOpen,
            "This consultation has ended without completion; it takes no revisions.",
        ));
    }
    check_visit_open_for_items(&mut tx, &c).await?;
    let patient = identity::patient(&mut tx, &c.patient_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let checked = check_input(&mut tx, state, &patient, &input).await?;
    let now = now_ms();
    if !rxstore::change_status(&mut tx, &old.id, "rejected", "superseded", None, None, now).await? {
        return Err(ApiError::conflict(
            ErrorCode::RxChanged,
            "Someone changed this prescription at the same moment; reload it.",
        ));
    }
    let new_id = insert_version(&mut tx, state, caller, &c, checked, Some(&old), now).await?;
    let row = rxstore::prescription(&mut tx, &new_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let v = view(&mut tx, row, false).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(v)
}
