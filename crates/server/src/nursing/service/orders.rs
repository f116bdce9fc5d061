//! A home-nursing order from assessment to visit, review and cancellation.

use super::*;

// ------------------------------------------------------------------ orders

/// A patient (or guardian) orders a home visit. Refused without an assessment by the hospital.
#[tracing::instrument(skip_all)]
pub async fn order(
    state: &AppState,
    caller: &Caller,
    input: NewOrderInput,
) -> ApiResult<OrderView> {
    caller.require(Role::Patient)?;
    let policy = &state.settings.nursing;
    let address = rules::parse_address(&input.address)?;
    let start = rules::parse_local_time(&input.window_start, "window_start")?;
    let end = rules::parse_local_time(&input.window_end, "window_end")?;
    let now = now_ms();
    rules::check_window(start, end, now, policy)?;
    let note = optional_text(input.note.as_deref(), "note", 500)?;
    let mut tx = state.store.begin().await?;
    let (patient, ground) = patient_for(&mut tx, caller, input.patient_id.as_deref()).await?;
    let service = store::service(&mut tx, &input.service_id)
        .await?
        .filter(|s| s.active == 1)
        .ok_or_else(|| {
            ApiError::from(
                DomainError::new(
                    ErrorCode::NoSuchService,
                    "There is no such nursing service.",
                )
                .on("service_id"),
            )
        })?;
    let found = store::find_assessment(
        &mut tx,
        &patient.id,
        &service.org_id,
        now - policy.assessment_days * DAY_MS,
        now,
    )
    .await?;
    let (kind, reference) = rules::require_assessment(found, policy)?;
    let id = store::insert_order(
        &mut tx,
        &NewOrder {
            service_id: service.id.clone(),
            org_id: service.org_id.clone(),
            patient_id: patient.id.clone(),
            ordered_by: caller.account_id.clone(),
            status: Status::AwaitingPayment.as_str().into(),
            fee_fen: service.fee_fen,
            address_enc: state.vault.encrypt(&address),
            address_masked: rules::mask_address(&address),
            window_start: start,
            window_end: end,
            patient_note: note,
            assessment_kind: kind,
            assessment_ref: reference,
        },
        now,
    )
    .await?;
    let row = load(&mut tx, &id).await?;
    record_step(
        &mut tx,
        Some(caller),
        &row,
        "ordered",
        Some(&format!(
            "{} · ¥{:.2}",
            row.service_name,
            row.fee_fen as f64 / 100.0
        )),
        ground,
        now,
    )
    .await?;
    crate::audit::record(
        &mut tx,
        Some(caller),
        "nursing.order",
        "patient",
        &patient.id,
        ground,
        Some(&row.org_id),
    )
    .await?;
    // One payment order per visit: the fee goes on the visit's order, which
    // the patient pays once; the payment module calls `mark_paid_in`.
    if row.fee_fen > 0 {
        crate::payment::service::open_or_extend_in(
            &mut tx,
            &state.settings.payment,
            crate::payment::service::Visit {
                kind: VisitKind::Nursing,
                id: &id,
                patient_id: &row.patient_id,
                org_id: &row.org_id,
            },
            &[crate::payment::service::OrderItemInput {
                kind: ihos_domain::payment::ItemKind::NursingService,
                ref_id: row.service_id.clone(),
                description: row.service_name.clone(),
                quantity: 1,
                unit_price_fen: row.fee_fen,
                // Home nursing is self-paid unless a region's insurance covers it.
                reimburse_permille: 0,
            }],
            now,
        )
        .await?;
    }
    let row = if row.fee_fen == 0 {
        paid_in(&mut tx, &row, now).await?;
        load(&mut tx, &id).await?
    } else {
        row
    };
    let view = view_for(state, &mut tx, &row, Side::Patient, caller).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(view)
}

/// What `mark_paid` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paid {
    /// The order moved from awaiting payment to paid now.
    Now,
    /// It was paid before (a repeated notification): nothing changed.
    Already,
}

