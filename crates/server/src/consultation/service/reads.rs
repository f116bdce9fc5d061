//! Reading consultations: one, the patient's, the doctor's queue, the patient's history (audited).

use super::*;

/// One consultation, for its participants (audited).
pub async fn get(state: &AppState, caller: &Caller, id: &str) -> ApiResult<ConsultationView> {
    let mut conn = state.store.conn().await?;
    let (row, side) = load_for(&mut conn, caller, id).await?;
    caller
        .audit(
            &mut conn,
            "consultation.read",
            "patient",
            &row.patient_id,
            side.ground(&row, caller),
            Some(&row.org_id),
        )
        .await?;
    view(&row)
}

/// The caller's consultations (as patient or guardian), newest first.
pub async fn mine(state: &AppState, caller: &Caller) -> ApiResult<Vec<ConsultationView>> {
    let mut conn = state.store.conn().await?;
    let rows = cstore::for_patient_side(&mut conn, &caller.account_id, 200).await?;
    rows.iter().map(view).collect()
}

/// The doctor's workbench: waiting and open consultations, oldest first.
pub async fn queue(state: &AppState, caller: &Caller) -> ApiResult<Vec<QueueEntry>> {
    caller.require(Role::Doctor)?;
    let mut conn = state.store.conn().await?;
    let rows = cstore::for_doctor(
        &mut conn,
        &caller.account_id,
        &["requested", "accepted", "in_progress"],
        500,
    )
    .await?;
    let now = now_ms();
    rows.iter()
        .map(|r| {
            Ok(QueueEntry {
                consultation: view(r)?,
                waiting_minutes: (now - r.created_at).max(0) / 60_000,
            })
        })
        .collect()
}

/// The patient's earlier consultations, for the doctor of this one: only
/// while a care relationship is active; every read is audited.
pub async fn patient_history(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> ApiResult<Vec<ConsultationView>> {
    let mut conn = state.store.conn().await?;
    let (row, side) = load_for(&mut conn, caller, id).await?;
    let rel = Relationship {
        is_self: side == Side::Patient
            && row.patient_account_id.as_deref() == Some(&caller.account_id),
        is_guardian: side == Side::Patient
            && row.guardian_account_id.as_deref() == Some(&caller.account_id),
        is_treating: side == Side::Doctor
            && identity::is_treating(&mut conn, &row.patient_id, &caller.account_id, now_ms())
                .await?,
    };
    let ground = match patient_read_ground(&caller.roles(), &rel) {
        Ok(g) => g,
        Err(_) => {
            caller
                .audit(
                    &mut conn,
                    "patient.history.read.denied",
                    "patient",
                    &row.patient_id,
                    "none",
                    Some(&row.org_id),
                )
                .await?;
            return Err(ApiError::not_found());
        }
    };
    let rows = cstore::for_patient(&mut conn, &row.patient_id, 200).await?;
    caller
        .audit(
            &mut conn,
            "patient.history.read",
            "patient",
            &row.patient_id,
            ground.as_str(),
            Some(&row.org_id),
        )
        .await?;
    rows.iter().map(view).collect()
}
