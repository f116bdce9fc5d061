//! Two-way referral inside a consortium: creating referrals (visit or exam),
//! moving them through the domain state machine with an append-only
//! timeline, audit entries and notifications to exactly the parties of the
//! step, in one transaction per step; the duplicate-exam reminder; reads of
//! the referral (a patient record) authorised and audited.

use axum::http::StatusCode;
use chrono::TimeZone;
use chrono_tz::Asia::Shanghai;
use ihos_domain::ErrorCode;
use ihos_domain::access::{Relationship, patient_read_ground};
use ihos_domain::referral::{
    self as rules, Action, Direction, ExamType, Kind, Party, Status, next_actions, parse_text,
    transition,
};
use ihos_domain::{DomainError, OrgKind, Role};
use ihos_store::referral::{self as store, Change, NewReferral, ReferralRow};
use ihos_store::{AnyConnection, identity, now_ms, org, scheduling};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::web::shanghai_time;

fn opt(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

pub(crate) async fn record(
    c: &mut AnyConnection,
    caller: &Caller,
    action: &str,
    subject_type: &str,
    subject_id: &str,
    ground: &str,
    org_id: Option<&str>,
) -> ApiResult<()> {
    caller
        .audit(c, action, subject_type, subject_id, ground, org_id)
        .await?;
    Ok(())
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct NewReferralInput {
    /// `up` (default: community to upper hospital) or `down`.
    pub direction: Option<String>,
    /// `visit` (default) or `exam`.
    pub kind: Option<String>,
    /// The patient, by id or by resident ID number.
    pub patient_id: Option<String>,
    pub resident_id: Option<String>,
    /// The referring organisation; defaults to the caller's site that shares a consortium with the receiver.
    pub from_org_id: Option<String>,
    pub to_org_id: String,
    pub to_department_id: Option<String>,
    pub to_doctor_id: Option<String>,
    pub reason: String,
    /// Clinical summary (病情摘要).
    pub summary: String,
    /// For exam referrals: ct, mri, ultrasound or xray.
    pub exam_type: Option<String>,
    /// Required when the same exam was done recently at a member.
    pub repeat_reason: Option<String>,
    /// Required for a downward referral.
    pub follow_up_plan: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct StepInput {
    /// Decline or cancel reason.
    pub reason: Option<String>,
    /// Accept (visit): a slot of the receiving hospital to book for the patient.
    pub slot_id: Option<String>,
    /// Accept (exam): the exam slot to book.
    pub exam_slot_id: Option<String>,
    /// Return results: the findings and the diagnosis.
    pub results: Option<String>,
    /// Refer down: the follow-up plan for the community doctor.
    pub follow_up_plan: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    pub seq: i64,
    pub at: i64,
    pub at_local: String,
    pub actor_name: Option<String>,
    pub action: String,
    pub from_status: Option<String>,
    pub to_status: String,
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReferralView {
    pub id: String,
    pub direction: String,
    pub kind: String,
    pub status: String,
    pub patient_id: String,
    pub patient_name: String,
    pub from_org_name: String,
    pub from_doctor_id: String,
    pub from_doctor_name: String,
    pub to_org_id: String,
    pub to_org_name: String,
    pub to_department_name: Option<String>,
    pub to_doctor_id: Option<String>,
    pub to_doctor_name: Option<String>,
    pub reason: String,
    pub summary: String,
    pub exam_type: Option<String>,
    pub repeat_reason: Option<String>,
    pub decline_reason: Option<String>,
    pub appointment_id: Option<String>,
    pub exam_slot_id: Option<String>,
    pub exam_starts_at: Option<i64>,
    pub exam_time_local: Option<String>,
    pub results: Option<String>,
    pub follow_up_plan: Option<String>,
    pub created_at: i64,
    pub created_local: String,
    pub due_at: Option<i64>,
    pub due_local: Option<String>,
    pub overdue: bool,
    pub closed_at: Option<i64>,
    /// What the caller may do next (accept, decline, ...).
    pub my_actions: Vec<String>,
    pub timeline: Vec<EventView>,
}

/// Which side of the referral the caller is on, if any.
pub(crate) async fn party_of(
    c: &mut AnyConnection,
    caller: &Caller,
    r: &ReferralRow,
) -> ApiResult<Option<Party>> {
    if !caller.has(Role::Doctor) {
        return Ok(None);
    }
    if r.from_doctor_id == caller.account_id {
        return Ok(Some(Party::Referrer));
    }
    let receiver = match &r.to_doctor_id {
        Some(d) => *d == caller.account_id,
        None => {
            store::works_at(
                c,
                &caller.account_id,
                &r.to_org_id,
                r.to_department_id.as_deref(),
            )
            .await?
        }
    };
    Ok(receiver.then_some(Party::Receiver))
}

fn view(r: &ReferralRow, party: Option<Party>, timeline: Vec<store::EventRow>) -> ReferralView {
    let status = Status::parse(&r.status).unwrap_or(Status::Requested);
    let direction = Direction::parse(&r.direction).unwrap_or(Direction::Up);
    let my_actions = match party {
        Some(p) => next_actions(status)
            .iter()
            .filter(|a| a.party(direction) == p)
            .map(|a| a.as_str().to_string())
            .collect(),
        None => Vec::new(),
    };
    ReferralView {
        id: r.id.clone(),
        direction: r.direction.clone(),
        kind: r.kind.clone(),
        status: r.status.clone(),
        patient_id: r.patient_id.clone(),
        patient_name: r.patient_name.clone(),
        from_org_name: r.from_org_name.clone(),
        from_doctor_id: r.from_doctor_id.clone(),
        from_doctor_name: r.from_doctor_name.clone(),
        to_org_id: r.to_org_id.clone(),
        to_org_name: r.to_org_name.clone(),
        to_department_name: r.to_department_name.clone(),
        to_doctor_id: r.to_doctor_id.clone(),
        to_doctor_name: r.to_doctor_name.clone(),
        reason: r.reason.clone(),
        summary: r.summary.clone(),
        exam_type: r.exam_type.clone(),
        repeat_reason: r.repeat_reason.clone(),
        decline_reason: r.decline_reason.clone(),
        appointment_id: r.appointment_id.clone(),
        exam_slot_id: r.exam_slot_id.clone(),
        exam_starts_at: r.exam_starts_at,
        exam_time_local: r.exam_starts_at.map(shanghai_time),
        results: r.results.clone(),
        follow_up_plan: r.follow_up_plan.clone(),
        created_at: r.created_at,
        created_local: shanghai_time(r.created_at),
        due_at: r.due_at,
        due_local: r.due_at.map(shanghai_time),
        overdue: r.overdue_at.is_some(),
        closed_at: r.closed_at,
        my_actions,
        timeline: timeline
            .into_iter()
            .map(|e| EventView {
                seq: e.seq,
                at: e.at,
                at_local: shanghai_time(e.at),
                actor_name: e.actor_name,
                action: e.action,
                from_status: e.from_status,
                to_status: e.to_status,
                note: e.note,
            })
            .collect(),
    }
}

/// Who is told about a step: the referring doctor, the receiving (or, for
/// exams, ordering) doctor — or the receiving department's doctors while
/// nobody has accepted — and the patient (or their guardian). Each gets their
/// own notification naming their part.
pub(crate) async fn notify(
    c: &mut AnyConnection,
    r: &ReferralRow,
    topic: &str,
    status: &str,
    now: i64,
) -> ApiResult<()> {
    let receiver_part = if r.kind == "exam" {
        "ordering_doctor"
    } else {
        "receiving_doctor"
    };
    let mut recipients: Vec<(String, &str)> = vec![(r.from_doctor_id.clone(), "referring_doctor")];
    match (&r.to_doctor_id, &r.to_department_id) {
        (Some(d), _) => recipients.push((d.clone(), receiver_part)),
        (None, Some(dep)) => {
            for d in store::doctors_of_department(c, dep).await? {
                recipients.push((d, receiver_part));
            }
        }
        (None, None) => {}
    }
    if let Some(p) = r
        .patient_account_id
        .as_deref()
        .or(r.guardian_account_id.as_deref())
    {
        recipients.push((p.to_string(), "patient"));
    }
    recipients.dedup_by(|a, b| a.0 == b.0);
    for (who, part) in recipients {
        let payload = json!({
            "referral_id": r.id, "status": status, "as": part, "kind": r.kind,
            "direction": r.direction, "from_org": r.from_org_name, "to_org": r.to_org_name,
        });
        ihos_store::outbox::put_json(c, topic, Some(&who), &payload.to_string(), now).await?;
    }
    Ok(())
}

async fn resolve_patient(
    state: &AppState,
    c: &mut AnyConnection,
    input: &NewReferralInput,
) -> ApiResult<identity::PatientRow> {
    let id = match (opt(&input.patient_id), opt(&input.resident_id)) {
        (Some(id), _) => Some(id.to_string()),
        (None, Some(rid)) => {
            let rid = ihos_domain::ResidentId::parse(rid).map_err(ApiError::from)?;
            store::patient_id_by_resident_hash(
                c,
                &state.vault.blind_index("resident_id", rid.as_str()),
            )
            .await?
        }
        (None, None) => None,
    };
    let found = match id {
        Some(id) => identity::patient(c, &id).await?,
        None => None,
    };
    found.ok_or_else(|| {
        ApiError::from(DomainError::new(
            ErrorCode::RefUnknownPatient,
            "No registered patient with this id or resident ID number; the patient signs up first.",
        )
        .on("resident_id"))
    })
}

/// A patient id from an id or a resident ID number (for the other consortium services).
pub(crate) async fn patient_of(
    state: &AppState,
    c: &mut AnyConnection,
    patient_id: Option<&str>,
    resident_id: Option<&str>,
) -> ApiResult<String> {
    let input = NewReferralInput {
        patient_id: patient_id.map(str::to_string),
        resident_id: resident_id.map(str::to_string),
        ..Default::default()
    };
    Ok(resolve_patient(state, c, &input).await?.id)
}

/// Earlier exams of this type for the patient at any member within the window.
pub async fn earlier_exams(
    state: &AppState,
    c: &mut AnyConnection,
    consortium_id: &str,
    patient_id: &str,
    exam: ExamType,
    now: i64,
) -> ApiResult<Vec<store::EarlierExam>> {
    let since = state.settings.referral.duplicate_windows.since(exam, now);
    let since_date = Shanghai
        .timestamp_millis_opt(since)
        .single()
        .map(|t| t.format("%Y%m%d").to_string())
        .unwrap_or_default();
    let mut rows = store::earlier_exams(
        c,
        consortium_id,
        patient_id,
        exam.as_str(),
        exam.modality(),
        since,
        &since_date,
    )
    .await?;
    for r in &mut rows {
        if r.at_text.is_empty() {
            r.at_text = shanghai_time(r.at);
        }
    }
    Ok(rows)
}

/// Refer a patient up (or down). Validates the consortium, the receiver and,
/// for exams, the privilege and the duplicate-exam reminder.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    input: NewReferralInput,
) -> ApiResult<ReferralView> {
    caller.require(Role::Doctor)?;
    let direction =
        Direction::parse(opt(&input.direction).unwrap_or("up")).map_err(ApiError::from)?;
    let kind = Kind::parse(opt(&input.kind).unwrap_or("visit")).map_err(ApiError::from)?;
    let reason = parse_text(&input.reason, "reason", 500).map_err(ApiError::from)?;
    let summary = parse_text(&input.summary, "summary", 4000).map_err(ApiError::from)?;
    let now = now_ms();
    let mut c = state.store.conn().await?;
    let patient = resolve_patient(state, &mut c, &input).await?;
    let to_org = org::org(&mut c, input.to_org_id.trim())
        .await?
        .ok_or_else(|| {
            ApiError::from(
                DomainError::new(ErrorCode::RefUnknownOrg, "No such receiving organisation.")
                    .on("to_org_id"),
            )
        })?;
    // The referring site: given, or the caller's site sharing a consortium with the receiver.
    let mine = identity::affiliations_of(&mut c, &caller.account_id).await?;
    let mut from = None;
    for a in &mine {
        if opt(&input.from_org_id).is_some_and(|f| f != a.org_id) || a.org_id == to_org.id {
            continue;
        }
        if let Some(cons) = store::shared_consortium(&mut c, &a.org_id, &to_org.id).await? {
            from = Some((a.org_id.clone(), cons));
            break;
        }
    }
    let Some((from_org_id, consortium_id)) = from else {
        return Err(ApiError::from(DomainError::new(
            ErrorCode::RefNotInConsortium,
            "Referrals go between members of one medical consortium; your site and the receiving organisation share none.",
        )
        .on("to_org_id")));
    };
    let from_org = org::org(&mut c, &from_org_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let (want_from, want_to) = match direction {
        Direction::Up => (OrgKind::CommunityHealthCentre, OrgKind::Hospital),
        Direction::Down => (OrgKind::Hospital, OrgKind::CommunityHealthCentre),
    };
    if from_org.kind != want_from.as_str() || to_org.kind != want_to.as_str() {
        return Err(ApiError::from(DomainError::new(
            ErrorCode::RefWrongDirection,
            "An upward referral goes from a community health centre to a hospital; a downward one the other way.",
        )
        .on("direction")));
    }
    let to_department = opt(&input.to_department_id);
    if let Some(d) = to_department {
        let ok = org::department(&mut c, d)
            .await?
            .is_some_and(|d| d.org_id == to_org.id);
        if !ok {
            return Err(ApiError::from(
                DomainError::new(
                    ErrorCode::UnknownDepartment,
                    "That department is not in the receiving organisation.",
                )
                .on("to_department_id"),
            ));
        }
    }
    let to_doctor = opt(&input.to_doctor_id);
    if let Some(d) = to_doctor {
        let is_doctor = identity::practitioner(&mut c, d)
            .await?
            .is_some_and(|p| p.role == "doctor");
        if !is_doctor || !store::works_at(&mut c, d, &to_org.id, None).await? {
            return Err(ApiError::from(
                DomainError::new(
                    ErrorCode::RefUnknownDoctor,
                    "That doctor does not work at the receiving organisation.",
                )
                .on("to_doctor_id"),
            ));
        }
    }
    if to_doctor.is_none() && to_department.is_none() {
        return Err(ApiError::from(
            DomainError::new(
                ErrorCode::RefReceiverRequired,
                "Choose the receiving department or doctor.",
            )
            .on("to_department_id"),
        ));
    }
    let mut exam = None;
    let mut repeat_reason = None;
    if kind == Kind::Exam {
        if direction != Direction::Up {
            return Err(ApiError::from(
                DomainError::new(
                    ErrorCode::RefWrongDirection,
                    "Exams are requested from the upper hospital (an upward referral).",
                )
                .on("direction"),
            ));
        }
        let e = ExamType::parse(opt(&input.exam_type).unwrap_or("")).map_err(ApiError::from)?;
        if let Some(d) = to_doctor
            && !store::has_privilege(&mut c, d, e.as_str()).await?
            && e.needs_privilege()
        {
            return Err(ApiError::from(
                DomainError::new(
                    ErrorCode::RefReceiverNotQualified,
                    format!(
                        "That doctor may not order {}; choose a doctor with the privilege.",
                        e.label_zh()
                    ),
                )
                .on("to_doctor_id"),
            ));
        }
        let earlier = earlier_exams(state, &mut c, &consortium_id, &patient.id, e, now).await?;
        repeat_reason = rules::check_repeat(!earlier.is_empty(), input.repeat_reason.as_deref())
            .map_err(|err| {
                let first = &earlier[0];
                let mut refused = ApiError::conflict(
                    err.code,
                    format!(
                        "该患者{}已在{}做过{}，结果：{}。如需重复检查，请填写重复检查理由。 (The same exam was done on {} at {}: {}. Give a reason to repeat it.)",
                        first.at_text, first.org_name, e.label_zh(), first.result,
                        first.at_text, first.org_name, first.result
                    ),
                );
                refused.field = err.field;
                refused
            })?;
        exam = Some(e);
    }
    let follow_up_plan = match direction {
        Direction::Down => Some(
            parse_text(
                input.follow_up_plan.as_deref().unwrap_or(""),
                "follow_up_plan",
                4000,
            )
            .map_err(ApiError::from)?,
        ),
        Direction::Up => None,
    };
    drop(c);

    let status = match direction {
        Direction::Up => Status::Requested,
        Direction::Down => Status::ReferredDown,
    };
    let due_at = state.settings.referral.deadlines.due_at(status, now);
    let mut tx = state.store.begin().await?;
    let id = store::insert_referral(
        &mut tx,
        &NewReferral {
            consortium_id: &consortium_id,
            direction: direction.as_str(),
            kind: kind.as_str(),
            patient_id: &patient.id,
            from_org_id: &from_org_id,
            from_doctor_id: &caller.account_id,
            to_org_id: &to_org.id,
            to_department_id: to_department,
            to_doctor_id: to_doctor,
            reason: &reason,
            summary: &summary,
            exam_type: exam.map(ExamType::as_str),
            repeat_reason: repeat_reason.as_deref(),
            follow_up_plan: follow_up_plan.as_deref(),
            status: status.as_str(),
            due_at,
        },
        now,
    )
    .await?;
    store::append_event(
        &mut tx,
        &id,
        Some(&caller.account_id),
        "create",
        None,
        status.as_str(),
        Some(&reason),
        now,
    )
    .await?;
    record(
        &mut tx,
        caller,
        "referral.create",
        "referral",
        &id,
        "treating_practitioner",
        Some(&from_org_id),
    )
    .await?;
    let row = store::referral(&mut tx, &id)
        .await?
        .ok_or_else(|| ApiError::internal("referral vanished"))?;
    notify(&mut tx, &row, "referral.created", status.as_str(), now).await?;
    let timeline = store::timeline(&mut tx, &id).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    tracing::info!(referral_id = %id, "referral created");
    Ok(view(&row, Some(Party::Referrer), timeline))
}

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
    record(
        &mut tx,
        caller,
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

async fn sqlx_set_appointment(
    c: &mut AnyConnection,
    referral_id: &str,
    appointment_id: &str,
) -> ApiResult<()> {
    store::set_appointment(c, referral_id, appointment_id).await?;
    Ok(())
}

/// Read one referral: a patient record. Parties, the patient (or guardian)
/// and regulators; every read is audited against the patient.
pub async fn read(state: &AppState, caller: &Caller, id: &str) -> ApiResult<ReferralView> {
    let mut c = state.store.conn().await?;
    let r = store::referral(&mut c, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let party = party_of(&mut c, caller, &r).await?;
    let rel = Relationship {
        is_self: r.patient_account_id.as_deref() == Some(caller.account_id.as_str()),
        is_guardian: r.guardian_account_id.as_deref() == Some(caller.account_id.as_str()),
        is_treating: party.is_some(),
    };
    let ground = patient_read_ground(&caller.roles(), &rel).map_err(|_| ApiError::not_found())?;
    record(
        &mut c,
        caller,
        "referral.read",
        "patient",
        &r.patient_id,
        ground.as_str(),
        None,
    )
    .await?;
    let timeline = store::timeline(&mut c, id).await?;
    Ok(view(&r, party, timeline))
}

/// The caller's referrals: as a doctor (sent and received), or as a patient or guardian.
pub async fn mine(state: &AppState, caller: &Caller) -> ApiResult<Vec<ReferralView>> {
    let mut c = state.store.conn().await?;
    let rows = if caller.has(Role::Doctor) {
        store::for_doctor(&mut c, &caller.account_id).await?
    } else {
        store::for_account(&mut c, &caller.account_id).await?
    };
    let mut out = Vec::new();
    let mut audited: Vec<String> = Vec::new();
    for r in rows {
        let party = party_of(&mut c, caller, &r).await?;
        if !audited.contains(&r.patient_id) {
            let ground = if party.is_some() {
                "treating_practitioner"
            } else if r.patient_account_id.as_deref() == Some(caller.account_id.as_str()) {
                "self"
            } else {
                "guardian"
            };
            record(
                &mut c,
                caller,
                "referral.list",
                "patient",
                &r.patient_id,
                ground,
                None,
            )
            .await?;
            audited.push(r.patient_id.clone());
        }
        out.push(view(&r, party, Vec::new()));
    }
    Ok(out)
}

#[derive(Debug, Deserialize, ToSchema, utoipa::IntoParams)]
pub struct ExamHistoryQuery {
    pub patient_id: Option<String>,
    pub resident_id: Option<String>,
    pub exam_type: String,
    pub to_org_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EarlierExamView {
    pub source: String,
    pub id: String,
    pub org_name: String,
    pub date: String,
    pub result: String,
}

/// The duplicate-exam reminder before ordering: the patient's same exams at
/// any member within the window. A read of the record: doctors only, audited.
pub async fn exam_history(
    state: &AppState,
    caller: &Caller,
    q: ExamHistoryQuery,
) -> ApiResult<Vec<EarlierExamView>> {
    caller.require(Role::Doctor)?;
    let exam = ExamType::parse(q.exam_type.trim()).map_err(ApiError::from)?;
    let mut c = state.store.conn().await?;
    let input = NewReferralInput {
        patient_id: q.patient_id,
        resident_id: q.resident_id,
        ..Default::default()
    };
    let patient = resolve_patient(state, &mut c, &input).await?;
    let mut consortium = None;
    for a in identity::affiliations_of(&mut c, &caller.account_id).await? {
        if let Some(cons) = store::shared_consortium(&mut c, &a.org_id, q.to_org_id.trim()).await? {
            consortium = Some(cons);
            break;
        }
    }
    let consortium = consortium.ok_or_else(|| {
        ApiError::from(
            DomainError::new(
                ErrorCode::RefNotInConsortium,
                "Your site and that organisation share no consortium.",
            )
            .on("to_org_id"),
        )
    })?;
    let rows = earlier_exams(state, &mut c, &consortium, &patient.id, exam, now_ms()).await?;
    record(
        &mut c,
        caller,
        "referral.exam_history",
        "patient",
        &patient.id,
        "treating_practitioner",
        None,
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|e| EarlierExamView {
            source: e.source,
            id: e.id,
            org_name: e.org_name,
            date: e.at_text,
            result: e.result,
        })
        .collect())
}
