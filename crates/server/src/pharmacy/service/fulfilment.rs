//! The patient's choice of pickup, delivery or pharmacy transfer, on the visit's order.

use super::*;

// ------------------------------------------------------------------ patient: order and fulfilment

/// The visit's order for the patient side: opened with the consultation fee
/// if there is none yet.
pub async fn consultation_order(
    state: &AppState,
    caller: &Caller,
    consultation_id: &str,
) -> ApiResult<OrderView> {
    let mut tx = state.store.begin().await?;
    let (c, side) = load_for(&mut tx, caller, consultation_id).await?;
    if side != Side::Patient {
        return Err(ApiError::forbidden("The patient side pays the visit."));
    }
    let existing = pstore::order_of_visit(&mut tx, VisitKind::Consultation.as_str(), &c.id).await?;
    let order = match existing {
        Some(o) => o,
        None => {
            if matches!(c.status.as_str(), "declined" | "cancelled" | "expired") {
                return Err(ApiError::conflict(
                    ErrorCode::PayOrderClosed,
                    "This consultation did not take place; there is nothing to pay.",
                ));
            }
            let items: Vec<OrderItemInput> = fee_item(state, &c).into_iter().collect();
            pay::open_or_extend_in(
                &mut tx,
                &state.settings.payment,
                visit_of(&c),
                &items,
                now_ms(),
            )
            .await?
        }
    };
    let v = pay::load_view(&mut tx, &order.id).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(v)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct FulfilmentInput {
    /// pickup, hospital_delivery, courier or pharmacy_transfer
    pub method: String,
    /// Delivery address (deliveries only).
    pub address: Option<String>,
}

/// The patient chooses how to get the drugs, before paying; a delivery adds
/// its fee to the visit's order.
pub async fn choose_fulfilment(
    state: &AppState,
    caller: &Caller,
    id: &str,
    input: FulfilmentInput,
) -> ApiResult<PrescriptionView> {
    let method = Method::parse(input.method.trim())?;
    let address = if method.is_delivery() {
        Some(parse_text(
            input.address.as_deref().unwrap_or_default(),
            "address",
            5,
            200,
        )?)
    } else {
        None
    };
    let mut tx = state.store.begin().await?;
    let r = rxstore::prescription(&mut tx, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let patient = identity::patient(&mut tx, &r.patient_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if patient_side(&patient, caller).is_none() {
        return Err(ApiError::not_found());
    }
    rules::check_releasable(RxStatus::parse(&r.status)?).map_err(ApiError::domain_conflict)?;
    let f = rxstore::fulfilment(&mut tx, &r.id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let now = now_ms();
    if !rxstore::choose_method(&mut tx, &r.id, method.as_str(), address.as_deref(), now).await? {
        return Err(ApiError::conflict(
            ErrorCode::RxFulfilmentFixed,
            "The order is paid; the way to get the drugs can no longer change.",
        ));
    }
    let order = pstore::order(&mut tx, &f.order_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if method.is_delivery() {
        let fee = if method == Method::Courier {
            state.settings.payment.courier_fee_fen
        } else {
            state.settings.payment.hospital_delivery_fee_fen
        };
        let desc = if method == Method::Courier {
            "第三方快递配送费"
        } else {
            "医院配送费"
        };
        pay::open_or_extend_in(
            &mut tx,
            &state.settings.payment,
            Visit {
                kind: VisitKind::parse(&order.visit_kind)
                    .ok_or_else(|| ApiError::internal("an order of an unknown visit kind"))?,
                id: &order.visit_id,
                patient_id: &order.patient_id,
                org_id: &order.org_id,
            },
            &[OrderItemInput {
                kind: ItemKind::Delivery,
                ref_id: r.id.clone(),
                description: desc.into(),
                quantity: 1,
                unit_price_fen: fee,
                reimburse_permille: 0,
            }],
            now,
        )
        .await?;
    } else {
        pay::remove_item_in(&mut tx, &order.id, ItemKind::Delivery, &r.id).await?;
    }
    rxstore::event(
        &mut tx,
        &r.id,
        "method_chosen",
        Some(method.as_str()),
        Some(&caller.account_id),
        now,
    )
    .await?;
    let row = rxstore::prescription(&mut tx, &r.id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let v = view(&mut tx, row, true).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(v)
}
