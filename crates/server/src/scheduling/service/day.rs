//! The doctor's day and the in-app inbox.

use super::*;

#[derive(Debug, Serialize, ToSchema)]
pub struct DayView {
    pub date: String,
    pub slots: Vec<SlotView>,
    pub appointments: Vec<DoctorAppointmentView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DoctorAppointmentView {
    #[serde(flatten)]
    pub appointment: AppointmentView,
    /// Late cancellations and no-shows on the patient's record.
    pub late_cancellations: i64,
    pub no_shows: i64,
}

/// A doctor's day: slots and the patients booked (the doctor or the org's
/// admin; each patient read is audited).
pub async fn doctor_day(
    state: &AppState,
    caller: &Caller,
    doctor_id: &str,
    date: Option<&str>,
) -> ApiResult<DayView> {
    let day = match date.map(str::trim).filter(|d| !d.is_empty()) {
        Some(d) => parse_date(d, "date")?,
        None => today(),
    }
    .format("%Y-%m-%d")
    .to_string();
    let now = now_ms();
    let mut c = state.store.conn().await?;
    let is_self = caller.account_id == doctor_id && caller.has(Role::Doctor);
    let admin_of = identity::affiliations_of(&mut c, doctor_id)
        .await?
        .into_iter()
        .map(|a| a.org_id)
        .filter(|o| caller.may_admin_org(o))
        .collect::<Vec<_>>();
    if !is_self && admin_of.is_empty() {
        return Err(ApiError::not_found());
    }
    let visible = |org_id: &str| is_self || admin_of.iter().any(|o| o == org_id);
    let slots = store::slots_of_doctor_on(&mut c, doctor_id, &day)
        .await?
        .iter()
        .filter(|s| visible(&s.org_id))
        .map(|s| slot_view(s, now))
        .collect();
    let mut appointments = Vec::new();
    for a in store::appointments_of_doctor_on(&mut c, doctor_id, &day).await? {
        if !visible(&a.org_id) {
            continue;
        }
        let (late, no_show) = store::patient_record_counts(&mut c, &a.patient_id).await?;
        caller
            .audit(
                &mut c,
                "appointment.read",
                "patient",
                &a.patient_id,
                if is_self { "treating" } else { "admin" },
                Some(&a.org_id),
            )
            .await?;
        appointments.push(DoctorAppointmentView {
            appointment: appointment_view(&a),
            late_cancellations: late,
            no_shows: no_show,
        });
    }
    Ok(DayView {
        date: day,
        slots,
        appointments,
    })
}

pub async fn notifications(state: &AppState, caller: &Caller) -> ApiResult<Vec<NotificationView>> {
    let mut c = state.store.conn().await?;
    Ok(store::inbox(&mut c, &caller.account_id, 100)
        .await?
        .into_iter()
        .map(|n| NotificationView {
            id: n.id,
            at: n.created_at,
            topic: n.topic,
            payload: serde_json::from_str(&n.payload).unwrap_or(serde_json::Value::Null),
            delivered: n.delivered_at.is_some(),
        })
        .collect())
}
