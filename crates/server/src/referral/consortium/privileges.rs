//! Exam privileges (who may order CT or MRI).

use super::*;

// ---------- exam privileges ----------

#[derive(Debug, Deserialize, ToSchema)]
pub struct PrivilegeInput {
    /// ct, mri, ultrasound or xray
    pub exam_type: String,
}

/// Grant a practitioner an exam privilege: an admin of one of their sites.
pub async fn grant_privilege(
    state: &AppState,
    caller: &Caller,
    practitioner_id: &str,
    input: PrivilegeInput,
) -> ApiResult<Vec<String>> {
    let exam = ExamType::parse(input.exam_type.trim()).map_err(ApiError::from)?;
    let mut c = state.store.conn().await?;
    let p = identity::practitioner(&mut c, practitioner_id)
        .await?
        .filter(|p| p.role == "doctor")
        .ok_or_else(ApiError::not_found)?;
    let sites = identity::affiliations_of(&mut c, &p.account_id).await?;
    if !sites.iter().any(|a| caller.may_admin_org(&a.org_id)) {
        return Err(ApiError::not_found());
    }
    let mut tx = state.store.begin().await?;
    store::grant_privilege(
        &mut tx,
        &p.account_id,
        exam.as_str(),
        &caller.account_id,
        now_ms(),
    )
    .await?;
    caller
        .audit(
            &mut tx,
            "exam_privilege.grant",
            "practitioner",
            &p.account_id,
            "admin",
            None,
        )
        .await?;
    let out = store::privileges_of(&mut tx, &p.account_id).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(out)
}

pub async fn privileges(state: &AppState, practitioner_id: &str) -> ApiResult<Vec<String>> {
    let mut c = state.store.conn().await?;
    Ok(store::privileges_of(&mut c, practitioner_id).await?)
}
