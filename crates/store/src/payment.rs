//! Payment orders (one per visit: `(visit_kind, visit_id)` is unique), their
//! items with the insurance split, provider transactions, callbacks (each
//! provider event id once) and refunds. Status changes are conditional
//! updates; order totals are recomputed from the items in the same statement
//! that adds them, so totals always equal the sum of the items.

use sqlx::{AnyConnection, FromRow};

use crate::{StoreResult, classify, new_id};

#[derive(Debug, Clone, FromRow)]
pub struct OrderRow {
    pub id: String,
    pub visit_kind: String,
    pub visit_id: String,
    pub patient_id: String,
    pub org_id: String,
    pub status: String,
    pub amount_fen: i64,
    pub insured_fen: i64,
    pub self_fen: i64,
    pub refunded_fen: i64,
    pub paid_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub expires_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, visit_kind, visit_id, patient_id, org_id, status, amount_fen, insured_fen, \
     self_fen, refunded_fen, paid_at, closed_at, expires_at, created_at, updated_at";

#[derive(Debug, Clone, FromRow)]
pub struct OrderItemRow {
    pub kind: String,
    pub ref_id: String,
    pub description: String,
    pub quantity: i64,
    pub unit_price_fen: i64,
    pub reimburse_permille: i64,
    pub amount_fen: i64,
    pub insured_fen: i64,
    pub self_fen: i64,
    pub refunded: i64,
}

#[derive(Debug, Clone)]
pub struct NewOrderItem {
    pub kind: String,
    pub ref_id: String,
    pub description: String,
    pub quantity: i64,
    pub unit_price_fen: i64,
    pub reimburse_permille: i64,
    pub amount_fen: i64,
    pub insured_fen: i64,
    pub self_fen: i64,
}

/// The order of a visit, created on first use. Answers the order row.
pub async fn open_order(
    conn: &mut AnyConnection,
    visit_kind: &str,
    visit_id: &str,
    patient_id: &str,
    org_id: &str,
    expires_at: i64,
    now: i64,
) -> StoreResult<OrderRow> {
    sqlx::query(
        "INSERT INTO payment_orders (id, visit_kind, visit_id, patient_id, org_id, status, expires_at, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'open', $6, $7, $7) \
         ON CONFLICT (visit_kind, visit_id) DO NOTHING",
    )
    .bind(new_id())
    .bind(visit_kind)
    .bind(visit_id)
    .bind(patient_id)
    .bind(org_id)
    .bind(expires_at)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    order_of_visit(conn, visit_kind, visit_id)
        .await?
        .ok_or(crate::StoreError::NotFound)
}

pub async fn order_of_visit(
    conn: &mut AnyConnection,
    visit_kind: &str,
    visit_id: &str,
) -> StoreResult<Option<OrderRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM payment_orders WHERE visit_kind = $1 AND visit_id = $2"
    )))
    .bind(visit_kind)
    .bind(visit_id)
    .fetch_optional(&mut *conn)
    .await?)
}

pub async fn order(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<OrderRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM payment_orders WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?)
}

pub async fn orders_of_patients(
    conn: &mut AnyConnection,
    patient_ids: &[String],
    limit: i64,
) -> StoreResult<Vec<OrderRow>> {
    let mut out = Vec::new();
    for p in patient_ids {
        let rows: Vec<OrderRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM payment_orders WHERE patient_id = $1 ORDER BY created_at DESC LIMIT $2"
        )))
        .bind(p)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
        out.extend(rows);
    }
    out.sort_by_key(|o| std::cmp::Reverse(o.created_at));
    Ok(out)
}

