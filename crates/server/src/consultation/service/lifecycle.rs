//! A consultation from request to completion: request (follow-up only), accept, decline, start, complete, cancel, refer offline, escalate.

use super::*;

/// A patient (or a guardian for a child) asks a doctor for a follow-up consultation.
#[tracing::instrument(skip_all)]
pub async fn request(
    state: &AppState,
    caller: &Caller,
    input: NewConsultationInput,
) -> ApiResult<ConsultationView> {
    caller.require(Role::Patient)?;
    let complaint = super::super::triage::parse_complaint(&input.complaint)?;
    let triage = super::super::triage::assess(state, &complaint)?;
    // An emergency or a crisis is never booked: the answer is 120 or the crisis line.
    let refusal = match triage.level {
        ihos_triage::Level::Emergency => Some(ErrorCode::EmergencyCall120),
        ihos_triage::Level::Crisis => Some(ErrorCode::CrisisHotline),
        ihos_triage::Level::Routine => None,
    };
    if let Some(code) = refusal {
        let advice = super::super::triage::advice(state, &triage, crate::i18n::Lang::En);
        return Err(ApiError::from(
            DomainError::new(code, advice).on("complaint"),
        ));
    }
    let mut tx = state.store.begin().await?;
    let (patient, requester) = patient_for(&mut tx, caller, input.patient_id.as_deref()).await?;
    rules::check_requester(
        requester,
        parse_date(&patient.birth_date, "birth_date").map_err(ApiError::stored)?,
        today_in_shanghai(),
        input.guardian_present,
    )?;
    let doctor = eligible_doctor(&mut tx, &input.doctor_id).await?;
    let affiliations = identity::affiliations_of(&mut tx, &doctor.account_id).await?;
    let aff = match input.department_id.as_deref() {
        Some(dep) => affiliations
            .iter()
            .find(|a| a.department_id.as_deref() == Some(dep)),
        None => affiliations.first(),
    }
    .ok_or_else(|| {
        ApiError::from(
            DomainError::new(
                ErrorCode::InvalidDepartment,
                "The doctor does not work in this department.",
            )
            .on("department_id"),
        )
    })?;
    let pilot = match &aff.department_id {
        Some(dep) => cstore::dept_allows_first_visit(&mut tx, dep).await?,
        None => false,
    };
    let policy = if pilot {
        FirstVisitPolicy::PilotAllowed
    } else {
        FirstVisitPolicy::Strict
    };
    let evidence = match &input.evidence {
        Some(e) => Some(check_evidence(&mut tx, caller, &patient.id, e).await?),
        None => None,
    };
    rules::check_follow_up(evidence.is_some(), policy)?;
    let now = now_ms();
    let (subscription_id, fee_fen) = match input.subscription_id.as_deref() {
        Some(sub) => {
            if !cstore::use_subscription(&mut tx, sub, &patient.id, &doctor.account_id, now).await?
            {
                return Err(ApiError::conflict(
                    ErrorCode::PackageExhausted,
                    "This service package has no consultations left, has ended, or is not with this doctor.",
                ));
            }
            (Some(sub.to_string()), 0)
        }
        None => (None, state.settings.consultation_fee_fen),
    };
    let appointment_id = match input.appointment_id.as_deref() {
        Some(a) => Some(parse_text(a, "appointment_id", 64)?),
        None => None,
    };
    let new = NewConsultation {
        patient_id: patient.id.clone(),
        requester_id: caller.account_id.clone(),
        guardian_present: input.guardian_present && requester == Requester::LinkedGuardian,
        doctor_id: doctor.account_id.clone(),
        org_id: aff.org_id.clone(),
        department_id: aff.department_id.clone(),
        tier: Tier::Gp.as_str().into(),
        parent_id: None,
        status: Status::Requested.as_str().into(),
        complaint,
        suggested_specialty: triage
            .suggestions
            .first()
            .map(|s| s.specialty.code().to_string()),
        evidence_kind: evidence.as_ref().map(|e| e.0.as_str().to_string()),
        evidence_ref: evidence.as_ref().map(|e| e.1.clone()),
        evidence_note: evidence.and_then(|e| e.2),
        first_visit_pilot: pilot,
        appointment_id,
        subscription_id,
        fee_fen,
        created_at: now,
        expires_at: now + state.settings.consultation_answer_minutes * 60_000,
    };
    let id = cstore::insert_consultation(&mut tx, &new).await?;
    if let Some(e) = &new.evidence_ref
        && new.evidence_kind.as_deref() != Some("platform_visit")
    {
        cstore::link_attachment(&mut tx, e, &id).await?;
    }
    let row = cstore::consultation(&mut tx, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    notify(
        &mut tx,
        "consultation.requested",
        Some(&row.doctor_id),
        &row,
        now,
    )
    .await?;
    if fee_fen > 0 {
        ihos_store::outbox::put(
            &mut tx,
            "payment.charge",
            Some(&caller.account_id),
            &json!({"consultation_id": id, "amount_fen": fee_fen}),
            now,
        )
        .await?;
    }
    let ground = if requester == Requester::SelfPatient {
        "self"
    } else {
        "guardian"
    };
    caller
        .audit(
            &mut tx,
            "consultation.request",
            "patient",
            &patient.id,
            ground,
            Some(&row.org_id),
        )
        .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    view(&row)
}

/// Evidence of an offline diagnosis: answers (kind, reference, note).
pub(super) async fn check_evidence(
    conn: &mut AnyConnection,
    caller: &Caller,
    patient_id: &str,
    e: &EvidenceInput,
) -> ApiResult<(EvidenceKind, String, Option<String>)> {
    let kind = EvidenceKind::parse(e.kind.trim())?;
    let bad =
        |m: &str| ApiError::from(DomainError::new(ErrorCode::InvalidEvidence, m).on("evidence"));
    let reference = e.reference.trim().to_string();
    if kind.is_upload() {
        let ok = cstore::attachment(conn, &reference)
            .await?
            .is_some_and(|a| a.uploader_id == caller.account_id);
        if !ok {
            return Err(bad(
                "Upload the outpatient or discharge record first (POST /api/v1/consultation-evidence) and give its id.",
            ));
        }
    } else {
        let ok = cstore::consultation(conn, &reference)
            .await?
            .is_some_and(|c| {
                c.patient_id == patient_id
                    && matches!(c.status.as_str(), "completed" | "referred_offline")
            });
        if !ok {
            return Err(bad(
                "The earlier visit must be a finished consultation of this patient on the platform.",
            ));
        }
    }
    let note = match e.note.as_deref().map(str::trim) {
        Some(n) if !n.is_empty() => Some(parse_text(n, "evidence.note", 500)?),
        _ => None,
    };
    Ok((kind, reference, note))
}

/// The state machine applied to one consultation by one actor, atomically.
pub(super) async fn apply(
    conn: &mut AnyConnection,
    row: &ConsultationRow,
    action: Action,
    now: i64,
    ch: &StatusChange<'_>,
) -> ApiResult<Status> {
    let from = Status::parse(&row.status)?;
    let to = rules::transition(from, action).map_err(domain)?;
    if !cstore::change_status(conn, &row.id, from.as_str(), to.as_str(), now, ch).await? {
        return Err(ApiError::conflict(
            ErrorCode::ConsultationChanged,
            "Someone changed this consultation at the same moment; reload it and try again.",
        ));
    }
    if ch.ended {
        ihos_store::events::record_consultation_closed(conn, &row.id, to == Status::Completed)
            .await?;
    }
    Ok(to)
}

pub fn publish_status(state: &AppState, id: &str, status: Status) {
    let json = json!({"type": "status", "status": status.as_str()}).to_string();
    super::super::chat::hub(state).publish(id, RoomEvent::Status { json: json.into() });
}

pub(super) async fn finish(
    state: &AppState,
    caller: &Caller,
    mut tx: cstore::Tx,
    id: &str,
    action: &str,
    status: Status,
) -> ApiResult<ConsultationView> {
    let row = cstore::consultation(&mut tx, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    caller
        .audit(
            &mut tx,
            action,
            "consultation",
            id,
            "participant",
            Some(&row.org_id),
        )
        .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    publish_status(state, id, status);
    view(&row)
}

/// The doctor accepts, recording that the patient qualifies; a care
/// relationship lets them read the patient's record (audited).
pub async fn accept(
    state: &AppState,
    caller: &Caller,
    id: &str,
    input: AcceptInput,
) -> ApiResult<ConsultationView> {
    let mut tx = state.store.begin().await?;
    let (row, side) = load_for(&mut tx, caller, id).await?;
    if side != Side::Doctor {
        return Err(ApiError::forbidden(
            "Only the consulted doctor accepts a consultation.",
        ));
    }
    let from = Status::parse(&row.status)?;
    rules::transition(from, Action::Accept).map_err(domain)?;
    eligible_doctor(&mut tx, &row.doctor_id).await?;
    let policy = if row.first_visit_pilot == 1 {
        FirstVisitPolicy::PilotAllowed
    } else {
        FirstVisitPolicy::Strict
    };
    rules::check_qualification(input.qualifies, row.evidence_kind.is_some(), policy)?;
    let now = now_ms();
    let to = apply(
        &mut tx,
        &row,
        Action::Accept,
        now,
        &StatusChange {
            accepted: true,
            qualified_by: input.qualifies.then_some(caller.account_id.as_str()),
            ..Default::default()
        },
    )
    .await?;
    identity::insert_care_relationship(
        &mut tx,
        &row.patient_id,
        &row.doctor_id,
        &row.org_id,
        "consultation",
        now,
        now + state.settings.care_relationship_days * DAY_MS,
    )
    .await?;
    notify(
        &mut tx,
        "consultation.accepted",
        patient_side_recipient(&row),
        &row,
        now,
    )
    .await?;
    finish(state, caller, tx, id, "consultation.accept", to).await
}

/// Doctor-side transitions with a reason or summary, and the patient's cancel.
pub async fn act(
    state: &AppState,
    caller: &Caller,
    id: &str,
    action: Action,
    text: Option<String>,
) -> ApiResult<ConsultationView> {
    let mut tx = state.store.begin().await?;
    let (row, side) = load_for(&mut tx, caller, id).await?;
    let allowed = match action.actor() {
        rules::Actor::Doctor => side == Side::Doctor,
        rules::Actor::PatientSide => side == Side::Patient,
        rules::Actor::System => false,
    };
    if !allowed {
        return Err(ApiError::forbidden(format!(
            "The {} side may not {} this consultation.",
            side.as_str(),
            action.as_str()
        )));
    }
    let from = Status::parse(&row.status)?;
    rules::transition(from, action).map_err(domain)?;
    let text = match (action, text) {
        (Action::Complete, Some(t)) => Some(parse_text(&t, "summary", 4000)?),
        (Action::Decline | Action::ReferOffline, Some(t)) => Some(parse_text(&t, "reason", 1000)?),
        (Action::Decline | Action::ReferOffline | Action::Complete, None) => {
            return Err(ApiError::from(
                DomainError::new(ErrorCode::InvalidField, "Give a reason (or summary).")
                    .on("reason"),
            ));
        }
        (_, t) => t,
    };
    let now = now_ms();
    let ending = matches!(
        action,
        Action::Decline | Action::Cancel | Action::Complete | Action::ReferOffline
    );
    let refunds = matches!(action, Action::Decline | Action::Cancel);
    let ch = StatusChange {
        started: action == Action::Start,
        ended: ending,
        refunded: refunds,
        end_reason: match action {
            Action::Decline | Action::ReferOffline => text.as_deref(),
            Action::Cancel => Some("cancelled by the patient"),
            _ => None,
        },
        summary: (action == Action::Complete)
            .then_some(text.as_deref())
            .flatten(),
        ..Default::default()
    };
    let to = apply(&mut tx, &row, action, now, &ch).await?;
    let pending_refund = if refunds {
        refund(state, &mut tx, &row, now).await?
    } else {
        None
    };
    let recipient = match side {
        Side::Doctor => patient_side_recipient(&row),
        Side::Patient => Some(row.doctor_id.as_str()),
    };
    notify(
        &mut tx,
        &format!("consultation.{}", to.as_str()),
        recipient,
        &row,
        now,
    )
    .await?;
    if action == Action::ReferOffline {
        ihos_store::outbox::put(
            &mut tx,
            "referral.offline_visit",
            patient_side_recipient(&row),
            &json!({"consultation_id": row.id, "reason": text, "org_id": row.org_id}),
            now,
        )
        .await?;
    }
    let audit_action = format!("consultation.{}", action.as_str());
    let view = finish(state, caller, tx, id, &audit_action, to).await?;
    if let Some(r) = pending_refund {
        crate::payment::service::finish_refund(state, r).await;
    }
    Ok(view)
}

/// The doctor hands the case to the next tier (GP → specialist → expert's
/// studio); the new consultation carries this one as its parent so the
/// history travels along.
pub async fn escalate(
    state: &AppState,
    caller: &Caller,
    id: &str,
    input: EscalateInput,
) -> ApiResult<ConsultationView> {
    let reason = parse_text(&input.reason, "reason", 1000)?;
    let mut tx = state.store.begin().await?;
    let (row, side) = load_for(&mut tx, caller, id).await?;
    if side != Side::Doctor {
        return Err(ApiError::forbidden("Only the treating doctor escalates."));
    }
    rules::transition(Status::parse(&row.status)?, Action::Escalate).map_err(domain)?;
    let target = eligible_doctor(&mut tx, &input.doctor_id).await?;
    if target.account_id == row.doctor_id {
        return Err(ApiError::from(
            DomainError::new(ErrorCode::InvalidField, "Escalate to another doctor.")
                .on("doctor_id"),
        ));
    }
    let title = Title::parse(&target.title)?;
    let tier = rules::escalation_target(Tier::parse(&row.tier)?, title)?;
    let affiliations = identity::affiliations_of(&mut tx, &target.account_id).await?;
    let aff = affiliations.first().ok_or_else(|| {
        ApiError::from(
            DomainError::new(
                ErrorCode::InvalidDepartment,
                "That doctor has no department.",
            )
            .on("doctor_id"),
        )
    })?;
    let now = now_ms();
    let end_reason = format!("escalated to {}: {reason}", tier.as_str());
    apply(
        &mut tx,
        &row,
        Action::Escalate,
        now,
        &StatusChange {
            ended: true,
            end_reason: Some(&end_reason),
            ..Default::default()
        },
    )
    .await?;
    let new = NewConsultation {
        patient_id: row.patient_id.clone(),
        requester_id: row.requester_id.clone(),
        guardian_present: row.guardian_present == 1,
        doctor_id: target.account_id.clone(),
        org_id: aff.org_id.clone(),
        department_id: aff.department_id.clone(),
        tier: tier.as_str().into(),
        parent_id: Some(row.id.clone()),
        status: Status::Requested.as_str().into(),
        complaint: row.complaint.clone(),
        suggested_specialty: row.suggested_specialty.clone(),
        // The escalating doctor's consultation is the platform visit on record.
        evidence_kind: Some(EvidenceKind::PlatformVisit.as_str().into()),
        evidence_ref: Some(row.id.clone()),
        evidence_note: Some(reason),
        first_visit_pilot: row.first_visit_pilot == 1,
        appointment_id: None,
        subscription_id: None,
        // Paid once: the escalated consultation carries no new fee.
        fee_fen: 0,
        created_at: now,
        expires_at: now + state.settings.consultation_answer_minutes * 60_000,
    };
    let new_id = cstore::insert_consultation(&mut tx, &new).await?;
    let new_row = cstore::consultation(&mut tx, &new_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    notify(
        &mut tx,
        "consultation.requested",
        Some(&new_row.doctor_id),
        &new_row,
        now,
    )
    .await?;
    notify(
        &mut tx,
        "consultation.escalated",
        patient_side_recipient(&row),
        &row,
        now,
    )
    .await?;
    caller
        .audit(
            &mut tx,
            "consultation.escalate",
            "consultation",
            &row.id,
            "participant",
            Some(&row.org_id),
        )
        .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    publish_status(state, &row.id, Status::Completed);
    view(&new_row)
}
