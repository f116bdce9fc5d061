//! Job: a consultation the doctor did not answer within the configured time
//! expires and its fee (or package use) is refunded. `run_once` does one
//! pass (tests call it with a chosen clock); `spawn` runs it every 30 s.

use std::time::Duration;

use ihos_domain::consultation::{Action, Status, transition};
use ihos_store::consultation::{self as cstore, StatusChange};
use serde_json::json;

use crate::error::ApiResult;
use crate::state::AppState;

/// Expire every consultation overdue at `now`; answers how many expired.
pub async fn run_once(state: &AppState, now: i64) -> ApiResult<usize> {
    let overdue = {
        let mut conn = state.store.conn().await?;
        cstore::overdue(&mut conn, now, 500).await?
    };
    let mut done = 0;
    for row in overdue {
        let Ok(to) = transition(Status::Requested, Action::Expire) else {
            continue;
        };
        let mut tx = state.store.begin().await?;
        let changed = cstore::change_status(
            &mut tx,
            &row.id,
            Status::Requested.as_str(),
            to.as_str(),
            now,
            &StatusChange {
                ended: true,
                refunded: true,
                end_reason: Some("the doctor did not answer in time"),
                ..Default::default()
            },
        )
        .await?;
        if !changed {
            // The doctor answered at the last moment.
            continue;
        }
        if let Some(sub) = &row.subscription_id {
            cstore::restore_subscription(&mut tx, sub).await?;
        }
        let pending_refund = match crate::payment::service::withdraw_visit_in(
            state,
            &mut tx,
            ihos_domain::payment::VisitKind::Consultation,
            &row.id,
            "the doctor did not answer in time",
            now,
        )
        .await
        {
            Ok(p) => p,
            // The patient is paying at this moment: expire it on the next pass.
            Err(_) => continue,
        };
        let recipient = row
            .patient_account_id
            .as_deref()
            .or(row.guardian_account_id.as_deref());
        if row.fee_fen > 0 {
            ihos_store::outbox::put(
                &mut tx,
                "payment.refund",
                recipient,
                &json!({"consultation_id": row.id, "amount_fen": row.fee_fen}),
                now,
            )
            .await?;
        }
        ihos_store::outbox::put(
            &mut tx,
            "consultation.expired",
            recipient,
            &json!({"consultation_id": row.id}),
            now,
        )
        .await?;
        crate::audit::record(
            &mut tx,
            None,
            "consultation.expire",
            "consultation",
            &row.id,
            "answer_time_elapsed",
            Some(&row.org_id),
        )
        .await?;
        tx.commit()
            .await
            .map_err(crate::error::ApiError::internal)?;
        if let Some(r) = pending_refund {
            crate::payment::service::finish_refund(state, r).await;
        }
        super::service::publish_status(state, &row.id, to);
        done += 1;
    }
    Ok(done)
}

pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(30));
        loop {
            tick.tick().await;
            match run_once(&state, ihos_store::now_ms()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(expired = n, "consultations expired"),
                Err(e) => tracing::warn!(code = %e.code, "consultation expiry pass failed"),
            }
        }
    })
}
