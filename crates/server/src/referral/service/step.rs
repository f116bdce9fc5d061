//! Moving a referral along its closed loop.

use super::*;

/// One step of the loop by the party whose turn it is.
pub async fn step(
    state: &AppState,
    caller: &Caller,
    id: &str,
    action: Action,
    input: StepInput,
) -> ApiResult<ReferralView> {
    let now = now_ms();
    let mut c = state.store.conn().await?;
    let r = store::referral(&mut c, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    // Not a party of this referral looks like no such referral.
    let party = party_of(&mut c, caller, &r)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let from = Status::parse(&r.status).map_err(ApiError::internal)?;
    let to = transition(from, action).map_err(ApiError::domain_conflict)?;
    let direction = Direction::parse(&r.direction).map_err(ApiError::internal)?;
    rules::authorise(action, direction, party)
        .map_err(|e| ApiError::from(e).with_status(StatusCode::FORBIDDEN))?;

    let mut change = Change::default();
    let note: Option<String>;
    let mut slot = None;
    let mut exam_slot = None;
    match action {
        Action::Accept => {
            change.to_doctor_id = Some(&caller.account_id);
            note = opt(&input.note)
                .map(|n| parse_text(n, "note", 1000))
                .transpose()
                .map_err(ApiError::from)?;
            if r.kind == "exam" {
                let exam = ExamType::parse(r.exam_type.as_deref().unwrap_or(""))
                    .map_err(ApiError::internal)?;
                rules::may_order(
                    exam,
                    store::has_privilege(&mut c, &caller.account_id, exam.as_str()).await?,
                )
                .map_err(|e| ApiError::from(e).with_status(StatusCode::FORBIDDEN))?;
                let sid = opt(&input.exam_slot_id).ok_or_else(|| {
                    ApiError::from(
                        DomainError::new(
                            ErrorCode::RefExamSlotRequired,
                            "Choose the exam slot to book for the patient.",
                        )
                        .on("exam_slot_id"),
                    )
                })?;
                let s =
                    store::exam_slot(&mut c, sid)
                        .await?
                        .filter(|s| s.org_id == r.to_org_id && s.exam_type == exam.as_str())
                        .ok_or_else(|| {
                            ApiError::from(DomainError::new(
                            ErrorCode::RefUnknownExamSlot,
                            "That exam slot is not one of this hospital's slots for this exam.",
                        )
                        .on("exam_slot_id"))
                        })?;
                exam_slot = Some(s);
            } else if let Some(sid) = opt(&input.slot_id) {
                let s = scheduling::slot(&mut c, sid)
                    .await?
                    .filter(|s| s.org_id == r.to_org_id && s.status == "open")
                    .ok_or_else(|| {
                        ApiError::from(
                            DomainError::new(
                                ErrorCode::RefUnknownSlot,
                                "That slot is not an open slot of the receiving hospital.",
                            )
                            .on("slot_id"),
                        )
                    })?;
                slot = Some(s);
            }
        }
        Action::Decline | Action::Cancel => {
            note = Some(
                parse_text(input.reason.as_deref().unwrap_or(""), "reason", 500)
                    .map_err(ApiError::from)?,
            );
        }
        Action::ReturnResults => {
            note = None;
        }
        Action::ReferDown => {
            note = None;
        }
        Action::MarkSeen | Action::Close => {
            note = opt(&input.note)
                .map(|n| parse_text(n, "note", 1000))
                .transpose()
                .map_err(ApiError::from)?;
        }
    }
    let results = match action {
        Action::ReturnResults => Some(
            parse_text(input.results.as_deref().unwrap_or(""), "results", 4000)
                .map_err(ApiError::from)?,
        ),
        _ => None,
    };
    let plan = match action {
        Action::ReferDown => Some(
            parse_text(
                input.follow_up_plan.as_deref().unwrap_or(""),
                "follow_up_plan",
                4000,
            )
            .map_err(ApiError::from)?,
        ),
        _ => None,
    };
    if action == Action::Decline {
        change.decline_reason = note.as_deref();
    }
    change.results = results.as_deref();
    change.follow_up_plan = plan.as_deref();
    change.closed = to.is_terminal();
    if let Some(s) = &exam_slot {
        change.exam_slot_id = Some(&s.id);
        change.exam_starts_at = Some(s.starts_at);
    }
    drop(c);

    let appointment_code = crate::referral::booking_code();
    let mut tx = state.store.begin().await?;
    // The first statement writes: the conditional status change.
    let due = state.settings.referral.deadlines.due_at(to, now);
    if !store::change_status(
        &mut tx,
        &r.id,
        from.as_str(),
        to.as_str(),
        due,
        &change,
        now,
    )
    .await?
    {
        return Err(ApiError::conflict(
            ErrorCode::RefIllegalTransition,
            "This referral changed meanwhile; reload it to see its state.",
        ));
    }
    if let Some(s) = &exam_slot
        && !store::take_exam_seat(&mut tx, &s.id, now).await?
    {
        return Err(ApiError::conflict(
            ErrorCode::RefExamSlotFull,
            "This exam slot is fully booked; choose another time.",
        ));
    }
    let mut appointment_id = None;
    if let Some(s) = &slot {
        if !scheduling::take_seat(&mut tx, &s.id, now).await? {
            return Err(crate::scheduling::service::slot_unavailable());
        }
        let aid = scheduling::insert_appointment(
            &mut tx,
            &scheduling::NewAppointment {
                slot: s,
                patient_id: &r.patient_id,
                booked_by: &caller.account_id,
                code: &appointment_code,
            },
            now,
        )
        .await?
        .ok_or_else(|| {
            ApiError::conflict(
                ErrorCode::DoubleBooking,
                "The patient already has a booking at this time; choose another slot.",
            )
        })?;
        sqlx_set_appointment(&mut tx, &r.id, &aid).await?;
        appointment_id = Some(aid);
    }
    if action == Action::Cancel {
        if let Some(s) = &r.exam_slot_id {
            store::give_back_exam_seat(&mut tx, s).await?;
        }
        if let Some(a) = &r.appointment_id
            && let Some(appt) = scheduling::appointment(&mut tx, a).await?
            && scheduling::close_appointment(&mut tx, a, "cancelled", appt.fee_fen, now).await?
        {
            scheduling::give_back_seat(&mut tx, &appt.slot_id).await?;
        }
    }
    if action == Action::Accept {
        // The receiving doctor may read the patient's record while the loop runs.
        identity::insert_care_relationship(
            &mut tx,
            &r.patient_id,
            &caller.account_id,
            &r.to_org_id,
            "referral",
            now,
            now + state.settings.care_relationship_days.max(1) * 86_400_000,
        )
        .await?;
    }
    let event_note = match action {
        Action::ReturnResults => results.as_deref(),
        Action::ReferDown => plan.as_deref(),
        _ => note.as_deref(),
    };
    store::append_event(
        &mut tx,
        &r.id,
        Some(&caller.account_id),
        action.as_str(),
        Some(from.as_str()),
        to.as_str(),
        event_note,
        now,
    )
    .await?;
    let org_for_audit = match party {
        Party::Referrer => r.from_org_id.clone(),
        Party::Receiver => r.to_org_id.clone(),
    };
    caller
        .audit(
            &mut tx,
            &format!("referral.{}", action.as_str()),
            "referral",
            &r.id,
            "treating_practitioner",
            Some(&org_for_audit),
        )
        .await?;
    let row = store::referral(&mut tx, &r.id)
        .await?
        .ok_or_else(|| ApiError::internal("referral vanished"))?;
    notify(
        &mut tx,
        &row,
        &format!("referral.{}", action.as_str()),
        to.as_str(),
        now,
    )
    .await?;
    let timeline = store::timeline(&mut tx, &r.id).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    tracing::info!(referral_id = %r.id, action = action.as_str(), appointment = ?appointment_id, "referral step");
    Ok(view(&row, Some(party), timeline))
}

pub(super) async fn sqlx_set_appointment(
    c: &mut AnyConnection,
    referral_id: &str,
    appointment_id: &str,
) -> ApiResult<()> {
    store::set_appointment(c, referral_id, appointment_id).await?;
    Ok(())
}