pub(super) async fn paid_in(conn: &mut AnyConnection, row: &OrderRow, now: i64) -> ApiResult<()> {
    let (from, to) = transition(&row.status, Action::Pay)?;
    let ch = OrderChange {
        paid: true,
        ..Default::default()
    };
    if !store::change_status(conn, &row.id, from.as_str(), to.as_str(), now, &ch).await? {
        return Err(raced());
    }
    record_step(conn, None, row, "paid", None, "payment", now).await?;
    notify_admins(conn, "nursing.paid", row, json!({}), now).await
}

/// THE PAYMENT SEAM. The payment module calls this, inside its own
/// transaction, when the order for (visit_kind 'nursing', visit_id =
/// `order_id`) is paid. Idempotent: a repeated call answers `Paid::Already`.
/// A cancelled order answers `order_cancelled` (the payment is to be refunded).
pub async fn mark_paid_in(conn: &mut AnyConnection, order_id: &str, now: i64) -> ApiResult<Paid> {
    let row = load(conn, order_id).await?;
    if row.status != Status::AwaitingPayment.as_str() {
        if row.paid_at.is_some() {
            return Ok(Paid::Already);
        }
        return Err(ApiError::conflict(
            ErrorCode::OrderCancelled,
            "This nursing order was cancelled before it was paid; refund the payment.",
        ));
    }
    paid_in(conn, &row, now).await?;
    Ok(Paid::Now)
}

/// `mark_paid_in` in a transaction of its own.
pub async fn mark_paid(state: &AppState, order_id: &str) -> ApiResult<Paid> {
    let mut tx = state.store.begin().await?;
    let out = mark_paid_in(&mut tx, order_id, now_ms()).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(out)
}

/// The hospital assigns a qualified nurse (or a qualified nurse takes the order).
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn assign(
    state: &AppState,
    caller: &Caller,
    id: &str,
    input: AssignInput,
) -> ApiResult<OrderView> {
    let mut tx = state.store.begin().await?;
    let row = load(&mut tx, id).await?;
    let self_claim = input.nurse_id == caller.account_id && caller.has(Role::Nurse);
    if !caller.may_admin_org(&row.org_id) && !self_claim {
        return Err(ApiError::not_found());
    }
    let (from, to) = transition(&row.status, Action::Assign)?;
    let nurse = nurse_at(&mut tx, &input.nurse_id, &row.org_id).await?;
    let quals = store::qualifications(&mut tx, &nurse.account_id, &row.org_id).await?;
    let min_years = row.min_years.max(state.settings.nursing.min_nurse_years);
    rules::check_nurse(
        Role::parse(&nurse.role)?,
        parse_date(&nurse.practising_since, "practising_since").map_err(ApiError::stored)?,
        today_in_shanghai(),
        &quals,
        min_years,
        row.required_qualification.as_deref(),
    )?;
    let now = now_ms();
    let ch = OrderChange {
        nurse: Some(Some(&nurse.account_id)),
        assigned_by: Some(&caller.account_id),
        ..Default::default()
    };
    if !store::change_status(&mut tx, id, from.as_str(), to.as_str(), now, &ch).await? {
        return Err(raced());
    }
    let ground = if self_claim {
        "nurse_claim"
    } else {
        "org_admin"
    };
    record_step(
        &mut tx,
        Some(caller),
        &row,
        "assigned",
        Some(&nurse.name),
        ground,
        now,
    )
    .await?;
    notify(
        &mut tx,
        "nursing.assigned",
        Some(&nurse.account_id),
        &row,
        now,
    )
    .await?;
    let row = load(&mut tx, id).await?;
    let side = side_of(&row, caller).unwrap_or(Side::Hospital);
    let view = view_for(state, &mut tx, &row, side, caller).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(view)
}

