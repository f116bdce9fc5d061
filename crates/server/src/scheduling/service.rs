//! Scheduling use cases: templates and one-off changes that turn into slots,
//! live search, booking that never oversells, cancellation with the refund
//! rule, attendance, and the notifications each change writes to the outbox
//! in the same transaction.

use std::collections::HashMap;

use chrono::{Duration, NaiveDate};
use ihos_domain::ErrorCode;
use ihos_domain::scheduling::{
    self as rules, AppointmentStatus, Hours, Mode, SlotType, format_hhmm, local_date, local_hhmm,
    parse_hhmm, parse_weekday,
};
use ihos_domain::{DomainError, Role, Title, parse_date};
use ihos_store::identity::PatientRow;
use ihos_store::scheduling::{
    self as store, AppointmentRow, BookOutcome, NewSlot, NewTemplate, SlotRow, TemplateRow,
};
use ihos_store::{AnyConnection, StoreError, audit, identity, now_ms, org};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Numbers may come as JSON numbers (API) or strings (HTML forms).
fn num<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N {
        I(i64),
        S(String),
    }
    match N::deserialize(d)? {
        N::I(i) => Ok(i),
        N::S(s) => s
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("'{s}' is not a whole number"))),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TemplateInput {
    /// The organisation where the hours are held (the doctor must work there).
    pub org_id: String,
    /// Defaults to the doctor's department at that organisation.
    pub department_id: Option<String>,
    /// 1 = Monday ... 7 = Sunday
    #[serde(deserialize_with = "num")]
    #[schema(value_type = i64)]
    pub weekday: i64,
    /// Local start time, HH:MM (Asia/Shanghai)
    pub start: String,
    /// Local end time, HH:MM
    pub end: String,
    /// 5, 10, 15, 20, 30 or 60
    #[serde(deserialize_with = "num")]
    #[schema(value_type = i64)]
    pub slot_minutes: i64,
    /// Patients per slot
    #[serde(deserialize_with = "num")]
    #[schema(value_type = i64)]
    pub capacity: i64,
    /// general, specialist or expert
    pub slot_type: String,
    /// Fee per booking in fen (1 yuan = 100 fen)
    #[serde(deserialize_with = "num")]
    #[schema(value_type = i64)]
    pub fee_fen: i64,
    /// online or offline
    pub mode: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ExtraHoursInput {
    pub org_id: String,
    pub department_id: Option<String>,
    /// Local date, YYYY-MM-DD
    pub date: String,
    pub start: String,
    pub end: String,
    #[serde(deserialize_with = "num")]
    #[schema(value_type = i64)]
    pub slot_minutes: i64,
    #[serde(deserialize_with = "num")]
    #[schema(value_type = i64)]
    pub capacity: i64,
    pub slot_type: String,
    #[serde(deserialize_with = "num")]
    #[schema(value_type = i64)]
    pub fee_fen: i64,
    pub mode: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LeaveInput {
    /// First local day of leave, YYYY-MM-DD
    pub from: String,
    /// Last local day of leave (inclusive)
    pub to: String,
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateView {
    pub id: String,
    pub doctor_id: String,
    pub org_id: String,
    pub department_id: Option<String>,
    pub weekday: i64,
    pub start: String,
    pub end: String,
    pub slot_minutes: i64,
    pub capacity: i64,
    pub slot_type: String,
    pub fee_fen: i64,
    pub mode: String,
}

/// What a schedule change did to the slots and bookings.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleChange {
    pub template: Option<TemplateView>,
    pub slots_created: u32,
    pub slots_kept: u32,
    pub slots_withdrawn: u32,
    /// Booked patients whose slot was withdrawn: refunded, notified, free to rebook.
    pub appointments_displaced: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SlotView {
    pub id: String,
    pub date: String,
    /// Local start, HH:MM
    pub start: String,
    pub end: String,
    pub starts_at: i64,
    pub mode: String,
    pub slot_type: String,
    pub fee_fen: i64,
    pub capacity: i64,
    pub remaining: i64,
    /// When booking opens (UTC ms) and whether it has.
    pub opens_at: i64,
    pub released: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DoctorSchedule {
    pub doctor_id: String,
    pub name: String,
    pub title: String,
    pub title_label: String,
    pub org_id: String,
    pub org_name: String,
    pub department_id: Option<String>,
    pub department_name: Option<String>,
    pub specialty: Option<String>,
    pub slots: Vec<SlotView>,
}

#[derive(Debug, Deserialize, ToSchema, utoipa::IntoParams)]
pub struct SearchQuery {
    /// Local date, YYYY-MM-DD (default today)
    pub date: Option<String>,
    pub department_id: Option<String>,
    /// Specialty code, e.g. cardiology
    pub specialty: Option<String>,
    /// Title code, e.g. chief_physician
    pub title: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct BookingInput {
    /// The patient to book for: yourself (default) or a child in your care.
    pub patient_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AttendanceInput {
    pub attended: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AppointmentView {
    pub id: String,
    /// Show this code at the registration desk or in the online waiting room.
    pub code: String,
    /// booked, cancelled, late_cancelled, displaced, attended or no_show
    pub status: String,
    pub patient_id: String,
    pub patient_name: String,
    pub doctor_id: String,
    pub doctor_name: String,
    pub org_name: String,
    pub slot_id: String,
    pub date: String,
    pub start: String,
    pub end: String,
    pub starts_at: i64,
    pub mode: String,
    pub slot_type: String,
    pub fee_fen: i64,
    pub refund_fen: i64,
    /// On the day: place in the doctor's queue and estimated wait.
    pub queue_position: Option<i64>,
    pub estimated_wait_minutes: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationView {
    pub id: String,
    pub at: i64,
    pub topic: String,
    pub payload: serde_json::Value,
    pub delivered: bool,
}

pub fn slot_unavailable() -> ApiError {
    // The rush's answer: the code's own sentence, so the body has no detail to copy.
    ApiError::conflict(ErrorCode::SlotUnavailable, ErrorCode::SlotUnavailable.en())
}

fn template_view(t: &TemplateRow) -> TemplateView {
    TemplateView {
        id: t.id.clone(),
        doctor_id: t.doctor_id.clone(),
        org_id: t.org_id.clone(),
        department_id: t.department_id.clone(),
        weekday: t.weekday,
        start: format_hhmm(t.start_minute as u32),
        end: format_hhmm(t.end_minute as u32),
        slot_minutes: t.slot_minutes,
        capacity: t.capacity,
        slot_type: t.slot_type.clone(),
        fee_fen: t.fee_fen,
        mode: t.mode.clone(),
    }
}

fn slot_view(s: &SlotRow, now: i64) -> SlotView {
    SlotView {
        id: s.id.clone(),
        date: s.service_date.clone(),
        start: local_hhmm(s.starts_at),
        end: local_hhmm(s.ends_at),
        starts_at: s.starts_at,
        mode: s.mode.clone(),
        slot_type: s.slot_type.clone(),
        fee_fen: s.fee_fen,
        capacity: s.capacity,
        remaining: s.remaining,
        opens_at: s.opens_at,
        released: now >= s.opens_at,
    }
}

fn appointment_view(a: &AppointmentRow) -> AppointmentView {
    AppointmentView {
        id: a.id.clone(),
        code: a.code.clone(),
        status: a.status.clone(),
        patient_id: a.patient_id.clone(),
        patient_name: a.patient_name.clone(),
        doctor_id: a.doctor_id.clone(),
        doctor_name: a.doctor_name.clone(),
        org_name: a.org_name.clone(),
        slot_id: a.slot_id.clone(),
        date: a.service_date.clone(),
        start: local_hhmm(a.starts_at),
        end: local_hhmm(a.ends_at),
        starts_at: a.starts_at,
        mode: a.mode.clone(),
        slot_type: a.slot_type.clone(),
        fee_fen: a.fee_fen,
        refund_fen: a.refund_fen,
        queue_position: None,
        estimated_wait_minutes: None,
    }
}

fn hours_from(
    start: &str,
    end: &str,
    slot_minutes: i64,
    capacity: i64,
    slot_type: &str,
    fee_fen: i64,
    mode: &str,
) -> Result<Hours, DomainError> {
    Hours {
        start_minute: parse_hhmm(start, "start")?,
        end_minute: parse_hhmm(end, "end")?,
        slot_minutes: u32::try_from(slot_minutes).unwrap_or(0),
        capacity: u32::try_from(capacity).unwrap_or(0),
        slot_type: SlotType::parse(slot_type.trim())?,
        fee_fen,
        mode: Mode::parse(mode.trim())?,
    }
    .validate()
}

fn today() -> NaiveDate {
    local_date(now_ms())
}

/// The doctor, their department at `org_id`, after checking the caller may
/// manage this doctor's schedule there (the doctor themself, or the org's admin).
async fn managed_doctor(
    c: &mut AnyConnection,
    caller: &Caller,
    doctor_id: &str,
    org_id: &str,
    department_id: Option<&str>,
) -> ApiResult<Option<String>> {
    let is_self = caller.account_id == doctor_id && caller.has(Role::Doctor);
    if !is_self && !caller.may_admin_org(org_id) {
        return Err(ApiError::not_found());
    }
    let p = identity::practitioner(c, doctor_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if p.role != Role::Doctor.as_str() {
        return Err(DomainError::new(
            ErrorCode::NotADoctor,
            "Only doctors have consultation hours.",
        )
        .into());
    }
    let affiliation = identity::affiliations_of(c, doctor_id)
        .await?
        .into_iter()
        .find(|a| a.org_id == org_id)
        .ok_or_else(|| {
            ApiError::from(
                DomainError::new(
                    ErrorCode::NotAffiliated,
                    "The doctor does not work at this organisation; add an affiliation first.",
                )
                .on("org_id"),
            )
        })?;
    match department_id.map(str::trim).filter(|d| !d.is_empty()) {
        None => Ok(affiliation.department_id),
        Some(dep) => match org::department(c, dep).await? {
            Some(d) if d.org_id == org_id => Ok(Some(d.id)),
            _ => Err(DomainError::new(
                ErrorCode::UnknownDepartment,
                "That department does not belong to this organisation.",
            )
            .on("department_id")
            .into()),
        },
    }
}

async fn record(
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

/// Whose slots: the doctor, where, and from which template (if any).
struct Owner<'a> {
    doctor_id: &'a str,
    org_id: &'a str,
    department_id: Option<&'a str>,
    template_id: Option<&'a str>,
    /// Leave periods (inclusive local dates): no slots on these days.
    on_leave: &'a [(String, String)],
}

impl<'a> Owner<'a> {
    fn of(t: &'a TemplateRow, on_leave: &'a [(String, String)]) -> Self {
        Self {
            doctor_id: &t.doctor_id,
            org_id: &t.org_id,
            department_id: t.department_id.as_deref(),
            template_id: Some(&t.id),
            on_leave,
        }
    }
}

/// The new slots a template (or extra hours) makes on the given days.
fn planned_slots(
    policy: &rules::Policy,
    owner: &Owner<'_>,
    hours: &Hours,
    days: impl Iterator<Item = NaiveDate>,
    now: i64,
) -> Vec<NewSlot> {
    let mut out = Vec::new();
    for day in days {
        let date = day.format("%Y-%m-%d").to_string();
        if owner
            .on_leave
            .iter()
            .any(|(from, to)| from.as_str() <= date.as_str() && date.as_str() <= to.as_str())
        {
            continue;
        }
        for (starts_at, ends_at) in hours.slots_on(day) {
            if starts_at <= now {
                continue;
            }
            out.push(NewSlot {
                doctor_id: owner.doctor_id.to_string(),
                org_id: owner.org_id.to_string(),
                department_id: owner.department_id.map(str::to_string),
                template_id: owner.template_id.map(str::to_string),
                service_date: date.clone(),
                starts_at,
                ends_at,
                slot_minutes: i64::from(hours.slot_minutes),
                mode: hours.mode.as_str().to_string(),
                slot_type: hours.slot_type.as_str().to_string(),
                fee_fen: hours.fee_fen,
                capacity: i64::from(hours.capacity),
                opens_at: policy.opens_at(day),
            });
        }
    }
    out
}

fn template_days(
    policy: &rules::Policy,
    weekday: i64,
    from: NaiveDate,
) -> impl Iterator<Item = NaiveDate> {
    let horizon = i64::from(policy.horizon_days);
    (0..=horizon)
        .map(move |i| from + Duration::days(i))
        .filter(move |d| i64::from(rules::weekday_number(*d)) == weekday)
}

fn template_hours(t: &TemplateRow) -> Hours {
    Hours {
        start_minute: t.start_minute as u32,
        end_minute: t.end_minute as u32,
        slot_minutes: t.slot_minutes as u32,
        capacity: t.capacity as u32,
        slot_type: SlotType::parse(&t.slot_type).unwrap_or(SlotType::General),
        fee_fen: t.fee_fen,
        mode: Mode::parse(&t.mode).unwrap_or(Mode::Offline),
    }
}

/// Make the template's slots up to the policy horizon. Days already made
/// (up to `generated_until`) are skipped, so the job's pass is cheap.
pub async fn extend_template(
    c: &mut AnyConnection,
    policy: &rules::Policy,
    t: &TemplateRow,
    now: i64,
) -> ApiResult<u32> {
    let today = local_date(now);
    let until = (today + Duration::days(i64::from(policy.horizon_days)))
        .format("%Y-%m-%d")
        .to_string();
    if until <= t.generated_until {
        return Ok(0);
    }
    let done = t.generated_until.clone();
    let leave = store::leave_of(c, &t.doctor_id, &today.format("%Y-%m-%d").to_string()).await?;
    let mut created = 0;
    for s in planned_slots(
        policy,
        &Owner::of(t, &leave),
        &template_hours(t),
        template_days(policy, t.weekday, today),
        now,
    ) {
        if s.service_date <= done {
            continue;
        }
        if store::insert_slot(c, &s, now).await?.is_some() {
            created += 1;
        }
    }
    store::set_generated_until(c, &t.id, &until).await?;
    Ok(created)
}

fn recipient(a: &AppointmentRow) -> Option<&str> {
    a.patient_account_id
        .as_deref()
        .or(a.guardian_account_id.as_deref())
}

/// Withdraw a slot: every booking on it is displaced with a full refund and
/// its patient notified (same transaction). Answers how many were displaced.
async fn withdraw_with_notice(
    state: &AppState,
    c: &mut AnyConnection,
    slot: &SlotRow,
    reason: &str,
    now: i64,
) -> ApiResult<u32> {
    let mut displaced = 0;
    for a in store::active_appointments_of_slot(c, &slot.id).await? {
        if !store::close_appointment(
            c,
            &a.id,
            AppointmentStatus::Displaced.as_str(),
            a.fee_fen,
            now,
        )
        .await?
        {
            continue;
        }
        store::uncount_day_booking(c, &a.patient_id, &a.service_date).await?;
        let payload = json!({
            "appointment_id": a.id, "code": a.code, "patient_name": a.patient_name,
            "doctor_id": a.doctor_id, "doctor_name": a.doctor_name, "org_name": a.org_name,
            "date": a.service_date, "start": local_hhmm(a.starts_at), "refund_fen": a.fee_fen,
            "reason": reason, "rebook": format!("/booking?doctor_id={}", a.doctor_id),
        });
        ihos_store::outbox::put_json(
            c,
            "appointment.displaced",
            recipient(&a),
            &payload.to_string(),
            now,
        )
        .await?;
        displaced += 1;
    }
    store::withdraw_slot(c, &slot.id).await?;
    super::runtime::booking(state).gate.mark_full(&slot.id);
    Ok(displaced)
}

pub async fn create_template(
    state: &AppState,
    caller: &Caller,
    doctor_id: &str,
    input: TemplateInput,
) -> ApiResult<ScheduleChange> {
    parse_weekday(u32::try_from(input.weekday).unwrap_or(0))?;
    let hours = hours_from(
        &input.start,
        &input.end,
        input.slot_minutes,
        input.capacity,
        &input.slot_type,
        input.fee_fen,
        &input.mode,
    )?;
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let department_id = managed_doctor(
        &mut tx,
        caller,
        doctor_id,
        &input.org_id,
        input.department_id.as_deref(),
    )
    .await?;
    let new = new_template(
        caller,
        doctor_id,
        &input.org_id,
        department_id,
        input.weekday,
        &hours,
    );
    let id = store::insert_template(&mut tx, &new, now).await?;
    let t = store::template(&mut tx, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let created = extend_template(&mut tx, &state.settings.scheduling, &t, now).await?;
    record(
        &mut tx,
        caller,
        "schedule.template.create",
        "schedule_template",
        &id,
        "admin",
        Some(&t.org_id),
    )
    .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(ScheduleChange {
        template: Some(template_view(&t)),
        slots_created: created,
        slots_kept: 0,
        slots_withdrawn: 0,
        appointments_displaced: 0,
    })
}

fn new_template(
    caller: &Caller,
    doctor_id: &str,
    org_id: &str,
    department_id: Option<String>,
    weekday: i64,
    h: &Hours,
) -> NewTemplate {
    NewTemplate {
        doctor_id: doctor_id.to_string(),
        org_id: org_id.to_string(),
        department_id,
        weekday,
        start_minute: i64::from(h.start_minute),
        end_minute: i64::from(h.end_minute),
        slot_minutes: i64::from(h.slot_minutes),
        capacity: i64::from(h.capacity),
        slot_type: h.slot_type.as_str().to_string(),
        fee_fen: h.fee_fen,
        mode: h.mode.as_str().to_string(),
        created_by: caller.account_id.clone(),
    }
}

pub async fn doctor_templates(state: &AppState, doctor_id: &str) -> ApiResult<Vec<TemplateView>> {
    let mut c = state.store.conn().await?;
    Ok(store::templates_of(&mut c, doctor_id)
        .await?
        .iter()
        .map(template_view)
        .collect())
}

/// Change a weekly template. Future slots that still fit keep their bookings
/// (capacity never drops below what is booked; new fees apply to new
/// bookings); slots that no longer exist are withdrawn and their patients
/// refunded and notified in the same transaction.
pub async fn change_template(
    state: &AppState,
    caller: &Caller,
    template_id: &str,
    input: TemplateInput,
) -> ApiResult<ScheduleChange> {
    parse_weekday(u32::try_from(input.weekday).unwrap_or(0))?;
    let hours = hours_from(
        &input.start,
        &input.end,
        input.slot_minutes,
        input.capacity,
        &input.slot_type,
        input.fee_fen,
        &input.mode,
    )?;
    let now = now_ms();
    let policy = state.settings.scheduling;
    let mut tx = state.store.begin().await?;
    let old = store::template(&mut tx, template_id)
        .await?
        .filter(|t| t.active == 1)
        .ok_or_else(ApiError::not_found)?;
    if input.org_id != old.org_id {
        return Err(DomainError::new(
            ErrorCode::OrgMismatch,
            "A template stays at its organisation; remove it and create one at the other.",
        )
        .on("org_id")
        .into());
    }
    let department_id = managed_doctor(
        &mut tx,
        caller,
        &old.doctor_id,
        &old.org_id,
        input.department_id.as_deref(),
    )
    .await?;
    let new = new_template(
        caller,
        &old.doctor_id,
        &old.org_id,
        department_id,
        input.weekday,
        &hours,
    );
    store::update_template(&mut tx, template_id, &new, now).await?;
    let t = store::template(&mut tx, template_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let today = local_date(now).format("%Y-%m-%d").to_string();
    let leave = store::leave_of(&mut tx, &t.doctor_id, &today).await?;
    let mut planned: HashMap<i64, NewSlot> = planned_slots(
        &policy,
        &Owner::of(&t, &leave),
        &hours,
        template_days(&policy, t.weekday, local_date(now)),
        now,
    )
    .into_iter()
    .map(|s| (s.starts_at, s))
    .collect();
    let mut change = ScheduleChange {
        template: Some(template_view(&t)),
        slots_created: 0,
        slots_kept: 0,
        slots_withdrawn: 0,
        appointments_displaced: 0,
    };
    for s in store::future_slots_of_template(&mut tx, template_id, now).await? {
        let fits = planned
            .get(&s.starts_at)
            .is_some_and(|p| p.ends_at == s.ends_at && p.mode == s.mode);
        if fits {
            planned.remove(&s.starts_at);
            store::update_slot_terms(&mut tx, &s.id, t.capacity, t.fee_fen, &t.slot_type).await?;
            super::runtime::booking(state).gate.clear(&s.id);
            change.slots_kept += 1;
        } else {
            change.appointments_displaced +=
                withdraw_with_notice(state, &mut tx, &s, "schedule_changed", now).await?;
            change.slots_withdrawn += 1;
        }
    }
    let mut rest: Vec<NewSlot> = planned.into_values().collect();
    rest.sort_by_key(|s| s.starts_at);
    for s in rest {
        if store::insert_slot(&mut tx, &s, now).await?.is_some() {
            change.slots_created += 1;
        }
    }
    let until = (local_date(now) + Duration::days(i64::from(policy.horizon_days)))
        .format("%Y-%m-%d")
        .to_string();
    store::set_generated_until(&mut tx, template_id, &until).await?;
    record(
        &mut tx,
        caller,
        "schedule.template.change",
        "schedule_template",
        template_id,
        "admin",
        Some(&t.org_id),
    )
    .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(change)
}

pub async fn remove_template(
    state: &AppState,
    caller: &Caller,
    template_id: &str,
) -> ApiResult<ScheduleChange> {
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let t = store::template(&mut tx, template_id)
        .await?
        .filter(|t| t.active == 1)
        .ok_or_else(ApiError::not_found)?;
    managed_doctor(
        &mut tx,
        caller,
        &t.doctor_id,
        &t.org_id,
        t.department_id.as_deref(),
    )
    .await?;
    store::deactivate_template(&mut tx, template_id, now).await?;
    let mut change = ScheduleChange {
        template: None,
        slots_created: 0,
        slots_kept: 0,
        slots_withdrawn: 0,
        appointments_displaced: 0,
    };
    for s in store::future_slots_of_template(&mut tx, template_id, now).await? {
        change.appointments_displaced +=
            withdraw_with_notice(state, &mut tx, &s, "schedule_changed", now).await?;
        change.slots_withdrawn += 1;
    }
    record(
        &mut tx,
        caller,
        "schedule.template.remove",
        "schedule_template",
        template_id,
        "admin",
        Some(&t.org_id),
    )
    .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(change)
}

/// One-off extra hours on one day.
pub async fn add_extra_hours(
    state: &AppState,
    caller: &Caller,
    doctor_id: &str,
    input: ExtraHoursInput,
) -> ApiResult<ScheduleChange> {
    let hours = hours_from(
        &input.start,
        &input.end,
        input.slot_minutes,
        input.capacity,
        &input.slot_type,
        input.fee_fen,
        &input.mode,
    )?;
    let day = parse_date(&input.date, "date")?;
    if day < today() || day > today() + Duration::days(366) {
        return Err(DomainError::new(
            ErrorCode::InvalidDate,
            "Extra hours are for today or a day within the coming year.",
        )
        .on("date")
        .into());
    }
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let department_id = managed_doctor(
        &mut tx,
        caller,
        doctor_id,
        &input.org_id,
        input.department_id.as_deref(),
    )
    .await?;
    let mut change = ScheduleChange {
        template: None,
        slots_created: 0,
        slots_kept: 0,
        slots_withdrawn: 0,
        appointments_displaced: 0,
    };
    for s in planned_slots(
        &state.settings.scheduling,
        &Owner {
            doctor_id,
            org_id: &input.org_id,
            department_id: department_id.as_deref(),
            template_id: None,
            // Extra hours are explicit: they may fall on a day of leave.
            on_leave: &[],
        },
        &hours,
        std::iter::once(day),
        now,
    ) {
        if store::insert_slot(&mut tx, &s, now).await?.is_some() {
            change.slots_created += 1;
        } else {
            change.slots_kept += 1;
        }
    }
    if change.slots_created == 0 {
        return Err(ApiError::conflict(
            ErrorCode::NoNewSlots,
            "These hours add no slot: they have passed or the doctor already has slots then.",
        ));
    }
    record(
        &mut tx,
        caller,
        "schedule.extra_hours",
        "practitioner",
        doctor_id,
        "admin",
        Some(&input.org_id),
    )
    .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(change)
}

/// Leave: withdraw every open slot of the doctor on those days (at the
/// organisations the caller manages); booked patients are refunded and notified.
pub async fn take_leave(
    state: &AppState,
    caller: &Caller,
    doctor_id: &str,
    input: LeaveInput,
) -> ApiResult<ScheduleChange> {
    let from = parse_date(&input.from, "from")?;
    let to = parse_date(&input.to, "to")?;
    if to < from || (to - from).num_days() > 366 {
        return Err(DomainError::new(
            ErrorCode::InvalidDate,
            "The last day of leave is on or after the first, within a year.",
        )
        .on("to")
        .into());
    }
    let reason: String = input.reason.trim().chars().take(100).collect();
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let is_self = caller.account_id == doctor_id && caller.has(Role::Doctor);
    let slots = store::open_slots_of_doctor(
        &mut tx,
        doctor_id,
        rules::local_ms(from, 0).max(now),
        rules::local_ms(to + Duration::days(1), 0),
    )
    .await?;
    let mut change = ScheduleChange {
        template: None,
        slots_created: 0,
        slots_kept: 0,
        slots_withdrawn: 0,
        appointments_displaced: 0,
    };
    let mut allowed_any = is_self;
    for s in slots
        .iter()
        .filter(|s| is_self || caller.may_admin_org(&s.org_id))
    {
        allowed_any = true;
        change.appointments_displaced += withdraw_with_notice(
            state,
            &mut tx,
            s,
            if reason.is_empty() {
                "doctor_on_leave"
            } else {
                &reason
            },
            now,
        )
        .await?;
        change.slots_withdrawn += 1;
    }
    if !allowed_any {
        let manages = identity::affiliations_of(&mut tx, doctor_id)
            .await?
            .iter()
            .any(|a| caller.may_admin_org(&a.org_id));
        if !manages {
            return Err(ApiError::not_found());
        }
    }
    record(
        &mut tx,
        caller,
        "schedule.leave",
        "practitioner",
        doctor_id,
        "admin",
        None,
    )
    .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(change)
}

/// Public search: doctors with open slots on a day and their live remaining seats.
pub async fn search(state: &AppState, q: SearchQuery) -> ApiResult<Vec<DoctorSchedule>> {
    let date = match q.date.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        Some(d) => parse_date(d, "date")?,
        None => today(),
    };
    let specialty = match q
        .specialty
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(s) => Some(ihos_domain::Specialty::parse(s)?.code().to_string()),
        None => None,
    };
    let title = match q.title.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(t) => Some(Title::parse(t)?.as_str().to_string()),
        None => None,
    };
    let department = q
        .department_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let day = date.format("%Y-%m-%d").to_string();
    let now = now_ms();
    let mut c = state.store.conn().await?;
    let cards = store::search_doctors(
        &mut c,
        &day,
        department,
        specialty.as_deref(),
        title.as_deref(),
    )
    .await?;
    let mut out: Vec<DoctorSchedule> = Vec::new();
    for card in cards {
        if out
            .iter()
            .any(|d| d.doctor_id == card.doctor_id && d.org_id == card.org_id)
        {
            continue;
        }
        let slots = store::slots_of_doctor_on(&mut c, &card.doctor_id, &day)
            .await?
            .iter()
            .filter(|s| s.org_id == card.org_id && s.ends_at > now)
            .map(|s| slot_view(s, now))
            .collect();
        let title_label = Title::parse(&card.title)
            .map(|t| t.label_zh())
            .unwrap_or_default()
            .to_string();
        out.push(DoctorSchedule {
            doctor_id: card.doctor_id,
            name: card.name,
            title: card.title,
            title_label,
            org_id: card.org_id,
            org_name: card.org_name,
            department_id: card.department_id,
            department_name: card.department_name,
            specialty: card.specialty,
            slots,
        });
    }
    Ok(out)
}

fn booking_code() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    let mut rng = rand::thread_rng();
    (0..8)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The slot, the caller's session and their own patient record, read in
/// one statement. A full slot is public knowledge, so it is refused here,
/// before the caller is authenticated (and remembered by the gate).
pub async fn booking_context(
    state: &AppState,
    slot_id: &str,
    headers: &axum::http::HeaderMap,
) -> ApiResult<(store::SlotCard, Option<Caller>, Option<PatientRow>)> {
    let token = crate::auth::token_from_headers(headers).map(|t| crate::crypto::token_hash(&t));
    let mut c = state.store.conn().await?;
    let ctx = store::booking_context(&mut c, slot_id, token.as_deref(), now_ms())
        .await?
        .ok_or_else(ApiError::not_found)?;
    let slot = &ctx.card.slot;
    if slot.status != "open" || slot.remaining <= 0 {
        super::runtime::booking(state).gate.mark_full(slot_id);
        return Err(slot_unavailable());
    }
    let caller = ctx.caller.map(|s| Caller::from_session(s, headers));
    Ok((ctx.card, caller, ctx.own_patient))
}

/// Book one seat of a slot. The gate (checked by the handler) refuses known
/// full slots early; here the conditional UPDATE takes the seat, the per-day
/// counter bounds bookings per patient and day, and the unique
/// (patient, start) index refuses a second booking at the same time.
#[tracing::instrument(skip_all, fields(slot_id = %card.slot.id))]
pub async fn book(
    state: &AppState,
    caller: &Caller,
    card: store::SlotCard,
    input: BookingInput,
    own_patient: Option<PatientRow>,
) -> ApiResult<AppointmentView> {
    caller.require(Role::Patient)?;
    let policy = state.settings.scheduling;
    let now = now_ms();
    let slot = &card.slot;
    policy
        .check_bookable(now, slot.opens_at, slot.starts_at)
        .map_err(ApiError::domain_conflict)?;
    let own_patient =
        own_patient.filter(|p| p.account_id.as_deref() == Some(caller.account_id.as_str()));
    let requested = input
        .patient_id
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty());
    let patient = match (requested, own_patient) {
        (None, Some(own)) => Some(own),
        (None, None) => {
            let mut c = state.store.conn().await?;
            identity::patient_of_account(&mut c, &caller.account_id).await?
        }
        (Some(id), _) => {
            let mut c = state.store.conn().await?;
            identity::patient(&mut c, id).await?.filter(|p| {
                p.account_id.as_deref() == Some(caller.account_id.as_str())
                    || p.guardian_account_id.as_deref() == Some(caller.account_id.as_str())
            })
        }
    }
    .ok_or_else(|| {
        ApiError::from(
            DomainError::new(
                ErrorCode::UnknownPatient,
                "Book for yourself or a child in your care.",
            )
            .on("patient_id"),
        )
    })?;

    let id = ihos_store::new_id();
    let code = booking_code();
    let view = AppointmentView {
        id: id.clone(),
        code: code.clone(),
        status: AppointmentStatus::Booked.as_str().to_string(),
        patient_id: patient.id.clone(),
        patient_name: patient.name.clone(),
        doctor_id: slot.doctor_id.clone(),
        doctor_name: card.doctor_name.clone(),
        org_name: card.org_name.clone(),
        slot_id: slot.id.clone(),
        date: slot.service_date.clone(),
        start: local_hhmm(slot.starts_at),
        end: local_hhmm(slot.ends_at),
        starts_at: slot.starts_at,
        mode: slot.mode.clone(),
        slot_type: slot.slot_type.clone(),
        fee_fen: slot.fee_fen,
        refund_fen: 0,
        queue_position: None,
        estimated_wait_minutes: None,
    };
    let payload = json!({
        "appointment_id": view.id, "code": view.code, "patient_name": view.patient_name,
        "doctor_name": view.doctor_name, "org_name": view.org_name, "date": view.date,
        "start": view.start, "fee_fen": view.fee_fen,
    })
    .to_string();
    let ground = if patient.account_id.as_deref() == Some(caller.account_id.as_str()) {
        "self"
    } else {
        "guardian"
    };
    let roles = caller.roles_label();
    let booking = store::Booking {
        appointment_id: &id,
        appointment: store::NewAppointment {
            slot,
            patient_id: &patient.id,
            booked_by: &caller.account_id,
            code: &code,
        },
        daily_limit: i64::from(policy.daily_limit),
        now,
        audit: audit::AuditEntry {
            actor_id: Some(&caller.account_id),
            actor_roles: &roles,
            action: "appointment.create",
            subject_type: "patient",
            subject_id: &patient.id,
            ground,
            org_id: Some(&slot.org_id),
            request_id: caller.request_id.as_deref(),
        },
        notice_topic: "appointment.booked",
        notice_recipient: Some(&caller.account_id),
        notice_payload: &payload,
    };
    let outcome = match &super::runtime::booking(state).batch {
        Some(batch) => batch.book(store::QueuedBooking::new(&booking)).await,
        None => store::book_seat(&state.store, &booking).await,
    };
    match outcome {
        Ok(BookOutcome::Booked) => {}
        Ok(BookOutcome::SlotFull) => {
            super::runtime::booking(state).gate.mark_full(&slot.id);
            return Err(slot_unavailable());
        }
        Ok(BookOutcome::DailyLimitReached) => {
            return Err(ApiError::conflict(
                ErrorCode::DailyLimitReached,
                format!(
                    "A patient may hold at most {} bookings per day; cancel one to book another.",
                    policy.daily_limit
                ),
            ));
        }
        // An overlapping booking, or the same start booked concurrently.
        Ok(BookOutcome::Overlapping) => return Err(double_booking()),
        Err(StoreError::Duplicate { what }) if what == "active_start" => {
            return Err(double_booking());
        }
        Err(e) => return Err(e.into()),
    }
    if slot.remaining <= 1 {
        // Probably the last seat: let the gate refuse the next attempts; a
        // wrong guess only costs the next caller's trip to the database.
        super::runtime::booking(state).gate.mark_full(&slot.id);
    }
    Ok(view)
}

fn double_booking() -> ApiError {
    ApiError::conflict(
        ErrorCode::DoubleBooking,
        "This patient already has a booking at this time; cancel it first or pick another time.",
    )
}

/// The account may see this appointment as the patient or their guardian.
fn is_own(caller: &Caller, a: &AppointmentRow) -> bool {
    a.patient_account_id.as_deref() == Some(caller.account_id.as_str())
        || a.guardian_account_id.as_deref() == Some(caller.account_id.as_str())
}

fn own_ground(caller: &Caller, a: &AppointmentRow) -> &'static str {
    if a.patient_account_id.as_deref() == Some(caller.account_id.as_str()) {
        "self"
    } else {
        "guardian"
    }
}

/// Appointments of the caller and the children in their care; the read of
/// each patient's appointments is audited once.
pub async fn my_appointments(state: &AppState, caller: &Caller) -> ApiResult<Vec<AppointmentView>> {
    let mut c = state.store.conn().await?;
    let rows = store::appointments_for_account(&mut c, &caller.account_id).await?;
    let mut seen: Vec<&str> = Vec::new();
    for a in &rows {
        if !seen.contains(&a.patient_id.as_str()) {
            seen.push(&a.patient_id);
            record(
                &mut c,
                caller,
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
    record(
        &mut c,
        caller,
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
    record(
        &mut tx,
        caller,
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
    super::runtime::booking(state).gate.clear(&a.slot_id);
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
    record(
        &mut tx,
        caller,
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

#[derive(Debug, Serialize, ToSchema)]
pub struct DayView {
    pub date: String,
    pub slots: Vec<SlotView>,
    pub appointments: Vec<DoctorAppointmentView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DoctorAppointmentView {
    #[serde(flatten)]
    pub appointment: AppointmentView,
    /// Late cancellations and no-shows on the patient's record.
    pub late_cancellations: i64,
    pub no_shows: i64,
}

/// A doctor's day: slots and the patients booked (the doctor or the org's
/// admin; each patient read is audited).
pub async fn doctor_day(
    state: &AppState,
    caller: &Caller,
    doctor_id: &str,
    date: Option<&str>,
) -> ApiResult<DayView> {
    let day = match date.map(str::trim).filter(|d| !d.is_empty()) {
        Some(d) => parse_date(d, "date")?,
        None => today(),
    }
    .format("%Y-%m-%d")
    .to_string();
    let now = now_ms();
    let mut c = state.store.conn().await?;
    let is_self = caller.account_id == doctor_id && caller.has(Role::Doctor);
    let admin_of = identity::affiliations_of(&mut c, doctor_id)
        .await?
        .into_iter()
        .map(|a| a.org_id)
        .filter(|o| caller.may_admin_org(o))
        .collect::<Vec<_>>();
    if !is_self && admin_of.is_empty() {
        return Err(ApiError::not_found());
    }
    let visible = |org_id: &str| is_self || admin_of.iter().any(|o| o == org_id);
    let slots = store::slots_of_doctor_on(&mut c, doctor_id, &day)
        .await?
        .iter()
        .filter(|s| visible(&s.org_id))
        .map(|s| slot_view(s, now))
        .collect();
    let mut appointments = Vec::new();
    for a in store::appointments_of_doctor_on(&mut c, doctor_id, &day).await? {
        if !visible(&a.org_id) {
            continue;
        }
        let (late, no_show) = store::patient_record_counts(&mut c, &a.patient_id).await?;
        record(
            &mut c,
            caller,
            "appointment.read",
            "patient",
            &a.patient_id,
            if is_self { "treating" } else { "admin" },
            Some(&a.org_id),
        )
        .await?;
        appointments.push(DoctorAppointmentView {
            appointment: appointment_view(&a),
            late_cancellations: late,
            no_shows: no_show,
        });
    }
    Ok(DayView {
        date: day,
        slots,
        appointments,
    })
}

pub async fn notifications(state: &AppState, caller: &Caller) -> ApiResult<Vec<NotificationView>> {
    let mut c = state.store.conn().await?;
    Ok(store::inbox(&mut c, &caller.account_id, 100)
        .await?
        .into_iter()
        .map(|n| NotificationView {
            id: n.id,
            at: n.created_at,
            topic: n.topic,
            payload: serde_json::from_str(&n.payload).unwrap_or(serde_json::Value::Null),
            delivered: n.delivered_at.is_some(),
        })
        .collect())
}
