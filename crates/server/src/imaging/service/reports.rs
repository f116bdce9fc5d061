//! The viewer list, one study, the report and linking a study to its patient.

use super::*;

// ------------------------------------------------------ viewer and reports

#[derive(Debug, Serialize, ToSchema)]
pub struct InstanceView {
    pub sop_uid: String,
    pub instance_number: Option<i64>,
    pub frames: i64,
    pub rows: Option<i64>,
    pub columns: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesView {
    pub series_uid: String,
    pub modality: String,
    pub series_number: Option<i64>,
    pub description: String,
    pub instances: Vec<InstanceView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportView {
    pub status: String,
    pub findings: String,
    pub impression: String,
    pub author_name: String,
    pub signed_at: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StudyView {
    pub study_uid: String,
    pub patient_name: String,
    /// PatientID as in the images; masked when it is a resident ID number.
    pub patient_id_shown: String,
    pub study_date: String,
    pub accession_number: String,
    pub description: String,
    pub modalities: Vec<String>,
    /// linked or review
    pub link_status: String,
    pub link_issue: Option<String>,
    pub order_ref: Option<String>,
    pub num_instances: i64,
    pub series: Vec<SeriesView>,
    /// A final report; drafts are shown only to staff of the performing org.
    pub report: Option<ReportView>,
}

/// Everything the viewer shows about one study; audited.
pub async fn study_view(
    state: &AppState,
    reader: &Reader,
    study_uid: &str,
) -> ApiResult<StudyView> {
    let study = open_study(state, reader, study_uid, "imaging.view").await?;
    let mut conn = state.store.conn().await?;
    let series = store::series_of(&mut conn, &study.id).await?;
    let instances = store::instances(&mut conn, &study.id, None, None).await?;
    let staff = match reader {
        Reader::Account(c) => identity::affiliations_of(&mut conn, &c.account_id)
            .await?
            .iter()
            .any(|a| a.org_id == study.org_id),
        Reader::Grant { .. } => false,
    };
    let report = store::report_of(&mut conn, &study.id)
        .await?
        .filter(|r| r.status == "final" || staff)
        .map(|r| ReportView {
            status: r.status,
            findings: r.findings,
            impression: r.impression,
            author_name: r.author_name,
            signed_at: r.signed_at,
        });
    Ok(StudyView {
        study_uid: study.study_uid.clone(),
        patient_name: study.dicom_patient_name.clone(),
        patient_id_shown: study.dicom_patient_id.clone(),
        study_date: study.study_date.clone(),
        accession_number: study.accession_number.clone(),
        description: study.description.clone(),
        modalities: study
            .modalities
            .split(',')
            .filter(|m| !m.is_empty())
            .map(str::to_string)
            .collect(),
        link_status: study.link_status.clone(),
        link_issue: study.link_issue.clone(),
        order_ref: study.order_ref.clone(),
        num_instances: study.num_instances,
        series: series
            .into_iter()
            .map(|se| SeriesView {
                instances: instances
                    .iter()
                    .filter(|i| i.series_id == se.id)
                    .map(|i| InstanceView {
                        sop_uid: i.sop_uid.clone(),
                        instance_number: i.instance_number,
                        frames: i.frames,
                        rows: i.rows_n,
                        columns: i.columns_n,
                    })
                    .collect(),
                series_uid: se.series_uid,
                modality: se.modality,
                series_number: se.series_number,
                description: se.description,
            })
            .collect(),
        report,
    })
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ReportInput {
    pub findings: String,
    pub impression: String,
    /// Sign the report: it becomes visible to the patient and cannot change.
    #[serde(default)]
    pub sign: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportSaved {
    pub status: String,
    /// When signed and the study is linked: the patient was sent a link.
    pub patient_notified: bool,
}

/// A radiologist (a doctor in a 医学影像科 department of the performing
/// organisation) writes or signs the report.
pub async fn write_report(
    state: &AppState,
    caller: &Caller,
    study_uid: &str,
    input: ReportInput,
) -> ApiResult<ReportSaved> {
    let findings = input.findings.trim();
    let impression = input.impression.trim();
    if findings.is_empty() || findings.chars().count() > 10_000 {
        return Err(DomainError::new(
            ErrorCode::InvalidFindings,
            "Findings are required (at most 10,000 characters).",
        )
        .on("findings")
        .into());
    }
    if impression.is_empty() || impression.chars().count() > 2_000 {
        return Err(DomainError::new(
            ErrorCode::InvalidImpression,
            "The impression is required (at most 2,000 characters).",
        )
        .on("impression")
        .into());
    }
    let reader = Reader::Account(caller.clone());
    let study = open_study(state, &reader, study_uid, "imaging.report_write").await?;
    let mut tx = state.store.begin().await?;
    if !caller.has(Role::Doctor)
        || !store::practises_in_specialty(&mut tx, &caller.account_id, &study.org_id, "radiology")
            .await?
    {
        return Err(ApiError::forbidden(
            "Only a radiologist (医学影像科) of the organisation that took the images writes its report.",
        ));
    }
    if !store::save_report(
        &mut tx,
        &study.id,
        &caller.account_id,
        findings,
        impression,
        input.sign,
    )
    .await?
    {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            ErrorCode::ReportSigned,
            "The report is signed and can no longer change.",
        ));
    }
    let mut notified = false;
    if input.sign
        && let Some(patient_id) = &study.patient_id
    {
        notified = send_patient_link(state, &mut tx, &study.id, patient_id).await?;
    }
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(ReportSaved {
        status: if input.sign { "final" } else { "draft" }.into(),
        patient_notified: notified,
    })
}

/// The account that receives SMS for a patient (own, else the guardian's)
/// and its phone, decrypted.
pub(super) async fn patient_contact(
    state: &AppState,
    conn: &mut AnyConnection,
    patient_id: &str,
) -> ApiResult<Option<(String, String)>> {
    let Some(p) = identity::patient(conn, patient_id).await? else {
        return Ok(None);
    };
    let account_id = p.account_id.clone().or(p.guardian_account_id.clone());
    let Some(account_id) = account_id else {
        return Ok(None);
    };
    let phone_enc = match &p.phone_enc {
        Some(ph) if p.account_id.is_some() => Some(ph.clone()),
        _ => identity::account(conn, &account_id)
            .await?
            .map(|a| a.phone_enc),
    };
    Ok(phone_enc
        .and_then(|e| state.vault.decrypt(&e))
        .map(|phone| (account_id, phone)))
}

/// Create a link to the study and queue an SMS with it to the patient.
pub(super) async fn send_patient_link(
    state: &AppState,
    conn: &mut AnyConnection,
    study_id: &str,
    patient_id: &str,
) -> ApiResult<bool> {
    let Some((account_id, phone)) = patient_contact(state, conn, patient_id).await? else {
        return Ok(false);
    };
    let token = new_token();
    store::insert_link(
        conn,
        &token_hash(&token),
        study_id,
        patient_id,
        now_ms() + sms::LINK_TTL_MS,
    )
    .await?;
    let url = format!("/imaging/open/{token}");
    ihos_store::outbox::put(
        conn,
        "sms.imaging_link",
        Some(&account_id),
        &json!({ "to": mask_phone(&phone), "phone_enc": state.vault.encrypt(&phone), "url": url,
                        "text": "您的影像检查报告已出，请点击链接并输入短信验证码查看。"
        }),
        ihos_store::now_ms(),
    )
    .await?;
    Ok(true)
}

/// Staff of the performing org (re)send the patient a link to a linked study.
pub async fn resend_link(state: &AppState, caller: &Caller, study_uid: &str) -> ApiResult<()> {
    let reader = Reader::Account(caller.clone());
    let study = open_study(state, &reader, study_uid, "imaging.link_send").await?;
    let mut tx = state.store.begin().await?;
    let staff = identity::affiliations_of(&mut tx, &caller.account_id)
        .await?
        .iter()
        .any(|a| a.org_id == study.org_id);
    if !staff {
        return Err(ApiError::forbidden(
            "Only staff of the organisation that took the images send links to the patient.",
        ));
    }
    let Some(patient_id) = &study.patient_id else {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            ErrorCode::StudyNotLinked,
            "Link the study to a patient first (review queue).",
        ));
    };
    if !send_patient_link(state, &mut tx, &study.id, patient_id).await? {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            ErrorCode::NoPhone,
            "The patient has no phone number to send the link to.",
        ));
    }
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(())
}