/// A step the assigned nurse takes.
pub(super) async fn nurse_step(
    state: &AppState,
    caller: &Caller,
    id: &str,
    action: Action,
    ch: OrderChange<'_>,
    detail: Option<String>,
) -> ApiResult<OrderView> {
    let mut tx = state.store.begin().await?;
    let (row, side) = load_for(&mut tx, caller, id).await?;
    if side != Side::Nurse {
        return Err(ApiError::not_found());
    }
    let (from, to) = transition(&row.status, action)?;
    let now = now_ms();
    let ch = OrderChange {
        require_nurse: Some(&caller.account_id),
        ..ch
    };
    if !store::change_status(&mut tx, id, from.as_str(), to.as_str(), now, &ch).await? {
        return Err(raced());
    }
    let (name, topic) = match action {
        Action::Accept => ("accepted", "nursing.accepted"),
        Action::Decline => ("declined", "nursing.declined"),
        Action::CheckIn => ("checked_in", "nursing.checked_in"),
        _ => ("checked_out", "nursing.completed"),
    };
    if action == Action::Accept {
        // The nurse may read what they need of the patient's record until a week after the visit.
        identity::insert_care_relationship(
            &mut tx,
            &row.patient_id,
            &caller.account_id,
            &row.org_id,
            "nursing",
            now,
            row.window_end + 7 * DAY_MS,
        )
        .await?;
    }
    record_step(
        &mut tx,
        Some(caller),
        &row,
        name,
        detail.as_deref(),
        "assigned_nurse",
        now,
    )
    .await?;
    if action == Action::Decline {
        notify_admins(&mut tx, topic, &row, json!({}), now).await?;
    } else {
        notify(&mut tx, topic, patient_recipient(&row), &row, now).await?;
    }
    let row = load(&mut tx, id).await?;
    let side = side_of(&row, caller).unwrap_or(Side::Hospital);
    let view = view_for(state, &mut tx, &row, side, caller).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(view)
}

pub async fn accept(state: &AppState, caller: &Caller, id: &str) -> ApiResult<OrderView> {
    let ch = OrderChange {
        accepted: true,
        ..Default::default()
    };
    nurse_step(state, caller, id, Action::Accept, ch, None).await
}

pub async fn decline(
    state: &AppState,
    caller: &Caller,
    id: &str,
    input: ReasonInput,
) -> ApiResult<OrderView> {
    let reason = optional_text(input.reason.as_deref(), "reason", 500)?;
    let ch = OrderChange {
        nurse: Some(None),
        ..Default::default()
    };
    nurse_step(state, caller, id, Action::Decline, ch, reason).await
}

pub async fn check_in(
    state: &AppState,
    caller: &Caller,
    id: &str,
    input: LocationInput,
) -> ApiResult<OrderView> {
    let loc = Location::parse(input.lat, input.lng)?;
    let ch = OrderChange {
        check_in: Some((loc.lat_e6, loc.lng_e6)),
        ..Default::default()
    };
    let detail = format!("{:.6},{:.6}", input.lat, input.lng);
    nurse_step(state, caller, id, Action::CheckIn, ch, Some(detail)).await
}

pub async fn check_out(
    state: &AppState,
    caller: &Caller,
    id: &str,
    input: CheckOutInput,
) -> ApiResult<OrderView> {
    let loc = Location::parse(input.lat, input.lng)?;
    let record = rules::parse_record(&input.record)?;
    let vitals = optional_text(input.vitals.as_deref(), "vitals", 500)?;
    let ch = OrderChange {
        check_out: Some((loc.lat_e6, loc.lng_e6)),
        record_text: Some(&record),
        record_vitals: vitals.as_deref(),
        ..Default::default()
    };
    let detail = format!("{:.6},{:.6}", input.lat, input.lng);
    nurse_step(state, caller, id, Action::CheckOut, ch, Some(detail)).await
}

/// The patient side cancels before the visit starts; a paid order is refunded.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn cancel(
    state: &AppState,
    caller: &Caller,
    id: &str,
    input: ReasonInput,
) -> ApiResult<OrderView> {
    let reason = optional_text(input.reason.as_deref(), "reason", 500)?
        .unwrap_or_else(|| "patient_cancelled".into());
    let mut tx = state.store.begin().await?;
    let (row, side) = load_for(&mut tx, caller, id).await?;
    if side != Side::Patient {
        return Err(ApiError::not_found());
    }
    let (from, to) = transition(&row.status, Action::Cancel)?;
    let now = now_ms();
    let ch = OrderChange {
        cancel_reason: Some(&reason),
        ..Default::default()
    };
    if !store::change_status(&mut tx, id, from.as_str(), to.as_str(), now, &ch).await? {
        return Err(raced());
    }
    let ground = read_ground(&mut tx, &row, side, caller).await?;
    record_step(
        &mut tx,
        Some(caller),
        &row,
        "cancelled",
        Some(&reason),
        ground,
        now,
    )
    .await?;
    let refund = crate::payment::service::withdraw_visit_in(
        state,
        &mut tx,
        VisitKind::Nursing,
        id,
        &reason,
        now,
    )
    .await?;
    if let Some(r) = &refund {
        ihos_store::outbox::put(
            &mut tx,
            "payment.refund",
            patient_recipient(&row),
            &json!({"visit_kind": "nursing", "visit_id": id, "amount_fen": r.amount_fen}),
            now,
        )
        .await?;
    }
    if let Some(n) = &row.nurse_id {
        notify(&mut tx, "nursing.cancelled", Some(n), &row, now).await?;
    }
    let row = load(&mut tx, id).await?;
    let view = view_for(state, &mut tx, &row, side, caller).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    if let Some(r) = refund {
        crate::payment::service::finish_refund(state, r).await;
    }
    Ok(view)
}

