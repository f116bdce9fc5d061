//! Creating a referral (up or down the consortium).

use super::*;

/// Refer a patient up (or down). Validates the consortium, the receiver and,
/// for exams, the privilege and the duplicate-exam reminder.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    input: NewReferralInput,
) -> ApiResult<ReferralView> {
    caller.require(Role::Doctor)?;
    let direction =
        Direction::parse(opt(&input.direction).unwrap_or("up")).map_err(ApiError::from)?;
    let kind = Kind::parse(opt(&input.kind).unwrap_or("visit")).map_err(ApiError::from)?;
    let reason = parse_text(&input.reason, "reason", 500).map_err(ApiError::from)?;
    let summary = parse_text(&input.summary, "summary", 4000).map_err(ApiError::from)?;
    let now = now_ms();
    let mut c = state.store.conn().await?;
    let patient = resolve_patient(state, &mut c, &input).await?;
    let to_org = org::org(&mut c, input.to_org_id.trim())
        .await?
        .ok_or_else(|| {
            ApiError::from(
                DomainError::new(ErrorCode::RefUnknownOrg, "No such receiving organisation.")
                    .on("to_org_id"),
            )
        })?;
    // The referring site: given, or the caller's site sharing a consortium with the receiver.
    let mine = identity::affiliations_of(&mut c, &caller.account_id).await?;
    let mut from = None;
    for a in &mine {
        if opt(&input.from_org_id).is_some_and(|f| f != a.org_id) || a.org_id == to_org.id {
            continue;
        }
        if let Some(cons) = store::shared_consortium(&mut c, &a.org_id, &to_org.id).await? {
            from = Some((a.org_id.clone(), cons));
            break;
        }
    }
    let Some((from_org_id, consortium_id)) = from else {
        return Err(ApiError::from(DomainError::new(
            ErrorCode::RefNotInConsortium,
            "Referrals go between members of one medical consortium; your site and the receiving organisation share none.",
        )
        .on("to_org_id")));
    };
    let from_org = org::org(&mut c, &from_org_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let (want_from, want_to) = match direction {
        Direction::Up => (OrgKind::CommunityHealthCentre, OrgKind::Hospital),
        Direction::Down => (OrgKind::Hospital, OrgKind::CommunityHealthCentre),
    };
    if from_org.kind != want_from.as_str() || to_org.kind != want_to.as_str() {
        return Err(ApiError::from(DomainError::new(
            ErrorCode::RefWrongDirection,
            "An upward referral goes from a community health centre to a hospital; a downward one the other way.",
        )
        .on("direction")));
    }
    let to_department = opt(&input.to_department_id);
    if let Some(d) = to_department {
        let ok = org::department(&mut c, d)
            .await?
            .is_some_and(|d| d.org_id == to_org.id);
        if !ok {
            return Err(ApiError::from(
                DomainError::new(
                    ErrorCode::UnknownDepartment,
                    "That department is not in the receiving organisation.",
                )
                .on("to_department_id"),
            ));
        }
    }
    let to_doctor = opt(&input.to_doctor_id);
    if let Some(d) = to_doctor {
        let is_doctor = identity::practitioner(&mut c, d)
            .await?
            .is_some_and(|p| p.role == "doctor");
        if !is_doctor || !store::works_at(&mut c, d, &to_org.id, None).await? {
            return Err(ApiError::from(
                DomainError::new(
                    ErrorCode::RefUnknownDoctor,
                    "That doctor does not work at the receiving organisation.",
                )
                .on("to_doctor_id"),
            ));
        }
    }
    if to_doctor.is_none() && to_department.is_none() {
        return Err(ApiError::from(
            DomainError::new(
                ErrorCode::RefReceiverRequired,
                "Choose the receiving department or doctor.",
            )
            .on("to_department_id"),
        ));
    }
    let mut exam = None;
    let mut repeat_reason = None;
    if kind == Kind::Exam {
        if direction != Direction::Up {
            return Err(ApiError::from(
                DomainError::new(
                    ErrorCode::RefWrongDirection,
                    "Exams are requested from the upper hospital (an upward referral).",
                )
                .on("direction"),
            ));
        }
        let e = ExamType::parse(opt(&input.exam_type).unwrap_or("")).map_err(ApiError::from)?;
        if let Some(d) = to_doctor
            && !store::has_privilege(&mut c, d, e.as_str()).await?
            && e.needs_privilege()
        {
            return Err(ApiError::from(
                DomainError::new(
                    ErrorCode::RefReceiverNotQualified,
                    format!(
                        "That doctor may not order {}; choose a doctor with the privilege.",
                        e.label_zh()
                    ),
                )
                .on("to_doctor_id"),
            ));
        }
        let earlier = earlier_exams(state, &mut c, &consortium_id, &patient.id, e, now).await?;
        repeat_reason = rules::check_repeat(!earlier.is_empty(), input.repeat_reason.as_deref())
            .map_err(|err| {
                let first = &earlier[0];
                let mut refused = ApiError::conflict(
                    err.code,
                    format!(
                        "该患者{}已在{}做过{}，结果：{}。如需重复检查，请填写重复检查理由。 (The same exam was done on {} at {}: {}. Give a reason to repeat it.)",
                        first.at_text, first.org_name, e.label_zh(), first.result,
                        first.at_text, first.org_name, first.result
                    ),
                );
                refused.field = err.field;
                refused
            })?;
        exam = Some(e);
    }
    let follow_up_plan = match direction {
        Direction::Down => Some(
            parse_text(
                input.follow_up_plan.as_deref().unwrap_or(""),
                "follow_up_plan",
                4000,
            )
            .map_err(ApiError::from)?,
        ),
        Direction::Up => None,
    };
    drop(c);

    let status = match direction {
        Direction::Up => Status::Requested,
        Direction::Down => Status::ReferredDown,
    };
    let due_at = state.settings.referral.deadlines.due_at(status, now);
    let mut tx = state.store.begin().await?;
    let id = store::insert_referral(
        &mut tx,
        &NewReferral {
            consortium_id: &consortium_id,
            direction: direction.as_str(),
            kind: kind.as_str(),
            patient_id: &patient.id,
            from_org_id: &from_org_id,
            from_doctor_id: &caller.account_id,
            to_org_id: &to_org.id,
            to_department_id: to_department,
            to_doctor_id: to_doctor,
            reason: &reason,
            summary: &summary,
            exam_type: exam.map(ExamType::as_str),
            repeat_reason: repeat_reason.as_deref(),
            follow_up_plan: follow_up_plan.as_deref(),
            status: status.as_str(),
            due_at,
        },
        now,
    )
    .await?;
    store::append_event(
        &mut tx,
        &id,
        Some(&caller.account_id),
        "create",
        None,
        status.as_str(),
        Some(&reason),
        now,
    )
    .await?;
    caller
        .audit(
            &mut tx,
            "referral.create",
            "referral",
            &id,
            "treating_practitioner",
            Some(&from_org_id),
        )
        .await?;
    let row = store::referral(&mut tx, &id)
        .await?
        .ok_or_else(|| ApiError::internal("referral vanished"))?;
    notify(&mut tx, &row, "referral.created", status.as_str(), now).await?;
    let timeline = store::timeline(&mut tx, &id).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    tracing::info!(referral_id = %id, "referral created");
    Ok(view(&row, Some(Party::Referrer), timeline))
}
