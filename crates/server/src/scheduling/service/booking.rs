//! Searching open slots and booking one (never oversold).

use super::*;

/// Public search: doctors with open slots on a day and their live remaining seats.
pub async fn search(state: &AppState, q: SearchQuery) -> ApiResult<Vec<DoctorSchedule>> {
    let date = match q.date.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        Some(d) => parse_date(d, "date")?,
        None => today(),
    };
    let specialty = match q
        .specialty
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(s) => Some(ihos_domain::Specialty::parse(s)?.code().to_string()),
        None => None,
    };
    let title = match q.title.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(t) => Some(Title::parse(t)?.as_str().to_string()),
        None => None,
    };
    let department = q
        .department_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let day = date.format("%Y-%m-%d").to_string();
    let now = now_ms();
    let mut c = state.store.conn().await?;
    let cards = store::search_doctors(
        &mut c,
        &day,
        department,
        specialty.as_deref(),
        title.as_deref(),
    )
    .await?;
    let mut out: Vec<DoctorSchedule> = Vec::new();
    for card in cards {
        if out
            .iter()
            .any(|d| d.doctor_id == card.doctor_id && d.org_id == card.org_id)
        {
            continue;
        }
        let slots = store::slots_of_doctor_on(&mut c, &card.doctor_id, &day)
            .await?
            .iter()
            .filter(|s| s.org_id == card.org_id && s.ends_at > now)
            .map(|s| slot_view(s, now))
            .collect();
        let title_label = Title::parse(&card.title)
            .map(|t| t.label_zh())
            .unwrap_or_default()
            .to_string();
        out.push(DoctorSchedule {
            doctor_id: card.doctor_id,
            name: card.name,
            title: card.title,
            title_label,
            org_id: card.org_id,
            org_name: card.org_name,
            department_id: card.department_id,
            department_name: card.department_name,
            specialty: card.specialty,
            slots,
        });
    }
    Ok(out)
}

pub(super) fn booking_code() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    let mut rng = rand::thread_rng();
    (0..8)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The slot, the caller's session and their own patient record, read in
/// one statement. A full slot is public knowledge, so it is refused here,
/// before the caller is authenticated (and remembered by the gate).
pub async fn booking_context(
    state: &AppState,
    slot_id: &str,
    headers: &axum::http::HeaderMap,
) -> ApiResult<(store::SlotCard, Option<Caller>, Option<PatientRow>)> {
    let token = crate::auth::token_from_headers(headers).map(|t| crate::crypto::token_hash(&t));
    let mut c = state.store.conn().await?;
    let ctx = store::booking_context(&mut c, slot_id, token.as_deref(), now_ms())
        .await?
        .ok_or_else(ApiError::not_found)?;
    let slot = &ctx.card.slot;
    if slot.status != "open" || slot.remaining <= 0 {
        super::super::runtime::booking(state)
            .gate
            .mark_full(slot_id);
        return Err(slot_unavailable());
    }
    let caller = ctx.caller.map(|s| Caller::from_session(s, headers));
    Ok((ctx.card, caller, ctx.own_patient))
}

