//! Web pages for online consultation: the patient's list and request form
//! (with smart triage), the chat page for patient and doctor, and the
//! doctor's workbench. The chat runs in static/consult.js over the WebSocket.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use ihos_domain::Role;
use ihos_domain::identity::may_practise_online;
use ihos_store::{identity, org};

use super::service::{self, ConsultationView, QueueEntry, Side};
use crate::clock::today_in_shanghai;
use crate::error::ApiResult;
use crate::identity::service as id_service;
use crate::state::AppState;
use crate::web::{Frame, SignedIn, render, shanghai_time};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/consultations", get(list_page))
        .route("/consultations/{id}", get(chat_page))
        .route("/workbench", get(workbench_page))
        .route("/static/consult.js", get(consult_js))
}

pub struct DoctorOption {
    pub id: String,
    pub label: String,
}

pub struct PersonOption {
    pub id: String,
    pub name: String,
}

pub struct Row {
    pub c: ConsultationView,
    pub created: String,
}

#[derive(Template)]
#[template(path = "consultations.html")]
struct ListPage {
    f: Frame,
    rows: Vec<Row>,
    doctors: Vec<DoctorOption>,
    people: Vec<PersonOption>,
}

async fn list_page(
    State(state): State<AppState>,
    SignedIn { caller, lang }: SignedIn,
) -> ApiResult<Response> {
    if !caller.has(Role::Patient) {
        return Ok(Redirect::to("/workbench").into_response());
    }
    let rows = service::mine(&state, &caller)
        .await?
        .into_iter()
        .map(|c| Row {
            created: shanghai_time(c.created_at),
            c,
        })
        .collect();
    let me = id_service::me(&state, &caller).await?;
    let mut people: Vec<PersonOption> = Vec::new();
    if let Some(p) = &me.patient {
        people.push(PersonOption {
            id: p.id.clone(),
            name: p.name.clone(),
        });
    }
    people.extend(me.dependants.iter().map(|d| PersonOption {
        id: d.id.clone(),
        name: d.name.clone(),
    }));
    let mut doctors = Vec::new();
    let mut conn = state.store.conn().await?;
    let today = today_in_shanghai();
    for o in org::list_orgs(&mut conn, None, None).await? {
        for p in identity::practitioners_of_org(&mut conn, &o.id).await? {
            // An unreadable stored date never makes a doctor eligible.
            let online = ihos_domain::parse_date(&p.practising_since, "practising_since")
                .is_ok_and(|since| may_practise_online(since, today));
            if p.role != "doctor"
                || !online
                || doctors.iter().any(|d: &DoctorOption| d.id == p.account_id)
            {
                continue;
            }
            let title = ihos_domain::Title::parse(&p.title)
                .map(|t| t.label_zh())
                .unwrap_or_default();
            doctors.push(DoctorOption {
                label: format!("{} · {} · {}", p.name, title, o.name),
                id: p.account_id,
            });
        }
    }
    render(
        &ListPage {
            f: Frame::new(&lang.tr, Some(&caller)),
            rows,
            doctors,
            people,
        },
        &lang,
    )
}

#[derive(Template)]
#[template(path = "chat.html")]
struct ChatPage {
    f: Frame,
    c: ConsultationView,
    me: String,
    side: &'static str,
    created: String,
    open: bool,
}

async fn chat_page(
    State(state): State<AppState>,
    SignedIn { caller, lang }: SignedIn,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let side = {
        let mut conn = state.store.conn().await?;
        service::load_for(&mut conn, &caller, &id).await?.1
    };
    let c = service::get(&state, &caller, &id).await?;
    render(
        &ChatPage {
            f: Frame::new(&lang.tr, Some(&caller)),
            created: shanghai_time(c.created_at),
            open: matches!(c.status.as_str(), "accepted" | "in_progress"),
            c,
            me: caller.account_id.clone(),
            side: if side == Side::Doctor {
                "doctor"
            } else {
                "patient"
            },
        },
        &lang,
    )
}

#[derive(Template)]
#[template(path = "workbench.html")]
struct WorkbenchPage {
    f: Frame,
    queue: Vec<QueueEntry>,
}

async fn workbench_page(
    State(state): State<AppState>,
    SignedIn { caller, lang }: SignedIn,
) -> ApiResult<Response> {
    let queue = service::queue(&state, &caller).await?;
    render(
        &WorkbenchPage {
            f: Frame::new(&lang.tr, Some(&caller)),
            queue,
        },
        &lang,
    )
}

async fn consult_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        include_str!("../../static/consult.js"),
    )
}

