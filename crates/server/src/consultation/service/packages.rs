//! Service packages (family-doctor / private-doctor) and subscriptions.

use super::*;

/// A doctor offers a family-doctor service package.
pub async fn create_package(
    state: &AppState,
    caller: &Caller,
    input: NewPackageInput,
) -> ApiResult<PackageView> {
    caller.require(Role::Doctor)?;
    let name = parse_text(&input.name, "name", 60)?;
    let bad = |f: &'static str, m: &str| {
        ApiError::from(DomainError::new(ErrorCode::InvalidField, m).on(f))
    };
    if !(1..=366).contains(&input.period_days) {
        return Err(bad("period_days", "A package lasts 1 to 366 days."));
    }
    if !(1..=1000).contains(&input.consultations) {
        return Err(bad(
            "consultations",
            "A package holds 1 to 1000 consultations.",
        ));
    }
    if !(0..=100_000_000).contains(&input.price_fen) {
        return Err(bad(
            "price_fen",
            "The price is in fen, 0 to 1,000,000 yuan.",
        ));
    }
    let mut tx = state.store.begin().await?;
    let doc = eligible_doctor(&mut tx, &caller.account_id).await?;
    let aff = identity::affiliations_of(&mut tx, &doc.account_id).await?;
    let org_id = aff
        .first()
        .map(|a| a.org_id.clone())
        .ok_or_else(ApiError::not_found)?;
    let p = PackageRow {
        id: new_id(),
        doctor_id: doc.account_id,
        org_id,
        name,
        period_days: input.period_days,
        consultations: input.consultations,
        price_fen: input.price_fen,
        active: 1,
        created_at: now_ms(),
    };
    cstore::insert_package(&mut tx, &p).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(package_view(p))
}

pub async fn doctor_packages(state: &AppState, doctor_id: &str) -> ApiResult<Vec<PackageView>> {
    let mut conn = state.store.conn().await?;
    Ok(cstore::packages_of_doctor(&mut conn, doctor_id)
        .await?
        .into_iter()
        .map(package_view)
        .collect())
}

/// A patient (or guardian) subscribes to a package for its period.
pub async fn subscribe(
    state: &AppState,
    caller: &Caller,
    package_id: &str,
    input: SubscribeInput,
) -> ApiResult<SubscriptionView> {
    caller.require(Role::Patient)?;
    let mut tx = state.store.begin().await?;
    let p = cstore::package(&mut tx, package_id)
        .await?
        .filter(|p| p.active == 1)
        .ok_or_else(ApiError::not_found)?;
    let (patient, _) = patient_for(&mut tx, caller, input.patient_id.as_deref()).await?;
    let now = now_ms();
    let s = SubscriptionRow {
        id: new_id(),
        package_id: p.id.clone(),
        patient_id: patient.id.clone(),
        account_id: caller.account_id.clone(),
        doctor_id: p.doctor_id.clone(),
        starts_at: now,
        ends_at: now + p.period_days * DAY_MS,
        remaining: p.consultations,
        created_at: now,
    };
    cstore::insert_subscription(&mut tx, &s).await?;
    if p.price_fen > 0 {
        ihos_store::outbox::put(
            &mut tx,
            "payment.charge",
            Some(&caller.account_id),
            &json!({"subscription_id": s.id, "amount_fen": p.price_fen}),
            now,
        )
        .await?;
    }
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(subscription_view(s))
}

pub async fn subscription(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> ApiResult<SubscriptionView> {
    let mut conn = state.store.conn().await?;
    let s = cstore::subscription(&mut conn, id)
        .await?
        .filter(|s| s.account_id == caller.account_id || s.doctor_id == caller.account_id)
        .ok_or_else(ApiError::not_found)?;
    Ok(subscription_view(s))
}
