//! Web pages of the consortium: the referral list and new-referral form
//! (community doctor), the referral page with its timeline and the next
//! steps (upper-hospital doctor, community doctor, patient), and the
//! consortium dashboard.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use ihos_domain::Role;
use ihos_domain::referral::ExamType;
use ihos_store::referral as store;
use ihos_store::{identity, now_ms, org};
use serde::Deserialize;

use super::consortium::{self, Dashboard, ExamSlotView};
use super::service::{self, ReferralView};
use crate::auth::MaybeCaller;
use crate::error::ApiResult;
use crate::state::AppState;
use crate::web::{Frame, LangQuery, SignedIn, page_lang, render};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/referrals", get(list_page))
        .route("/referrals/dashboard", get(dashboard_page))
        .route("/referrals/{id}", get(detail_page))
}

pub struct Opt {
    pub id: String,
    pub label: String,
}

#[derive(Template)]
#[template(path = "referrals.html")]
struct ListPage {
    f: Frame,
    is_doctor: bool,
    rows: Vec<ReferralView>,
    hospitals: Vec<Opt>,
    departments: Vec<Opt>,
    doctors: Vec<Opt>,
    exam_types: Vec<Opt>,
    dashboards: Vec<Opt>,
    wards: Vec<consortium::WardView>,
    beds: Vec<consortium::BedRequestView>,
    my_orgs: Vec<String>,
    consults: Vec<consortium::RemoteConsultView>,
    me: String,
}

async fn list_page(
    State(state): State<AppState>,
    SignedIn { caller, lang }: SignedIn,
) -> ApiResult<Response> {
    let rows = service::mine(&state, &caller).await?;
    let is_doctor = caller.has(Role::Doctor);
    let (mut hospitals, mut departments, mut doctors) = (Vec::new(), Vec::new(), Vec::new());
    let (mut wards, mut beds, mut my_orgs, mut consults) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut c = state.store.conn().await?;
    if is_doctor {
        let mut seen: Vec<String> = Vec::new();
        let mut seen_cons: Vec<String> = Vec::new();
        for a in identity::affiliations_of(&mut c, &caller.account_id).await? {
            my_orgs.push(a.org_id.clone());
            for cons in store::consortia_of_org(&mut c, &a.org_id).await? {
                if !seen_cons.contains(&cons.id) {
                    seen_cons.push(cons.id.clone());
                    wards.extend(consortium::wards(&state, &caller, &cons.id).await?);
                }
                let mut orgs = org::members_of(&mut c, &cons.id).await?;
                if let Some(lead) = org::org(&mut c, &cons.lead_org_id).await? {
                    orgs.push(lead);
                }
                for o in orgs {
                    if o.id == a.org_id
                        || seen.contains(&o.id)
                        || o.kind == "pharmacy"
                        || o.kind == "enterprise"
                    {
                        continue;
                    }
                    seen.push(o.id.clone());
                    for d in org::departments_of(&mut c, &o.id).await? {
                        departments.push(Opt {
                            id: d.id,
                            label: format!("{} · {}", o.name, d.name),
                        });
                    }
                    for p in identity::practitioners_of_org(&mut c, &o.id).await? {
                        if p.role != "doctor" {
                            continue;
                        }
                        let privs = store::privileges_of(&mut c, &p.account_id).await?;
                        let title = ihos_domain::Title::parse(&p.title)
                            .map(|t| t.label_zh())
                            .unwrap_or_default();
                        let privs = if privs.is_empty() {
                            String::new()
                        } else {
                            format!(" · {}", privs.join("/").to_uppercase())
                        };
                        doctors.push(Opt {
                            id: p.account_id,
                            label: format!("{} · {} · {}{}", o.name, p.name, title, privs),
                        });
                    }
                    hospitals.push(Opt {
                        id: o.id,
                        label: o.name,
                    });
                }
            }
        }
    }
    if is_doctor {
        beds = consortium::bed_requests(&state, &caller).await?;
        consults = consortium::remote_consults(&state, &caller).await?;
    }
    let mut dashboards = Vec::new();
    for id in caller.scopes(Role::ConsortiumAdmin) {
        if let Some(cons) = org::consortium(&mut c, id).await? {
            dashboards.push(Opt {
                id: cons.id,
                label: cons.name,
            });
        }
    }
    let en = lang.lang == crate::i18n::Lang::En;
    let exam_types = ExamType::ALL
        .iter()
        .map(|e| Opt {
            id: e.as_str().into(),
            label: if en {
                e.as_str().to_uppercase()
            } else {
                e.label_zh().into()
            },
        })
        .collect();
    render(
        &ListPage {
            f: Frame::new(&lang.tr, Some(&caller)),
            is_doctor,
            rows,
            hospitals,
            departments,
            doctors,
            exam_types,
            dashboards,
            wards,
            beds,
            my_orgs,
            consults,
            me: caller.account_id.clone(),
        },
        &lang,
    )
}

