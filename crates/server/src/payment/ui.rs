//! Web pages for payment: the patient's orders, one order with every item's
//! insurance and self-paid share (pay once, cancel for a refund, track the
//! drugs), and the sandbox provider's checkout page.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use ihos_store::payment as pstore;

use super::service::{self, OrderView};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::web::Millis;
use crate::web::{Frame, SignedIn, render, shanghai_time};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orders", get(orders_page))
        .route("/orders/{id}", get(order_page))
        .route("/payment/sandbox/{txn}", get(sandbox_page))
}

#[derive(Template)]
#[template(path = "pay_orders.html")]
struct OrdersPage {
    f: Frame,
    orders: Vec<OrderView>,
}

impl OrdersPage {
    fn st(&self, s: &str) -> &'static str {
        self.f.t(&format!("pay_st_{s}"))
    }
    fn when(&self, ms: impl Millis) -> String {
        shanghai_time(ms.ms())
    }
}

async fn orders_page(
    State(state): State<AppState>,
    SignedIn { caller, lang }: SignedIn,
) -> ApiResult<Response> {
    let orders = service::mine(&state, &caller).await?;
    render(
        &OrdersPage {
            f: Frame::new(&lang.tr, Some(&caller)),
            orders,
        },
        &lang,
    )
}

#[derive(Template)]
#[template(path = "pay_order.html")]
struct OrderPage {
    f: Frame,
    o: OrderView,
    /// Sections drawn by the capabilities behind the visit (already escaped).
    sections: Vec<String>,
}

impl OrderPage {
    fn st(&self, s: &str) -> &'static str {
        self.f.t(&format!("pay_st_{s}"))
    }
    fn kind(&self, s: &str) -> &'static str {
        self.f.t(&format!("pay_kind_{s}"))
    }
    fn when(&self, ms: impl Millis) -> String {
        shanghai_time(ms.ms())
    }
}

async fn order_page(
    State(state): State<AppState>,
    SignedIn { caller, lang }: SignedIn,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let o = service::get(&state, &caller, &id).await?;
    let f = Frame::new(&lang.tr, Some(&caller));
    let sections = super::payments(&state)
        .hooks
        .order_page_sections(&state, &caller, &o, &f)
        .await?;
    render(&OrderPage { f, o, sections }, &lang)
}

#[derive(Template)]
#[template(path = "pay_sandbox.html")]
struct SandboxPage {
    f: Frame,
    txn: String,
    order_id: String,
    amount: String,
    pending: bool,
}

async fn sandbox_page(
    State(state): State<AppState>,
    SignedIn { caller, lang }: SignedIn,
    Path(txn): Path<String>,
) -> ApiResult<Response> {
    let t = {
        let mut conn = state.store.conn().await?;
        pstore::transaction(&mut conn, &txn)
            .await?
            .ok_or_else(ApiError::not_found)?
    };
    // Only the payer sees the checkout.
    service::get(&state, &caller, &t.order_id).await?;
    render(
        &SandboxPage {
            f: Frame::new(&lang.tr, Some(&caller)),
            txn: t.id,
            order_id: t.order_id,
            amount: ihos_domain::payment::yuan(t.amount_fen),
            pending: t.status == "pending",
        },
        &lang,
    )
}

/// (key, 中文, English); keys prefixed `pay_`, error codes included.
pub const TEXT: &[(&str, &str, &str)] = &[
    ("pay_orders", "我的订单", "My orders"),
    ("pay_order", "就诊订单", "Visit order"),
    ("pay_none", "暂无订单。", "No orders yet."),
    ("pay_item", "项目", "Item"),
    ("pay_qty", "数量", "Qty"),
    ("pay_unit_price", "单价", "Unit price"),
    ("pay_amount", "金额", "Amount"),
    ("pay_insured", "医保统筹支付", "Insurance pays"),
    ("pay_self", "个人自付", "You pay"),
    ("pay_total", "合计", "Total"),
    ("pay_refunded", "已退款", "Refunded"),
    ("pay_status", "订单状态", "Status"),
    (
        "pay_once_hint",
        "本次就诊的诊查费、药费和配送费合并为一笔订单，只需支付一次。医保支付部分按项目计算，精确到分（医保部分向下取整到分，其余个人自付）。",
        "The consultation fee, drugs and delivery of this visit are one order, paid once. The insurance share is computed per item to the fen (rounded down; the rest is yours).",
    ),
    ("pay_pay", "支付", "Pay"),
    ("pay_cancel", "取消订单并退款", "Cancel and refund"),
    ("pay_open_order", "查看", "Open"),
    ("pay_sandbox", "沙箱支付收银台", "Sandbox checkout"),
    (
        "pay_sandbox_hint",
        "这是测试用的沙箱支付，不会产生真实扣款。",
        "This is the sandbox provider; no real money moves.",
    ),
    ("pay_confirm", "确认支付", "Confirm payment"),
    ("pay_decline", "模拟支付失败", "Simulate a declined payment"),
    (
        "pay_waiting",
        "正在等待支付结果…",
        "Waiting for the payment result…",
    ),
    ("pay_back", "返回订单", "Back to the order"),
    ("pay_drugs", "药品与取药", "Drugs and pickup"),
    ("pay_expires", "支付截止", "Pay by"),
    ("pay_paid_at", "支付时间", "Paid at"),
    ("pay_kind_consultation_fee", "诊查费", "Consultation fee"),
    ("pay_kind_drug", "药品", "Drug"),
    ("pay_kind_delivery", "配送费", "Delivery"),
    ("pay_kind_nursing_service", "护理服务", "Nursing service"),
    ("pay_st_open", "待支付", "To pay"),
    ("pay_st_paying", "支付中", "Paying"),
    ("pay_st_paid", "已支付", "Paid"),
    ("pay_st_closed", "超时关闭", "Closed (not paid in time)"),
    ("pay_st_cancelled", "已取消", "Cancelled"),
    ("pay_st_refunded", "已退款", "Refunded"),
];

/// `¥x.yy` for templates.
pub fn yuan_of(fen: &i64) -> String {
    ihos_domain::payment::yuan(*fen)
}
