//! The rest of the consortium: exam privileges and exam slots, wards and bed
//! reservation (beds never double-booked), remote consultation, and the
//! consortium dashboard of referrals.

use std::collections::BTreeMap;

use chrono::{NaiveTime, TimeZone};
use chrono_tz::Asia::Shanghai;
use ihos_domain::ErrorCode;
use ihos_domain::referral::{
    self as rules, BedAction, BedStatus, ExamType, Status, bed_transition, parse_text,
};
use ihos_domain::{DomainError, Role, parse_date};
use ihos_store::referral::{self as store, BedRequestRow};
use ihos_store::{AnyConnection, identity, imaging, now_ms, org};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::service::record;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::web::shanghai_time;

fn opt(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Platform admins, or the org admin of `org_id`.
fn require_admin(caller: &Caller, org_id: &str) -> ApiResult<()> {
    if caller.may_admin_org(org_id) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "Only this organisation's admin may do this.",
        ))
    }
}

// ---------- exam privileges ----------

#[derive(Debug, Deserialize, ToSchema)]
pub struct PrivilegeInput {
    /// ct, mri, ultrasound or xray
    pub exam_type: String,
}

/// Grant a practitioner an exam privilege: an admin of one of their sites.
pub async fn grant_privilege(
    state: &AppState,
    caller: &Caller,
    practitioner_id: &str,
    input: PrivilegeInput,
) -> ApiResult<Vec<String>> {
    let exam = ExamType::parse(input.exam_type.trim()).map_err(ApiError::from)?;
    let mut c = state.store.conn().await?;
    let p = identity::practitioner(&mut c, practitioner_id)
        .await?
        .filter(|p| p.role == "doctor")
        .ok_or_else(ApiError::not_found)?;
    let sites = identity::affiliations_of(&mut c, &p.account_id).await?;
    if !sites.iter().any(|a| caller.may_admin_org(&a.org_id)) {
        return Err(ApiError::not_found());
    }
    let mut tx = state.store.begin().await?;
    store::grant_privilege(
        &mut tx,
        &p.account_id,
        exam.as_str(),
        &caller.account_id,
        now_ms(),
    )
    .await?;
    record(
        &mut tx,
        caller,
        "exam_privilege.grant",
        "practitioner",
        &p.account_id,
        "admin",
        None,
    )
    .await?;
    let out = store::privileges_of(&mut tx, &p.account_id).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(out)
}

pub async fn privileges(state: &AppState, practitioner_id: &str) -> ApiResult<Vec<String>> {
    let mut c = state.store.conn().await?;
    Ok(store::privileges_of(&mut c, practitioner_id).await?)
}

// ---------- exam slots ----------

