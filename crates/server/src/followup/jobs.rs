//! The follow-up job: a task still due `grace_hours` after its time is
//! missed; the patient is reminded and the doctor gets one alert per missed
//! task (escalation). `run_once` does one pass (tests call `run_at` with a
//! chosen clock); `spawn` loops.

use std::time::Duration;

use ihos_domain::followup as rules;
use ihos_store::followup as store;
use ihos_store::now_ms;
use serde_json::json;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct JobReport {
    pub missed: u32,
    pub escalated: u32,
}

pub async fn run_once(ctx: &AppState) -> ApiResult<JobReport> {
    run_at(ctx, now_ms()).await
}

/// One pass as if it were `now` (UTC ms).
pub async fn run_at(ctx: &AppState, now: i64) -> ApiResult<JobReport> {
    let policy = ctx.settings.followup;
    let before = now - policy.grace_hours * 3_600_000;
    let overdue = {
        let mut c = ctx.store.conn().await?;
        store::overdue(&mut c, before).await?
    };
    let mut report = JobReport::default();
    for t in overdue {
        if !rules::is_missed(t.due_at, now, &policy) {
            continue;
        }
        let mut tx = ctx.store.begin().await?;
        // Exactly once: a patient completing it at this moment, or another
        // node running the job, makes this a no-op.
        if !store::mark_missed(&mut tx, &t.id, now).await? {
            continue;
        }
        report.missed += 1;
        let Some(plan) = store::plan(&mut tx, &t.plan_id).await? else {
            continue;
        };
        let recipient = plan
            .patient_account_id
            .as_deref()
            .or(plan.guardian_account_id.as_deref());
        ihos_store::outbox::put(
            &mut tx,
            "followup.reminder",
            recipient,
            &json!({"plan_id": plan.id, "task_id": t.id, "title": t.title}),
            now,
        )
        .await?;
        let detail = format!("{} (due {})", t.title, crate::web::shanghai_time(t.due_at));
        if store::insert_alert(&mut tx, &plan, &t.id, "missed_task", &detail, now).await? {
            ihos_store::outbox::put(
                &mut tx,
                "followup.alert",
                Some(&plan.doctor_id),
                &json!({"plan_id": plan.id, "task_id": t.id, "kind": "missed_task"}),
                now,
            )
            .await?;
            report.escalated += 1;
        }
        tx.commit().await.map_err(ApiError::internal)?;
    }
    Ok(report)
}

/// Run forever at the configured interval, logging failures.
pub async fn run(ctx: AppState) {
    let every = Duration::from_secs(ctx.settings.followup.job_interval_secs.max(10));
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        match run_once(&ctx).await {
            Ok(r) => tracing::debug!(?r, "follow-up job"),
            Err(e) => tracing::warn!(code = %e.code, "follow-up job failed"),
        }
    }
}

pub fn spawn(ctx: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(ctx))
}
