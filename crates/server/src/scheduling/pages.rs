//! Pages: patient booking (/booking), my appointments (/appointments) and
//! schedule management for doctors and org admins (/schedule).

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use ihos_domain::Role;
use ihos_domain::scheduling::{SlotType, local_date};
use ihos_store::{identity, now_ms};
use serde::Deserialize;

use super::service::{
    self, AppointmentView, DayView, DoctorSchedule, NotificationView, SearchQuery, TemplateView,
};
use crate::auth::MaybeCaller;
use crate::error::ApiResult;
use crate::i18n::Lang;
use crate::state::AppState;
use crate::web::{Frame, LangQuery, SignedIn, page_lang, render, shanghai_time};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/booking", get(booking))
        .route("/appointments", get(appointments))
        .route("/schedule", get(schedule))
}

/// Yuan with two decimals from fen, for display only.
pub fn yuan(fen: &i64) -> String {
    format!("¥{}.{:02}", fen / 100, (fen % 100).abs())
}

#[derive(Deserialize)]
pub struct BookingPageQuery {
    pub lang: Option<String>,
    pub date: Option<String>,
    pub specialty: Option<String>,
    pub title: Option<String>,
    pub department_id: Option<String>,
}

#[derive(Template)]
#[template(path = "booking.html")]
struct BookingPage {
    f: Frame,
    date: String,
    specialty: String,
    title: String,
    doctors: Vec<DoctorSchedule>,
    error: Option<String>,
    specialties: Vec<(&'static str, &'static str)>,
    titles: Vec<(&'static str, &'static str)>,
    dependants: Vec<(String, String)>,
}

impl BookingPage {
    fn slot_type_label(&self, code: &str) -> &'static str {
        self.f.t(code)
    }
}

async fn booking(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Query(q): Query<BookingPageQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let lang = page_lang(
        &state,
        &LangQuery {
            lang: q.lang.clone(),
        },
        &headers,
    );
    let date = q
        .date
        .clone()
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| local_date(now_ms()).format("%Y-%m-%d").to_string());
    let (doctors, error) = match service::search(
        &state,
        SearchQuery {
            date: Some(date.clone()),
            department_id: q.department_id.clone(),
            specialty: q.specialty.clone(),
            title: q.title.clone(),
        },
    )
    .await
    {
        Ok(d) => (d, None),
        Err(e) if e.status.is_client_error() => {
            (Vec::new(), Some(lang.tr.lang.error(e.code).to_string()))
        }
        Err(e) => return Err(e),
    };
    let mut dependants = Vec::new();
    if let Some(c) = &caller {
        let mut conn = state.store.conn().await?;
        for p in identity::dependants_of(&mut conn, &c.account_id).await? {
            dependants.push((p.id, p.name));
        }
    }
    let en = lang.lang == Lang::En;
    render(
        &BookingPage {
            f: Frame::new(&lang.tr, caller.as_ref()),
            date,
            specialty: q.specialty.unwrap_or_default(),
            title: q.title.unwrap_or_default(),
            doctors,
            error,
            specialties: ihos_domain::org::SPECIALTIES
                .iter()
                .map(|(c, zh, e)| (*c, if en { *e } else { *zh }))
                .collect(),
            titles: [
                ihos_domain::Title::ChiefPhysician,
                ihos_domain::Title::AssociateChiefPhysician,
                ihos_domain::Title::AttendingPhysician,
                ihos_domain::Title::Resident,
            ]
            .iter()
            .map(|t| (t.as_str(), lang.tr.t(t.as_str())))
            .collect(),
            dependants,
        },
        &lang,
    )
}

pub struct NoticeLine {
    pub at: String,
    pub topic: String,
    pub text: String,
}

#[derive(Template)]
#[template(path = "appointments.html")]
struct AppointmentsPage {
    f: Frame,
    appointments: Vec<AppointmentView>,
    notices: Vec<NoticeLine>,
}

