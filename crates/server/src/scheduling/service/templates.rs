//! A doctor's weekly templates, extra hours and leave.

use super::*;

pub async fn create_template(
    state: &AppState,
    caller: &Caller,
    doctor_id: &str,
    input: TemplateInput,
) -> ApiResult<ScheduleChange> {
    parse_weekday(u32::try_from(input.weekday).unwrap_or(0))?;
    let hours = hours_from(
        &input.start,
        &input.end,
        input.slot_minutes,
        input.capacity,
        &input.slot_type,
        input.fee_fen,
        &input.mode,
    )?;
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let department_id = managed_doctor(
        &mut tx,
        caller,
        doctor_id,
        &input.org_id,
        input.department_id.as_deref(),
    )
    .await?;
    let new = new_template(
        caller,
        doctor_id,
        &input.org_id,
        department_id,
        input.weekday,
        &hours,
    );
    let id = store::insert_template(&mut tx, &new, now).await?;
    let t = store::template(&mut tx, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let created = extend_template(&mut tx, &state.settings.scheduling, &t, now).await?;
    caller
        .audit(
            &mut tx,
            "schedule.template.create",
            "schedule_template",
            &id,
            "admin",
            Some(&t.org_id),
        )
        .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(ScheduleChange {
        template: Some(template_view(&t)),
        slots_created: created,
        slots_kept: 0,
        slots_withdrawn: 0,
        appointments_displaced: 0,
    })
}

pub(super) fn new_template(
    caller: &Caller,
    doctor_id: &str,
    org_id: &str,
    department_id: Option<String>,
    weekday: i64,
    h: &Hours,
) -> NewTemplate {
    NewTemplate {
        doctor_id: doctor_id.to_string(),
        org_id: org_id.to_string(),
        department_id,
        weekday,
        start_minute: i64::from(h.start_minute),
        end_minute: i64::from(h.end_minute),
        slot_minutes: i64::from(h.slot_minutes),
        capacity: i64::from(h.capacity),
        slot_type: h.slot_type.as_str().to_string(),
        fee_fen: h.fee_fen,
        mode: h.mode.as_str().to_string(),
        created_by: caller.account_id.clone(),
    }
}

pub async fn doctor_templates(state: &AppState, doctor_id: &str) -> ApiResult<Vec<TemplateView>> {
    let mut c = state.store.conn().await?;
    Ok(store::templates_of(&mut c, doctor_id)
        .await?
        .iter()
        .map(template_view)
        .collect())
}

/// Change a weekly template. Future slots that still fit keep their bookings
/// (capacity never drops below what is booked; new fees apply to new
/// bookings); slots that no longer exist are withdrawn and their patients
/// refunded and notified in the same transaction.
pub async fn change_template(
    state: &AppState,
    caller: &Caller,
    template_id: &str,
    input: TemplateInput,
) -> ApiResult<ScheduleChange> {
    parse_weekday(u32::try_from(input.weekday).unwrap_or(0))?;
    let hours = hours_from(
        &input.start,
        &input.end,
        input.slot_minutes,
        input.capacity,
        &input.slot_type,
        input.fee_fen,
        &input.mode,
    )?;
    let now = now_ms();
    let policy = state.settings.scheduling;
    let mut tx = state.store.begin().await?;
    let old = store::template(&mut tx, template_id)
        .await?
        .filter(|t| t.active == 1)
        .ok_or_else(ApiError::not_found)?;
    if input.org_id != old.org_id {
        return Err(DomainError::new(
            ErrorCode::OrgMismatch,
            "A template stays at its organisation; remove it and create one at the other.",
        )
        .on("org_id")
        .into());
    }
    let department_id = managed_doctor(
        &mut tx,
        caller,
        &old.doctor_id,
        &old.org_id,
        input.department_id.as_deref(),
    )
    .await?;
    let new = new_template(
        caller,
        &old.doctor_id,
        &old.org_id,
        department_id,
        input.weekday,
        &hours,
    );
    store::update_template(&mut tx, template_id, &new, now).await?;
    let t = store::template(&mut tx, template_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let today = local_date(now).format("%Y-%m-%d").to_string();
    let leave = store::leave_of(&mut tx, &t.doctor_id, &today).await?;
    let mut planned: HashMap<i64, NewSlot> = planned_slots(
        &policy,
        &Owner::of(&t, &leave),
        &hours,
        template_days(&policy, t.weekday, local_date(now)),
        now,
    )
    .into_iter()
    .map(|s| (s.starts_at, s))
    .collect();
    let mut change = ScheduleChange {
        template: Some(template_view(&t)),
        slots_created: 0,
        slots_kept: 0,
        slots_withdrawn: 0,
        appointments_displaced: 0,
    };
    for s in store::future_slots_of_template(&mut tx, template_id, now).await? {
        let fits = planned
            .get(&s.starts_at)
            .is_some_and(|p| p.ends_at == s.ends_at && p.mode == s.mode);
        if fits {
            planned.remove(&s.starts_at);
            store::update_slot_terms(&mut tx, &s.id, t.capacity, t.fee_fen, &t.slot_type).await?;
            super::super::runtime::booking(state).gate.clear(&s.id);
            change.slots_kept += 1;
        } else {
            change.appointments_displaced +=
                withdraw_with_notice(state, &mut tx, &s, "schedule_changed", now).await?;
            change.slots_withdrawn += 1;
        }
    }
    let mut rest: Vec<NewSlot> = planned.into_values().collect();
    rest.sort_by_key(|s| s.starts_at);
    for s in rest {
        if store::insert_slot(&mut tx, &s, now).await?.is_some() {
            change.slots_created += 1;
        }
    }
    let until = (local_date(now) + Duration::days(i64::from(policy.horizon_days)))
        .format("%Y-%m-%d")
        .to_string();
    store::set_generated_until(&mut tx, template_id, &until).await?;
    caller
        .audit(
            &mut tx,
            "schedule.template.change",
            "schedule_template",
            template_id,
            "admin",
            Some(&t.org_id),
        )
        .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(change)
}

pub async fn remove_template(
    state: &AppState,
    caller: &Caller,
    template_id: &str,
) -> ApiResult<ScheduleChange> {
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let t = store::template(&mut tx, template_id)
        .await?
        .filter(|t| t.active == 1)
        .ok_or_else(ApiError::not_found)?;
    managed_doctor(
        &mut tx,
        caller,
        &t.doctor_id,
        &t.org_id,
        t.department_id.as_deref(),
    )
    .await?;
    store::deactivate_template(&mut tx, template_id, now).await?;
    let mut change = ScheduleChange {
        template: None,
        slots_created: 0,
        slots_kept: 0,
        slots_withdrawn: 0,
        appointments_displaced: 0,
    };
    for s in store::future_slots_of_template(&mut tx, template_id, now).await? {
        change.appointments_displaced +=
            withdraw_with_notice(state, &mut tx, &s, "schedule_changed", now).await?;
        change.slots_withdrawn += 1;
    }
    caller
        .audit(
            &mut tx,
            "schedule.template.remove",
            "schedule_template",
            template_id,
            "admin",
            Some(&t.org_id),
        )
        .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(change)
}

/// One-off extra hours on one day.
pub async fn add_extra_hours(
    state: &AppState,
    caller: &Caller,
    doctor_id: &str,
    input: ExtraHoursInput,
) -> ApiResult<ScheduleChange> {
    let hours = hours_from(
        &input.start,
        &input.end,
        input.slot_minutes,
        input.capacity,
        &input.slot_type,
        input.fee_fen,
        &input.mode,
    )?;
    let day = parse_date(&input.date, "date")?;
    if day < today() || day > today() + Duration::days(366) {
        return Err(DomainError::new(
            ErrorCode::InvalidDate,
            "Extra hours are for today or a day within the coming year.",
        )
        .on("date")
        .into());
    }
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let department_id = managed_doctor(
        &mut tx,
        caller,
        doctor_id,
        &input.org_id,
        input.department_id.as_deref(),
    )
    .await?;
    let mut change = ScheduleChange {
        template: None,
        slots_created: 0,
        slots_kept: 0,
        slots_withdrawn: 0,
        appointments_displaced: 0,
    };
    for s in planned_slots(
        &state.settings.scheduling,
        &Owner {
            doctor_id,
            org_id: &input.org_id,
            department_id: department_id.as_deref(),
            template_id: None,
            // Extra hours are explicit: they may fall on a day of leave.
            on_leave: &[],
        },
        &hours,
        std::iter::once(day),
        now,
    ) {
        if store::insert_slot(&mut tx, &s, now).await?.is_some() {
            change.slots_created += 1;
        } else {
            change.slots_kept += 1;
        }
    }
    if change.slots_created == 0 {
        return Err(ApiError::conflict(
            ErrorCode::NoNewSlots,
            "These hours add no slot: they have passed or the doctor already has slots then.",
        ));
    }
    caller
        .audit(
            &mut tx,
            "schedule.extra_hours",
            "practitioner",
            doctor_id,
            "admin",
            Some(&input.org_id),
        )
        .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(change)
}

/// Leave: withdraw every open slot of the doctor on those days (at the
/// organisations the caller manages); booked patients are refunded and notified.
pub async fn take_leave(
    state: &AppState,
    caller: &Caller,
    doctor_id: &str,
    input: LeaveInput,
) -> ApiResult<ScheduleChange> {
    let from = parse_date(&input.from, "from")?;
    let to = parse_date(&input.to, "to")?;
    if to < from || (to - from).num_days() > 366 {
        return Err(DomainError::new(
            ErrorCode::InvalidDate,
            "The last day of leave is on or after the first, within a year.",
        )
        .on("to")
        .into());
    }
    let reason: String = input.reason.trim().chars().take(100).collect();
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let is_self = caller.account_id == doctor_id && caller.has(Role::Doctor);
    let slots = store::open_slots_of_doctor(
        &mut tx,
        doctor_id,
        rules::local_ms(from, 0).max(now),
        rules::local_ms(to + Duration::days(1), 0),
    )
    .await?;
    let mut change = ScheduleChange {
        template: None,
        slots_created: 0,
        slots_kept: 0,
        slots_withdrawn: 0,
        appointments_displaced: 0,
    };
    let mut allowed_any = is_self;
    for s in slots
        .iter()
        .filter(|s| is_self || caller.may_admin_org(&s.org_id))
    {
        allowed_any = true;
        change.appointments_displaced += withdraw_with_notice(
            state,
            &mut tx,
            s,
            if reason.is_empty() {
                "doctor_on_leave"
            } else {
                &reason
            },
            now,
        )
        .await?;
        change.slots_withdrawn += 1;
    }
    if !allowed_any {
        let manages = identity::affiliations_of(&mut tx, doctor_id)
            .await?
            .iter()
            .any(|a| caller.may_admin_org(&a.org_id));
        if !manages {
            return Err(ApiError::not_found());
        }
    }
    caller
        .audit(
            &mut tx,
            "schedule.leave",
            "practitioner",
            doctor_id,
            "admin",
            None,
        )
        .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(change)
}