pub struct SlotOpt {
    pub id: String,
    pub label: String,
}

#[derive(Template)]
#[template(path = "referral.html")]
struct DetailPage {
    f: Frame,
    r: ReferralView,
    exam_slots: Vec<ExamSlotView>,
    visit_slots: Vec<SlotOpt>,
}

impl DetailPage {
    fn can(&self, action: &str) -> bool {
        self.r.my_actions.iter().any(|a| a == action)
    }

    fn st(&self, status: &str) -> &'static str {
        self.f.t(&format!("ref_s_{status}"))
    }

    fn step(&self, action: &str) -> &'static str {
        self.f.t(&format!("ref_step_{action}"))
    }
}

impl ListPage {
    fn st(&self, status: &str) -> &'static str {
        self.f.t(&format!("ref_s_{status}"))
    }

    fn bs(&self, status: &str) -> &'static str {
        self.f.t(&format!("ref_b_{status}"))
    }

    fn reviews(&self, b: &consortium::BedRequestView) -> bool {
        b.status != "declined" && b.status != "discharged" && self.my_orgs.contains(&b.ward_org_id)
    }
}

impl DashboardPage {
    fn st(&self, status: &str) -> &'static str {
        self.f.t(&format!("ref_s_{status}"))
    }
}

async fn detail_page(
    State(state): State<AppState>,
    SignedIn { caller, lang }: SignedIn,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let r = service::read(&state, &caller, &id).await?;
    let mut exam_slots = Vec::new();
    let mut visit_slots = Vec::new();
    if r.my_actions.iter().any(|a| a == "accept") {
        if let Some(e) = &r.exam_type {
            exam_slots = consortium::exam_slots(&state, &r.to_org_id, Some(e)).await?;
        } else {
            let mut c = state.store.conn().await?;
            let now = now_ms();
            for s in ihos_store::scheduling::open_slots_of_doctor(
                &mut c,
                &caller.account_id,
                now,
                now + 14 * 86_400_000,
            )
            .await?
            {
                if s.org_id == r.to_org_id && s.remaining > 0 {
                    visit_slots.push(SlotOpt {
                        label: crate::web::shanghai_time(s.starts_at),
                        id: s.id,
                    });
                }
            }
        }
    }
    render(
        &DetailPage {
            f: Frame::new(&lang.tr, Some(&caller)),
            r,
            exam_slots,
            visit_slots,
        },
        &lang,
    )
}

#[derive(Deserialize)]
pub struct DashQuery {
    pub consortium: Option<String>,
    pub lang: Option<String>,
}

#[derive(Template)]
#[template(path = "referral_dashboard.html")]
struct DashboardPage {
    f: Frame,
    d: Dashboard,
}

async fn dashboard_page(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Query(q): Query<DashQuery>,
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
    let id = match q.consortium {
        Some(id) => id,
        None => match caller.scopes(Role::ConsortiumAdmin).next() {
            Some(id) => id.to_string(),
            None => return Ok(Redirect::to("/referrals").into_response()),
        },
    };
    let d = consortium::dashboard(&state, &caller, &id).await?;
    render(
        &DashboardPage {
            f: Frame::new(&lang.tr, Some(&caller)),
            d,
        },
        &lang,
    )
}

