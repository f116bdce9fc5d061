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

mod appointments;
mod booking;
mod day;
mod templates;
pub use appointments::*;
pub use booking::*;
pub use day::*;
pub use templates::*;

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
