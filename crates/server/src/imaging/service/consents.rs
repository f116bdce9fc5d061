//! The patient's consents that let another doctor see their images.

use super::*;

// -------------------------------------------------------------- consents

#[derive(Debug, Deserialize, ToSchema)]
pub struct ConsentInput {
    /// The practitioner (account id) who may see the images.
    pub grantee_id: String,
    /// One study; omit to share all studies of `patient_id`.
    pub study_uid: Option<String>,
    /// The patient (self or a child in your care); defaults to yourself.
    pub patient_id: Option<String>,
    /// How long the consent lasts, 1 to 365 days.
    pub days: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentView {
    pub id: String,
    pub patient_id: String,
    pub study_id: Option<String>,
    pub grantee_id: String,
    pub grantee_name: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub active: bool,
}

pub(super) fn consent_view(c: store::ConsentRow, now: i64) -> ConsentView {
    ConsentView {
        active: ihos_domain::imaging::consent_active(c.expires_at, c.revoked_at, now),
        id: c.id,
        patient_id: c.patient_id,
        study_id: c.study_id,
        grantee_id: c.grantee_id,
        grantee_name: c.grantee_name,
        created_at: c.created_at,
        expires_at: c.expires_at,
        revoked_at: c.revoked_at,
    }
}

/// A patient (or guardian) authorises a practitioner to see their images.
pub async fn grant_consent(
    state: &AppState,
    caller: &Caller,
    input: ConsentInput,
) -> ApiResult<ConsentView> {
    let days = consent_days(input.days)?;
    let mut tx = state.store.begin().await?;
    let own = identity::patient_of_account(&mut tx, &caller.account_id).await?;
    let children = identity::dependants_of(&mut tx, &caller.account_id).await?;
    let mine = |pid: &str| {
        own.as_ref().is_some_and(|p| p.id == pid) || children.iter().any(|c| c.id == pid)
    };
    let (patient_id, study_id) = match &input.study_uid {
        Some(uid) => {
            let v = store::study_for(&mut tx, uid, &caller.account_id, now_ms())
                .await?
                .filter(|v| v.is_self == 1 || v.is_guardian == 1)
                .ok_or_else(ApiError::not_found)?;
            let pid = v.study.patient_id.clone().ok_or_else(ApiError::not_found)?;
            (pid, Some(v.study.id))
        }
        None => {
            let pid = match &input.patient_id {
                Some(p) if mine(p) => p.clone(),
                Some(_) => return Err(ApiError::not_found()),
                None => own.as_ref().map(|p| p.id.clone()).ok_or_else(|| {
                    ApiError::bad_request(
                        ErrorCode::PatientRequired,
                        "Name the patient (patient_id) whose images you share.",
                    )
                })?,
            };
            (pid, None)
        }
    };
    if identity::practitioner(&mut tx, &input.grantee_id)
        .await?
        .is_none()
    {
        return Err(DomainError::new(
            ErrorCode::UnknownPractitioner,
            "Images are shared only with a registered practitioner; check the doctor's id.",
        )
        .on("grantee_id")
        .into());
    }
    let expires_at = now_ms() + days * 24 * 3600 * 1000;
    let id = store::insert_consent(
        &mut tx,
        &patient_id,
        study_id.as_deref(),
        &input.grantee_id,
        &caller.account_id,
        expires_at,
    )
    .await?;
    caller
        .audit(
            &mut tx,
            "imaging.consent_grant",
            "patient",
            &patient_id,
            if own.as_ref().is_some_and(|p| p.id == patient_id) {
                "self"
            } else {
                "guardian"
            },
            None,
        )
        .await?;
    let row = store::consents_of(&mut tx, &caller.account_id)
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(|| ApiError::internal("consent vanished"))?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(consent_view(row, now_ms()))
}

pub async fn revoke_consent(state: &AppState, caller: &Caller, id: &str) -> ApiResult<()> {
    let mut tx = state.store.begin().await?;
    let patient_id = store::revoke_consent(&mut tx, id, &caller.account_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    caller
        .audit(
            &mut tx,
            "imaging.consent_revoke",
            "patient",
            &patient_id,
            "self",
            None,
        )
        .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(())
}

pub async fn my_consents(state: &AppState, caller: &Caller) -> ApiResult<Vec<ConsentView>> {
    let mut conn = state.store.conn().await?;
    let now = now_ms();
    Ok(store::consents_of(&mut conn, &caller.account_id)
        .await?
        .into_iter()
        .map(|c| consent_view(c, now))
        .collect())
}