/// The nurse raises a safety alert during the visit; the hospital's admins are notified.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn safety_alert(
    state: &AppState,
    caller: &Caller,
    id: &str,
    input: SafetyInput,
) -> ApiResult<SafetyAlertView> {
    let kind = rules::parse_safety_kind(&input.kind)?;
    let note = optional_text(Some(&input.note), "note", 1000)?.ok_or_else(|| {
        ApiError::from(
            DomainError::new(
                ErrorCode::InvalidNote,
                "Say what is happening (1-1000 characters).",
            )
            .on("note"),
        )
    })?;
    let loc = match (input.lat, input.lng) {
        (Some(lat), Some(lng)) => {
            let l = Location::parse(lat, lng)?;
            Some((l.lat_e6, l.lng_e6))
        }
        _ => None,
    };
    let mut tx = state.store.begin().await?;
    let (row, side) = load_for(&mut tx, caller, id).await?;
    if side != Side::Nurse {
        return Err(ApiError::not_found());
    }
    if !matches!(row.status.as_str(), "accepted" | "in_visit") {
        return Err(ApiError::conflict(
            ErrorCode::NotInVisit,
            "Safety alerts are raised for a visit you accepted or are at.",
        ));
    }
    let now = now_ms();
    let alert_id =
        store::insert_safety_alert(&mut tx, id, &caller.account_id, kind, &note, loc, now).await?;
    record_step(
        &mut tx,
        Some(caller),
        &row,
        "safety_alert",
        Some(kind),
        "assigned_nurse",
        now,
    )
    .await?;
    notify_admins(
        &mut tx,
        "nursing.safety_alert",
        &row,
        json!({"alert_id": alert_id, "kind": kind, "nurse_id": caller.account_id}),
        now,
    )
    .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(SafetyAlertView {
        id: alert_id,
        kind: kind.into(),
        note,
        created_at: now,
    })
}

/// The patient served (or their guardian) reviews a completed visit, once.
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn review(
    state: &AppState,
    caller: &Caller,
    id: &str,
    input: ReviewInput,
) -> ApiResult<NursingReviewView> {
    let text = optional_text(input.text.as_deref(), "text", 500)?;
    let mut tx = state.store.begin().await?;
    let (row, side) = load_for(&mut tx, caller, id).await?;
    if side != Side::Patient {
        return Err(ApiError::not_found());
    }
    rules::check_review(Status::parse(&row.status)?, input.rating).map_err(|e| {
        let mut err = ApiError::from(e);
        if err.code == ErrorCode::NotReviewable {
            err.status = StatusCode::CONFLICT;
        }
        err
    })?;
    let nurse = row.nurse_id.clone().ok_or_else(ApiError::not_found)?;
    let now = now_ms();
    store::insert_review(
        &mut tx,
        id,
        &nurse,
        &caller.account_id,
        input.rating,
        text.as_deref(),
        now,
    )
    .await
    .map_err(|e| match e {
        StoreError::Duplicate { .. } => ApiError::conflict(
            ErrorCode::NursingAlreadyReviewed,
            "This visit has already been reviewed.",
        ),
        other => other.into(),
    })?;
    let ground = read_ground(&mut tx, &row, side, caller).await?;
    record_step(
        &mut tx,
        Some(caller),
        &row,
        "reviewed",
        Some(&format!("{}★", input.rating)),
        ground,
        now,
    )
    .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(NursingReviewView {
        rating: input.rating,
        text,
        created_at: now,
    })
}
