//! Web pages for prescriptions: prescribing inside a consultation (doctor)
//! and the patient's view of it with the fulfilment choice, the
//! pharmacist's review queue, and the dispensing page (window or pharmacy).
//! Forms post JSON through `static/app.js`; `static/rx.js` builds the
//! multi-line prescription and drives payment buttons.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use ihos_domain::Role;
use serde::Deserialize;

use super::service::{self, DrugView, PrescriptionView};
use crate::auth::MaybeCaller;
use crate::consultation::service::{self as cservice, ConsultationView, Side};
use crate::error::ApiResult;
use crate::state::AppState;
use crate::web::{Frame, LangQuery, Millis, SignedIn, page_lang, render, shanghai_time};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/consultations/{id}/rx", get(rx_page))
        .route("/pharmacist", get(queue_page))
        .route("/dispense", get(dispense_page))
        .route("/static/rx.js", get(rx_js))
}

/// `rx_st_*` text for a status.
pub fn status_key(s: &str) -> String {
    format!("rx_st_{s}")
}

#[derive(Template)]
#[template(path = "rx.html")]
struct RxPage {
    f: Frame,
    c: ConsultationView,
    doctor: bool,
    open: bool,
    list: Vec<PrescriptionView>,
    history: Vec<PrescriptionView>,
    drugs: Vec<DrugView>,
    allergies: Vec<String>,
}

impl RxPage {
    fn st(&self, s: &str) -> &'static str {
        self.f.t(&status_key(s))
    }
    fn when(&self, ms: impl Millis) -> String {
        shanghai_time(ms.ms())
    }
    fn short(&self, s: &str) -> String {
        s.chars().take(12).collect()
    }
    fn method(&self, m: &str) -> &'static str {
        self.f.t(&format!("rx_m_{m}"))
    }
}

async fn rx_page(
    State(state): State<AppState>,
    SignedIn { caller, lang }: SignedIn,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let side = {
        let mut conn = state.store.conn().await?;
        cservice::load_for(&mut conn, &caller, &id).await?.1
    };
    let c = cservice::get(&state, &caller, &id).await?;
    let list = service::of_consultation(&state, &caller, &id).await?;
    let doctor = side == Side::Doctor;
    let history = if doctor {
        service::of_patient(&state, &caller, &c.patient_id)
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|p| p.consultation_id != c.id)
            .collect()
    } else {
        Vec::new()
    };
    let allergies = service::allergies(&state, &caller, &c.patient_id)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|a| a.substance)
        .collect();
    render(
        &RxPage {
            f: Frame::new(&lang.tr, Some(&caller)),
            open: matches!(c.status.as_str(), "accepted" | "in_progress"),
            c,
            doctor,
            list,
            history,
            drugs: service::drugs(&state, None)
                .into_iter()
                .filter(|d| d.online_allowed)
                .collect(),
            allergies,
        },
        &lang,
    )
}

#[derive(Template)]
#[template(path = "rx_queue.html")]
struct QueuePage {
    f: Frame,
    queue: Vec<PrescriptionView>,
}

impl QueuePage {
    fn when(&self, ms: impl Millis) -> String {
        shanghai_time(ms.ms())
    }
}

async fn queue_page(
    State(state): State<AppState>,
    SignedIn { caller, lang }: SignedIn,
) -> ApiResult<Response> {
    if !caller.has(Role::Pharmacist) {
        return Ok(Redirect::to("/home").into_response());
    }
    let queue = service::queue(&state, &caller).await?;
    render(
        &QueuePage {
            f: Frame::new(&lang.tr, Some(&caller)),
            queue,
        },
        &lang,
    )
}

#[derive(Deserialize)]
pub struct DispenseQuery {
    pub code: Option<String>,
    pub lang: Option<String>,
}

#[derive(Template)]
#[template(path = "rx_dispense.html")]
struct DispensePage {
    f: Frame,
    code: String,
    found: Option<PrescriptionView>,
    not_found: bool,
}

impl DispensePage {
    fn st(&self, s: &str) -> &'static str {
        self.f.t(&status_key(s))
    }
}

async fn dispense_page(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Query(q): Query<DispenseQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let lang = page_lang(&state, &LangQuery { lang: q.lang }, &headers);
    let Some(caller) = caller else {
        return Ok(Redirect::to("/login").into_response());
    };
    if !caller.has(Role::Pharmacist) {
        return Ok(Redirect::to("/home").into_response());
    }
    let code = q.code.unwrap_or_default().trim().to_ascii_uppercase();
    let (found, not_found) = if code.is_empty() {
        (None, false)
    } else {
        match service::lookup(&state, &caller, &code).await {
            Ok(v) => (Some(v), false),
            Err(_) => (None, true),
        }
    };
    render(
        &DispensePage {
            f: Frame::new(&lang.tr, Some(&caller)),
            code,
            found,
            not_found,
        },
        &lang,
    )
}

async fn rx_js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../../static/rx.js"),
    )
}

