//! Dispensing once at the window or a pharmacy, and tracking the delivery.

use super::*;

// ------------------------------------------------------------------ dispensing

/// Where the caller may dispense this fulfilment: the hospital window for
/// pickups, any pharmacy for transfers.
pub(super) async fn dispensing_org(
    conn: &mut AnyConnection,
    caller: &Caller,
    f: &FulfilmentRow,
) -> ApiResult<Option<String>> {
    let orgs = pharmacist_orgs(conn, caller).await?;
    let method = Method::parse(&f.method)?;
    Ok(match method {
        Method::PharmacyTransfer => orgs
            .into_iter()
            .find(|(_, k)| *k == OrgKind::Pharmacy)
            .map(|(id, _)| id),
        _ => orgs
            .into_iter()
            .find(|(id, _)| *id == f.org_id)
            .map(|(id, _)| id),
    })
}

/// A pharmacy (or the hospital window) sees the prescription behind a code.
pub async fn lookup(state: &AppState, caller: &Caller, code: &str) -> ApiResult<PrescriptionView> {
    let code = code.trim().to_ascii_uppercase();
    let mut conn = state.store.conn().await?;
    caller.require(Role::Pharmacist)?;
    let f = rxstore::fulfilment_by_code(&mut conn, &code)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let Some(org_id) = dispensing_org(&mut conn, caller, &f).await? else {
        return Err(ApiError::not_found());
    };
    let r = rxstore::prescription(&mut conn, &f.prescription_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    caller
        .audit(
            &mut conn,
            "prescription.dispense.read",
            "prescription",
            &r.id,
            "dispensing_pharmacist",
            Some(&org_id),
        )
        .await?;
    view(&mut conn, r, false).await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct DispenseInput {
    /// The pickup or verification code the patient shows.
    pub code: String,
}

/// Dispense exactly once: of concurrent attempts (even at two pharmacies)
/// one wins, the others get `rx_already_dispensed`.
#[tracing::instrument(skip_all, fields(prescription = %id))]
pub async fn dispense(
    state: &AppState,
    caller: &Caller,
    id: &str,
    input: DispenseInput,
) -> ApiResult<PrescriptionView> {
    caller.require(Role::Pharmacist)?;
    let code = input.code.trim().to_ascii_uppercase();
    // Checks read outside the write transaction, so the write below is the
    // transaction's first statement (on SQLite it takes the write lock at
    // once instead of failing to upgrade a read lock under contention).
    let mut conn = state.store.conn().await?;
    let r = rxstore::prescription(&mut conn, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let Some(f) = rxstore::fulfilment(&mut conn, &r.id).await? else {
        // No fulfilment exists before approval: nothing to dispense.
        rules::check_releasable(RxStatus::parse(&r.status)?).map_err(ApiError::domain_conflict)?;
        return Err(ApiError::not_found());
    };
    let Some(org_id) = dispensing_org(&mut conn, caller, &f).await? else {
        return Err(ApiError::not_found());
    };
    rules::check_dispensable(
        Method::parse(&f.method)?,
        FulfilmentStatus::parse(&f.status)?,
    )
    .map_err(ApiError::domain_conflict)?;
    if f.code.as_deref() != Some(code.as_str()) {
        return Err(ApiError::from(
            DomainError::new(
                ErrorCode::RxBadCode,
                "The code does not match this prescription.",
            )
            .on("code"),
        ));
    }
    let patient = identity::patient(&mut conn, &r.patient_id).await?;
    drop(conn);
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    // The one atomic conditional write that decides who dispenses.
    if !rxstore::dispense(&mut tx, &r.id, &org_id, &caller.account_id, now).await? {
        return Err(ApiError::conflict(
            ErrorCode::RxAlreadyDispensed,
            "These drugs were already dispensed (perhaps at another pharmacy just now).",
        ));
    }
    rxstore::event(
        &mut tx,
        &r.id,
        "dispensed",
        None,
        Some(&caller.account_id),
        now,
    )
    .await?;
    ihos_store::outbox::put(
        &mut tx,
        "rx.dispensed",
        patient.as_ref().and_then(patient_recipient).as_deref(),
        &json!({"prescription_id": r.id, "org_id": org_id}),
        now,
    )
    .await?;
    caller
        .audit(
            &mut tx,
            "prescription.dispense",
            "prescription",
            &r.id,
            "dispensing_pharmacist",
            Some(&org_id),
        )
        .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    let mut conn = state.store.conn().await?;
    let row = rxstore::prescription(&mut conn, &r.id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    view(&mut conn, row, false).await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TrackInput {
    /// shipped, in_transit or delivered
    pub status: String,
    pub courier: Option<String>,
    pub tracking_no: Option<String>,
}

/// The hospital pharmacy moves a delivery along its tracking states.
pub async fn track(
    state: &AppState,
    caller: &Caller,
    id: &str,
    input: TrackInput,
) -> ApiResult<PrescriptionView> {
    caller.require(Role::Pharmacist)?;
    let to = FulfilmentStatus::parse(input.status.trim())?;
    let courier = match input.courier.as_deref().map(str::trim) {
        Some(c) if !c.is_empty() => Some(parse_text(c, "courier", 1, 40)?),
        _ => None,
    };
    let tracking_no = match input.tracking_no.as_deref().map(str::trim) {
        Some(c) if !c.is_empty() => Some(parse_text(c, "tracking_no", 4, 40)?),
        _ => None,
    };
    let mut tx = state.store.begin().await?;
    let r = rxstore::prescription(&mut tx, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if !pharmacist_of(&mut tx, caller, &r.org_id).await? {
        return Err(ApiError::not_found());
    }
    let Some(f) = rxstore::fulfilment(&mut tx, &r.id).await? else {
        rules::check_releasable(RxStatus::parse(&r.status)?).map_err(ApiError::domain_conflict)?;
        return Err(ApiError::not_found());
    };
    let method = Method::parse(&f.method)?;
    let from = FulfilmentStatus::parse(&f.status)?;
    rules::delivery_step(method, from, to).map_err(ApiError::domain_conflict)?;
    if to == FulfilmentStatus::Shipped && method == Method::Courier && tracking_no.is_none() {
        return Err(ApiError::from(
            DomainError::new(
                ErrorCode::RxTrackingRequired,
                "A courier shipment needs its tracking number.",
            )
            .on("tracking_no"),
        ));
    }
    let now = now_ms();
    if !rxstore::track(
        &mut tx,
        &r.id,
        from.as_str(),
        to.as_str(),
        courier.as_deref(),
        tracking_no.as_deref(),
        &caller.account_id,
        now,
    )
    .await?
    {
        return Err(ApiError::conflict(
            ErrorCode::RxChanged,
            "Someone changed this delivery at the same moment; reload it.",
        ));
    }
    let note = [courier.as_deref(), tracking_no.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    rxstore::event(
        &mut tx,
        &r.id,
        to.as_str(),
        (!note.is_empty()).then_some(note.as_str()),
        Some(&caller.account_id),
        now,
    )
    .await?;
    let patient = identity::patient(&mut tx, &r.patient_id).await?;
    ihos_store::outbox::put(
        &mut tx,
        "rx.tracking",
        patient.as_ref().and_then(patient_recipient).as_deref(),
        &json!({"prescription_id": r.id, "status": to.as_str()}),
        now,
    )
    .await?;
    let row = rxstore::prescription(&mut tx, &r.id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let v = view(&mut tx, row, false).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(v)
}

/// The catalogue for prescribing screens.
#[derive(Debug, Serialize, ToSchema)]
pub struct DrugView {
    pub code: String,
    pub generic_name: String,
    pub form: String,
    pub strength: String,
    pub unit: String,
    pub price_fen: i64,
    pub price: String,
    pub insurance: String,
    pub reimburse_permille: i64,
    pub control: String,
    /// false for narcotic, psychotropic and other specially controlled drugs
    pub online_allowed: bool,
}

pub fn drugs(state: &AppState, q: Option<&str>) -> Vec<DrugView> {
    let q = q.map(str::trim).filter(|q| !q.is_empty());
    state
        .drugs
        .all()
        .iter()
        .filter(|d| q.is_none_or(|q| d.generic_name.contains(q) || d.code.eq_ignore_ascii_case(q)))
        .map(|d| DrugView {
            code: d.code.clone(),
            generic_name: d.generic_name.clone(),
            form: d.form.clone(),
            strength: d.strength.clone(),
            unit: d.unit.clone(),
            price_fen: d.price_fen,
            price: yuan(d.price_fen),
            insurance: d.insurance.as_str().into(),
            reimburse_permille: d.reimburse_permille,
            control: d.control.as_str().into(),
            online_allowed: d.control.allowed_online(),
        })
        .collect()
}
