//! Web pages for home nursing: the patient's catalogue, order form and
//! orders (`/nursing`), the visit record with the nurse's steps
//! (`/nursing/orders/{id}`), and the work page for nurses, the hospital's
//! dispatch and assessing doctors (`/nursing/work`). Forms post JSON to the
//! API through static/care.js.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use ihos_domain::Role;
use ihos_domain::nursing::{QUALIFICATIONS, SAFETY_KINDS};
use ihos_domain::payment::VisitKind;

use super::service::{self, OrderRecord, OrderView, ServiceView};
use crate::auth::MaybeCaller;
use crate::error::ApiResult;
use crate::i18n::{Lang, Tr};
use crate::identity::service as id_service;
use crate::scheduling::pages::yuan;
use crate::state::AppState;
use crate::web::{Frame, LangQuery, SignedIn, page_lang, render, shanghai_time};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/nursing", get(patient_page))
        .route("/nursing/orders/{id}", get(order_page))
        .route("/nursing/orders/{id}/pay", get(pay_page))
        .route("/nursing/work", get(work_page))
        .route("/static/care.js", get(care_js))
}

pub struct OrderLine {
    pub o: OrderView,
    pub status: &'static str,
    pub window: String,
    pub fee: String,
}

fn line(lang: &Tr, o: OrderView) -> OrderLine {
    OrderLine {
        status: lang.t(&format!("nur_st_{}", o.status)),
        window: format!(
            "{} – {}",
            shanghai_time(o.window_start),
            shanghai_time(o.window_end)
                .split(' ')
                .nth(1)
                .unwrap_or_default()
        ),
        fee: yuan(&o.fee_fen),
        o,
    }
}

pub struct ServiceLine {
    pub s: ServiceView,
    pub fee: String,
    pub needs: String,
}

fn qualification_label(lang: &Tr, code: &str) -> &'static str {
    QUALIFICATIONS
        .iter()
        .find(|q| q.0 == code)
        .map_or("", |q| if lang.lang == Lang::En { q.2 } else { q.1 })
}

pub struct PersonOption {
    pub id: String,
    pub name: String,
}

#[derive(Template)]
#[template(path = "nursing.html")]
struct PatientPage {
    f: Frame,
    services: Vec<ServiceLine>,
    people: Vec<PersonOption>,
    orders: Vec<OrderLine>,
}

async fn patient_page(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let lang = page_lang(&state, &q, &headers);
    let Some(caller) = caller else {
        return Ok(Redirect::to("/login").into_response());
    };
    if !caller.has(Role::Patient) {
        return Ok(Redirect::to("/nursing/work").into_response());
    }
    let services = service::catalogue(&state, None)
        .await?
        .into_iter()
        .map(|s| ServiceLine {
            fee: yuan(&s.fee_fen),
            needs: format!(
                "{}{}",
                lang.tr
                    .t("nur_years_at_least")
                    .replace("{n}", &s.min_years.to_string()),
                s.required_qualification
                    .as_deref()
                    .map(|q| format!(" · {}", qualification_label(&lang.tr, q)))
                    .unwrap_or_default()
            ),
            s,
        })
        .collect();
    let me = id_service::me(&state, &caller).await?;
    let mut people = Vec::new();
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
    let orders = service::mine(&state, &caller)
        .await?
        .into_iter()
        .map(|o| line(&lang.tr, o))
        .collect();
    render(
        &PatientPage {
            f: Frame::new(&lang.tr, Some(&caller)),
            services,
            people,
            orders,
        },
        &lang,
    )
}

/// The patient pays a nursing order on the visit's one payment order.
async fn pay_page(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let Some(caller) = caller else {
        return Ok(Redirect::to("/login").into_response());
    };
    let record = service::get(&state, &caller, &id).await?;
    if record.viewer != "patient" {
        return Err(crate::error::ApiError::not_found());
    }
    let order = crate::payment::service::order_of_visit(&state, VisitKind::Nursing, &id)
        .await?
        .ok_or_else(crate::error::ApiError::not_found)?;
    Ok(Redirect::to(&format!("/orders/{}", order.id)).into_response())
}