/// (key, 中文, English); keys prefixed `rx_`, error codes included.
pub const TEXT: &[(&str, &str, &str)] = &[
    ("rx_title", "处方", "Prescriptions"),
    ("rx_open", "处方与取药", "Prescriptions and drugs"),
    ("rx_new", "开具处方", "Write a prescription"),
    ("rx_revise", "修改后重新提交", "Revise and resubmit"),
    ("rx_kind", "处方类型", "Kind"),
    ("rx_kind_acute", "急性病（最长7天）", "Acute (up to 7 days)"),
    (
        "rx_kind_chronic",
        "慢性病长处方（最长12周）",
        "Stable chronic (up to 12 weeks)",
    ),
    ("rx_diagnosis", "诊断", "Diagnosis"),
    (
        "rx_weight",
        "体重（kg，6岁以下必填）",
        "Weight (kg, required under 6)",
    ),
    ("rx_note", "备注", "Note"),
    ("rx_drug", "药品", "Drug"),
    ("rx_quantity", "数量", "Quantity"),
    ("rx_dosage", "单次用量", "Dose"),
    ("rx_frequency", "用法频次", "Frequency"),
    ("rx_days", "天数", "Days"),
    ("rx_add_line", "添加药品", "Add a drug"),
    (
        "rx_sign_submit",
        "签名并提交审核",
        "Sign and submit for review",
    ),
    ("rx_none", "暂无处方。", "No prescriptions yet."),
    ("rx_version", "版本", "Version"),
    ("rx_status", "状态", "Status"),
    ("rx_signed", "医师签名", "Signed by the doctor"),
    ("rx_review_note", "药师意见", "Pharmacist's note"),
    ("rx_amount", "金额", "Amount"),
    ("rx_insured", "医保支付", "Insurance pays"),
    ("rx_self", "个人自付", "You pay"),
    ("rx_insurance_cat", "医保类别", "Insurance category"),
    ("rx_allergies", "过敏史", "Allergies"),
    ("rx_no_allergies", "无记录", "None recorded"),
    ("rx_add_allergy", "登记过敏", "Record an allergy"),
    (
        "rx_substance",
        "过敏药物或类别（如 青霉素类）",
        "Substance or class (e.g. penicillins)",
    ),
    (
        "rx_history",
        "患者既往处方",
        "Patient's earlier prescriptions",
    ),
    (
        "rx_controlled_note",
        "麻醉药品、精神药品等特殊管理药品不得在线开具。",
        "Narcotic, psychotropic and other specially controlled drugs are never prescribed online.",
    ),
    ("rx_queue", "处方审核", "Prescription review"),
    (
        "rx_queue_empty",
        "没有待审核的处方。",
        "No prescriptions waiting for review.",
    ),
    ("rx_approve", "审核通过", "Approve"),
    ("rx_reject", "驳回", "Reject"),
    ("rx_reason", "驳回理由", "Reason"),
    ("rx_patient", "患者", "Patient"),
    ("rx_doctor", "开方医师", "Prescriber"),
    ("rx_fulfilment", "取药方式", "How to get the drugs"),
    ("rx_method", "方式", "Method"),
    (
        "rx_m_pickup",
        "医院药房窗口自取",
        "Pick up at the hospital pharmacy window",
    ),
    (
        "rx_m_hospital_delivery",
        "医院配送到家",
        "Delivered by the hospital",
    ),
    ("rx_m_courier", "第三方快递配送", "Third-party courier"),
    (
        "rx_m_pharmacy_transfer",
        "流转到附近药店购药",
        "Transfer to a nearby pharmacy",
    ),
    ("rx_address", "收货地址", "Delivery address"),
    ("rx_save_method", "保存取药方式", "Save"),
    ("rx_code", "取药码", "Pickup code"),
    (
        "rx_code_hint",
        "到医院药房窗口或药店出示此码取药。",
        "Show this code at the pharmacy window or pharmacy.",
    ),
    ("rx_tracking", "配送跟踪", "Tracking"),
    ("rx_go_pay", "查看订单并支付", "View the order and pay"),
    ("rx_dispense_title", "凭码发药", "Dispense with a code"),
    ("rx_lookup", "查询处方", "Look up"),
    ("rx_dispense", "确认发药", "Dispense"),
    (
        "rx_not_found",
        "没有找到此码对应的可发药处方。",
        "No prescription for this code that you may dispense.",
    ),
    ("rx_dispensed_ok", "已发药", "Dispensed"),
    ("rx_st_pending_review", "待药师审核", "Waiting for review"),
    ("rx_st_approved", "审核通过", "Approved"),
    ("rx_st_rejected", "已驳回", "Rejected"),
    ("rx_st_superseded", "已被新版本替代", "Superseded"),
    ("rx_st_cancelled", "已取消", "Cancelled"),
    ("rx_st_awaiting_payment", "待支付", "Awaiting payment"),
    ("rx_st_ready", "待取药/待发货", "Ready"),
    ("rx_st_dispensed", "已取药", "Dispensed"),
    ("rx_st_shipped", "已发货", "Shipped"),
    ("rx_st_in_transit", "运输中", "In transit"),
    ("rx_st_delivered", "已送达", "Delivered"),
    ("rx_st_method_chosen", "已选择取药方式", "Method chosen"),
];
