//! Home-nursing services and the nurses' qualifications.

use super::*;

// ------------------------------------------------------------------ catalogue and staff

/// The catalogue of one hospital, or of all.
pub async fn catalogue(state: &AppState, org_id: Option<&str>) -> ApiResult<Vec<ServiceView>> {
    let mut c = state.store.conn().await?;
    Ok(store::services(&mut c, org_id)
        .await?
        .into_iter()
        .map(service_view)
        .collect())
}

/// An org admin adds a service to their hospital's catalogue.
#[tracing::instrument(skip_all, fields(org = %org_id))]
pub async fn add_service(
    state: &AppState,
    caller: &Caller,
    org_id: &str,
    input: NewServiceInput,
) -> ApiResult<ServiceView> {
    if !caller.may_admin_org(org_id) {
        return Err(ApiError::not_found());
    }
    let policy = &state.settings.nursing;
    let spec = ServiceSpec::parse(
        &input.code,
        &input.name,
        input.fee_fen,
        input.duration_minutes,
        input.min_years.unwrap_or(policy.min_nurse_years),
        input.required_qualification.as_deref(),
        policy,
    )?;
    let description = optional_text(Some(&input.description), "description", 500)?;
    let mut tx = state.store.begin().await?;
    let org = ihos_store::org::org(&mut tx, org_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if org.kind != "hospital" && org.kind != "community_health_centre" {
        return Err(ApiError::from(DomainError::new(
            ErrorCode::NotACareProvider,
            "Only hospitals and community health centres offer home nursing.",
        )));
    }
    let id = store::insert_service(
        &mut tx,
        &NewService {
            org_id: org_id.into(),
            code: spec.code,
            name: spec.name,
            description: description.unwrap_or_default(),
            fee_fen: spec.fee_fen,
            duration_minutes: spec.duration_minutes,
            min_years: spec.min_years,
            required_qualification: spec.required_qualification.map(str::to_string),
        },
        now_ms(),
    )
    .await
    .map_err(|e| match e {
        StoreError::Duplicate { .. } => ApiError::conflict(
            ErrorCode::ServiceCodeTaken,
            "This hospital already has a service with that code.",
        ),
        other => other.into(),
    })?;
    crate::audit::record(
        &mut tx,
        Some(caller),
        "nursing.service.create",
        "nursing_service",
        &id,
        "org_admin",
        Some(org_id),
    )
    .await?;
    let row = store::service(&mut tx, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(service_view(row))
}

pub(super) async fn nurse_at(
    conn: &mut AnyConnection,
    nurse_id: &str,
    org_id: &str,
) -> ApiResult<identity::PractitionerRow> {
    let no_such = || {
        ApiError::from(
            DomainError::new(
                ErrorCode::NoSuchNurse,
                "There is no such nurse at this hospital.",
            )
            .on("nurse_id"),
        )
    };
    let p = identity::practitioner(conn, nurse_id)
        .await?
        .ok_or_else(no_such)?;
    let works_here = identity::affiliations_of(conn, nurse_id)
        .await?
        .iter()
        .any(|a| a.org_id == org_id);
    if !works_here {
        return Err(no_such());
    }
    Ok(p)
}

/// An org admin records the qualifications the hospital verified for a nurse.
#[tracing::instrument(skip_all, fields(nurse = %nurse_id))]
pub async fn set_qualifications(
    state: &AppState,
    caller: &Caller,
    org_id: &str,
    nurse_id: &str,
    input: QualificationsInput,
) -> ApiResult<NurseView> {
    if !caller.may_admin_org(org_id) {
        return Err(ApiError::not_found());
    }
    let mut quals = Vec::new();
    for q in &input.qualifications {
        let q = rules::parse_qualification(q)?;
        if !quals.contains(&q) {
            quals.push(q);
        }
    }
    let mut tx = state.store.begin().await?;
    let p = nurse_at(&mut tx, nurse_id, org_id).await?;
    if p.role != Role::Nurse.as_str() {
        return Err(ApiError::from(
            DomainError::new(
                ErrorCode::NotANurse,
                "Qualifications are recorded for nurses.",
            )
            .on("nurse_id"),
        ));
    }
    store::set_qualifications(
        &mut tx,
        nurse_id,
        org_id,
        &quals,
        &caller.account_id,
        now_ms(),
    )
    .await?;
    crate::audit::record(
        &mut tx,
        Some(caller),
        "nursing.qualifications.set",
        "practitioner",
        nurse_id,
        "org_admin",
        Some(org_id),
    )
    .await?;
    let view = nurse_view(&mut tx, &p, org_id, None).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(view)
}

pub(super) async fn nurse_view(
    conn: &mut AnyConnection,
    p: &identity::PractitionerRow,
    org_id: &str,
    for_order: Option<(&OrderRow, i64)>,
) -> ApiResult<NurseView> {
    let quals = store::qualifications(conn, &p.account_id, org_id).await?;
    let today = today_in_shanghai();
    let since = parse_date(&p.practising_since, "practising_since").map_err(ApiError::stored)?;
    let eligible = for_order.map(|(o, min_years)| {
        rules::check_nurse(
            Role::parse(&p.role).unwrap_or(Role::Doctor),
            since,
            today,
            &quals,
            min_years,
            o.required_qualification.as_deref(),
        )
        .is_ok()
    });
    Ok(NurseView {
        id: p.account_id.clone(),
        name: p.name.clone(),
        title: Title::parse(&p.title)
            .map(|t| t.label_zh())
            .unwrap_or_default()
            .into(),
        years: rules::years_of_practice(since, today),
        qualifications: quals,
        eligible,
    })
}

/// The hospital's nurses (org admin), with whether each may take `order_id`.
pub async fn nurses(
    state: &AppState,
    caller: &Caller,
    org_id: &str,
    order_id: Option<&str>,
) -> ApiResult<Vec<NurseView>> {
    if !caller.may_admin_org(org_id) {
        return Err(ApiError::not_found());
    }
    let mut c = state.store.conn().await?;
    let order = match order_id {
        Some(id) => Some(load(&mut c, id).await?).filter(|o| o.org_id == org_id),
        None => None,
    };
    let min = |o: &OrderRow| o.min_years.max(state.settings.nursing.min_nurse_years);
    let mut out = Vec::new();
    for p in identity::practitioners_of_org(&mut c, org_id).await? {
        if p.role != Role::Nurse.as_str() {
            continue;
        }
        let v = nurse_view(&mut c, &p, org_id, order.as_ref().map(|o| (o, min(o)))).await?;
        out.push(v);
    }
    Ok(out)
}

/// A doctor or nurse of the hospital records that the patient may be nursed at home.
#[tracing::instrument(skip_all)]
pub async fn assess(
    state: &AppState,
    caller: &Caller,
    input: AssessmentInput,
) -> ApiResult<AssessmentView> {
    if !(caller.has(Role::Doctor) || caller.has(Role::Nurse)) {
        return Err(ApiError::forbidden(
            "Assessments for home nursing are made by the hospital's doctors and nurses.",
        ));
    }
    let note = optional_text(Some(&input.note), "note", 1000)?.ok_or_else(|| {
        ApiError::from(
            DomainError::new(
                ErrorCode::InvalidNote,
                "Write what you assessed (1-1000 characters).",
            )
            .on("note"),
        )
    })?;
    let mut tx = state.store.begin().await?;
    let works_here = identity::affiliations_of(&mut tx, &caller.account_id)
        .await?
        .iter()
        .any(|a| a.org_id == input.org_id);
    if !works_here {
        return Err(ApiError::forbidden(
            "You can assess patients only for a hospital you work at.",
        ));
    }
    let patient = identity::patient(&mut tx, &input.patient_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let now = now_ms();
    let valid_until = now + state.settings.nursing.assessment_valid_days * DAY_MS;
    let id = store::insert_assessment(
        &mut tx,
        &patient.id,
        &input.org_id,
        &caller.account_id,
        &note,
        now,
        valid_until,
    )
    .await?;
    crate::audit::record(
        &mut tx,
        Some(caller),
        "nursing.assessment.create",
        "patient",
        &patient.id,
        "nursing_assessment",
        Some(&input.org_id),
    )
    .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(AssessmentView {
        id,
        patient_id: patient.id,
        org_id: input.org_id,
        valid_until,
    })
}
