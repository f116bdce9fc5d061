//! The consortium's referral dashboard.

use super::*;

// ---------- dashboard ----------

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberCount {
    pub org_name: String,
    pub sent: i64,
    pub received: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OverdueItem {
    pub id: String,
    pub status: String,
    pub from_org_name: String,
    pub to_org_name: String,
    pub due_local: String,
    pub hours_late: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Dashboard {
    pub consortium_id: String,
    pub consortium_name: String,
    pub total: i64,
    /// up / down: upward referrals, and downward ones (standalone or loops referred back down).
    pub by_direction: BTreeMap<String, i64>,
    pub by_status: BTreeMap<String, i64>,
    pub by_member: Vec<MemberCount>,
    /// Mean hours from request to the receiver's answer, and from request to the closed loop.
    pub mean_hours_to_answer: Option<f64>,
    pub mean_hours_to_close: Option<f64>,
    pub overdue: Vec<OverdueItem>,
}

/// Referrals of a consortium by direction, state and member, turnaround and
/// overdue ones. No patient data: admins see counts and organisations only.
pub async fn dashboard(
    state: &AppState,
    caller: &Caller,
    consortium_id: &str,
) -> ApiResult<Dashboard> {
    let mut c = state.store.conn().await?;
    may_see_consortium(&mut c, caller, consortium_id, false).await?;
    let cons = org::consortium(&mut c, consortium_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let rows = store::of_consortium(&mut c, consortium_id).await?;
    let now = now_ms();
    let mut by_direction = BTreeMap::from([("up".to_string(), 0), ("down".to_string(), 0)]);
    let mut by_status: BTreeMap<String, i64> = Status::ALL
        .iter()
        .map(|s| (s.as_str().to_string(), 0))
        .collect();
    let mut members: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let (mut answer_sum, mut answer_n, mut close_sum, mut close_n) = (0i64, 0i64, 0i64, 0i64);
    let mut overdue = Vec::new();
    for r in &rows {
        let status = Status::parse(&r.status).unwrap_or(Status::Requested);
        if r.direction == "up" {
            *by_direction.entry("up".into()).or_default() += 1;
        }
        if r.direction == "down" || status.is_downward() {
            *by_direction.entry("down".into()).or_default() += 1;
        }
        *by_status.entry(r.status.clone()).or_default() += 1;
        members.entry(r.from_org_name.clone()).or_default().0 += 1;
        members.entry(r.to_org_name.clone()).or_default().1 += 1;
        if let Some(closed) = r.closed_at
            && status == Status::Closed
        {
            close_sum += closed - r.created_at;
            close_n += 1;
        }
        if r.direction == "up" && status != Status::Requested && status != Status::Cancelled {
            let answered = timeline_answer_at(&mut c, &r.id).await?;
            if let Some(at) = answered {
                answer_sum += at - r.created_at;
                answer_n += 1;
            }
        }
        let late = r.overdue_at.is_some() || r.due_at.is_some_and(|d| d < now);
        if late && let Some(due) = r.due_at {
            overdue.push(OverdueItem {
                id: r.id.clone(),
                status: r.status.clone(),
                from_org_name: r.from_org_name.clone(),
                to_org_name: r.to_org_name.clone(),
                due_local: shanghai_time(due),
                hours_late: (now - due).max(0) / 3_600_000,
            });
        }
    }
    let hours = |sum: i64, n: i64| {
        (n > 0).then(|| (sum as f64 / n as f64 / 3_600_000.0 * 10.0).round() / 10.0)
    };
    Ok(Dashboard {
        consortium_id: cons.id,
        consortium_name: cons.name,
        total: rows.len() as i64,
        by_direction,
        by_status,
        by_member: members
            .into_iter()
            .map(|(org_name, (sent, received))| MemberCount {
                org_name,
                sent,
                received,
            })
            .collect(),
        mean_hours_to_answer: hours(answer_sum, answer_n),
        mean_hours_to_close: hours(close_sum, close_n),
        overdue,
    })
}

pub(super) async fn timeline_answer_at(c: &mut AnyConnection, id: &str) -> ApiResult<Option<i64>> {
    Ok(store::timeline(c, id)
        .await?
        .into_iter()
        .find(|e| e.action == "accept" || e.action == "decline")
        .map(|e| e.at))
}