fn notice_text(n: &NotificationView) -> String {
    let p = &n.payload;
    let s = |k: &str| p[k].as_str().unwrap_or_default().to_string();
    let mut parts = vec![s("doctor_name"), s("date"), s("start"), s("code")];
    if let Some(pos) = p["queue_position"].as_i64() {
        parts.push(format!("#{pos}"));
    }
    if let Some(w) = p["estimated_wait_minutes"].as_i64() {
        parts.push(format!("~{w} min"));
    }
    if let Some(r) = p["refund_fen"].as_i64() {
        parts.push(yuan(&r));
    }
    parts.retain(|x| !x.is_empty());
    parts.join(" · ")
}

async fn appointments(
    State(state): State<AppState>,
    SignedIn { caller, lang }: SignedIn,
) -> ApiResult<Response> {
    let appointments = service::my_appointments(&state, &caller).await?;
    let notices = service::notifications(&state, &caller)
        .await?
        .iter()
        .map(|n| NoticeLine {
            at: shanghai_time(n.at),
            topic: lang.tr.t(&n.topic).to_string(),
            text: notice_text(n),
        })
        .collect();
    render(
        &AppointmentsPage {
            f: Frame::new(&lang.tr, Some(&caller)),
            appointments,
            notices,
        },
        &lang,
    )
}

#[derive(Deserialize)]
pub struct SchedulePageQuery {
    pub lang: Option<String>,
    pub doctor_id: Option<String>,
    pub date: Option<String>,
}

pub struct DoctorChoice {
    pub id: String,
    pub name: String,
    pub org_id: String,
}

#[derive(Template)]
#[template(path = "schedule.html")]
struct SchedulePage {
    f: Frame,
    doctors: Vec<DoctorChoice>,
    doctor: Option<DoctorChoice>,
    templates: Vec<TemplateView>,
    day: Option<DayView>,
    date: String,
    slot_types: Vec<(&'static str, &'static str)>,
}

async fn schedule(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Query(q): Query<SchedulePageQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let lang = page_lang(
        &state,
        &LangQuery {
            lang: q.lang.clone(),
        },
        &headers,
    );
    let Some(caller) = caller else {
        return Ok(Redirect::to("/login").into_response());
    };
    let mut conn = state.store.conn().await?;
    let mut doctors = Vec::new();
    if caller.has(Role::Doctor) {
        let org_id = identity::affiliations_of(&mut conn, &caller.account_id)
            .await?
            .into_iter()
            .next()
            .map(|a| a.org_id)
            .unwrap_or_default();
        doctors.push(DoctorChoice {
            id: caller.account_id.clone(),
            name: caller.display_name.clone(),
            org_id,
        });
    }
    for org_id in caller.scopes(Role::OrgAdmin) {
        for p in identity::practitioners_of_org(&mut conn, org_id).await? {
            if p.role == Role::Doctor.as_str() && !doctors.iter().any(|d| d.id == p.account_id) {
                doctors.push(DoctorChoice {
                    id: p.account_id,
                    name: p.name,
                    org_id: org_id.to_string(),
                });
            }
        }
    }
    drop(conn);
    let chosen = q
        .doctor_id
        .as_deref()
        .and_then(|id| doctors.iter().position(|d| d.id == id))
        .or(if doctors.is_empty() { None } else { Some(0) });
    let doctor = chosen.map(|i| doctors.remove(i));
    let date = q
        .date
        .clone()
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| local_date(now_ms()).format("%Y-%m-%d").to_string());
    let (templates, day) = match &doctor {
        Some(d) => (
            service::doctor_templates(&state, &d.id).await?,
            Some(service::doctor_day(&state, &caller, &d.id, Some(&date)).await?),
        ),
        None => (Vec::new(), None),
    };
    render(
        &SchedulePage {
            f: Frame::new(&lang.tr, Some(&caller)),
            doctors,
            doctor,
            templates,
            day,
            date,
            slot_types: SlotType::ALL
                .iter()
                .map(|t| (t.as_str(), lang.tr.t(t.as_str())))
                .collect(),
        },
        &lang,
    )
}