pub async fn items(conn: &mut AnyConnection, order_id: &str) -> StoreResult<Vec<OrderItemRow>> {
    Ok(sqlx::query_as(
        "SELECT kind, ref_id, description, quantity, unit_price_fen, reimburse_permille, amount_fen, \
         insured_fen, self_fen, refunded FROM payment_order_items WHERE order_id = $1 \
         ORDER BY created_at, kind, ref_id",
    )
    .bind(order_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// Add or replace an item while the order accepts items (open or closed;
/// a closed order reopens). Answers false when the order is being paid or
/// was paid: nothing is added to a paid visit.
pub async fn put_item(
    conn: &mut AnyConnection,
    order_id: &str,
    item: &NewOrderItem,
    expires_at: i64,
    now: i64,
) -> StoreResult<bool> {
    // Lock the order by moving it (back) to open first: a concurrent payment
    // start (open → paying) and this change cannot both win.
    let reopened = sqlx::query(
        "UPDATE payment_orders SET status = 'open', closed_at = NULL, expires_at = $2, updated_at = $3 \
         WHERE id = $1 AND status IN ('open', 'closed')",
    )
    .bind(order_id)
    .bind(expires_at)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    if reopened.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO payment_order_items (order_id, kind, ref_id, description, quantity, unit_price_fen, \
         reimburse_permille, amount_fen, insured_fen, self_fen, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (order_id, kind, ref_id) DO UPDATE SET description = excluded.description, \
         quantity = excluded.quantity, unit_price_fen = excluded.unit_price_fen, \
         reimburse_permille = excluded.reimburse_permille, amount_fen = excluded.amount_fen, \
         insured_fen = excluded.insured_fen, self_fen = excluded.self_fen",
    )
    .bind(order_id)
    .bind(&item.kind)
    .bind(&item.ref_id)
    .bind(&item.description)
    .bind(item.quantity)
    .bind(item.unit_price_fen)
    .bind(item.reimburse_permille)
    .bind(item.amount_fen)
    .bind(item.insured_fen)
    .bind(item.self_fen)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    retotal(conn, order_id).await?;
    Ok(true)
}

/// Remove an item (e.g. delivery when the patient switches to pickup) while open.
pub async fn remove_item(
    conn: &mut AnyConnection,
    order_id: &str,
    kind: &str,
    ref_id: &str,
) -> StoreResult<bool> {
    let open: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM payment_orders WHERE id = $1 AND status IN ('open', 'closed')",
    )
    .bind(order_id)
    .fetch_one(&mut *conn)
    .await?;
    if open == 0 {
        return Ok(false);
    }
    sqlx::query(
        "DELETE FROM payment_order_items WHERE order_id = $1 AND kind = $2 AND ref_id = $3",
    )
    .bind(order_id)
    .bind(kind)
    .bind(ref_id)
    .execute(&mut *conn)
    .await?;
    retotal(conn, order_id).await?;
    Ok(true)
}

async fn retotal(conn: &mut AnyConnection, order_id: &str) -> StoreResult<()> {
    sqlx::query(
        "UPDATE payment_orders SET \
         amount_fen = (SELECT COALESCE(SUM(amount_fen), 0) FROM payment_order_items WHERE order_id = $1), \
         insured_fen = (SELECT COALESCE(SUM(insured_fen), 0) FROM payment_order_items WHERE order_id = $1), \
         self_fen = (SELECT COALESCE(SUM(self_fen), 0) FROM payment_order_items WHERE order_id = $1) \
         WHERE id = $1",
    )
    .bind(order_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Conditional status change; answers false when the order was not in `from`.
pub async fn change_status(
    conn: &mut AnyConnection,
    id: &str,
    from: &str,
    to: &str,
    now: i64,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE payment_orders SET status = $3, updated_at = $4, \
         paid_at = CASE WHEN $3 = 'paid' THEN $4 ELSE paid_at END, \
         closed_at = CASE WHEN $3 IN ('closed', 'cancelled') THEN $4 ELSE closed_at END \
         WHERE id = $1 AND status = $2",
    )
    .bind(id)
    .bind(from)
    .bind(to)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Open orders whose payment time ran out.
pub async fn expired_open(
    conn: &mut AnyConnection,
    now: i64,
    limit: i64,
) -> StoreResult<Vec<OrderRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM payment_orders WHERE status = 'open' AND expires_at <= $1 \
         ORDER BY expires_at LIMIT $2"
    )))
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?)
}

/// Orders stuck in `paying` whose transaction expired without a callback.
pub async fn stale_paying(
    conn: &mut AnyConnection,
    now: i64,
    limit: i64,
) -> StoreResult<Vec<(String, String)>> {
    Ok(sqlx::query_as(
        "SELECT t.order_id, t.id FROM payment_transactions t JOIN payment_orders o ON o.id = t.order_id \
         WHERE o.status = 'paying' AND t.status = 'pending' AND t.expires_at <= $1 LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?)
}

// ---------------------------------------------------------------- transactions

#[derive(Debug, Clone, FromRow)]
pub struct TransactionRow {
    pub id: String,
    pub order_id: String,
    pub provider: String,
    pub amount_fen: i64,
    pub status: String,
    pub provider_ref: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub settled_at: Option<i64>,
}

const T_COLUMNS: &str =
    "id, order_id, provider, amount_fen, status, provider_ref, created_at, expires_at, settled_at";

pub async fn insert_transaction(
    conn: &mut AnyConnection,
    order_id: &str,
    provider: &str,
    amount_fen: i64,
    expires_at: i64,
    now: i64,
) -> StoreResult<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO payment_transactions (id, order_id, provider, amount_fen, status, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, 'pending', $5, $6)",
    )
    .bind(&id)
    .bind(order_id)
    .bind(provider)
    .bind(amount_fen)
    .bind(now)
    .bind(expires_at)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

pub async fn set_provider_ref(
    conn: &mut AnyConnection,
    id: &str,
    provider_ref: &str,
) -> StoreResult<()> {
    sqlx::query("UPDATE payment_transactions SET provider_ref = $2 WHERE id = $1")
        .bind(id)
        .bind(provider_ref)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn transaction(
    conn: &mut AnyConnection,
    id: &str,
) -> StoreResult<Option<TransactionRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {T_COLUMNS} FROM payment_transactions WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?)
}

