//! Remote consultation between member hospitals.

use super::*;

// ---------- remote consultation ----------

#[derive(Debug, Deserialize, ToSchema)]
pub struct RemoteConsultInput {
    pub patient_id: Option<String>,
    pub resident_id: Option<String>,
    pub expert_id: String,
    pub question: String,
    /// Imaging studies of the patient to attach.
    #[serde(default)]
    pub study_ids: Vec<String>,
    /// Records in writing (history, lab results).
    pub records: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct OpinionInput {
    pub opinion: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StudyBrief {
    pub id: String,
    pub study_date: String,
    pub modalities: String,
    pub description: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RemoteConsultView {
    pub id: String,
    pub patient_name: String,
    pub requester_name: String,
    pub from_org_name: String,
    pub expert_id: String,
    pub expert_name: String,
    pub question: String,
    pub records: Option<String>,
    pub studies: Vec<StudyBrief>,
    pub status: String,
    pub opinion: Option<String>,
    pub created_local: String,
    pub answered_local: Option<String>,
}

pub(super) async fn rc_view(
    c: &mut AnyConnection,
    r: &store::RemoteConsultRow,
) -> ApiResult<RemoteConsultView> {
    let ids: Vec<String> = serde_json::from_str(&r.study_ids).unwrap_or_default();
    let mut studies = Vec::new();
    for id in ids {
        if let Some(s) = imaging::study_by_id(c, &id).await? {
            studies.push(StudyBrief {
                id: s.id,
                study_date: s.study_date,
                modalities: s.modalities,
                description: s.description,
            });
        }
    }
    Ok(RemoteConsultView {
        id: r.id.clone(),
        patient_name: r.patient_name.clone(),
        requester_name: r.requester_name.clone(),
        from_org_name: r.from_org_name.clone(),
        expert_id: r.expert_id.clone(),
        expert_name: r.expert_name.clone(),
        question: r.question.clone(),
        records: r.records.clone(),
        studies,
        status: r.status.clone(),
        opinion: r.opinion.clone(),
        created_local: shanghai_time(r.created_at),
        answered_local: r.answered_at.map(shanghai_time),
    })
}

/// A member hospital asks an expert of another member for a written opinion.
pub async fn ask_expert(
    state: &AppState,
    caller: &Caller,
    input: RemoteConsultInput,
) -> ApiResult<RemoteConsultView> {
    caller.require(Role::Doctor)?;
    let question = parse_text(&input.question, "question", 4000).map_err(ApiError::from)?;
    let records = opt(&input.records)
        .map(|r| parse_text(r, "records", 8000))
        .transpose()
        .map_err(ApiError::from)?;
    if input.study_ids.len() > 20 {
        return Err(ApiError::from(
            DomainError::new(ErrorCode::RefTooManyStudies, "Attach at most 20 studies.")
                .on("study_ids"),
        ));
    }
    let mut c = state.store.conn().await?;
    let patient_id = super::super::service::patient_of(
        state,
        &mut c,
        input.patient_id.as_deref(),
        input.resident_id.as_deref(),
    )
    .await?;
    let expert = identity::practitioner(&mut c, input.expert_id.trim())
        .await?
        .filter(|p| p.role == "doctor" && p.account_id != caller.account_id)
        .ok_or_else(|| {
            ApiError::from(
                DomainError::new(
                    ErrorCode::RefUnknownDoctor,
                    "Choose an expert doctor of a consortium member.",
                )
                .on("expert_id"),
            )
        })?;
    let mut found = None;
    'outer: for mine in identity::affiliations_of(&mut c, &caller.account_id).await? {
        for theirs in identity::affiliations_of(&mut c, &expert.account_id).await? {
            if let Some(cons) =
                store::shared_consortium(&mut c, &mine.org_id, &theirs.org_id).await?
            {
                found = Some((mine.org_id.clone(), cons));
                break 'outer;
            }
        }
    }
    let (from_org, cons) = found.ok_or_else(|| {
        ApiError::from(
            DomainError::new(
                ErrorCode::RefNotInConsortium,
                "The expert works at no member of your consortium.",
            )
            .on("expert_id"),
        )
    })?;
    for s in &input.study_ids {
        let ok = imaging::study_by_id(&mut c, s)
            .await?
            .is_some_and(|st| st.patient_id.as_deref() == Some(patient_id.as_str()));
        if !ok {
            return Err(ApiError::from(
                DomainError::new(
                    ErrorCode::RefUnknownStudy,
                    "An attached study is not one of this patient's studies.",
                )
                .on("study_ids"),
            ));
        }
    }
    let study_ids = serde_json::to_string(&input.study_ids).map_err(ApiError::internal)?;
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    let id = store::insert_remote_consult(
        &mut tx,
        &cons,
        &patient_id,
        &caller.account_id,
        &from_org,
        &expert.account_id,
        &question,
        &study_ids,
        records.as_deref(),
        now,
    )
    .await?;
    identity::insert_care_relationship(
        &mut tx,
        &patient_id,
        &expert.account_id,
        &from_org,
        "remote_consultation",
        now,
        now + state.settings.care_relationship_days.max(1) * 86_400_000,
    )
    .await?;
    caller
        .audit(
            &mut tx,
            "remote_consultation.create",
            "patient",
            &patient_id,
            "treating_practitioner",
            Some(&from_org),
        )
        .await?;
    ihos_store::outbox::put_json(
        &mut tx,
        "remote_consultation.requested",
        Some(&expert.account_id),
        &json!({"remote_consultation_id": id, "as": "expert"}).to_string(),
        now,
    )
    .await?;
    let r = store::remote_consult(&mut tx, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let v = rc_view(&mut tx, &r).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(v)
}

pub async fn answer(
    state: &AppState,
    caller: &Caller,
    id: &str,
    input: OpinionInput,
) -> ApiResult<RemoteConsultView> {
    let opinion = parse_text(&input.opinion, "opinion", 8000).map_err(ApiError::from)?;
    let mut c = state.store.conn().await?;
    let r = store::remote_consult(&mut c, id)
        .await?
        .filter(|r| r.expert_id == caller.account_id)
        .ok_or_else(ApiError::not_found)?;
    drop(c);
    let now = now_ms();
    let mut tx = state.store.begin().await?;
    if !store::answer_remote_consult(&mut tx, id, &opinion, now).await? {
        return Err(ApiError::conflict(
            ErrorCode::RefAlreadyAnswered,
            "This consultation has been answered already.",
        ));
    }
    caller
        .audit(
            &mut tx,
            "remote_consultation.answer",
            "patient",
            &r.patient_id,
            "treating_practitioner",
            None,
        )
        .await?;
    ihos_store::outbox::put_json(
        &mut tx,
        "remote_consultation.answered",
        Some(&r.requested_by),
        &json!({"remote_consultation_id": id, "as": "requesting_doctor"}).to_string(),
        now,
    )
    .await?;
    let r = store::remote_consult(&mut tx, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let v = rc_view(&mut tx, &r).await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(v)
}

pub async fn remote_consult(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> ApiResult<RemoteConsultView> {
    let mut c = state.store.conn().await?;
    let r = store::remote_consult(&mut c, id)
        .await?
        .filter(|r| r.expert_id == caller.account_id || r.requested_by == caller.account_id)
        .ok_or_else(ApiError::not_found)?;
    caller
        .audit(
            &mut c,
            "remote_consultation.read",
            "patient",
            &r.patient_id,
            "treating_practitioner",
            None,
        )
        .await?;
    rc_view(&mut c, &r).await
}

pub async fn remote_consults(
    state: &AppState,
    caller: &Caller,
) -> ApiResult<Vec<RemoteConsultView>> {
    let mut c = state.store.conn().await?;
    let mut out = Vec::new();
    for r in store::remote_consults_of(&mut c, &caller.account_id).await? {
        caller
            .audit(
                &mut c,
                "remote_consultation.read",
                "patient",
                &r.patient_id,
                "treating_practitioner",
                None,
            )
            .await?;
        out.push(rc_view(&mut c, &r).await?);
    }
    Ok(out)
}
