//! Reading referrals and the duplicate-exam history.

use super::*;

/// Read one referral: a patient record. Parties, the patient (or guardian)
/// and regulators; every read is audited against the patient.
pub async fn read(state: &AppState, caller: &Caller, id: &str) -> ApiResult<ReferralView> {
    let mut c = state.store.conn().await?;
    let r = store::referral(&mut c, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let party = party_of(&mut c, caller, &r).await?;
    let rel = Relationship {
        is_self: r.patient_account_id.as_deref() == Some(caller.account_id.as_str()),
        is_guardian: r.guardian_account_id.as_deref() == Some(caller.account_id.as_str()),
        is_treating: party.is_some(),
    };
    let ground = patient_read_ground(&caller.roles(), &rel).map_err(|_| ApiError::not_found())?;
    caller
        .audit(
            &mut c,
            "referral.read",
            "patient",
            &r.patient_id,
            ground.as_str(),
            None,
        )
        .await?;
    let timeline = store::timeline(&mut c, id).await?;
    Ok(view(&r, party, timeline))
}

/// The caller's referrals: as a doctor (sent and received), or as a patient or guardian.
pub async fn mine(state: &AppState, caller: &Caller) -> ApiResult<Vec<ReferralView>> {
    let mut c = state.store.conn().await?;
    let rows = if caller.has(Role::Doctor) {
        store::for_doctor(&mut c, &caller.account_id).await?
    } else {
        store::for_account(&mut c, &caller.account_id).await?
    };
    let mut out = Vec::new();
    let mut audited: Vec<String> = Vec::new();
    for r in rows {
        let party = party_of(&mut c, caller, &r).await?;
        if !audited.contains(&r.patient_id) {
            let ground = if party.is_some() {
                "treating_practitioner"
            } else if r.patient_account_id.as_deref() == Some(caller.account_id.as_str()) {
                "self"
            } else {
                "guardian"
            };
            caller
                .audit(
                    &mut c,
                    "referral.list",
                    "patient",
                    &r.patient_id,
                    ground,
                    None,
                )
                .await?;
            audited.push(r.patient_id.clone());
        }
        out.push(view(&r, party, Vec::new()));
    }
    Ok(out)
}

#[derive(Debug, Deserialize, ToSchema, utoipa::IntoParams)]
pub struct ExamHistoryQuery {
    pub patient_id: Option<String>,
    pub resident_id: Option<String>,
    pub exam_type: String,
    pub to_org_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EarlierExamView {
    pub source: String,
    pub id: String,
    pub org_name: String,
    pub date: String,
    pub result: String,
}

/// The duplicate-exam reminder before ordering: the patient's same exams at
/// any member within the window. A read of the record: doctors only, audited.
pub async fn exam_history(
    state: &AppState,
    caller: &Caller,
    q: ExamHistoryQuery,
) -> ApiResult<Vec<EarlierExamView>> {
    caller.require(Role::Doctor)?;
    let exam = ExamType::parse(q.exam_type.trim()).map_err(ApiError::from)?;
    let mut c = state.store.conn().await?;
    let input = NewReferralInput {
        patient_id: q.patient_id,
        resident_id: q.resident_id,
        ..Default::default()
    };
    let patient = resolve_patient(state, &mut c, &input).await?;
    let mut consortium = None;
    for a in identity::affiliations_of(&mut c, &caller.account_id).await? {
        if let Some(cons) = store::shared_consortium(&mut c, &a.org_id, q.to_org_id.trim()).await? {
            consortium = Some(cons);
            break;
        }
    }
    let consortium = consortium.ok_or_else(|| {
        ApiError::from(
            DomainError::new(
                ErrorCode::RefNotInConsortium,
                "Your site and that organisation share no consortium.",
            )
            .on("to_org_id"),
        )
    })?;
    let rows = earlier_exams(state, &mut c, &consortium, &patient.id, exam, now_ms()).await?;
    caller
        .audit(
            &mut c,
            "referral.exam_history",
            "patient",
            &patient.id,
            "treating_practitioner",
            None,
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|e| EarlierExamView {
            source: e.source,
            id: e.id,
            org_name: e.org_name,
            date: e.at_text,
            result: e.result,
        })
        .collect())
}
