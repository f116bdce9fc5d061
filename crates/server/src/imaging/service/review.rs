//! A second reading of a study.

use super::*;

// ------------------------------------------------------------- review

#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewItem {
    pub study_uid: String,
    pub patient_name: String,
    pub patient_id_shown: String,
    pub study_date: String,
    pub modalities: String,
    pub link_issue: Option<String>,
}

/// Studies of the caller's organisations waiting to be linked to a patient.
pub async fn review_queue(state: &AppState, caller: &Caller) -> ApiResult<Vec<ReviewItem>> {
    let mut conn = state.store.conn().await?;
    Ok(store::review_queue(&mut conn, &caller.account_id)
        .await?
        .into_iter()
        .map(|s| ReviewItem {
            study_uid: s.study_uid,
            patient_name: s.dicom_patient_name,
            patient_id_shown: s.dicom_patient_id,
            study_date: s.study_date,
            modalities: s.modalities,
            link_issue: s.link_issue,
        })
        .collect())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LinkInput {
    /// The patient's resident ID number, as checked by a person.
    pub resident_id: String,
}

/// Staff link a study in review to a registered patient.
pub async fn link_to_patient(
    state: &AppState,
    caller: &Caller,
    study_uid: &str,
    input: LinkInput,
) -> ApiResult<()> {
    let rid = ResidentId::parse(&input.resident_id)?;
    let mut tx = state.store.begin().await?;
    let queue = store::review_queue(&mut tx, &caller.account_id).await?;
    let study = queue
        .into_iter()
        .find(|s| s.study_uid == study_uid)
        .ok_or_else(ApiError::not_found)?;
    let hash = state.vault.blind_index("resident_id", rid.as_str());
    let (patient_id, _) = store::patient_by_resident_hash(&mut tx, &hash)
        .await?
        .ok_or_else(|| {
            ApiError::from(
                DomainError::new(
                    ErrorCode::UnknownPatient,
                    "No registered patient has this resident ID number.",
                )
                .on("resident_id"),
            )
        })?;
    if !store::link_study(&mut tx, &study.id, &patient_id).await? {
        return Err(ApiError::not_found());
    }
    caller
        .audit(
            &mut tx,
            "imaging.link_patient",
            "imaging_study",
            &study.id,
            "performing_org",
            Some(&study.org_id),
        )
        .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(())
}
