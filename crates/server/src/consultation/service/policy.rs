//! A department's first-visit policy.

use super::*;

/// The org admin sets whether a department pilots online first visits.
pub async fn set_policy(
    state: &AppState,
    caller: &Caller,
    department_id: &str,
    input: PolicyInput,
) -> ApiResult<PolicyView> {
    let mut tx = state.store.begin().await?;
    let dep = org::department(&mut tx, department_id)
        .await?
        .filter(|d| caller.may_admin_org(&d.org_id))
        .ok_or_else(ApiError::not_found)?;
    cstore::set_dept_policy(
        &mut tx,
        &dep.id,
        input.allow_first_visit,
        &caller.account_id,
        now_ms(),
    )
    .await?;
    caller
        .audit(
            &mut tx,
            if input.allow_first_visit {
                "department.first_visit.pilot"
            } else {
                "department.first_visit.strict"
            },
            "department",
            &dep.id,
            "org_admin",
            Some(&dep.org_id),
        )
        .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(PolicyView {
        department_id: dep.id,
        allow_first_visit: input.allow_first_visit,
    })
}

pub async fn policy(state: &AppState, department_id: &str) -> ApiResult<PolicyView> {
    let mut conn = state.store.conn().await?;
    let dep = org::department(&mut conn, department_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(PolicyView {
        allow_first_visit: cstore::dept_allows_first_visit(&mut conn, &dep.id).await?,
        department_id: dep.id,
    })
}
