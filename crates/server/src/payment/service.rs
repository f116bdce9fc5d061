//! Payment use cases. See the module doc of `crate::payment` for the API
//! other capabilities use (`open_or_extend_order`, `is_paid`, the
//! `payment.paid` outbox topic).

use axum::http::StatusCode;
use ihos_domain::payment::{
    self as rules, ItemKind, OrderStatus, Split, VisitKind, split_item, yuan,
};
use ihos_domain::{ErrorCode, Role};
use ihos_store::payment::{self as pstore, NewOrderItem, OrderItemRow, OrderRow};
use ihos_store::{AnyConnection, StoreError, identity, now_ms};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::provider::{CreatePayment, Notification, RefundRequest, verify};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::settings::PaymentSettings;
use crate::state::AppState;

/// The visit an order belongs to.
#[derive(Debug, Clone, Copy)]
pub struct Visit<'a> {
    pub kind: VisitKind,
    pub id: &'a str,
    pub patient_id: &'a str,
    /// The organisation that is paid.
    pub org_id: &'a str,
}

/// One charge to put on a visit's order. `ref_id` identifies it within its
/// kind (putting the same kind and ref_id again replaces it).
#[derive(Debug, Clone)]
pub struct OrderItemInput {
    pub kind: ItemKind,
    pub ref_id: String,
    pub description: String,
    pub quantity: i64,
    pub unit_price_fen: i64,
    /// Insurance share per mille (0 = self-paid, 1000 = fully covered).
    pub reimburse_permille: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderItemView {
    /// consultation_fee, drug, delivery or nursing_service
    pub kind: String,
    pub ref_id: String,
    pub description: String,
    pub quantity: i64,
    pub unit_price_fen: i64,
    pub reimburse_permille: i64,
    pub amount_fen: i64,
    pub insured_fen: i64,
    pub self_fen: i64,
    pub refunded: bool,
    /// ¥ texts for display
    pub amount: String,
    pub insured: String,
    pub self_paid: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderView {
    pub id: String,
    pub visit_kind: String,
    pub visit_id: String,
    pub patient_id: String,
    pub org_id: String,
    /// open, paying, paid, closed, cancelled, refunded
    pub status: String,
    pub amount_fen: i64,
    pub insured_fen: i64,
    /// What the patient pays.
    pub self_fen: i64,
    pub refunded_fen: i64,
    pub amount: String,
    pub insured: String,
    pub self_paid: String,
    pub refunded: String,
    pub paid_at: Option<i64>,
    pub expires_at: i64,
    pub items: Vec<OrderItemView>,
}

pub fn item_view(i: OrderItemRow) -> OrderItemView {
    OrderItemView {
        amount: yuan(i.amount_fen),
        insured: yuan(i.insured_fen),
        self_paid: yuan(i.self_fen),
        kind: i.kind,
        ref_id: i.ref_id,
        description: i.description,
        quantity: i.quantity,
        unit_price_fen: i.unit_price_fen,
        reimburse_permille: i.reimburse_permille,
        amount_fen: i.amount_fen,
        insured_fen: i.insured_fen,
        self_fen: i.self_fen,
        refunded: i.refunded == 1,
    }
}

pub fn order_view(o: OrderRow, items: Vec<OrderItemRow>) -> OrderView {
    OrderView {
        amount: yuan(o.amount_fen),
        insured: yuan(o.insured_fen),
        self_paid: yuan(o.self_fen),
        refunded: yuan(o.refunded_fen),
        id: o.id,
        visit_kind: o.visit_kind,
        visit_id: o.visit_id,
        patient_id: o.patient_id,
        org_id: o.org_id,
        status: o.status,
        amount_fen: o.amount_fen,
        insured_fen: o.insured_fen,
        self_fen: o.self_fen,
        refunded_fen: o.refunded_fen,
        paid_at: o.paid_at,
        expires_at: o.expires_at,
        items: items.into_iter().map(item_view).collect(),
    }
}

pub async fn load_view(conn: &mut AnyConnection, order_id: &str) -> ApiResult<OrderView> {
    let o = pstore::order(conn, order_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let items = pstore::items(conn, order_id).await?;
    Ok(order_view(o, items))
}

// ------------------------------------------------------------ the public API

/// Open the visit's order if it has none, and put `items` on it, inside the
/// caller's transaction. Items go only on an order nobody has paid or
/// started paying ("pay at most once"): otherwise `pay_order_locked`.
/// Amounts are split per item here (insurance share rounded down to the fen).
pub async fn open_or_extend_in(
    conn: &mut AnyConnection,
    settings: &PaymentSettings,
    visit: Visit<'_>,
    items: &[OrderItemInput],
    now: i64,
) -> ApiResult<OrderRow> {
    let expires = now + settings.order_timeout_minutes * 60_000;
    let order = pstore::open_order(
        conn,
        visit.kind.as_str(),
        visit.id,
        visit.patient_id,
        visit.org_id,
        expires,
        now,
    )
    .await?;
    if order.patient_id != visit.patient_id {
        return Err(ApiError::internal("visit order belongs to another patient"));
    }
    for it in items {
        let Split {
            amount_fen,
            insured_fen,
            self_fen,
        } = split_item(it.unit_price_fen, it.quantity, it.reimburse_permille)?;
        let description: String = it.description.trim().chars().take(200).collect();
        let put = pstore::put_item(
            conn,
            &order.id,
            &NewOrderItem {
                kind: it.kind.as_str().into(),
                ref_id: it.ref_id.clone(),
                description,
                quantity: it.quantity,
                unit_price_fen: it.unit_price_fen,
                reimburse_permille: it.reimburse_permille,
                amount_fen,
                insured_fen,
                self_fen,
            },
            expires,
            now,
        )
        .await?;
        if !put {
            rules::check_extendable(OrderStatus::parse(&order.status)?)
                .map_err(ApiError::domain_conflict)?;
            return Err(ApiError::domain_conflict(
                rules::check_extendable(OrderStatus::Paying).unwrap_err(),
            ));
        }
    }
    pstore::order(conn, &order.id)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// Open or extend a visit's order in its own transaction (for other
/// capabilities, e.g. home nursing adding `nursing_service` items).
pub async fn open_or_extend_order(
    state: &AppState,
    visit: Visit<'_>,
    items: &[OrderItemInput],
) -> ApiResult<OrderView> {
    let mut tx = state.store.begin().await?;
    let order = open_or_extend_in(&mut tx, &state.settings.payment, visit, items, now_ms()).await?;
    let view = load_view(&mut tx, &order.id).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(view)
}

/// Remove one item while the order is still open (e.g. delivery dropped).
pub async fn remove_item_in(
    conn: &mut AnyConnection,
    order_id: &str,
    kind: ItemKind,
    ref_id: &str,
) -> ApiResult<()> {
    if !pstore::remove_item(conn, order_id, kind.as_str(), ref_id).await? {
        return Err(ApiError::domain_conflict(
            rules::check_extendable(OrderStatus::Paid).unwrap_err(),
        ));
    }
    Ok(())
}

/// The visit's order, if any.
pub async fn order_of_visit(
    state: &AppState,
    visit_kind: VisitKind,
    visit_id: &str,
) -> ApiResult<Option<OrderView>> {
    let mut conn = state.store.conn().await?;
    match pstore::order_of_visit(&mut conn, visit_kind.as_str(), visit_id).await? {
        Some(o) => {
            let items = pstore::items(&mut conn, &o.id).await?;
            Ok(Some(order_view(o, items)))
        }
        None => Ok(None),
    }
}

/// Whether the visit's order is paid (and not refunded).
pub async fn is_paid(state: &AppState, visit_kind: VisitKind, visit_id: &str) -> ApiResult<bool> {
    let mut conn = state.store.conn().await?;
    Ok(
        pstore::order_of_visit(&mut conn, visit_kind.as_str(), visit_id)
            .await?
            .is_some_and(|o| o.status == OrderStatus::Paid.as_str()),
    )
}

// ------------------------------------------------------------ patient side

/// The order, if the caller is the patient or their guardian.
async fn order_for(conn: &mut AnyConnection, caller: &Caller, id: &str) -> ApiResult<OrderRow> {
    let o = pstore::order(conn, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let p = identity::patient(conn, &o.patient_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let me = Some(caller.account_id.as_str());
    if p.account_id.as_deref() == me || p.guardian_account_id.as_deref() == me {
        Ok(o)
    } else {
        Err(ApiError::not_found())
    }
}

pub async fn get(state: &AppState, caller: &Caller, id: &str) -> ApiResult<OrderView> {
    let mut conn = state.store.conn().await?;
    let o = order_for(&mut conn, caller, id).await?;
    let items = pstore::items(&mut conn, &o.id).await?;
    Ok(order_view(o, items))
}

/// Orders of the caller and the children in their care, newest first.
pub async fn mine(state: &AppState, caller: &Caller) -> ApiResult<Vec<OrderView>> {
    let mut conn = state.store.conn().await?;
    let mut ids = Vec::new();
    if let Some(p) = identity::patient_of_account(&mut conn, &caller.account_id).await? {
        ids.push(p.id);
    }
    for d in identity::dependants_of(&mut conn, &caller.account_id).await? {
        ids.push(d.id);
    }
    let rows = pstore::orders_of_patients(&mut conn, &ids, 100).await?;
    let mut out = Vec::with_capacity(rows.len());
    for o in rows {
        let items = pstore::items(&mut conn, &o.id).await?;
        out.push(order_view(o, items));
    }
    Ok(out)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PayStarted {
    pub order_id: String,
    /// None when the insurance covers everything and nothing is charged.
    pub transaction_id: Option<String>,
    /// Where the payer authorises the payment (the provider's checkout).
    pub pay_url: Option<String>,
    pub amount_fen: i64,
    pub status: String,
}

/// Start paying the whole visit: the patient's self-paid share in one
/// payment. A visit is paid at most once.
#[tracing::instrument(skip_all, fields(order = %id))]
pub async fn pay(state: &AppState, caller: &Caller, id: &str) -> ApiResult<PayStarted> {
    let now = now_ms();
    let settings = &state.settings.payment;
    let mut tx = state.store.begin().await?;
    let mut o = order_for(&mut tx, caller, id).await?;
    if o.status == OrderStatus::Closed.as_str() {
        // An order closed for lack of payment reopens when the patient pays.
        pstore::change_status(&mut tx, &o.id, "closed", "open", now).await?;
        o = pstore::order(&mut tx, &o.id)
            .await?
            .ok_or_else(ApiError::not_found)?;
    }
    rules::check_payable(OrderStatus::parse(&o.status)?, o.amount_fen)
        .map_err(ApiError::domain_conflict)?;
    super::payments(state)
        .hooks
        .check_payable(&mut tx, &o)
        .await?;
    if o.self_fen == 0 {
        // Fully covered by insurance: settled without a provider payment.
        if !pstore::change_status(&mut tx, &o.id, "open", "paid", now).await? {
            return Err(ApiError::conflict(
                ErrorCode::PayInProgress,
                "Someone changed this order at the same moment; reload it.",
            ));
        }
        on_paid(&mut tx, state, &o, now).await?;
        tx.commit().await.map_err(ApiError::internal)?;
        return Ok(PayStarted {
            order_id: o.id,
            transaction_id: None,
            pay_url: None,
            amount_fen: 0,
            status: "paid".into(),
        });
    }
    if !pstore::change_status(&mut tx, &o.id, "open", "paying", now).await? {
        return Err(ApiError::conflict(
            ErrorCode::PayInProgress,
            "A payment for this order is already in progress; wait for its result.",
        ));
    }
    let provider = &super::payments(state).provider;
    let txn = pstore::insert_transaction(
        &mut tx,
        &o.id,
        provider.name(),
        o.self_fen,
        now + settings.payment_timeout_minutes * 60_000,
        now,
    )
    .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    let created = provider
        .create(CreatePayment {
            transaction_id: txn.clone(),
            order_id: o.id.clone(),
            amount_fen: o.self_fen,
            description: format!("{} {}", o.visit_kind, o.visit_id),
        })
        .await;
    let mut tx = state.store.begin().await?;
    match created {
        Ok(c) => {
            pstore::set_provider_ref(&mut tx, &txn, &c.provider_ref).await?;
            tx.commit().await.map_err(ApiError::internal)?;
            tracing::info!(txn = %txn, "payment started");
            Ok(PayStarted {
                order_id: o.id,
                transaction_id: Some(txn),
                pay_url: Some(c.pay_url),
                amount_fen: o.self_fen,
                status: "paying".into(),
            })
        }
        Err(e) => {
            pstore::settle_transaction(&mut tx, &txn, "pending", "failed", now).await?;
            pstore::change_status(&mut tx, &o.id, "paying", "open", now).await?;
            tx.commit().await.map_err(ApiError::internal)?;
            tracing::warn!(error = %e, txn = %txn, "provider refused to create a payment");
            Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                ErrorCode::PayProviderUnavailable,
                "The payment service is not available right now; please try again.",
            ))
        }
    }
}

/// Effects of a paid order inside the paying transaction.
async fn on_paid(
    conn: &mut AnyConnection,
    state: &AppState,
    o: &OrderRow,
    now: i64,
) -> ApiResult<()> {
    super::payments(state).hooks.paid(conn, o, now).await?;
    let recipient = identity::patient(conn, &o.patient_id)
        .await?
        .and_then(|p| p.account_id.or(p.guardian_account_id));
    ihos_store::outbox::put(
        conn,
        "payment.paid",
        recipient.as_deref(),
        &json!({"order_id": o.id, "visit_kind": o.visit_kind, "visit_id": o.visit_id}),
        now,
    )
    .await?;
    Ok(())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CallbackAnswer {
    /// applied, duplicate or already_settled
    pub result: &'static str,
}

/// A provider notification: signature checked, each event applied once.
#[tracing::instrument(skip_all, fields(provider = %provider))]
pub async fn callback(
    state: &AppState,
    provider: &str,
    signature: Option<&str>,
    body: &[u8],
) -> ApiResult<CallbackAnswer> {
    let now = now_ms();
    if provider != super::payments(state).provider.name() {
        return Err(ApiError::not_found());
    }
    let ok =
        signature.is_some_and(|h| verify(super::payments(state).secret(), h, body, now, 300_000));
    if !ok {
        tracing::warn!("payment callback with a bad signature");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::PayBadSignature,
            "The notification signature is missing or wrong.",
        ));
    }
    let n: Notification = serde_json::from_slice(body).map_err(|_| {
        ApiError::bad_request(
            ErrorCode::PayBadNotification,
            "The notification is not valid JSON.",
        )
    })?;
    let outcome = match n.outcome.as_str() {
        "succeeded" | "failed" => n.outcome.as_str(),
        _ => {
            return Err(ApiError::bad_request(
                ErrorCode::PayBadNotification,
                "The outcome is succeeded or failed.",
            ));
        }
    };
    let mut conn = state.store.conn().await?;
    let txn = pstore::transaction(&mut conn, &n.transaction_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    drop(conn);
    if txn.amount_fen != n.amount_fen || txn.provider_ref.as_deref() != Some(&n.provider_ref) {
        tracing::warn!(txn = %txn.id, "payment callback does not match the transaction");
        return Err(ApiError::bad_request(
            ErrorCode::PayAmountMismatch,
            "The notification does not match the payment (amount or reference).",
        ));
    }
    // Recording the event is the transaction's first write: a duplicate
    // (or a concurrent retry) stops here and changes nothing.
    let mut tx = state.store.begin().await?;
    if !pstore::record_callback(&mut tx, provider, &n.event_id, &txn.id, outcome, now).await? {
        // The same event again: nothing changes.
        return Ok(CallbackAnswer {
            result: "duplicate",
        });
    }
    let mut late_refund = None;
    let result = if outcome == "failed" {
        if pstore::settle_transaction(&mut tx, &txn.id, "pending", "failed", now).await? {
            pstore::change_status(&mut tx, &txn.order_id, "paying", "open", now).await?;
            "applied"
        } else {
            "already_settled"
        }
    } else if pstore::settle_transaction(&mut tx, &txn.id, "pending", "succeeded", now).await? {
        if pstore::change_status(&mut tx, &txn.order_id, "paying", "paid", now).await? {
            let o = pstore::order(&mut tx, &txn.order_id)
                .await?
                .ok_or_else(ApiError::not_found)?;
            on_paid(&mut tx, state, &o, now).await?;
        } else {
            late_refund = Some(txn.clone());
        }
        "applied"
    } else if pstore::settle_transaction(&mut tx, &txn.id, "expired", "succeeded_late", now).await?
    {
        // Money arrived after we gave up on this payment: give it back.
        late_refund = Some(txn.clone());
        "applied"
    } else {
        "already_settled"
    };
    let refund_id = match &late_refund {
        Some(t) => Some(
            pstore::insert_refund(
                &mut tx,
                &t.order_id,
                &t.id,
                t.amount_fen,
                "payment arrived after the order was closed",
                &format!("late:{}", t.id),
                false,
                now,
            )
            .await?,
        ),
        None => None,
    };
    tx.commit().await.map_err(ApiError::internal)?;
    if let (Some(t), Some(r)) = (late_refund, refund_id) {
        send_refund(state, &r, &t.id, t.provider_ref.as_deref(), t.amount_fen).await;
    }
    tracing::info!(txn = %txn.id, result, "payment callback");
    Ok(CallbackAnswer { result })
}

async fn send_refund(
    state: &AppState,
    refund_id: &str,
    txn_id: &str,
    provider_ref: Option<&str>,
    amount_fen: i64,
) {
    let res = super::payments(state)
        .provider
        .refund(RefundRequest {
            refund_id: refund_id.into(),
            transaction_id: txn_id.into(),
            provider_ref: provider_ref.unwrap_or_default().into(),
            amount_fen,
        })
        .await;
    match res {
        Ok(r) => {
            if let Ok(mut conn) = state.store.conn().await
                && let Err(e) = pstore::refund_done(&mut conn, refund_id, &r).await
            {
                tracing::warn!(error = %e, refund = %refund_id, "refund not recorded as done");
            }
        }
        Err(e) => tracing::warn!(error = %e, refund = %refund_id, "refund failed; stays pending"),
    }
}

/// The sandbox checkout: the payer authorises (or refuses) the payment; the
/// sandbox then notifies us asynchronously over HTTP.
pub async fn sandbox_confirm(
    state: &AppState,
    caller: &Caller,
    txn_id: &str,
    succeed: bool,
) -> ApiResult<()> {
    let Some(sandbox) = super::payments(state).sandbox.clone() else {
        return Err(ApiError::not_found());
    };
    let mut conn = state.store.conn().await?;
    let txn = pstore::transaction(&mut conn, txn_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    order_for(&mut conn, caller, &txn.order_id).await?;
    if txn.status != "pending" {
        return Err(ApiError::conflict(
            ErrorCode::PayInProgress,
            "This payment is already settled.",
        ));
    }
    let Some(provider_ref) = txn.provider_ref.clone() else {
        return Err(ApiError::not_found());
    };
    sandbox.authorise(
        super::payments(state).callback_url("sandbox"),
        Notification {
            event_id: format!("evt_{}", uuid::Uuid::new_v4().simple()),
            transaction_id: txn.id,
            provider_ref,
            amount_fen: txn.amount_fen,
            outcome: if succeed { "succeeded" } else { "failed" }.into(),
        },
    );
    Ok(())
}

/// The patient cancels the visit's order: unpaid orders are cancelled; paid
/// ones are refunded in full if no drug has left the pharmacy yet.
#[tracing::instrument(skip_all, fields(order = %id))]
pub async fn cancel(state: &AppState, caller: &Caller, id: &str) -> ApiResult<OrderView> {
    if !caller.has(Role::Patient) {
        return Err(ApiError::forbidden(
            "Only the patient side cancels an order.",
        ));
    }
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let o = order_for(&mut tx, caller, id).await?;
    let hooks = &super::payments(state).hooks;
    if let Some(refused) = hooks.direct_cancel_refused(&o) {
        return Err(refused);
    }
    if o.status == OrderStatus::Paid.as_str() && hooks.handed_over(&mut tx, &o).await? {
        return Err(ApiError::conflict(
            ErrorCode::PayNotRefundable,
            "Drugs of this visit were already dispensed or shipped; the order cannot be cancelled online.",
        ));
    }
    let refund = withdraw_in(&mut tx, &o, "cancelled by the patient", now).await?;
    hooks.cancelled(&mut tx, &o, now).await?;
    ihos_store::outbox::put(
        &mut tx,
        "payment.cancelled",
        Some(&caller.account_id),
        &json!({"order_id": o.id, "refund_fen": refund.as_ref().map(|r| r.amount_fen)}),
        now,
    )
    .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    if let Some(r) = refund {
        finish_refund(state, r).await;
    }
    let mut conn = state.store.conn().await?;
    load_view(&mut conn, &o.id).await
}

/// Close an order: an unpaid one is cancelled, a paid one refunded in full
/// (its self-paid share not yet refunded). Answers the refund to send after
/// commit. An order being paid right now cannot be closed.
async fn withdraw_in(
    conn: &mut AnyConnection,
    o: &OrderRow,
    reason: &str,
    now: i64,
) -> ApiResult<Option<PendingRefund>> {
    let raced = || {
        ApiError::conflict(
            ErrorCode::PayInProgress,
            "Someone changed this order at the same moment; reload it.",
        )
    };
    match OrderStatus::parse(&o.status)? {
        status @ (OrderStatus::Open | OrderStatus::Closed) => {
            if !pstore::change_status(conn, &o.id, status.as_str(), "cancelled", now).await? {
                return Err(raced());
            }
            Ok(None)
        }
        OrderStatus::Paying => Err(ApiError::domain_conflict(
            rules::check_payable(OrderStatus::Paying, 1).unwrap_err(),
        )),
        OrderStatus::Paid => {
            if !pstore::change_status(conn, &o.id, "paid", "refunded", now).await? {
                return Err(raced());
            }
            let txn = pstore::transactions_of(conn, &o.id)
                .await?
                .into_iter()
                .find(|t| t.status == "succeeded");
            let amount = o.self_fen - o.refunded_fen;
            let Some(t) = txn.filter(|_| amount > 0) else {
                return Ok(None);
            };
            let refund_id =
                pstore::insert_refund(conn, &o.id, &t.id, amount, reason, "order", true, now)
                    .await
                    .map_err(|e| match e {
                        StoreError::Duplicate { .. } => ApiError::conflict(
                            ErrorCode::PayAlreadyRefunded,
                            "This order was refunded already.",
                        ),
                        e => e.into(),
                    })?;
            Ok(Some(PendingRefund {
                refund_id,
                transaction_id: t.id,
                provider_ref: t.provider_ref,
                amount_fen: amount,
            }))
        }
        OrderStatus::Cancelled | OrderStatus::Refunded => Err(ApiError::conflict(
            ErrorCode::PayOrderClosed,
            "This order is already cancelled or refunded.",
        )),
    }
}

/// A visit ended without being delivered (a consultation declined,
/// cancelled or expired; a nursing order cancelled): its order, if any, is
/// cancelled or refunded in full in the caller's transaction. Answers the
/// refund to send after commit with `finish_refund`.
pub async fn withdraw_visit_in(
    state: &AppState,
    conn: &mut AnyConnection,
    visit_kind: VisitKind,
    visit_id: &str,
    reason: &str,
    now: i64,
) -> ApiResult<Option<PendingRefund>> {
    let Some(o) = pstore::order_of_visit(conn, visit_kind.as_str(), visit_id).await? else {
        return Ok(None);
    };
    let hooks = &super::payments(state).hooks;
    if matches!(
        OrderStatus::parse(&o.status)?,
        OrderStatus::Cancelled | OrderStatus::Refunded
    ) {
        return Ok(None);
    }
    if o.status == OrderStatus::Paid.as_str() && hooks.handed_over(conn, &o).await? {
        // Drugs already left the pharmacy: the visit cannot be undone online.
        return Err(ApiError::conflict(
            ErrorCode::PayNotRefundable,
            "Drugs of this visit were already dispensed or shipped; it cannot be cancelled online.",
        ));
    }
    let refund = withdraw_in(conn, &o, reason, now).await?;
    hooks.cancelled(conn, &o, now).await?;
    Ok(refund)
}

/// Refund part of a paid order (e.g. the drugs of a prescription the
/// hospital could not dispense): the self-paid shares of the given items,
/// once per `scope`. Runs in the caller's transaction; answers the refund
/// to send after commit with `finish_refund`.
pub async fn refund_items_in(
    conn: &mut AnyConnection,
    order: &OrderRow,
    scope: &str,
    items: &[(ItemKind, String)],
    reason: &str,
    now: i64,
) -> ApiResult<Option<PendingRefund>> {
    if order.status != OrderStatus::Paid.as_str() {
        return Ok(None);
    }
    let all = pstore::items(conn, &order.id).await?;
    let amount: i64 = all
        .iter()
        .filter(|i| i.refunded == 0)
        .filter(|i| {
            items
                .iter()
                .any(|(k, r)| k.as_str() == i.kind && *r == i.ref_id)
        })
        .map(|i| i.self_fen)
        .sum();
    let Some(t) = pstore::transactions_of(conn, &order.id)
        .await?
        .into_iter()
        .find(|t| t.status == "succeeded")
    else {
        return Ok(None);
    };
    for (k, r) in items {
        pstore::mark_items_refunded(conn, &order.id, k.as_str(), r).await?;
    }
    if amount <= 0 {
        return Ok(None);
    }
    let id =
        pstore::insert_refund(conn, &order.id, &t.id, amount, reason, scope, true, now).await?;
    Ok(Some(PendingRefund {
        refund_id: id,
        transaction_id: t.id,
        provider_ref: t.provider_ref,
        amount_fen: amount,
    }))
}

pub struct PendingRefund {
    pub refund_id: String,
    pub transaction_id: String,
    pub provider_ref: Option<String>,
    pub amount_fen: i64,
}

/// Send a refund recorded by `refund_items_in` to the provider (after commit).
pub async fn finish_refund(state: &AppState, r: PendingRefund) {
    send_refund(
        state,
        &r.refund_id,
        &r.transaction_id,
        r.provider_ref.as_deref(),
        r.amount_fen,
    )
    .await;
}