#[derive(Debug, Deserialize, ToSchema)]
pub struct ExamSlotInput {
    pub exam_type: String,
    /// Local (Asia/Shanghai) date, YYYY-MM-DD.
    pub date: String,
    /// Local start time, HH:MM.
    pub start: String,
    pub minutes: Option<i64>,
    pub capacity: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExamSlotView {
    pub id: String,
    pub exam_type: String,
    pub starts_at: i64,
    pub time_local: String,
    pub capacity: i64,
    pub remaining: i64,
}

fn slot_view(s: &store::ExamSlotRow) -> ExamSlotView {
    ExamSlotView {
        id: s.id.clone(),
        exam_type: s.exam_type.clone(),
        starts_at: s.starts_at,
        time_local: shanghai_time(s.starts_at),
        capacity: s.capacity,
        remaining: s.remaining,
    }
}

pub fn local_ms(date: &str, time: &str) -> Result<i64, DomainError> {
    let d = parse_date(date, "date")?;
    let t = NaiveTime::parse_from_str(time.trim(), "%H:%M").map_err(|_| {
        DomainError::new(ErrorCode::RefInvalidTime, "Enter the time as HH:MM.").on("start")
    })?;
    Shanghai
        .from_local_datetime(&d.and_time(t))
        .single()
        .map(|x| x.timestamp_millis())
        .ok_or_else(|| {
            DomainError::new(ErrorCode::RefInvalidTime, "That local time does not exist.")
                .on("start")
        })
}

pub async fn add_exam_slot(
    state: &AppState,
    caller: &Caller,
    org_id: &str,
    input: ExamSlotInput,
) -> ApiResult<ExamSlotView> {
    require_admin(caller, org_id)?;
    let exam = ExamType::parse(input.exam_type.trim()).map_err(ApiError::from)?;
    let starts = local_ms(&input.date, &input.start).map_err(ApiError::from)?;
    let now = now_ms();
    if starts <= now {
        return Err(ApiError::from(
            DomainError::new(
                ErrorCode::RefInvalidTime,
                "An exam slot starts in the future.",
            )
            .on("date"),
        ));
    }
    if !(1..=200).contains(&input.capacity) {
        return Err(ApiError::from(
            DomainError::new(
                ErrorCode::RefInvalidCapacity,
                "Capacity is 1 to 200 patients.",
            )
            .on("capacity"),
        ));
    }
    let minutes = input.minutes.unwrap_or(30).clamp(5, 480);
    let mut c = state.store.conn().await?;
    if org::org(&mut c, org_id).await?.is_none() {
        return Err(ApiError::not_found());
    }
    let id = store::insert_exam_slot(
        &mut c,
        org_id,
        exam.as_str(),
        starts,
        starts + minutes * 60_000,
        input.capacity,
        &caller.account_id,
        now,
    )
    .await
    .map_err(|e| match e {
        ihos_store::StoreError::Duplicate { .. } => ApiError::conflict(
            ErrorCode::RefExamSlotExists,
            "There is already a slot for this exam at this time.",
        ),
        other => other.into(),
    })?;
    let s = store::exam_slot(&mut c, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(slot_view(&s))
}

pub async fn exam_slots(
    state: &AppState,
    org_id: &str,
    exam_type: Option<&str>,
) -> ApiResult<Vec<ExamSlotView>> {
    let mut c = state.store.conn().await?;
    Ok(store::open_exam_slots(&mut c, org_id, exam_type, now_ms())
        .await?
        .iter()
        .map(slot_view)
        .collect())
}

// ---------- wards and beds ----------

#[derive(Debug, Deserialize, ToSchema)]
pub struct WardInput {
    pub name: String,
    pub beds: i64,
    pub department_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WardView {
    pub id: String,
    pub org_id: String,
    pub org_name: String,
    pub name: String,
    pub beds_total: i64,
    pub beds_free: i64,
}

fn ward_view(w: &store::WardRow) -> WardView {
    WardView {
        id: w.id.clone(),
        org_id: w.org_id.clone(),
        org_name: w.org_name.clone(),
        name: w.name.clone(),
        beds_total: w.beds_total,
        beds_free: w.beds_free,
    }
}

pub async fn add_ward(
    state: &AppState,
    caller: &Caller,
    org_id: &str,
    input: WardInput,
) -> ApiResult<WardView> {
    require_admin(caller, org_id)?;
    let name = ihos_domain::org::parse_label(&input.name, "name", 50).map_err(ApiError::from)?;
    let beds = rules::parse_beds(input.beds).map_err(ApiError::from)?;
    let mut c = state.store.conn().await?;
    if org::org(&mut c, org_id).await?.is_none() {
        return Err(ApiError::not_found());
    }
    if let Some(d) = opt(&input.department_id)
        && org::department(&mut c, d)
            .await?
            .is_none_or(|d| d.org_id != org_id)
    {
        return Err(ApiError::from(
            DomainError::new(
                ErrorCode::UnknownDepartment,
                "That department is not in this organisation.",
            )
            .on("department_id"),
        ));
    }
    let id = store::insert_ward(
        &mut c,
        org_id,
        opt(&input.department_id),
        &name,
        beds,
        now_ms(),
    )
    .await?;
    let w = store::ward(&mut c, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(ward_view(&w))
}

/// Wards and free beds across a consortium: for its admins and the doctors of its members.
pub async fn wards(
    state: &AppState,
    caller: &Caller,
    consortium_id: &str,
) -> ApiResult<Vec<WardView>> {
    let mut c = state.store.conn().await?;
    may_see_consortium(&mut c, caller, consortium_id, true).await?;
    Ok(store::wards_of_consortium(&mut c, consortium_id)
        .await?
        .iter()
        .map(ward_view)
        .collect())
}

async fn may_see_consortium(
    c: &mut AnyConnection,
    caller: &Caller,
    consortium_id: &str,
    staff_too: bool,
) -> ApiResult<()> {
    let cons = org::consortium(c, consortium_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if caller.has(Role::PlatformAdmin)
        || caller.has(Role::Regulator)
        || caller.scopes(Role::ConsortiumAdmin).any(|s| s == cons.id)
        || caller.may_admin_org(&cons.lead_org_id)
    {
        return Ok(());
    }
    if staff_too {
        let members: Vec<String> = org::members_of(c, &cons.id)
            .await?
            .into_iter()
            .map(|o| o.id)
            .collect();
        for a in identity::affiliations_of(c, &caller.account_id).await? {
            if a.org_id == cons.lead_org_id || members.contains(&a.org_id) {
                return Ok(());
            }
        }
    }
    Err(ApiError::not_found())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct BedRequestInput {
    pub ward_id: String,
    pub patient_id: Option<String>,
    pub resident_id: Option<String>,
    pub reason: String,
    pub referral_id: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct BedReviewInput {
    /// Admit: the local admission date (YYYY-MM-DD).
    pub admit_on: Option<String>,
    /// Decline: the reason.
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BedRequestView {
    pub id: String,
    pub ward_id: String,
    pub ward_org_id: String,
    pub ward_name: String,
    pub patient_name: String,
    pub reason: String,
    pub status: String,
    pub admit_on: Option<String>,
    pub review_note: Option<String>,
    pub created_local: String,
}

fn bed_view(b: &BedRequestRow) -> BedRequestView {
    BedRequestView {
        id: b.id.clone(),
        ward_id: b.ward_id.clone(),
        ward_org_id: b.ward_org_id.clone(),
        ward_name: b.ward_name.clone(),
        patient_name: b.patient_name.clone(),
        reason: b.reason.clone(),
        status: b.status.clone(),
        admit_on: b.admit_on.clone(),
        review_note: b.review_note.clone(),
        created_local: shanghai_time(b.created_at),
    }
}

async fn bed_notify(
    c: &mut AnyConnection,
    b: &BedRequestRow,
    topic: &str,
    now: i64,
) -> ApiResult<()> {
    let payload = |part: &str| {
        json!({"bed_request_id": b.id, "status": b.status, "ward": b.ward_name, "admit_on": b.admit_on, "as": part}).to_string()
    };
    ihos_store::outbox::put_json(
        c,
        topic,
        Some(&b.requested_by),
        &payload("requesting_doctor"),
        now,
    )
    .await?;
    if let Some(p) = b
        .patient_account_id
        .as_deref()
        .or(b.guardian_account_id.as_deref())
    {
        ihos_store::outbox::put_json(c, topic, Some(p), &payload("patient"), now).await?;
    }
    Ok(())
}

/// A member's doctor asks the upper hospital's ward to admit a patient.
pub async fn request_bed(
    state: &AppState,
    caller: &Caller,
    input: BedRequestInput,
) -> ApiResult<BedRequestView> {
    caller.require(Role::Doctor)?;
    let reason = parse_text(&input.reason, "reason", 1000).map_err(ApiError::from)?;
    let mut c = state.store.conn().await?;
    let w = store::ward(&mut c, input.ward_id.trim())
        .await?
        .ok_or_else(|| {
            ApiError::from(
                DomainError::new(ErrorCode::RefUnknownWard, "No such ward.").on("ward_id"),
            )
        })?;
    let patient_id = super::service::patient_of(
        state,
        &mut c,
        input.patient_id.as_deref(),
        input.resident_id.as_deref(),
    )
    .await?;
    let mut from = None;
    for a in identity::affiliations_of(&mut c, &caller.account_id).await? {
        if a.org_id == w.org_id
            || store::shared_consortium(&mut c, &a.org_id, &w.org_id)
                .await?
                .is_some()
        {
            from = Some(a.org_id);
            break;
        }
    }
    let from = from.ok_or_else(|| {
        ApiError::from(
            DomainError::new(
                ErrorCode::RefNotInConsortium,
                "That ward's hospital is not in a consortium with your site.",
            )
            .on("ward_id"),
        )
    })?;
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let id = store::insert_bed_request(
        &mut tx,
        &w.id,
        &patient_id,
        &caller.account_id,
        &from,
        opt(&input.referral_id),
        &reason,
        now,
    )
    .await?;
    record(
        &mut tx,
        caller,
        "bed_request.create",
        "patient",
        &patient_id,
        "treating_practitioner",
        Some(&from),
    )
    .await?;
    let b = store::bed_request(&mut tx, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    bed_notify(&mut tx, &b, "bed.requested", now).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(bed_view(&b))
}

/// The ward's hospital reviews: admit (takes a free bed, atomically),
/// decline with a reason, or discharge (gives the bed back).
pub async fn review_bed(
    state: &AppState,
    caller: &Caller,
    id: &str,
    action: BedAction,
    input: BedReviewInput,
) -> ApiResult<BedRequestView> {
    let mut c = state.store.conn().await?;
    let b = store::bed_request(&mut c, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let staff = caller.has(Role::Doctor)
        && store::works_at(&mut c, &caller.account_id, &b.ward_org_id, None).await?;
    if !staff && !caller.may_admin_org(&b.ward_org_id) {
        return Err(ApiError::not_found());
    }
    drop(c);
    let from = BedStatus::parse(&b.status).map_err(ApiError::internal)?;
    let to = bed_transition(from, action).map_err(ApiError::domain_conflict)?;
    let (note, admit_on) = match action {
        BedAction::Admit => {
            let day = opt(&input.admit_on)
                .map(|d| parse_date(d, "admit_on").map(|d| d.to_string()))
                .transpose()?;
            (None, day)
        }
        BedAction::Decline => (
            Some(
                parse_text(input.reason.as_deref().unwrap_or(""), "reason", 500)
                    .map_err(ApiError::from)?,
            ),
            None,
        ),
        BedAction::Discharge => (None, None),
    };
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    if !store::change_bed_request(
        &mut tx,
        &b.id,
        from.as_str(),
        to.as_str(),
        &caller.account_id,
        note.as_deref(),
        admit_on.as_deref(),
        now,
    )
    .await?
    {
        return Err(ApiError::conflict(
            ErrorCode::RefIllegalTransition,
            "This bed request changed meanwhile; reload it.",
        ));
    }
    match action {
        BedAction::Admit => {
            if !store::take_bed(&mut tx, &b.ward_id).await? {
                return Err(ApiError::conflict(
                    ErrorCode::RefNoFreeBeds,
                    "The ward has no free bed; decline, or admit after a discharge.",
                ));
            }
        }
        BedAction::Discharge => store::give_back_bed(&mut tx, &b.ward_id).await?,
        BedAction::Decline => {}
    }
    let topic = match action {
        BedAction::Admit => "bed.admitted",
        BedAction::Decline => "bed.declined",
        BedAction::Discharge => "bed.discharged",
    };
    record(
        &mut tx,
        caller,
        topic,
        "patient",
        &b.patient_id,
        "treating_practitioner",
        Some(&b.ward_org_id),
    )
    .await?;
    let b = store::bed_request(&mut tx, &b.id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    bed_notify(&mut tx, &b, topic, now).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(bed_view(&b))
}

/// Bed requests of the caller's sites (sent or received).
pub async fn bed_requests(state: &AppState, caller: &Caller) -> ApiResult<Vec<BedRequestView>> {
    let mut c = state.store.conn().await?;
    let mut out: Vec<BedRequestView> = Vec::new();
    for a in identity::affiliations_of(&mut c, &caller.account_id).await? {
        for b in store::bed_requests_of_org(&mut c, &a.org_id).await? {
            if !out.iter().any(|x| x.id == b.id) {
                record(
                    &mut c,
                    caller,
                    "bed_request.read",
                    "patient",
                    &b.patient_id,
                    "treating_practitioner",
                    Some(&a.org_id),
                )
                .await?;
                out.push(bed_view(&b));
            }
        }
    }
    Ok(out)
}

// ---------- remote consultation ----------

#[derive(Debug, Deserialize, ToSchema)]
pub struct RemoteConsultInput {
    pub patient_id: Option<String>,
    pub resident_id: Option<String>,
    pub expert_id: String,
    pub question: String,
    /// Imaging studies of the patient to attach.
    #[serde(default)]
    pub study_ids: Vec<String>,
    /// Records in writing (history, lab results).
    pub records: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct OpinionInput {
    pub opinion: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StudyBrief {
    pub id: String,
    pub study_date: String,
    pub modalities: String,
    pub description: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RemoteConsultView {
    pub id: String,
    pub patient_name: String,
    pub requester_name: String,
    pub from_org_name: String,
    pub expert_id: String,
    pub expert_name: String,
    pub question: String,
    pub records: Option<String>,
    pub studies: Vec<StudyBrief>,
    pub status: String,
    pub opinion: Option<String>,
    pub created_local: String,
    pub answered_local: Option<String>,
}

async fn rc_view(
    c: &mut AnyConnection,
    r: &store::RemoteConsultRow,
) -> ApiResult<RemoteConsultView> {
    let ids: Vec<String> = serde_json::from_str(&r.study_ids).unwrap_or_default();
    let mut studies = Vec::new();
    for id in ids {
        if let Some(s) = imaging::study_by_id(c, &id).await? {
            studies.push(StudyBrief {
                id: s.id,
                study_date: s.study_date,
                modalities: s.modalities,
                description: s.description,
            });
        }
    }
    Ok(RemoteConsultView {
        id: r.id.clone(),
        patient_name: r.patient_name.clone(),
        requester_name: r.requester_name.clone(),
        from_org_name: r.from_org_name.clone(),
        expert_id: r.expert_id.clone(),
        expert_name: r.expert_name.clone(),
        question: r.question.clone(),
        records: r.records.clone(),
        studies,
        status: r.status.clone(),
        opinion: r.opinion.clone(),
        created_local: shanghai_time(r.created_at),
        answered_local: r.answered_at.map(shanghai_time),
    })
}

/// A member hospital asks an expert of another member for a written opinion.
pub async fn ask_expert(
    state: &AppState,
    caller: &Caller,
    input: RemoteConsultInput,
) -> ApiResult<RemoteConsultView> {
    caller.require(Role::Doctor)?;
    let question = parse_text(&input.question, "question", 4000).map_err(ApiError::from)?;
    let records = opt(&input.records)
        .map(|r| parse_text(r, "records", 8000))
        .transpose()
        .map_err(ApiError::from)?;
    if input.study_ids.len() > 20 {
        return Err(ApiError::from(
            DomainError::new(ErrorCode::RefTooManyStudies, "Attach at most 20 studies.")
                .on("study_ids"),
        ));
    }
    let mut c = state.store.conn().await?;
    let patient_id = super::service::patient_of(
        state,
        &mut c,
        input.patient_id.as_deref(),
        input.resident_id.as_deref(),
    )
    .await?;
    let expert = identity::practitioner(&mut c, input.expert_id.trim())
        .await?
        .filter(|p| p.role == "doctor" && p.account_id != caller.account_id)
        .ok_or_else(|| {
            ApiError::from(
                DomainError::new(
                    ErrorCode::RefUnknownDoctor,
                    "Choose an expert doctor of a consortium member.",
                )
                .on("expert_id"),
            )
        })?;
    let mut found = None;
    'outer: for mine in identity::affiliations_of(&mut c, &caller.account_id).await? {
        for theirs in identity::affiliations_of(&mut c, &expert.account_id).await? {
            if let Some(cons) =
                store::shared_consortium(&mut c, &mine.org_id, &theirs.org_id).await?
            {
                found = Some((mine.org_id.clone(), cons));
                break 'outer;
            }
        }
    }
    let (from_org, cons) = found.ok_or_else(|| {
        ApiError::from(
            DomainError::new(
                ErrorCode::RefNotInConsortium,
                "The expert works at no member of your consortium.",
            )
            .on("expert_id"),
        )
    })?;
    for s in &input.study_ids {
        let ok = imaging::study_by_id(&mut c, s)
            .await?
            .is_some_and(|st| st.patient_id.as_deref() == Some(patient_id.as_str()));
        if !ok {
            return Err(ApiError::from(
                DomainError::new(
                    ErrorCode::RefUnknownStudy,
                    "An attached study is not one of this patient's studies.",
                )
                .on("study_ids"),
            ));
        }
    }
    let study_ids = serde_json::to_string(&input.study_ids).map_err(ApiError::internal)?;
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let id = store::insert_remote_consult(
        &mut tx,
        &cons,
        &patient_id,
        &caller.account_id,
        &from_org,
        &expert.account_id,
        &question,
        &study_ids,
        records.as_deref(),
        now,
    )
    .await?;
    identity::insert_care_relationship(
        &mut tx,
        &patient_id,
        &expert.account_id,
        &from_org,
        "remote_consultation",
        now,
        now + state.settings.care_relationship_days.max(1) * 86_400_000,
    )
    .await?;
    record(
        &mut tx,
        caller,
        "remote_consultation.create",
        "patient",
        &patient_id,
        "treating_practitioner",
        Some(&from_org),
    )
    .await?;
    ihos_store::outbox::put_json(
        &mut tx,
        "remote_consultation.requested",
        Some(&expert.account_id),
        &json!({"remote_consultation_id": id, "as": "expert"}).to_string(),
        now,
    )
    .await?;
    let r = store::remote_consult(&mut tx, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let v = rc_view(&mut tx, &r).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(v)
}

pub async fn answer(
    state: &AppState,
    caller: &Caller,
    id: &str,
    input: OpinionInput,
) -> ApiResult<RemoteConsultView> {
    let opinion = parse_text(&input.opinion, "opinion", 8000).map_err(ApiError::from)?;
    let mut c = state.store.conn().await?;
    let r = store::remote_consult(&mut c, id)
        .await?
        .filter(|r| r.expert_id == caller.account_id)
        .ok_or_else(ApiError::not_found)?;
    drop(c);
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    if !store::answer_remote_consult(&mut tx, id, &opinion, now).await? {
        return Err(ApiError::conflict(
            ErrorCode::RefAlreadyAnswered,
            "This consultation has been answered already.",
        ));
    }
    record(
        &mut tx,
        caller,
        "remote_consultation.answer",
        "patient",
        &r.patient_id,
        "treating_practitioner",
        None,
    )
    .await?;
    ihos_store::outbox::put_json(
        &mut tx,
        "remote_consultation.answered",
        Some(&r.requested_by),
        &json!({"remote_consultation_id": id, "as": "requesting_doctor"}).to_string(),
        now,
    )
    .await?;
    let r = store::remote_consult(&mut tx, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let v = rc_view(&mut tx, &r).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(v)
}

pub async fn remote_consult(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> ApiResult<RemoteConsultView> {
    let mut c = state.store.conn().await?;
    let r = store::remote_consult(&mut c, id)
        .await?
        .filter(|r| r.expert_id == caller.account_id || r.requested_by == caller.account_id)
        .ok_or_else(ApiError::not_found)?;
    record(
        &mut c,
        caller,
        "remote_consultation.read",
        "patient",
        &r.patient_id,
        "treating_practitioner",
        None,
    )
    .await?;
    rc_view(&mut c, &r).await
}

pub async fn remote_consults(
    state: &AppState,
    caller: &Caller,
) -> ApiResult<Vec<RemoteConsultView>> {
    let mut c = state.store.conn().await?;
    let mut out = Vec::new();
    for r in store::remote_consults_of(&mut c, &caller.account_id).await? {
        record(
            &mut c,
            caller,
            "remote_consultation.read",
            "patient",
            &r.patient_id,
            "treating_practitioner",
            None,
        )
        .await?;
        out.push(rc_view(&mut c, &r).await?);
    }
    Ok(out)
}

// ---------- dashboard ----------

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberCount {
    pub org_name: String,
    pub sent: i64,
    pub received: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OverdueItem {
    pub id: String,
    pub status: String,
    pub from_org_name: String,
    pub to_org_name: String,
    pub due_local: String,
    pub hours_late: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Dashboard {
    pub consortium_id: String,
    pub consortium_name: String,
    pub total: i64,
    /// up / down: upward referrals, and downward ones (standalone or loops referred back down).
    pub by_direction: BTreeMap<String, i64>,
    pub by_status: BTreeMap<String, i64>,
    pub by_member: Vec<MemberCount>,
    /// Mean hours from request to the receiver's answer, and from request to the closed loop.
    pub mean_hours_to_answer: Option<f64>,
    pub mean_hours_to_close: Option<f64>,
    pub overdue: Vec<OverdueItem>,
}

/// Referrals of a consortium by direction, state and member, turnaround and
/// overdue ones. No patient data: admins see counts and organisations only.
pub async fn dashboard(
    state: &AppState,
    caller: &Caller,
    consortium_id: &str,
) -> ApiResult<Dashboard> {
    let mut c = state.store.conn().await?;
    may_see_consortium(&mut c, caller, consortium_id, false).await?;
    let cons = org::consortium(&mut c, consortium_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let rows = store::of_consortium(&mut c, consortium_id).await?;
    let now = now_ms();
    let mut by_direction = BTreeMap::from([("up".to_string(), 0), ("down".to_string(), 0)]);
    let mut by_status: BTreeMap<String, i64> = Status::ALL
        .iter()
        .map(|s| (s.as_str().to_string(), 0))
        .collect();
    let mut members: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let (mut answer_sum, mut answer_n, mut close_sum, mut close_n) = (0i64, 0i64, 0i64, 0i64);
    let mut overdue = Vec::new();
    for r in &rows {
        let status = Status::parse(&r.status).unwrap_or(Status::Requested);
        if r.direction == "up" {
            *by_direction.entry("up".into()).or_default() += 1;
        }
        if r.direction == "down" || status.is_downward() {
            *by_direction.entry("down".into()).or_default() += 1;
        }
        *by_status.entry(r.status.clone()).or_default() += 1;
        members.entry(r.from_org_name.clone()).or_default().0 += 1;
        members.entry(r.to_org_name.clone()).or_default().1 += 1;
        if let Some(closed) = r.closed_at
            && status == Status::Closed
        {
            close_sum += closed - r.created_at;
            close_n += 1;
        }
        if r.direction == "up" && status != Status::Requested && status != Status::Cancelled {
            let answered = timeline_answer_at(&mut c, &r.id).await?;
            if let Some(at) = answered {
                answer_sum += at - r.created_at;
                answer_n += 1;
            }
        }
        let late = r.overdue_at.is_some() || r.due_at.is_some_and(|d| d < now);
        if late && let Some(due) = r.due_at {
            overdue.push(OverdueItem {
                id: r.id.clone(),
                status: r.status.clone(),
                from_org_name: r.from_org_name.clone(),
                to_org_name: r.to_org_name.clone(),
                due_local: shanghai_time(due),
                hours_late: (now - due).max(0) / 3_600_000,
            });
        }
    }
    let hours = |sum: i64, n: i64| {
        (n > 0).then(|| (sum as f64 / n as f64 / 3_600_000.0 * 10.0).round() / 10.0)
    };
    Ok(Dashboard {
        consortium_id: cons.id,
        consortium_name: cons.name,
        total: rows.len() as i64,
        by_direction,
        by_status,
        by_member: members
            .into_iter()
            .map(|(org_name, (sent, received))| MemberCount {
                org_name,
                sent,
                received,
            })
            .collect(),
        mean_hours_to_answer: hours(answer_sum, answer_n),
        mean_hours_to_close: hours(close_sum, close_n),
        overdue,
    })
}

async fn timeline_answer_at(c: &mut AnyConnection, id: &str) -> ApiResult<Option<i64>> {
    Ok(store::timeline(c, id)
        .await?
        .into_iter()
        .find(|e| e.action == "accept" || e.action == "decline")
        .map(|e| e.at))
}
