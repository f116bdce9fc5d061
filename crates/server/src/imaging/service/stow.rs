//! STOW-RS: storing DICOM instances (parsed, checked, indexed once).

use super::*;

// ---------------------------------------------------------------- STOW-RS

/// The outcome of one part of a STOW-RS request.
#[derive(Debug, Clone)]
pub enum PartOutcome {
    Stored {
        sop_class_uid: String,
        sop_uid: String,
        study_uid: String,
        series_uid: String,
        already: bool,
    },
    Failed {
        sop_class_uid: Option<String>,
        sop_uid: Option<String>,
        code: ErrorCode,
        message: String,
    },
}

/// Organisations the caller may upload images for: the orgs they
/// administer and those they practise at.
pub(super) async fn uploader_orgs(
    conn: &mut AnyConnection,
    caller: &Caller,
) -> ApiResult<Vec<String>> {
    let mut orgs: Vec<String> = caller.scopes(Role::OrgAdmin).map(str::to_string).collect();
    if caller.roles().iter().any(|r| r.is_practitioner()) {
        for a in identity::affiliations_of(conn, &caller.account_id).await? {
            orgs.push(a.org_id);
        }
    }
    orgs.dedup();
    Ok(orgs)
}

pub(super) fn sop_blob_key(sop_uid: &str) -> String {
    let h = hex::encode(Sha256::digest(sop_uid.as_bytes()));
    format!(
        "dicom/{}/{}/{sop_uid}-{}.dcm",
        &h[..2],
        &h[2..4],
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// What the index says about the patient of an instance.
pub(super) struct PatientMatch {
    patient_id: Option<String>,
    issue: Option<LinkIssue>,
}

pub(super) async fn match_patient(
    state: &AppState,
    conn: &mut AnyConnection,
    p: &Parsed,
) -> ApiResult<PatientMatch> {
    let candidates = std::iter::once(&p.patient_id).chain(p.other_patient_ids.iter());
    let Some(rid) = candidates.filter_map(|v| ResidentId::parse(v).ok()).next() else {
        return Ok(PatientMatch {
            patient_id: None,
            issue: Some(LinkIssue::NoResidentId),
        });
    };
    let hash = state.vault.blind_index("resident_id", rid.as_str());
    Ok(match store::patient_by_resident_hash(conn, &hash).await? {
        None => PatientMatch {
            patient_id: None,
            issue: Some(LinkIssue::NoPatient),
        },
        Some((id, name)) if names_match(&p.patient_name, &name) => PatientMatch {
            patient_id: Some(id),
            issue: None,
        },
        Some(_) => PatientMatch {
            patient_id: None,
            issue: Some(LinkIssue::NameMismatch),
        },
    })
}

/// The PatientID as shown: a resident ID number is masked.
pub(super) fn shown_patient_id(raw: &str) -> String {
    match ResidentId::parse(raw) {
        Ok(id) => id.masked(),
        Err(_) => raw.to_string(),
    }
}

/// Store uploaded instances. Each part is checked in full before anything
/// is written; a refused part leaves no blob and no row.
#[tracing::instrument(skip_all, fields(parts = parts.len()))]
pub async fn stow(
    state: &AppState,
    caller: &Caller,
    org_hint: Option<&str>,
    study_in_path: Option<&str>,
    order_ref: Option<&str>,
    parts: Vec<bytes::Bytes>,
) -> ApiResult<Vec<PartOutcome>> {
    let org_id = {
        let mut conn = state.store.conn().await?;
        let orgs = uploader_orgs(&mut conn, caller).await?;
        match org_hint {
            Some(h) if orgs.iter().any(|o| o == h) => h.to_string(),
            Some(_) => {
                return Err(ApiError::forbidden(
                    "You may not upload images for that organisation.",
                ));
            }
            None => orgs.into_iter().next().ok_or_else(|| {
                ApiError::forbidden("Only staff of a hospital or clinic may upload images.")
            })?,
        }
    };
    if parts.is_empty() {
        return Err(ApiError::bad_request(
            ErrorCode::NoInstances,
            "The request holds no application/dicom part.",
        ));
    }
    let blobs = blobs(state);
    let mut out = Vec::with_capacity(parts.len());
    for bytes in parts {
        let parsed = {
            let b = bytes.clone();
            tokio::task::spawn_blocking(move || dicom::parse(&b)).await?
        };
        let p = match parsed {
            Ok(p) => p,
            Err(r) => {
                out.push(PartOutcome::Failed {
                    sop_class_uid: None,
                    sop_uid: None,
                    code: r.code,
                    message: r.message,
                });
                continue;
            }
        };
        if let Some(s) = study_in_path
            && s != p.study_uid
        {
            out.push(PartOutcome::Failed {
                sop_class_uid: Some(p.sop_class_uid.clone()),
                sop_uid: Some(p.sop_uid.clone()),
                code: ErrorCode::StudyMismatch,
                message: format!(
                    "The instance belongs to study {}, not to {s} named in the URL.",
                    p.study_uid
                ),
            });
            continue;
        }
        out.push(store_one(state, &blobs, caller, &org_id, order_ref, &p, bytes).await?);
    }
    Ok(out)
}

pub(super) async fn store_one(
    state: &AppState,
    blobs: &super::super::blob::Blobs,
    caller: &Caller,
    org_id: &str,
    order_ref: Option<&str>,
    p: &Parsed,
    bytes: bytes::Bytes,
) -> ApiResult<PartOutcome> {
    let stored = |already| PartOutcome::Stored {
        sop_class_uid: p.sop_class_uid.clone(),
        sop_uid: p.sop_uid.clone(),
        study_uid: p.study_uid.clone(),
        series_uid: p.series_uid.clone(),
        already,
    };
    // A repeated SOP instance is found by the insert itself (ON CONFLICT).
    let m = {
        let mut conn = state.store.conn().await?;
        match_patient(state, &mut conn, p).await?
    };
    let key = sop_blob_key(&p.sop_uid);
    let size_bytes = bytes.len() as i64;
    blobs.put(&key, bytes).await.map_err(ApiError::internal)?;
    let new_study = NewStudy {
        study_uid: p.study_uid.clone(),
        org_id: org_id.to_string(),
        link_status: if m.patient_id.is_some() {
            "linked"
        } else {
            "review"
        }
        .into(),
        patient_id: m.patient_id,
        link_issue: m.issue.map(|i| i.as_str().to_string()),
        dicom_patient_id: shown_patient_id(&p.patient_id),
        dicom_patient_id_hash: state.vault.blind_index("dicom_patient_id", &p.patient_id),
        dicom_patient_name: p.patient_name.clone(),
        study_date: p.study_date.clone(),
        study_time: p.study_time.clone(),
        accession_number: p.accession_number.clone(),
        description: p.study_description.clone(),
        referring_physician: p.referring_physician.clone(),
        order_ref: order_ref.map(str::to_string),
    };
    let series = NewSeries {
        series_uid: p.series_uid.clone(),
        modality: p.modality.clone(),
        series_number: p.series_number,
        description: p.series_description.clone(),
    };
    let inst = NewInstance {
        sop_uid: p.sop_uid.clone(),
        sop_class_uid: p.sop_class_uid.clone(),
        instance_number: p.instance_number,
        transfer_syntax: p.transfer_syntax.clone(),
        rows: p.rows,
        columns: p.columns,
        frames: p.frames,
        blob_key: key.clone(),
        size_bytes,
        metadata: p.metadata.clone(),
    };
    let result = async {
        // On SQLite the store queues write transactions, so reads that
        // come first in this one cannot lose the write lock to another.
        let mut tx = state.store.begin().await?;
        let r = store::store_instance(&mut tx, &new_study, &series, &inst).await?;
        if let store::Stored::New { study_id } = &r {
            // Store errors decide the part's outcome here, so the store's
            // own audit call (not the kit's, which answers an ApiError).
            audit::record(
                &mut tx,
                &audit::AuditEntry {
                    actor_id: Some(&caller.account_id),
                    actor_roles: &caller.roles_label(),
                    action: "imaging.store",
                    subject_type: "imaging_study",
                    subject_id: study_id,
                    ground: "performing_org",
                    org_id: Some(org_id),
                    request_id: caller.request_id.as_deref(),
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok::<_, StoreError>(r)
    }
    .await;
    match result {
        Ok(store::Stored::New { .. }) => Ok(stored(false)),
        Ok(store::Stored::Existing { .. }) => {
            let _ = blobs.delete(&key).await;
            Ok(stored(true))
        }
        Err(StoreError::Duplicate { what }) => {
            let _ = blobs.delete(&key).await;
            Ok(PartOutcome::Failed {
                sop_class_uid: Some(p.sop_class_uid.clone()),
                sop_uid: Some(p.sop_uid.clone()),
                code: ErrorCode::UidConflict,
                message: format!(
                    "The {what} is already used by another organisation's study or another study's series."
                ),
            })
        }
        Err(e) => {
            let _ = blobs.delete(&key).await;
            Err(e.into())
        }
    }
}
