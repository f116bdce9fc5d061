//! Reading nursing orders: the patient's, the nurse's, the hospital's, one record.

use super::*;

// ------------------------------------------------------------------ reads

/// The complete record of one visit, for the patient side, the nurse or the hospital. Audited.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn get(state: &AppState, caller: &Caller, id: &str) -> ApiResult<OrderRecord> {
    let mut tx = state.store.begin().await?;
    let (row, side) = load_for(&mut tx, caller, id).await?;
    let ground = read_ground(&mut tx, &row, side, caller).await?;
    let order = view_for(state, &mut tx, &row, side, caller).await?;
    let events = store::events(&mut tx, id)
        .await?
        .into_iter()
        .map(|e| EventView {
            at: e.at,
            actor_id: e.actor_id,
            actor_name: e.actor_name,
            action: e.action,
            detail: e.detail,
        })
        .collect();
    let safety_alerts = store::safety_alerts(&mut tx, id)
        .await?
        .into_iter()
        .map(|a| SafetyAlertView {
            id: a.id,
            kind: a.kind,
            note: a.note,
            created_at: a.created_at,
        })
        .collect();
    let review = store::review(&mut tx, id)
        .await?
        .map(|r| NursingReviewView {
            rating: r.rating,
            text: r.body,
            created_at: r.created_at,
        });
    crate::audit::record(
        &mut tx,
        Some(caller),
        "nursing.read",
        "nursing_order",
        id,
        ground,
        Some(&row.org_id),
    )
    .await?;
    crate::audit::record(
        &mut tx,
        Some(caller),
        "nursing.read",
        "patient",
        &row.patient_id,
        ground,
        Some(&row.org_id),
    )
    .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(OrderRecord {
        order,
        events,
        safety_alerts,
        review,
        viewer: side.as_str().into(),
    })
}

pub(super) async fn list(
    state: &AppState,
    caller: &Caller,
    filter: OrderFilter<'_>,
) -> ApiResult<Vec<OrderView>> {
    let mut c = state.store.conn().await?;
    let mut out = Vec::new();
    for row in store::orders_where(&mut c, filter).await? {
        if let Some(side) = side_of(&row, caller) {
            if side != Side::Patient {
                // Staff lists show patient data (masked for dispatch): audited.
                let ground = read_ground(&mut c, &row, side, caller).await?;
                crate::audit::record(
                    &mut c,
                    Some(caller),
                    "nursing.list",
                    "patient",
                    &row.patient_id,
                    ground,
                    Some(&row.org_id),
                )
                .await?;
            }
            out.push(view_for(state, &mut c, &row, side, caller).await?);
        }
    }
    Ok(out)
}

/// The caller's orders as patient or guardian.
pub async fn mine(state: &AppState, caller: &Caller) -> ApiResult<Vec<OrderView>> {
    list(state, caller, OrderFilter::Account(&caller.account_id)).await
}

/// The orders assigned to the calling nurse.
pub async fn nurse_orders(state: &AppState, caller: &Caller) -> ApiResult<Vec<OrderView>> {
    caller.require(Role::Nurse)?;
    list(state, caller, OrderFilter::Nurse(&caller.account_id)).await
}

/// A hospital's orders for dispatch (org admin): masked names and addresses, no clinical text.
pub async fn org_orders(
    state: &AppState,
    caller: &Caller,
    org_id: &str,
) -> ApiResult<Vec<OrderView>> {
    if !caller.may_admin_org(org_id) {
        return Err(ApiError::not_found());
    }
    list(state, caller, OrderFilter::Org(org_id)).await
}
