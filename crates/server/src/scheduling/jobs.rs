//! The scheduling job: make slots up to the horizon, remind patients the
//! day before, tell them their queue position and estimated wait on the day,
//! and hand scheduling notifications to the configured channel. `run_once`
//! does one pass (tests call it); `run` loops.

use std::time::Duration;

use chrono::Duration as Days;
use ihos_domain::scheduling::{estimated_wait_minutes, local_date, local_hhmm};
use ihos_store::now_ms;
use ihos_store::scheduling as store;
use serde_json::json;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

use super::service::extend_template;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct JobReport {
    pub slots_created: u32,
    pub reminders: u32,
    pub queue_notices: u32,
    pub delivered: u32,
}

/// One pass at the current time.
pub async fn run_once(ctx: &AppState) -> ApiResult<JobReport> {
    run_at(ctx, now_ms()).await
}

/// One pass as if it were `now` (UTC ms).
pub async fn run_at(ctx: &AppState, now: i64) -> ApiResult<JobReport> {
    let mut report = JobReport::default();
    let policy = ctx.settings.scheduling;

    let mut c = ctx.store.conn().await?;
    for t in store::active_templates(&mut c).await? {
        let mut tx = ctx.store.begin().await?;
        report.slots_created += extend_template(&mut tx, &policy, &t, now).await?;
        tx.commit().await.map_err(ApiError::internal)?;
    }

    // The day before: one reminder per appointment.
    let tomorrow = local_date(now) + Days::days(1);
    let from = ihos_domain::scheduling::local_ms(tomorrow, 0);
    let to = ihos_domain::scheduling::local_ms(tomorrow + Days::days(1), 0);
    for a in store::due_for_reminder(&mut c, from, to).await? {
        let mut tx = ctx.store.begin().await?;
        if store::mark_reminded(&mut tx, &a.id, now).await? {
            let payload = json!({
                "appointment_id": a.id, "code": a.code, "patient_name": a.patient_name,
                "doctor_name": a.doctor_name, "org_name": a.org_name, "date": a.service_date,
                "start": local_hhmm(a.starts_at), "mode": a.mode,
            });
            ihos_store::outbox::put_json(
                &mut tx,
                "appointment.reminder",
                recipient(&a),
                &payload.to_string(),
                now,
            )
            .await?;
            report.reminders += 1;
        }
        tx.commit().await.map_err(ApiError::internal)?;
    }

    // On the day: queue position and estimated wait, once.
    let today = local_date(now).format("%Y-%m-%d").to_string();
    for a in store::due_for_queue_notice(&mut c, &today, now).await? {
        let position = store::queue_position(&mut c, &a).await?;
        let in_slot = store::position_in_slot(&mut c, &a).await?;
        let wait = estimated_wait_minutes(now, a.starts_at, a.slot_minutes, a.capacity, in_slot);
        let mut tx = ctx.store.begin().await?;
        if store::mark_queue_notified(&mut tx, &a.id, now).await? {
            let payload = json!({
                "appointment_id": a.id, "code": a.code, "patient_name": a.patient_name,
                "doctor_name": a.doctor_name, "start": local_hhmm(a.starts_at),
                "queue_position": position, "estimated_wait_minutes": wait,
            });
            ihos_store::outbox::put_json(
                &mut tx,
                "appointment.queue",
                recipient(&a),
                &payload.to_string(),
                now,
            )
            .await?;
            report.queue_notices += 1;
        }
        tx.commit().await.map_err(ApiError::internal)?;
    }

    report.delivered = deliver(ctx, &mut c, now).await?;
    Ok(report)
}

fn recipient(a: &store::AppointmentRow) -> Option<&str> {
    a.patient_account_id
        .as_deref()
        .or(a.guardian_account_id.as_deref())
}

/// Hand pending scheduling notifications to the channel. Every notification
/// stays in the recipient's in-app inbox. `log` (development) writes ids and
/// topics to the log (never names or numbers); an `http://...` channel is an
/// SMS/email gateway that receives each notification as JSON with the
/// recipient's phone number, and answers 2xx once it has taken it; failures
/// are counted and retried on the next pass (at most 10 attempts).
async fn deliver(ctx: &AppState, c: &mut ihos_store::AnyConnection, now: i64) -> ApiResult<u32> {
    let channel = ctx.settings.notify_channel.as_str();
    let gateway = channel.starts_with("http://") || channel.starts_with("https://");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(ApiError::internal)?;
    let mut delivered = 0;
    for n in store::pending(c, "appointment.", 500).await? {
        if gateway {
            let phone = match n.recipient_id.as_deref() {
                Some(id) => ihos_store::identity::account(c, id)
                    .await?
                    .and_then(|a| ctx.vault.decrypt(&a.phone_enc)),
                None => None,
            };
            let body = json!({
                "id": n.id, "topic": n.topic, "recipient_id": n.recipient_id, "phone": phone,
                "payload": serde_json::from_str::<serde_json::Value>(&n.payload).unwrap_or_default(),
            });
            let sent = client.post(channel).json(&body).send().await;
            if !sent.is_ok_and(|r| r.status().is_success()) {
                tracing::warn!(id = %n.id, topic = %n.topic, "notification gateway refused; will retry");
                store::mark_attempt(c, &n.id).await?;
                continue;
            }
        } else if channel == "log" {
            tracing::info!(id = %n.id, topic = %n.topic, "notification delivered (log channel)");
        } else {
            tracing::warn!(
                channel,
                "unknown notification channel; kept in the in-app inbox only"
            );
        }
        store::mark_delivered(c, &n.id, now).await?;
        delivered += 1;
    }
    Ok(delivered)
}

/// Run forever every `every`, logging failures.
pub async fn run(ctx: AppState, every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        match run_once(&ctx).await {
            Ok(r) => tracing::debug!(?r, "scheduling job"),
            Err(e) => tracing::warn!(code = %e.code, "scheduling job failed"),
        }
    }
}
