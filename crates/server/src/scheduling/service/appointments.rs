//! The patient's appointments, cancellation and attendance.

use super::*;

/// Appointments of the caller and the children in their care; the read of
/// each patient's appointments is audited once.
pub async fn my_appointments(state: &AppState, caller: &Caller) -> ApiResult<Vec<AppointmentView>> {
    let mut c = state.store.conn().await?;
    let rows = store::appointments_for_account(&mut c, &caller.account_id).await?;
    let mut seen: Vec<&str> = Vec::new();
    for a in &rows {
        if !seen.contains(&a.patient_id.as_str()) {
            seen.push(&a.patient_id);
            caller
                .audit(
                    &mut c,
                    "appointment.read",
                    "patient",
                    &a.patient_id,
                    own_ground(caller, a),
                    None,
                )
                .await?;
        }
    }
    Ok(rows.iter().map(appointment_view).collect())
}

/// One appointment with, on the day, its queue position and estimated wait.
pub async fn appointment(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> ApiResult<AppointmentView> {
    let mut c = state.store.conn().await?;
    let a = store::appointment(&mut c, id)
        .await?
        .filter(|a| is_own(caller, a))
        .ok_or_else(ApiError::not_found)?;
    caller
        .audit(
            &mut c,
            "appointment.read",
            "patient",
            &a.patient_id,
            own_ground(caller, &a),
            Some(&a.org_id),
        )
        .await?;
    let mut view = appointment_view(&a);
    let now = now_ms();
    if a.status == "booked" && a.service_date == local_date(now).format("%Y-%m-%d").to_string() {
        let pos = store::queue_position(&mut c, &a).await?;
        view.queue_position = Some(pos);
        view.estimated_wait_minutes = Some(rules::estimated_wait_minutes(
            now,
            a.starts_at,
            a.slot_minutes,
            a.capacity,
            store::position_in_slot(&mut c, &a).await?,
        ));
    }
    Ok(view)
}

/// Cancel: before the cut-off the fee is refunded in full; after it the
/// cancellation counts as late (partial or no refund). The seat goes back.
pub async fn cancel(state: &AppState, caller: &Caller, id: &str) -> ApiResult<AppointmentView> {
    let now = now_ms();
    let policy = state.settings.scheduling;
    let mut tx = state.store.begin().await?;
    let a = store::appointment(&mut tx, id)
        .await?
        .filter(|a| is_own(caller, a))
        .ok_or_else(ApiError::not_found)?;
    if a.status != "booked" {
        return Err(ApiError::conflict(
            ErrorCode::NotCancellable,
            "This appointment is no longer booked.",
        ));
    }
    let (status, refund) = policy
        .cancellation(now, a.starts_at, a.fee_fen)
        .map_err(ApiError::domain_conflict)?;
    if !store::close_appointment(&mut tx, id, status.as_str(), refund, now).await? {
        return Err(ApiError::conflict(
            ErrorCode::NotCancellable,
            "This appointment is no longer booked.",
        ));
    }
    store::give_back_seat(&mut tx, &a.slot_id).await?;
    store::uncount_day_booking(&mut tx, &a.patient_id, &a.service_date).await?;
    let payload = json!({
        "appointment_id": a.id, "code": a.code, "status": status.as_str(), "refund_fen": refund,
        "doctor_name": a.doctor_name, "date": a.service_date, "start": local_hhmm(a.starts_at),
    });
    ihos_store::outbox::put_json(
        &mut tx,
        "appointment.cancelled",
        Some(&caller.account_id),
        &payload.to_string(),
        now,
    )
    .await?;
    caller
        .audit(
            &mut tx,
            "appointment.cancel",
            "patient",
            &a.patient_id,
            "self",
            Some(&a.org_id),
        )
        .await?;
    let a = store::appointment(&mut tx, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    tx.commit().await.map_err(ApiError::internal)?;
    super::super::runtime::booking(state).gate.clear(&a.slot_id);
    Ok(appointment_view(&a))
}

/// The doctor (or the org's admin) records whether the patient came.
pub async fn attendance(
    state: &AppState,
    caller: &Caller,
    id: &str,
    input: AttendanceInput,
) -> ApiResult<AppointmentView> {
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let a = store::appointment(&mut tx, id)
        .await?
        .filter(|a| a.doctor_id == caller.account_id || caller.may_admin_org(&a.org_id))
        .ok_or_else(ApiError::not_found)?;
    if now < a.starts_at {
        return Err(ApiError::conflict(
            ErrorCode::NotStarted,
            "Attendance is recorded once the slot has started.",
        ));
    }
    let status = if input.attended {
        AppointmentStatus::Attended
    } else {
        AppointmentStatus::NoShow
    };
    if !store::close_appointment(&mut tx, id, status.as_str(), 0, now).await? {
        return Err(ApiError::conflict(
            ErrorCode::NotCancellable,
            "This appointment is no longer booked.",
        ));
    }
    caller
        .audit(
            &mut tx,
            "appointment.attendance",
            "patient",
            &a.patient_id,
            "treating",
            Some(&a.org_id),
        )
        .await?;
    let a = store::appointment(&mut tx, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(appointment_view(&a))
}
