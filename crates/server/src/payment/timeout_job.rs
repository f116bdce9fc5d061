//! Timeouts: an unpaid order closes after `payment.order_timeout_minutes`;
//! a started payment with no callback within `payment_timeout_minutes` is
//! given up (the order can be paid again; a late success is refunded).
//! `run_once` does one pass; `spawn` runs it on an interval.

use std::time::Duration;

use ihos_store::payment as pstore;
use serde_json::json;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// One pass at `now`: answers (orders closed, payments given up).
pub async fn run_once(state: &AppState, now: i64) -> ApiResult<(usize, usize)> {
    let mut closed = 0;
    let mut given_up = 0;
    let mut conn = state.store.conn().await?;
    let stale = pstore::stale_paying(&mut conn, now, 200).await?;
    let expired = pstore::expired_open(&mut conn, now, 200).await?;
    drop(conn);
    for (order_id, txn_id) in stale {
        let mut tx = state.store.begin().await?;
        if pstore::settle_transaction(&mut tx, &txn_id, "pending", "expired", now).await? {
            pstore::change_status(&mut tx, &order_id, "paying", "open", now).await?;
            tx.commit().await.map_err(ApiError::internal)?;
            given_up += 1;
        }
    }
    for o in expired {
        let mut tx = state.store.begin().await?;
        if pstore::change_status(&mut tx, &o.id, "open", "closed", now).await? {
            ihos_store::outbox::put(
                &mut tx,
                "payment.closed",
                None,
                &json!({"order_id": o.id, "visit_kind": o.visit_kind, "visit_id": o.visit_id}),
                now,
            )
            .await?;
            tx.commit().await.map_err(ApiError::internal)?;
            closed += 1;
        }
    }
    Ok((closed, given_up))
}

pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let secs = state.settings.payment.job_interval_seconds.max(1);
        let mut tick = tokio::time::interval(Duration::from_secs(secs));
        loop {
            tick.tick().await;
            match run_once(&state, ihos_store::now_ms()).await {
                Ok((0, 0)) => {}
                Ok((closed, given_up)) => {
                    tracing::info!(closed, given_up, "payment timeouts")
                }
                Err(e) => tracing::warn!(code = %e.code, "payment timeout pass failed"),
            }
        }
    })
}
