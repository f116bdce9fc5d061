//! Reading prescriptions: one, a consultation's, a patient's (each read audited).

use super::*;

// ------------------------------------------------------------------ reads

/// The prescriptions of one consultation, for its participants (audited).
pub async fn of_consultation(
    state: &AppState,
    caller: &Caller,
    consultation_id: &str,
) -> ApiResult<Vec<PrescriptionView>> {
    let mut conn = state.store.conn().await?;
    let (c, side) = load_for(&mut conn, caller, consultation_id).await?;
    let ground = match side {
        Side::Doctor => "treating_practitioner",
        Side::Patient if c.patient_account_id.as_deref() == Some(&caller.account_id) => "self",
        Side::Patient => "guardian",
    };
    caller
        .audit(
            &mut conn,
            "prescription.read",
            "patient",
            &c.patient_id,
            ground,
            Some(&c.org_id),
        )
        .await?;
    let mut out = Vec::new();
    for r in rxstore::for_consultation(&mut conn, &c.id).await? {
        out.push(view(&mut conn, r, side == Side::Patient).await?);
    }
    Ok(out)
}

/// One prescription: for its doctor, the patient side, or a pharmacist of
/// its hospital (audited).
pub async fn get(state: &AppState, caller: &Caller, id: &str) -> ApiResult<PrescriptionView> {
    let mut conn = state.store.conn().await?;
    let r = rxstore::prescription(&mut conn, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let patient = identity::patient(&mut conn, &r.patient_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let (ground, show_code) = if let Some(g) = patient_side(&patient, caller) {
        (g, true)
    } else if r.doctor_id == caller.account_id {
        ("treating_practitioner", false)
    } else if pharmacist_of(&mut conn, caller, &r.org_id).await? {
        ("reviewing_pharmacist", false)
    } else {
        return Err(ApiError::not_found());
    };
    caller
        .audit(
            &mut conn,
            "prescription.read",
            "prescription",
            &r.id,
            ground,
            Some(&r.org_id),
        )
        .await?;
    view(&mut conn, r, show_code).await
}

/// A patient's prescriptions (their online record): self, guardian, a
/// treating practitioner or the regulator; every read audited, refusals too.
pub async fn of_patient(
    state: &AppState,
    caller: &Caller,
    patient_id: &str,
) -> ApiResult<Vec<PrescriptionView>> {
    let mut conn = state.store.conn().await?;
    let patient = identity::patient(&mut conn, patient_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let rel = Relationship {
        is_self: patient.account_id.as_deref() == Some(&caller.account_id),
        is_guardian: patient.guardian_account_id.as_deref() == Some(&caller.account_id),
        is_treating: identity::is_treating(&mut conn, patient_id, &caller.account_id, now_ms())
            .await?,
    };
    let ground = match patient_read_ground(&caller.roles(), &rel) {
        Ok(g) => g,
        Err(_) => {
            caller
                .audit(
                    &mut conn,
                    "prescription.history.read.denied",
                    "patient",
                    patient_id,
                    "none",
                    None,
                )
                .await?;
            return Err(ApiError::not_found());
        }
    };
    caller
        .audit(
            &mut conn,
            "prescription.history.read",
            "patient",
            patient_id,
            ground.as_str(),
            None,
        )
        .await?;
    let show = rel.is_self || rel.is_guardian;
    let mut out = Vec::new();
    for r in rxstore::for_patient(&mut conn, patient_id, 100).await? {
        out.push(view(&mut conn, r, show).await?);
    }
    Ok(out)
}