/// (key, 中文, English) for the scheduling pages and error codes.
pub const TEXT: &[(&str, &str, &str)] = &[
    ("booking", "预约挂号", "Book an appointment"),
    ("my_appointments", "我的预约", "My appointments"),
    ("schedule_mgmt", "排班管理", "Schedules"),
    ("date", "日期", "Date"),
    ("search", "查询", "Search"),
    ("any", "不限", "Any"),
    ("book", "预约", "Book"),
    ("remaining", "余号", "Left"),
    ("full", "约满", "Full"),
    ("not_released", "未放号", "Not yet open"),
    ("opens_at", "放号时间", "Opens"),
    ("fee", "挂号费", "Fee"),
    ("general", "普通号", "General"),
    ("specialist", "专科号", "Specialist"),
    ("expert", "专家号", "Expert"),
    ("online", "线上", "Online"),
    ("offline", "线下", "In person"),
    ("book_for", "就诊人", "Patient"),
    ("myself", "本人", "Myself"),
    (
        "no_doctors",
        "当天没有可预约的医生",
        "No doctor has hours on this day",
    ),
    ("login_to_book", "登录后预约", "Log in to book"),
    ("booking_code", "预约码", "Booking code"),
    ("status", "状态", "Status"),
    ("booked", "已预约", "Booked"),
    ("cancelled", "已取消", "Cancelled"),
    ("late_cancelled", "逾期取消", "Cancelled late"),
    ("displaced", "停诊退号", "Withdrawn by hospital"),
    ("attended", "已就诊", "Attended"),
    ("no_show", "爽约", "No-show"),
    ("refund", "退款", "Refund"),
    ("cancel", "取消预约", "Cancel"),
    ("notifications", "消息", "Messages"),
    ("appointment.booked", "预约成功", "Booked"),
    ("appointment.cancelled", "预约已取消", "Cancelled"),
    (
        "appointment.displaced",
        "停诊通知，请改约",
        "Slot withdrawn: please rebook",
    ),
    ("appointment.reminder", "就诊提醒", "Reminder"),
    ("appointment.queue", "候诊排队", "Queue"),
    ("weekly_hours", "每周出诊", "Weekly hours"),
    ("weekday", "星期", "Weekday"),
    ("start", "开始", "Start"),
    ("end", "结束", "End"),
    ("slot_minutes", "每段分钟", "Minutes per slot"),
    ("capacity", "每段号源", "Patients per slot"),
    ("slot_type", "号别", "Slot type"),
    ("fee_fen", "挂号费（分）", "Fee (fen)"),
    ("mode", "方式", "Mode"),
    ("add_hours", "添加出诊", "Add hours"),
    ("extra_hours", "临时加诊", "Extra hours"),
    ("leave", "停诊/请假", "Leave"),
    ("from", "从", "From"),
    ("to", "至", "To"),
    ("reason", "原因", "Reason"),
    ("remove", "删除", "Remove"),
    ("save", "保存", "Save"),
    ("day_list", "当日预约", "Appointments of the day"),
    (
        "late_and_no_show",
        "逾期取消/爽约",
        "Late cancels / no-shows",
    ),
    (
        "no_doctor_to_manage",
        "没有可管理的医生",
        "No doctor to manage",
    ),
    ("chief_physician", "主任医师", "Chief physician"),
    (
        "associate_chief_physician",
        "副主任医师",
        "Associate chief physician",
    ),
    ("attending_physician", "主治医师", "Attending physician"),
    ("resident", "住院医师", "Resident physician"),
    ("mon", "周一", "Mon"),
    ("tue", "周二", "Tue"),
    ("wed", "周三", "Wed"),
    ("thu", "周四", "Thu"),
    ("fri", "周五", "Fri"),
    ("sat", "周六", "Sat"),
    ("sun", "周日", "Sun"),
];

pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

pub fn weekday_key(n: &i64) -> &'static str {
    WEEKDAYS
        .get(usize::try_from(*n - 1).unwrap_or(0))
        .copied()
        .unwrap_or("mon")
}