pub struct EventLine {
    pub at: String,
    pub who: String,
    pub action: &'static str,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "nursing_order.html")]
struct OrderPage {
    f: Frame,
    r: OrderRecord,
    o: OrderLine,
    events: Vec<EventLine>,
    checked_in: String,
    checked_out: String,
    is_nurse: bool,
    is_patient: bool,
    safety_kinds: Vec<(&'static str, &'static str)>,
}

async fn order_page(
    State(state): State<AppState>,
    SignedIn { caller, lang }: SignedIn,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let mut r = service::get(&state, &caller, &id).await?;
    let l = &lang.tr;
    let events = r
        .events
        .drain(..)
        .map(|e| EventLine {
            at: shanghai_time(e.at),
            who: e.actor_name.unwrap_or_else(|| l.t("nur_system").into()),
            action: l.t(&format!("nur_ev_{}", e.action)),
            detail: e.detail.unwrap_or_default(),
        })
        .collect();
    let o = line(l, r.order.clone());
    let at = |t: Option<i64>, p: &Option<service::PlaceView>| match (t, p) {
        (Some(t), Some(p)) => format!("{} ({:.5}, {:.5})", shanghai_time(t), p.lat, p.lng),
        _ => String::new(),
    };
    let page = OrderPage {
        f: Frame::new(l, Some(&caller)),
        checked_in: at(r.order.checked_in_at, &r.order.check_in),
        checked_out: at(r.order.checked_out_at, &r.order.check_out),
        is_nurse: r.viewer == "nurse",
        is_patient: r.viewer == "patient",
        safety_kinds: SAFETY_KINDS
            .iter()
            .map(|k| (*k, l.t(&format!("nur_safety_{k}"))))
            .collect(),
        o,
        events,
        r,
    };
    render(&page, &lang)
}

pub struct NurseOption {
    pub id: String,
    pub label: String,
}

pub struct DispatchLine {
    pub l: OrderLine,
    /// Nurses who may take it (paid orders only).
    pub eligible: Vec<NurseOption>,
}

pub struct HospitalDesk {
    pub org_id: String,
    pub org_name: String,
    pub orders: Vec<DispatchLine>,
    pub nurses: Vec<NurseLine>,
    pub services: Vec<ServiceLine>,
}

pub struct NurseLine {
    pub n: service::NurseView,
    /// (code, label, held)
    pub quals: Vec<(&'static str, &'static str, bool)>,
}

pub struct OrgOption {
    pub id: String,
    pub name: String,
}

#[derive(Template)]
#[template(path = "nursing_work.html")]
struct WorkPage {
    f: Frame,
    assigned: Vec<OrderLine>,
    is_nurse: bool,
    desks: Vec<HospitalDesk>,
    assess_orgs: Vec<OrgOption>,
    qualifications: Vec<(&'static str, &'static str)>,
}

async fn work_page(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let lang = page_lang(&state, &q, &headers);
    let Some(caller) = caller else {
        return Ok(Redirect::to("/login").into_response());
    };
    let l = &lang.tr;
    let is_nurse = caller.has(Role::Nurse);
    let assigned = if is_nurse {
        service::nurse_orders(&state, &caller)
            .await?
            .into_iter()
            .map(|o| line(l, o))
            .collect()
    } else {
        Vec::new()
    };
    let mut desks = Vec::new();
    let org_ids: Vec<String> = caller.scopes(Role::OrgAdmin).map(str::to_string).collect();
    for org_id in org_ids {
        let mut c = state.store.conn().await?;
        let org_name = ihos_store::org::org(&mut c, &org_id)
            .await?
            .map(|o| o.name)
            .unwrap_or_default();
        drop(c);
        let mut orders = Vec::new();
        for o in service::org_orders(&state, &caller, &org_id).await? {
            let eligible = if o.status == "paid" {
                service::nurses(&state, &caller, &org_id, Some(&o.id))
                    .await?
                    .into_iter()
                    .filter(|n| n.eligible == Some(true))
                    .map(|n| NurseOption {
                        label: format!(
                            "{} · {} · {}{}",
                            n.name,
                            n.title,
                            n.years,
                            l.t("nur_years")
                        ),
                        id: n.id,
                    })
                    .collect()
            } else {
                Vec::new()
            };
            orders.push(DispatchLine {
                l: line(l, o),
                eligible,
            });
        }
        let services = service::catalogue(&state, Some(&org_id))
            .await?
            .into_iter()
            .map(|s| ServiceLine {
                fee: yuan(&s.fee_fen),
                needs: s
                    .required_qualification
                    .as_deref()
                    .map(|q| qualification_label(l, q).to_string())
                    .unwrap_or_default(),
                s,
            })
            .collect();
        desks.push(HospitalDesk {
            nurses: service::nurses(&state, &caller, &org_id, None)
                .await?
                .into_iter()
                .map(|n| NurseLine {
                    quals: QUALIFICATIONS
                        .iter()
                        .map(|q| {
                            let label = if l.lang == Lang::En { q.2 } else { q.1 };
                            (q.0, label, n.qualifications.iter().any(|h| h == q.0))
                        })
                        .collect(),
                    n,
                })
                .collect(),
            org_id,
            org_name,
            orders,
            services,
        });
    }
    let mut assess_orgs = Vec::new();
    if caller.has(Role::Doctor) || is_nurse {
        let mut c = state.store.conn().await?;
        for a in ihos_store::identity::affiliations_of(&mut c, &caller.account_id).await? {
            assess_orgs.push(OrgOption {
                id: a.org_id,
                name: a.org_name,
            });
        }
    }
    render(
        &WorkPage {
            f: Frame::new(l, Some(&caller)),
            assigned,
            is_nurse,
            desks,
            assess_orgs,
            qualifications: QUALIFICATIONS
                .iter()
                .map(|q| (q.0, if l.lang == Lang::En { q.2 } else { q.1 }))
                .collect(),
        },
        &lang,
    )
}

async fn care_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        include_str!("../../static/care.js"),
    )
}

