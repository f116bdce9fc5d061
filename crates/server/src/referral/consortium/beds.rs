//! Wards, beds and bed reservations across the consortium.

use super::*;

// ---------- wards and beds ----------

#[derive(Debug, Deserialize, ToSchema)]
pub struct WardInput {
    pub name: String,
    pub beds: i64,
    pub department_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WardView {
    pub id: String,
    pub org_id: String,
    pub org_name: String,
    pub name: String,
    pub beds_total: i64,
    pub beds_free: i64,
}

pub(super) fn ward_view(w: &store::WardRow) -> WardView {
    WardView {
        id: w.id.clone(),
        org_id: w.org_id.clone(),
        org_name: w.org_name.clone(),
        name: w.name.clone(),
        beds_total: w.beds_total,
        beds_free: w.beds_free,
    }
}

pub async fn add_ward(
    state: &AppState,
    caller: &Caller,
    org_id: &str,
    input: WardInput,
) -> ApiResult<WardView> {
    require_admin(caller, org_id)?;
    let name = ihos_domain::org::parse_label(&input.name, "name", 50).map_err(ApiError::from)?;
    let beds = rules::parse_beds(input.beds).map_err(ApiError::from)?;
    let mut c = state.store.conn().await?;
    if org::org(&mut c, org_id).await?.is_none() {
        return Err(ApiError::not_found());
    }
    if let Some(d) = opt(&input.department_id)
        && org::department(&mut c, d)
            .await?
            .is_none_or(|d| d.org_id != org_id)
    {
        return Err(ApiError::from(
            DomainError::new(
                ErrorCode::UnknownDepartment,
                "That department is not in this organisation.",
            )
            .on("department_id"),
        ));
    }
    let id = store::insert_ward(
        &mut c,
        org_id,
        opt(&input.department_id),
        &name,
        beds,
        now_ms(),
    )
    .await?;
    let w = store::ward(&mut c, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(ward_view(&w))
}

/// Wards and free beds across a consortium: for its admins and the doctors of its members.
pub async fn wards(
    state: &AppState,
    caller: &Caller,
    consortium_id: &str,
) -> ApiResult<Vec<WardView>> {
    let mut c = state.store.conn().await?;
    may_see_consortium(&mut c, caller, consortium_id, true).await?;
    Ok(store::wards_of_consortium(&mut c, consortium_id)
        .await?
        .iter()
        .map(ward_view)
        .collect())
}

pub(super) async fn may_see_consortium(
    c: &mut AnyConnection,
    caller: &Caller,
    consortium_id: &str,
    staff_too: bool,
) -> ApiResult<()> {
    let cons = org::consortium(c, consortium_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if caller.has(Role::PlatformAdmin)
        || caller.has(Role::Regulator)
        || caller.scopes(Role::ConsortiumAdmin).any(|s| s == cons.id)
        || caller.may_admin_org(&cons.lead_org_id)
    {
        return Ok(());
    }
    if staff_too {
        let members: Vec<String> = org::members_of(c, &cons.id)
            .await?
            .into_iter()
            .map(|o| o.id)
            .collect();
        for a in identity::affiliations_of(c, &caller.account_id).await? {
            if a.org_id == cons.lead_org_id || members.contains(&a.org_id) {
                return Ok(());
            }
        }
    }
    Err(ApiError::not_found())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct BedRequestInput {
    pub ward_id: String,
    pub patient_id: Option<String>,
    pub resident_id: Option<String>,
    pub reason: String,
    pub referral_id: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct BedReviewInput {
    /// Admit: the local admission date (YYYY-MM-DD).
    pub admit_on: Option<String>,
    /// Decline: the reason.
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BedRequestView {
    pub id: String,
    pub ward_id: String,
    pub ward_org_id: String,
    pub ward_name: String,
    pub patient_name: String,
    pub reason: String,
    pub status: String,
    pub admit_on: Option<String>,
    pub review_note: Option<String>,
    pub created_local: String,
}

pub(super) fn bed_view(b: &BedRequestRow) -> BedRequestView {
    BedRequestView {
        id: b.id.clone(),
        ward_id: b.ward_id.clone(),
        ward_org_id: b.ward_org_id.clone(),
        ward_name: b.ward_name.clone(),
        patient_name: b.patient_name.clone(),
        reason: b.reason.clone(),
        status: b.status.clone(),
        admit_on: b.admit_on.clone(),
        review_note: b.review_note.clone(),
        created_local: shanghai_time(b.created_at),
    }
}

pub(super) async fn bed_notify(
    c: &mut AnyConnection,
    b: &BedRequestRow,
    topic: &str,
    now: i64,
) -> ApiResult<()> {
    let payload = |part: &str| {
        json!({"bed_request_id": b.id, "status": b.status, "ward": b.ward_name, "admit_on": b.admit_on, "as": part}).to_string()
    };
    ihos_store::outbox::put_json(
        c,
        topic,
        Some(&b.requested_by),
        &payload("requesting_doctor"),
        now,
    )
    .await?;
    if let Some(p) = b
        .patient_account_id
        .as_deref()
        .or(b.guardian_account_id.as_deref())
    {
        ihos_store::outbox::put_json(c, topic, Some(p), &payload("patient"), now).await?;
    }
    Ok(())
}

/// A member's doctor asks the upper hospital's ward to admit a patient.
pub async fn request_bed(
    state: &AppState,
    caller: &Caller,
    input: BedRequestInput,
) -> ApiResult<BedRequestView> {
    caller.require(Role::Doctor)?;
    let reason = parse_text(&input.reason, "reason", 1000).map_err(ApiError::from)?;
    let mut c = state.store.conn().await?;
    let w = store::ward(&mut c, input.ward_id.trim())
        .await?
        .ok_or_else(|| {
            ApiError::from(
                DomainError::new(ErrorCode::RefUnknownWard, "No such ward.").on("ward_id"),
            )
        })?;
    let patient_id = super::super::service::patient_of(
        state,
        &mut c,
        input.patient_id.as_deref(),
        input.resident_id.as_deref(),
    )
    .await?;
    let mut from = None;
    for a in identity::affiliations_of(&mut c, &caller.account_id).await? {
        if a.org_id == w.org_id
            || store::shared_consortium(&mut c, &a.org_id, &w.org_id)
                .await?
                .is_some()
        {
            from = Some(a.org_id);
            break;
        }
    }
    let from = from.ok_or_else(|| {
        ApiError::from(
            DomainError::new(
                ErrorCode::RefNotInConsortium,
                "That ward's hospital is not in a consortium with your site.",
            )
            .on("ward_id"),
        )
    })?;
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let id = store::insert_bed_request(
        &mut tx,
        &w.id,
        &patient_id,
        &caller.account_id,
        &from,
        opt(&input.referral_id),
        &reason,
        now,
    )
    .await?;
    caller
        .audit(
            &mut tx,
            "bed_request.create",
            "patient",
            &patient_id,
            "treating_practitioner",
            Some(&from),
        )
        .await?;
    let b = store::bed_request(&mut tx, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    bed_notify(&mut tx, &b, "bed.requested", now).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(bed_view(&b))
}

/// The ward's hospital reviews: admit (takes a free bed, atomically),
/// decline with a reason, or discharge (gives the bed back).
pub async fn review_bed(
    state: &AppState,
    caller: &Caller,
    id: &str,
    action: BedAction,
    input: BedReviewInput,
) -> ApiResult<BedRequestView> {
    let mut c = state.store.conn().await?;
    let b = store::bed_request(&mut c, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let staff = caller.has(Role::Doctor)
        && store::works_at(&mut c, &caller.account_id, &b.ward_org_id, None).await?;
    if !staff && !caller.may_admin_org(&b.ward_org_id) {
        return Err(ApiError::not_found());
    }
    drop(c);
    let from = BedStatus::parse(&b.status).map_err(ApiError::internal)?;
    let to = bed_transition(from, action).map_err(ApiError::domain_conflict)?;
    let (note, admit_on) = match action {
        BedAction::Admit => {
            let day = opt(&input.admit_on)
                .map(|d| parse_date(d, "admit_on").map(|d| d.to_string()))
                .transpose()?;
            (None, day)
        }
        BedAction::Decline => (
            Some(
                parse_text(input.reason.as_deref().unwrap_or(""), "reason", 500)
                    .map_err(ApiError::from)?,
            ),
            None,
        ),
        BedAction::Discharge => (None, None),
    };
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    if !store::change_bed_request(
        &mut tx,
        &b.id,
        from.as_str(),
        to.as_str(),
        &caller.account_id,
        note.as_deref(),
        admit_on.as_deref(),
        now,
    )
    .await?
    {
        return Err(ApiError::conflict(
            ErrorCode::RefIllegalTransition,
            "This bed request changed meanwhile; reload it.",
        ));
    }
    match action {
        BedAction::Admit => {
            if !store::take_bed(&mut tx, &b.ward_id).await? {
                return Err(ApiError::conflict(
                    ErrorCode::RefNoFreeBeds,
                    "The ward has no free bed; decline, or admit after a discharge.",
                ));
            }
        }
        BedAction::Discharge => store::give_back_bed(&mut tx, &b.ward_id).await?,
        BedAction::Decline => {}
    }
    let topic = match action {
        BedAction::Admit => "bed.admitted",
        BedAction::Decline => "bed.declined",
        BedAction::Discharge => "bed.discharged",
    };
    caller
        .audit(
            &mut tx,
            topic,
            "patient",
            &b.patient_id,
            "treating_practitioner",
            Some(&b.ward_org_id),
        )
        .await?;
    let b = store::bed_request(&mut tx, &b.id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    bed_notify(&mut tx, &b, topic, now).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(bed_view(&b))
}

/// Bed requests of the caller's sites (sent or received).
pub async fn bed_requests(state: &AppState, caller: &Caller) -> ApiResult<Vec<BedRequestView>> {
    let mut c = state.store.conn().await?;
    let mut out: Vec<BedRequestView> = Vec::new();
    for a in identity::affiliations_of(&mut c, &caller.account_id).await? {
        for b in store::bed_requests_of_org(&mut c, &a.org_id).await? {
            if !out.iter().any(|x| x.id == b.id) {
                caller
                    .audit(
                        &mut c,
                        "bed_request.read",
                        "patient",
                        &b.patient_id,
                        "treating_practitioner",
                        Some(&a.org_id),
                    )
                    .await?;
                out.push(bed_view(&b));
            }
        }
    }
    Ok(out)
}