/// (key, 中文, English): UI text and the consultation error codes.
pub const TEXT: &[(&str, &str, &str)] = &[
    ("c_title", "在线复诊", "Online follow-up"),
    ("c_mine", "我的问诊", "My consultations"),
    ("c_new", "发起复诊", "Request a follow-up"),
    ("c_triage", "智能导诊", "Smart triage"),
    (
        "c_triage_hint",
        "用几句话描述哪里不舒服（中文或英文），我们推荐就诊科室；危急情况会提示立即拨打120。",
        "Describe how you feel (Chinese or English); we suggest a department, or tell you to call 120 when it is urgent.",
    ),
    ("c_triage_go", "推荐科室", "Suggest a department"),
    (
        "c_triage_emergency",
        "可能危及生命：请立即拨打120",
        "This may be life-threatening: call 120 now",
    ),
    (
        "c_triage_crisis",
        "你并不孤单：现在就可以找人谈谈",
        "You are not alone: talk to someone now",
    ),
    ("c_triage_why", "判断依据", "Why"),
    ("c_triage_call", "拨打", "Call"),
    (
        "c_triage_departments",
        "推荐科室（点击查看有号源的医生）",
        "Suggested departments (tap to see doctors with open slots)",
    ),
    ("c_triage_book", "查看有号的医生", "Doctors with open slots"),
    ("c_complaint", "病情描述", "Complaint"),
    ("c_for", "就诊人", "Patient"),
    ("c_doctor", "医生", "Doctor"),
    (
        "c_evidence",
        "线下确诊凭证（门诊病历或出院小结）",
        "Proof of the offline diagnosis (outpatient or discharge record)",
    ),
    ("c_evidence_kind", "凭证类型", "Kind of record"),
    ("outpatient_record", "门诊病历", "Outpatient record"),
    ("discharge_record", "出院小结", "Discharge record"),
    ("c_diagnosis", "线下诊断", "Diagnosis made offline"),
    (
        "c_guardian_present",
        "我是监护人，并陪同孩子问诊",
        "I am the guardian and present",
    ),
    ("c_submit", "提交问诊", "Send request"),
    ("c_status", "状态", "Status"),
    ("requested", "待接诊", "Waiting"),
    ("accepted", "已接诊", "Accepted"),
    ("in_progress", "问诊中", "In progress"),
    ("completed", "已完成", "Completed"),
    ("declined", "已拒绝", "Declined"),
    ("expired", "已超时（已退款）", "Expired (refunded)"),
    (
        "referred_offline",
        "已转线下就诊",
        "Referred to an in-person visit",
    ),
    ("tier_gp", "全科", "GP"),
    ("tier_specialist", "专科", "Specialist"),
    ("tier_expert_studio", "名医工作室", "Expert's studio"),
    ("c_open", "进入", "Open"),
    ("c_workbench", "医生工作台", "Doctor's workbench"),
    (
        "c_queue_empty",
        "暂无待处理的问诊。",
        "No consultations waiting.",
    ),
    ("c_waiting", "等待（分钟）", "Waiting (min)"),
    ("c_send", "发送", "Send"),
    ("c_message", "输入消息", "Type a message"),
    ("c_picture", "图片", "Picture"),
    ("c_accept", "接诊", "Accept"),
    (
        "c_qualifies",
        "已核对凭证：患者此病已在线下确诊，符合复诊条件",
        "Evidence checked: diagnosed offline, qualifies for a follow-up",
    ),
    ("c_decline", "拒绝", "Decline"),
    ("c_start", "开始问诊", "Start"),
    ("c_complete", "结束问诊", "Complete"),
    ("c_summary", "诊疗小结", "Summary"),
    ("c_refer", "转线下就诊", "Refer to an in-person visit"),
    ("c_reason", "原因", "Reason"),
    ("c_cancel", "取消问诊", "Cancel"),
    ("c_review", "评价", "Review"),
    ("c_rating", "评分（1-5）", "Rating (1-5)"),
    ("c_review_text", "评价内容", "Your review"),
    (
        "c_history",
        "病历与既往问诊",
        "Record and earlier consultations",
    ),
    ("c_online", "已连接", "Connected"),
    (
        "c_reconnecting",
        "连接中断，正在重连…",
        "Disconnected, reconnecting…",
    ),
    ("c_sending", "发送中", "Sending"),
    (
        "c_follow_up_only",
        "根据互联网诊疗规定，线上仅提供复诊服务。",
        "By regulation, online care is for follow-up visits only.",
    ),
];