/// Book one seat of a slot. The gate (checked by the handler) refuses known
/// full slots early; here the conditional UPDATE takes the seat, the per-day
/// counter bounds bookings per patient and day, and the unique
/// (patient, start) index refuses a second booking at the same time.
#[tracing::instrument(skip_all, fields(slot_id = %card.slot.id))]
pub async fn book(
    state: &AppState,
    caller: &Caller,
    card: store::SlotCard,
    input: BookingInput,
    own_patient: Option<PatientRow>,
) -> ApiResult<AppointmentView> {
    caller.require(Role::Patient)?;
    let policy = state.settings.scheduling;
    let now = now_ms();
    let slot = &card.slot;
    policy
        .check_bookable(now, slot.opens_at, slot.starts_at)
        .map_err(ApiError::domain_conflict)?;
    let own_patient =
        own_patient.filter(|p| p.account_id.as_deref() == Some(caller.account_id.as_str()));
    let requested = input
        .patient_id
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty());
    let patient = match (requested, own_patient) {
        (None, Some(own)) => Some(own),
        (None, None) => {
            let mut c = state.store.conn().await?;
            identity::patient_of_account(&mut c, &caller.account_id).await?
        }
        (Some(id), _) => {
            let mut c = state.store.conn().await?;
            identity::patient(&mut c, id).await?.filter(|p| {
                p.account_id.as_deref() == Some(caller.account_id.as_str())
                    || p.guardian_account_id.as_deref() == Some(caller.account_id.as_str())
            })
        }
    }
    .ok_or_else(|| {
        ApiError::from(
            DomainError::new(
                ErrorCode::UnknownPatient,
                "Book for yourself or a child in your care.",
            )
            .on("patient_id"),
        )
    })?;

    let id = ihos_store::new_id();
    let code = booking_code();
    let view = AppointmentView {
        id: id.clone(),
        code: code.clone(),
        status: AppointmentStatus::Booked.as_str().to_string(),
        patient_id: patient.id.clone(),
        patient_name: patient.name.clone(),
        doctor_id: slot.doctor_id.clone(),
        doctor_name: card.doctor_name.clone(),
        org_name: card.org_name.clone(),
        slot_id: slot.id.clone(),
        date: slot.service_date.clone(),
        start: local_hhmm(slot.starts_at),
        end: local_hhmm(slot.ends_at),
        starts_at: slot.starts_at,
        mode: slot.mode.clone(),
        slot_type: slot.slot_type.clone(),
        fee_fen: slot.fee_fen,
        refund_fen: 0,
        queue_position: None,
        estimated_wait_minutes: None,
    };
    let payload = json!({
        "appointment_id": view.id, "code": view.code, "patient_name": view.patient_name,
        "doctor_name": view.doctor_name, "org_name": view.org_name, "date": view.date,
        "start": view.start, "fee_fen": view.fee_fen,
    })
    .to_string();
    let ground = if patient.account_id.as_deref() == Some(caller.account_id.as_str()) {
        "self"
    } else {
        "guardian"
    };
    let roles = caller.roles_label();
    let booking = store::Booking {
        appointment_id: &id,
        appointment: store::NewAppointment {
            slot,
            patient_id: &patient.id,
            booked_by: &caller.account_id,
            code: &code,
        },
        daily_limit: i64::from(policy.daily_limit),
        now,
        audit: audit::AuditEntry {
            actor_id: Some(&caller.account_id),
            actor_roles: &roles,
            action: "appointment.create",
            subject_type: "patient",
            subject_id: &patient.id,
            ground,
            org_id: Some(&slot.org_id),
            request_id: caller.request_id.as_deref(),
        },
        notice_topic: "appointment.booked",
        notice_recipient: Some(&caller.account_id),
        notice_payload: &payload,
    };
    let outcome = match &super::super::runtime::booking(state).batch {
        Some(batch) => batch.book(store::QueuedBooking::new(&booking)).await,
        None => store::book_seat(&state.store, &booking).await,
    };
    match outcome {
        Ok(BookOutcome::Booked) => {}
        Ok(BookOutcome::SlotFull) => {
            super::super::runtime::booking(state)
                .gate
                .mark_full(&slot.id);
            return Err(slot_unavailable());
        }
        Ok(BookOutcome::DailyLimitReached) => {
            return Err(ApiError::conflict(
                ErrorCode::DailyLimitReached,
                format!(
                    "A patient may hold at most {} bookings per day; cancel one to book another.",
                    policy.daily_limit
                ),
            ));
        }
        // An overlapping booking, or the same start booked concurrently.
        Ok(BookOutcome::Overlapping) => return Err(double_booking()),
        Err(StoreError::Duplicate { what }) if what == "active_start" => {
            return Err(double_booking());
        }
        Err(e) => return Err(e.into()),
    }
    if slot.remaining <= 1 {
        // Probably the last seat: let the gate refuse the next attempts; a
        // wrong guess only costs the next caller's trip to the database.
        super::super::runtime::booking(state)
            .gate
            .mark_full(&slot.id);
    }
    Ok(view)
}

pub(super) fn double_booking() -> ApiError {
    ApiError::conflict(
        ErrorCode::DoubleBooking,
        "This patient already has a booking at this time; cancel it first or pick another time.",
    )
}

/// The account may see this appointment as the patient or their guardian.
pub(super) fn is_own(caller: &Caller, a: &AppointmentRow) -> bool {
    a.patient_account_id.as_deref() == Some(caller.account_id.as_str())
        || a.guardian_account_id.as_deref() == Some(caller.account_id.as_str())
}

pub(super) fn own_ground(caller: &Caller, a: &AppointmentRow) -> &'static str {
    if a.patient_account_id.as_deref() == Some(caller.account_id.as_str()) {
        "self"
    } else {
        "guardian"
    }
}