pub async fn transactions_of(
    conn: &mut AnyConnection,
    order_id: &str,
) -> StoreResult<Vec<TransactionRow>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {T_COLUMNS} FROM payment_transactions WHERE order_id = $1 ORDER BY created_at"
    )))
    .bind(order_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// Move a transaction from `from` to `to`; answers false when it was not in `from`.
pub async fn settle_transaction(
    conn: &mut AnyConnection,
    id: &str,
    from: &str,
    to: &str,
    now: i64,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE payment_transactions SET status = $3, settled_at = $4 WHERE id = $1 AND status = $2",
    )
    .bind(id)
    .bind(from)
    .bind(to)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Record a provider callback once. Answers false for a duplicate event.
pub async fn record_callback(
    conn: &mut AnyConnection,
    provider: &str,
    event_id: &str,
    transaction_id: &str,
    outcome: &str,
    now: i64,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "INSERT INTO payment_callbacks (provider, event_id, transaction_id, outcome, received_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (provider, event_id) DO NOTHING",
    )
    .bind(provider)
    .bind(event_id)
    .bind(transaction_id)
    .bind(outcome)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn callback_count(conn: &mut AnyConnection, transaction_id: &str) -> StoreResult<i64> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM payment_callbacks WHERE transaction_id = $1")
            .bind(transaction_id)
            .fetch_one(&mut *conn)
            .await?,
    )
}

// ---------------------------------------------------------------- refunds

#[derive(Debug, Clone, FromRow)]
pub struct RefundRow {
    pub id: String,
    pub order_id: String,
    pub transaction_id: String,
    pub amount_fen: i64,
    pub reason: String,
    pub scope: String,
    pub status: String,
    pub provider_ref: Option<String>,
    pub created_at: i64,
}

/// Record a refund (one per order and scope); `Duplicate` when this scope
/// was refunded already. A refund of what the order was paid with adds to
/// the order's refunded total; a refund of a late, unused payment
/// (`on_order` false) does not.
#[allow(clippy::too_many_arguments)]
pub async fn insert_refund(
    conn: &mut AnyConnection,
    order_id: &str,
    transaction_id: &str,
    amount_fen: i64,
    reason: &str,
    scope: &str,
    on_order: bool,
    now: i64,
) -> StoreResult<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO payment_refunds (id, order_id, transaction_id, amount_fen, reason, scope, status, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7)",
    )
    .bind(&id)
    .bind(order_id)
    .bind(transaction_id)
    .bind(amount_fen)
    .bind(reason)
    .bind(scope)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(|e| classify(e, &["scope"]))?;
    if !on_order {
        return Ok(id);
    }
    sqlx::query(
        "UPDATE payment_orders SET refunded_fen = refunded_fen + $2, updated_at = $3 WHERE id = $1",
    )
    .bind(order_id)
    .bind(amount_fen)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

pub async fn refund_done(
    conn: &mut AnyConnection,
    id: &str,
    provider_ref: &str,
) -> StoreResult<()> {
    sqlx::query("UPDATE payment_refunds SET status = 'succeeded', provider_ref = $2 WHERE id = $1")
        .bind(id)
        .bind(provider_ref)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn mark_items_refunded(
    conn: &mut AnyConnection,
    order_id: &str,
    kind: &str,
    ref_id: &str,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE payment_order_items SET refunded = 1 WHERE order_id = $1 AND kind = $2 AND ref_id = $3",
    )
    .bind(order_id)
    .bind(kind)
    .bind(ref_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn refunds_of(conn: &mut AnyConnection, order_id: &str) -> StoreResult<Vec<RefundRow>> {
    Ok(sqlx::query_as(
        "SELECT id, order_id, transaction_id, amount_fen, reason, scope, status, provider_ref, created_at \
         FROM payment_refunds WHERE order_id = $1 ORDER BY created_at",
    )
    .bind(order_id)
    .fetch_all(&mut *conn)
    .await?)
}
