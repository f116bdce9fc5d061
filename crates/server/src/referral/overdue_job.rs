//! Job: nothing ends silently. A referral that stays in a state past that
//! state's deadline (settings `referral.deadlines`) is marked overdue once:
//! the timeline records it, every party is notified, and the consortium
//! dashboard highlights it. `run_once` does one pass with a chosen clock
//! (tests); `spawn` runs it every minute.

use std::time::Duration;

use ihos_store::referral as store;

use super::service::notify;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Mark every referral overdue at `now`; answers how many were marked.
pub async fn run_once(state: &AppState, now: i64) -> ApiResult<usize> {
    let due = {
        let mut c = state.store.conn().await?;
        store::due_for_overdue(&mut c, now, 500).await?
    };
    let mut marked = 0;
    for r in due {
        let mut tx = state.store.begin().await?;
        if !store::mark_overdue(&mut tx, &r.id, &r.status, now).await? {
            // It moved on at the last moment.
            continue;
        }
        store::append_event(
            &mut tx,
            &r.id,
            None,
            "overdue",
            Some(&r.status),
            &r.status,
            Some("deadline passed"),
            now,
        )
        .await?;
        notify(&mut tx, &r, "referral.overdue", &r.status, now).await?;
        tx.commit().await.map_err(ApiError::internal)?;
        tracing::warn!(referral_id = %r.id, status = %r.status, "referral overdue");
        marked += 1;
    }
    Ok(marked)
}

pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            if let Err(e) = run_once(&state, ihos_store::now_ms()).await {
                tracing::warn!(code = %e.code, "referral overdue job failed");
            }
        }
    })
}