/// (key, 中文, English); every key starts with `ref_`.
pub const TEXT: &[(&str, &str, &str)] = &[
    ("ref_title", "双向转诊", "Two-way referral"),
    ("ref_new", "发起转诊", "New referral"),
    ("ref_mine", "我的转诊", "My referrals"),
    ("ref_direction", "方向", "Direction"),
    ("ref_up", "上转", "Up"),
    ("ref_down", "下转", "Down"),
    ("ref_kind", "类型", "Kind"),
    ("ref_visit", "门诊就诊", "Visit"),
    ("ref_exam", "检查", "Exam"),
    ("ref_exam_type", "检查项目", "Exam"),
    (
        "ref_patient_rid",
        "患者身份证号",
        "Patient's resident ID number",
    ),
    ("ref_patient", "患者", "Patient"),
    ("ref_to_org", "接收医院", "Receiving hospital"),
    ("ref_to_department", "接收科室", "Receiving department"),
    (
        "ref_to_doctor",
        "接收医生（检查须选有开单权限的医生）",
        "Receiving doctor (for exams, one with the privilege)",
    ),
    ("ref_any", "不指定", "Any"),
    ("ref_reason", "转诊原因", "Reason"),
    ("ref_summary", "病情摘要", "Clinical summary"),
    (
        "ref_repeat_reason",
        "重复检查理由（近期已做过同类检查时必填）",
        "Reason to repeat (needed if done recently)",
    ),
    ("ref_submit", "提交转诊", "Send referral"),
    ("ref_from", "转出", "From"),
    ("ref_to", "转入", "To"),
    ("ref_status", "状态", "Status"),
    ("ref_due", "时限", "Due"),
    ("ref_open", "查看", "Open"),
    ("ref_overdue", "已超时", "Overdue"),
    ("ref_timeline", "转诊时间线", "Timeline"),
    ("ref_results", "诊疗结果", "Results"),
    ("ref_follow_up_plan", "随访计划", "Follow-up plan"),
    ("ref_decline_reason", "拒绝原因", "Decline reason"),
    ("ref_exam_time", "检查时间", "Exam time"),
    ("ref_choose_exam_slot", "预约检查时段", "Book an exam slot"),
    (
        "ref_choose_slot",
        "预约门诊号源（可选）",
        "Book a visit slot (optional)",
    ),
    ("ref_no_slot", "暂不预约", "No booking now"),
    ("ref_note", "备注", "Note"),
    ("ref_do_accept", "接收", "Accept"),
    ("ref_do_decline", "拒绝", "Decline"),
    ("ref_do_cancel", "撤销转诊", "Cancel referral"),
    ("ref_do_seen", "患者已就诊", "Patient seen"),
    ("ref_do_results", "回传结果", "Return results"),
    ("ref_do_refer_down", "下转社区", "Refer down"),
    ("ref_do_close", "确认接回，闭环", "Confirm and close"),
    (
        "ref_dashboard",
        "医联体转诊看板",
        "Consortium referral dashboard",
    ),
    ("ref_total", "转诊总数", "Referrals"),
    ("ref_by_status", "按状态", "By state"),
    ("ref_by_member", "按成员单位", "By member"),
    ("ref_sent", "转出", "Sent"),
    ("ref_received", "转入", "Received"),
    (
        "ref_mean_answer",
        "平均响应时长（小时）",
        "Mean hours to answer",
    ),
    (
        "ref_mean_close",
        "平均闭环时长（小时）",
        "Mean hours to close",
    ),
    ("ref_hours_late", "超时（小时）", "Hours late"),
    ("ref_step_create", "发起", "Created"),
    ("ref_step_accept", "接收", "Accepted"),
    ("ref_step_decline", "拒绝", "Declined"),
    ("ref_step_cancel", "撤销", "Cancelled"),
    ("ref_step_mark_seen", "已就诊", "Seen"),
    ("ref_step_return_results", "结果回传", "Results returned"),
    ("ref_step_refer_down", "下转", "Referred down"),
    ("ref_step_close", "闭环", "Closed"),
    ("ref_step_overdue", "超时提醒", "Overdue"),
    ("ref_s_requested", "待接收", "Requested"),
    ("ref_s_accepted", "已接收", "Accepted"),
    ("ref_s_declined", "已拒绝", "Declined"),
    ("ref_s_cancelled", "已撤销", "Cancelled"),
    ("ref_s_seen", "已就诊", "Seen"),
    ("ref_s_results_returned", "结果已回传", "Results returned"),
    ("ref_s_referred_down", "已下转", "Referred down"),
    ("ref_s_closed", "已闭环", "Closed"),
    ("ref_beds", "床位预约", "Bed reservation"),
    ("ref_ward", "病区", "Ward"),
    ("ref_beds_free", "空床/总床位", "Free / total beds"),
    ("ref_request_bed", "申请住院床位", "Request a bed"),
    ("ref_admit", "收治入院", "Admit"),
    ("ref_admit_on", "入院日期", "Admission date"),
    ("ref_discharge", "出院", "Discharge"),
    ("ref_b_requested", "待审核", "Awaiting review"),
    ("ref_b_admitted", "已收治", "Admitted"),
    ("ref_b_declined", "未收治", "Declined"),
    ("ref_b_discharged", "已出院", "Discharged"),
    ("ref_remote", "远程会诊", "Remote consultation"),
    ("ref_expert", "会诊专家", "Expert"),
    ("ref_question", "会诊问题", "Question"),
    ("ref_records", "病历资料", "Records"),
    ("ref_opinion", "会诊意见", "Opinion"),
    ("ref_ask", "申请会诊", "Ask for an opinion"),
    ("ref_answer", "提交会诊意见", "Send the opinion"),
    ("ref_no_free_beds_short", "无空床", "No free bed"),
];
