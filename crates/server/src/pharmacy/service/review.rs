//! The pharmacist's review queue, approval and rejection (signed).

use super::*;

// ------------------------------------------------------------------ pharmacist

/// Pending prescriptions of the hospitals the pharmacist works at, oldest first.
pub async fn queue(state: &AppState, caller: &Caller) -> ApiResult<Vec<PrescriptionView>> {
    let mut conn = state.store.conn().await?;
    let orgs = pharmacist_orgs(&mut conn, caller).await?;
    let mut out = Vec::new();
    for (org_id, kind) in orgs {
        if !kind.has_departments() {
            continue;
        }
        for r in rxstore::queue(&mut conn, &org_id, 200).await? {
            caller
                .audit(
                    &mut conn,
                    "prescription.review.read",
                    "patient",
                    &r.patient_id,
                    "reviewing_pharmacist",
                    Some(&org_id),
                )
                .await?;
            out.push(view(&mut conn, r, false).await?);
        }
    }
    Ok(out)
}

pub(super) async fn reviewable(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: &str,
) -> ApiResult<PrescriptionRow> {
    caller.require(Role::Pharmacist)?;
    let r = rxstore::prescription(conn, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if !pharmacist_of(conn, caller, &r.org_id).await? {
        return Err(ApiError::not_found());
    }
    if r.doctor_id == caller.account_id {
        return Err(ApiError::forbidden(
            "A prescriber does not review their own prescription.",
        ));
    }
    Ok(r)
}

/// The pharmacist approves: the drugs go on the visit's order and a
/// fulfilment (pickup by default) awaits payment.
#[tracing::instrument(skip_all, fields(prescription = %id))]
pub async fn approve(
    state: &AppState,
    caller: &Caller,
    id: &str,
    note: Option<String>,
) -> ApiResult<PrescriptionView> {
    let note = match note.as_deref().map(str::trim) {
        Some(n) if !n.is_empty() => Some(parse_text(n, "note", 1, 500)?),
        _ => None,
    };
    let mut tx = state.store.begin().await?;
    let r = reviewable(&mut tx, caller, id).await?;
    rules::rx_transition(RxStatus::parse(&r.status)?, RxAction::Approve)
        .map_err(ApiError::domain_conflict)?;
    let now = now_ms();
    if !rxstore::change_status(
        &mut tx,
        &r.id,
        "pending_review",
        "approved",
        Some(&caller.account_id),
        note.as_deref(),
        now,
    )
    .await?
    {
        return Err(ApiError::conflict(
            ErrorCode::RxChanged,
            "Someone reviewed this prescription at the same moment; reload the queue.",
        ));
    }
    let c = cstore::consultation(&mut tx, &r.consultation_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    // Drug items come into existence only here, from an approved prescription.
    let mut items: Vec<OrderItemInput> = fee_item(state, &c).into_iter().collect();
    for i in rxstore::items(&mut tx, &r.id).await? {
        items.push(OrderItemInput {
            kind: ItemKind::Drug,
            ref_id: format!("{}:{}", r.id, i.line),
            description: format!(
                "{} {} ×{}{}",
                i.generic_name, i.strength, i.quantity, i.unit
            ),
            quantity: i.quantity,
            unit_price_fen: i.unit_price_fen,
            reimburse_permille: i.reimburse_permille,
        });
    }
    let order =
        pay::open_or_extend_in(&mut tx, &state.settings.payment, visit_of(&c), &items, now).await?;
    rxstore::insert_fulfilment(&mut tx, &r.id, &order.id, &r.org_id, now).await?;
    let patient = identity::patient(&mut tx, &r.patient_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    ihos_store::outbox::put(
        &mut tx,
        "rx.approved",
        patient_recipient(&patient).as_deref(),
        &json!({"prescription_id": r.id, "order_id": order.id}),
        now,
    )
    .await?;
    caller
        .audit(
            &mut tx,
            "prescription.approve",
            "prescription",
            &r.id,
            "reviewing_pharmacist",
            Some(&r.org_id),
        )
        .await?;
    let row = rxstore::prescription(&mut tx, &r.id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let v = view(&mut tx, row, false).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(v)
}

/// The pharmacist sends the prescription back to the doctor with a reason.
#[tracing::instrument(skip_all, fields(prescription = %id))]
pub async fn reject(
    state: &AppState,
    caller: &Caller,
    id: &str,
    reason: &str,
) -> ApiResult<PrescriptionView> {
    let reason = rules::parse_reason(reason)?;
    let mut tx = state.store.begin().await?;
    let r = reviewable(&mut tx, caller, id).await?;
    rules::rx_transition(RxStatus::parse(&r.status)?, RxAction::Reject)
        .map_err(ApiError::domain_conflict)?;
    let now = now_ms();
    if !rxstore::change_status(
        &mut tx,
        &r.id,
        "pending_review",
        "rejected",
        Some(&caller.account_id),
        Some(&reason),
        now,
    )
    .await?
    {
        return Err(ApiError::conflict(
            ErrorCode::RxChanged,
            "Someone reviewed this prescription at the same moment; reload the queue.",
        ));
    }
    ihos_store::outbox::put(
        &mut tx,
        "rx.rejected",
        Some(&r.doctor_id),
        &json!({"prescription_id": r.id, "consultation_id": r.consultation_id}),
        now,
    )
    .await?;
    caller
        .audit(
            &mut tx,
            "prescription.reject",
            "prescription",
            &r.id,
            "reviewing_pharmacist",
            Some(&r.org_id),
        )
        .await?;
    let row = rxstore::prescription(&mut tx, &r.id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let v = view(&mut tx, row, false).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(v)
}