pub const TEXT: &[(&str, &str, &str)] = &[
    ("nur_title", "居家护理", "Home nursing"),
    ("nur_catalogue", "护理服务目录", "Nursing services"),
    ("nur_hospital", "医院", "Hospital"),
    ("nur_service", "服务", "Service"),
    ("nur_fee", "费用", "Fee"),
    ("nur_duration", "时长（分钟）", "Minutes"),
    ("nur_needs", "护士要求", "Nurse requirements"),
    ("nur_years_at_least", "执业≥{n}年", "≥{n} years' practice"),
    ("nur_years", "年", " yrs"),
    ("nur_order", "预约上门护理", "Order a home visit"),
    (
        "nur_order_hint",
        "需本院医生或护士评估：近期在本院完成的问诊或就诊，或评估记录。",
        "Needs an assessment by the hospital: a recent consultation or visit there, or an assessment record.",
    ),
    ("nur_for", "护理对象", "For"),
    ("nur_address", "上门地址", "Address"),
    ("nur_window_start", "上门时间（开始）", "Window start"),
    ("nur_window_end", "上门时间（结束）", "Window end"),
    ("nur_note", "病情说明", "Note"),
    ("nur_submit", "提交预约", "Place order"),
    ("nur_mine", "我的护理订单", "My nursing orders"),
    ("nur_window", "上门时间", "Window"),
    ("nur_status", "状态", "Status"),
    ("nur_nurse", "护士", "Nurse"),
    ("nur_open", "查看", "Open"),
    ("nur_none", "暂无", "None yet"),
    ("nur_pay", "去支付", "Pay"),
    ("nur_cancel", "取消订单", "Cancel order"),
    ("nur_st_awaiting_payment", "待支付", "Awaiting payment"),
    ("nur_st_paid", "已支付，待派单", "Paid, awaiting a nurse"),
    (
        "nur_st_assigned",
        "已派单，待护士接单",
        "Assigned, awaiting the nurse",
    ),
    ("nur_st_accepted", "护士已接单", "Accepted by the nurse"),
    ("nur_st_in_visit", "护理中", "Nurse on site"),
    ("nur_st_completed", "已完成", "Completed"),
    ("nur_st_cancelled", "已取消", "Cancelled"),
    ("nur_record", "护理记录", "Visit record"),
    ("nur_timeline", "服务过程", "Timeline"),
    ("nur_checked_in", "签到", "Checked in"),
    ("nur_checked_out", "签退", "Checked out"),
    ("nur_done", "护理内容", "What was done"),
    ("nur_vitals", "生命体征", "Vital signs"),
    ("nur_system", "系统", "System"),
    ("nur_ev_ordered", "下单", "Ordered"),
    ("nur_ev_paid", "已支付", "Paid"),
    ("nur_ev_assigned", "派单", "Assigned"),
    ("nur_ev_accepted", "护士接单", "Accepted"),
    ("nur_ev_declined", "护士退单", "Declined"),
    ("nur_ev_checked_in", "上门签到", "Checked in"),
    ("nur_ev_checked_out", "签退并记录", "Checked out"),
    ("nur_ev_safety_alert", "安全预警", "Safety alert"),
    ("nur_ev_cancelled", "取消", "Cancelled"),
    ("nur_ev_reviewed", "评价", "Reviewed"),
    ("nur_accept", "接单", "Accept"),
    ("nur_decline", "退单", "Decline"),
    ("nur_lat", "纬度", "Latitude"),
    ("nur_lng", "经度", "Longitude"),
    ("nur_locate", "获取当前位置", "Use my location"),
    ("nur_check_in", "到达签到", "Check in"),
    ("nur_check_out", "完成签退", "Check out"),
    ("nur_safety", "安全预警", "Safety alert"),
    (
        "nur_safety_send",
        "发送预警（通知医院管理员）",
        "Alert the hospital",
    ),
    (
        "nur_safety_patient_deterioration",
        "患者病情变化",
        "Patient deteriorating",
    ),
    (
        "nur_safety_violence_or_threat",
        "暴力或威胁",
        "Violence or threat",
    ),
    (
        "nur_safety_unsafe_environment",
        "环境不安全",
        "Unsafe environment",
    ),
    ("nur_safety_other", "其他", "Other"),
    ("nur_review", "评价本次服务", "Review this visit"),
    ("nur_rating", "评分（1-5）", "Rating (1-5)"),
    ("nur_review_text", "评价内容", "Comment"),
    ("nur_review_send", "提交评价", "Send review"),
    ("nur_reviewed", "您的评价", "Your review"),
    ("nur_work", "护理工作台", "Nursing desk"),
    (
        "nur_assigned_to_me",
        "派给我的订单",
        "Orders assigned to me",
    ),
    ("nur_dispatch", "派单", "Dispatch"),
    ("nur_assign", "派给", "Assign to"),
    (
        "nur_no_eligible",
        "暂无符合资质的护士",
        "No qualified nurse available",
    ),
    ("nur_nurses", "护士与资质", "Nurses and qualifications"),
    ("nur_qualifications", "资质", "Qualifications"),
    ("nur_save", "保存", "Save"),
    ("nur_add_service", "新增服务", "Add a service"),
    ("nur_code", "服务编码", "Code"),
    ("nur_fee_fen", "费用（分）", "Fee (fen)"),
    ("nur_min_years", "最低执业年限", "Least years of practice"),
    ("nur_required", "所需资质", "Qualification needed"),
    ("nur_none_needed", "无", "None"),
    ("nur_assess", "居家护理评估", "Home-nursing assessment"),
    ("nur_patient_id", "患者编号", "Patient id"),
    ("nur_assess_note", "评估意见", "Assessment"),
    ("nur_assess_send", "记录评估", "Record assessment"),
];
