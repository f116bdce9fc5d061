//! Cloud imaging use cases: store (STOW-RS), search (QIDO-RS), retrieve
//! (WADO-RS), render, reports, patient linking and review, consents and
//! SMS-verified patient links. Every read of a study is authorised by the
//! domain rule and audited.

use ihos_domain::ErrorCode;
use ihos_domain::identity::mask_phone;
use ihos_domain::imaging::{
    LinkIssue, StudyRelationship, consent_days, date_range, names_match, sms, study_read_ground,
    valid_uid,
};
use ihos_domain::{DomainError, ResidentId, Role};
use ihos_store::imaging::{self as store, NewInstance, NewSeries, NewStudy, Reader as StoreReader};
use ihos_store::{AnyConnection, StoreError, audit, identity, now_ms};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::dicom::{self, Parsed, Window};
use crate::auth::Caller;
use crate::crypto::{new_token, token_hash};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Who reads images: a logged-in account, or a patient holding an
/// SMS-verified view grant for one study.
#[derive(Debug, Clone)]
pub enum Reader {
    Account(Caller),
    Grant {
        study_id: String,
        patient_id: String,
    },
}

impl Reader {
    fn actor(&self) -> (Option<&str>, String) {
        match self {
            Reader::Account(c) => (Some(c.account_id.as_str()), c.roles_label()),
            Reader::Grant { .. } => (None, "sms_link".to_string()),
        }
    }

    fn request_id(&self) -> Option<&str> {
        match self {
            Reader::Account(c) => c.request_id.as_deref(),
            Reader::Grant { .. } => None,
        }
    }
}

pub fn blobs(state: &AppState) -> super::blob::Blobs {
    super::blob::Blobs::new(state.settings.blob_root())
}

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
async fn uploader_orgs(conn: &mut AnyConnection, caller: &Caller) -> ApiResult<Vec<String>> {
    let mut orgs: Vec<String> = caller.scopes(Role::OrgAdmin).map(str::to_string).collect();
    if caller.roles().iter().any(|r| r.is_practitioner()) {
        for a in identity::affiliations_of(conn, &caller.account_id).await? {
            orgs.push(a.org_id);
        }
    }
    orgs.dedup();
    Ok(orgs)
}

fn sop_blob_key(sop_uid: &str) -> String {
    let h = hex::encode(Sha256::digest(sop_uid.as_bytes()));
    format!(
        "dicom/{}/{}/{sop_uid}-{}.dcm",
        &h[..2],
        &h[2..4],
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// What the index says about the patient of an instance.
struct PatientMatch {
    patient_id: Option<String>,
    issue: Option<LinkIssue>,
}

async fn match_patient(
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
fn shown_patient_id(raw: &str) -> String {
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

async fn store_one(
    state: &AppState,
    blobs: &super::blob::Blobs,
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

// --------------------------------------------------------- access and audit

fn rel_of(v: &store::VisibleStudy, reader: &Reader) -> StudyRelationship {
    StudyRelationship {
        is_self: v.is_self == 1,
        is_guardian: v.is_guardian == 1,
        at_performing_org: v.at_org == 1,
        has_active_consent: v.consented == 1,
        verified_link: matches!(reader, Reader::Grant { study_id, .. } if *study_id == v.study.id),
    }
}

fn roles_of(reader: &Reader) -> Vec<Role> {
    match reader {
        Reader::Account(c) => c.roles(),
        Reader::Grant { .. } => Vec::new(),
    }
}

async fn record_access(
    conn: &mut AnyConnection,
    reader: &Reader,
    action: &str,
    study: &store::StudyRow,
    ground: &str,
) -> ApiResult<()> {
    let (actor, roles) = reader.actor();
    audit::record(
        conn,
        &audit::AuditEntry {
            actor_id: actor,
            actor_roles: &roles,
            action,
            subject_type: "imaging_study",
            subject_id: &study.id,
            ground,
            org_id: Some(&study.org_id),
            request_id: reader.request_id(),
        },
    )
    .await?;
    Ok(())
}

/// Open one study for `action`: authorised by the domain rule, audited.
/// Refusal and absence both answer `not_found`.
pub async fn open_study(
    state: &AppState,
    reader: &Reader,
    study_uid: &str,
    action: &str,
) -> ApiResult<store::StudyRow> {
    if !valid_uid(study_uid) {
        return Err(ApiError::not_found());
    }
    let mut conn = state.store.conn().await?;
    let account = match reader {
        Reader::Account(c) => c.account_id.as_str(),
        Reader::Grant { .. } => "",
    };
    let v = store::study_for(&mut conn, study_uid, account, now_ms())
        .await?
        .ok_or_else(ApiError::not_found)?;
    let ground = study_read_ground(&roles_of(reader), &rel_of(&v, reader))
        .map_err(|_| ApiError::not_found())?;
    record_access(&mut conn, reader, action, &v.study, ground.as_str()).await?;
    Ok(v.study)
}

// ---------------------------------------------------------------- QIDO-RS

#[derive(Debug, Default, Deserialize)]
pub struct QidoParams {
    #[serde(rename = "StudyInstanceUID", alias = "0020000D")]
    pub study_uid: Option<String>,
    #[serde(rename = "PatientID", alias = "00100020")]
    pub patient_id: Option<String>,
    #[serde(rename = "PatientName", alias = "00100010")]
    pub patient_name: Option<String>,
    #[serde(rename = "StudyDate", alias = "00080020")]
    pub study_date: Option<String>,
    #[serde(rename = "ModalitiesInStudy", alias = "00080061")]
    pub modality: Option<String>,
    #[serde(rename = "AccessionNumber", alias = "00080050")]
    pub accession_number: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
    pub fuzzymatching: Option<String>,
    pub includefield: Option<String>,
}

fn nonempty(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty() && *s != "*")
        .map(str::to_string)
}

pub fn attr(vr: &str, v: &str) -> Value {
    if v.is_empty() {
        json!({ "vr": vr })
    } else if vr == "PN" {
        json!({ "vr": vr, "Value": [{ "Alphabetic": v }] })
    } else {
        json!({ "vr": vr, "Value": [v] })
    }
}

fn int_attr(vr: &str, v: Option<i64>) -> Value {
    match v {
        Some(n) => json!({ "vr": vr, "Value": [n] }),
        None => json!({ "vr": vr }),
    }
}

pub fn study_json(s: &store::StudyRow) -> Value {
    let mods: Vec<&str> = s.modalities.split(',').filter(|m| !m.is_empty()).collect();
    json!({
        "00080020": attr("DA", &s.study_date),
        "00080030": attr("TM", &s.study_time),
        "00080050": attr("SH", &s.accession_number),
        "00080061": if mods.is_empty() { json!({"vr": "CS"}) } else { json!({"vr": "CS", "Value": mods}) },
        "00080090": attr("PN", &s.referring_physician),
        "00081030": attr("LO", &s.description),
        "00081190": attr("UR", &format!("/dicom-web/studies/{}", s.study_uid)),
        "00100010": attr("PN", &s.dicom_patient_name),
        "00100020": attr("LO", &s.dicom_patient_id),
        "0020000D": attr("UI", &s.study_uid),
        "00201206": int_attr("IS", Some(s.num_series)),
        "00201208": int_attr("IS", Some(s.num_instances)),
    })
}

/// QIDO-RS study search: only studies the reader may see; each hit audited.
pub async fn search_studies(
    state: &AppState,
    reader: &Reader,
    q: &QidoParams,
) -> ApiResult<Vec<store::StudyRow>> {
    let (date_from, date_to) = match nonempty(&q.study_date) {
        Some(d) => date_range(&d)?,
        None => (None, None),
    };
    let query = store::StudyQuery {
        study_uid: nonempty(&q.study_uid),
        patient_id_hash: nonempty(&q.patient_id)
            .map(|v| state.vault.blind_index("dicom_patient_id", &v)),
        patient_name: nonempty(&q.patient_name).map(|v| v.trim_end_matches('*').to_string()),
        date_from,
        date_to,
        modality: nonempty(&q.modality),
        accession_number: nonempty(&q.accession_number),
        platform_patient_id: None,
        limit: q.limit.unwrap_or(100).clamp(1, 1000),
        offset: q.offset.unwrap_or(0).max(0),
    };
    let scope = match reader {
        Reader::Account(c) if c.has(Role::Regulator) => StoreReader::All,
        Reader::Account(c) => StoreReader::Account(&c.account_id),
        Reader::Grant { study_id, .. } => StoreReader::Study(study_id),
    };
    let mut conn = state.store.conn().await?;
    let rows = store::search_studies(&mut conn, &scope, &query, now_ms()).await?;
    let roles = roles_of(reader);
    let mut out = Vec::with_capacity(rows.len());
    for v in rows {
        if let Ok(ground) = study_read_ground(&roles, &rel_of(&v, reader)) {
            record_access(
                &mut conn,
                reader,
                "imaging.search",
                &v.study,
                ground.as_str(),
            )
            .await?;
            out.push(v.study);
        }
    }
    Ok(out)
}

pub async fn series_json(
    state: &AppState,
    reader: &Reader,
    study_uid: &str,
) -> ApiResult<Vec<Value>> {
    let study = open_study(state, reader, study_uid, "imaging.search_series").await?;
    let mut conn = state.store.conn().await?;
    Ok(store::series_of(&mut conn, &study.id)
        .await?
        .into_iter()
        .map(|se| {
            json!({
                "0020000D": attr("UI", &study.study_uid),
                "0020000E": attr("UI", &se.series_uid),
                "00080060": attr("CS", &se.modality),
                "00200011": int_attr("IS", se.series_number),
                "0008103E": attr("LO", &se.description),
                "00201209": int_attr("IS", Some(se.num_instances)),
                "00081190": attr("UR", &format!("/dicom-web/studies/{}/series/{}", study.study_uid, se.series_uid)),
            })
        })
        .collect())
}

pub async fn instances_json(
    state: &AppState,
    reader: &Reader,
    study_uid: &str,
    series_uid: Option<&str>,
) -> ApiResult<Vec<Value>> {
    let study = open_study(state, reader, study_uid, "imaging.search_instances").await?;
    let mut conn = state.store.conn().await?;
    Ok(store::instances(&mut conn, &study.id, series_uid, None)
        .await?
        .into_iter()
        .map(|i| {
            json!({
                "0020000D": attr("UI", &study.study_uid),
                "0020000E": attr("UI", &i.series_uid),
                "00080016": attr("UI", &i.sop_class_uid),
                "00080018": attr("UI", &i.sop_uid),
                "00200013": int_attr("IS", i.instance_number),
                "00280010": int_attr("US", i.rows_n),
                "00280011": int_attr("US", i.columns_n),
                "00280008": int_attr("IS", Some(i.frames)),
                "00081190": attr("UR", &format!("/dicom-web/studies/{}/series/{}/instances/{}", study.study_uid, i.series_uid, i.sop_uid)),
            })
        })
        .collect())
}

// ---------------------------------------------------------------- WADO-RS

/// DICOM JSON metadata of a study / series / instance, as one JSON array text.
pub async fn metadata(
    state: &AppState,
    reader: &Reader,
    study_uid: &str,
    series_uid: Option<&str>,
    sop_uid: Option<&str>,
) -> ApiResult<String> {
    let study = open_study(state, reader, study_uid, "imaging.metadata").await?;
    let mut conn = state.store.conn().await?;
    let items = store::metadata(&mut conn, &study.id, series_uid, sop_uid).await?;
    if items.is_empty() {
        return Err(ApiError::not_found());
    }
    let mut out = String::with_capacity(items.iter().map(|s| s.len() + 1).sum::<usize>() + 2);
    out.push('[');
    for (n, item) in items.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push_str(item);
    }
    out.push(']');
    Ok(out)
}

/// The stored Part 10 files of a study / series / instance.
pub async fn retrieve(
    state: &AppState,
    reader: &Reader,
    study_uid: &str,
    series_uid: Option<&str>,
    sop_uid: Option<&str>,
) -> ApiResult<Vec<Vec<u8>>> {
    let study = open_study(state, reader, study_uid, "imaging.retrieve").await?;
    let rows = {
        let mut conn = state.store.conn().await?;
        store::instances(&mut conn, &study.id, series_uid, sop_uid).await?
    };
    if rows.is_empty() {
        return Err(ApiError::not_found());
    }
    let blobs = blobs(state);
    let mut files = Vec::with_capacity(rows.len());
    for r in rows {
        files.push(blobs.get(&r.blob_key).await.map_err(ApiError::internal)?);
    }
    Ok(files)
}

/// A frame (1-based) rendered to PNG with an optional window.
pub async fn render(
    state: &AppState,
    reader: &Reader,
    study_uid: &str,
    series_uid: &str,
    sop_uid: &str,
    frame: u32,
    window: Option<Window>,
) -> ApiResult<Vec<u8>> {
    if frame == 0 {
        return Err(ApiError::bad_request(
            ErrorCode::NoSuchFrame,
            "Frames are numbered from 1.",
        ));
    }
    let study = open_study(state, reader, study_uid, "imaging.render").await?;
    let row = {
        let mut conn = state.store.conn().await?;
        store::instances(&mut conn, &study.id, Some(series_uid), Some(sop_uid))
            .await?
            .into_iter()
            .next()
            .ok_or_else(ApiError::not_found)?
    };
    let bytes = blobs(state)
        .get(&row.blob_key)
        .await
        .map_err(ApiError::internal)?;
    tokio::task::spawn_blocking(move || dicom::render_png(&bytes, frame - 1, window))
        .await?
        .map_err(|r| {
            let status = if r.code == ErrorCode::NoSuchFrame {
                axum::http::StatusCode::NOT_FOUND
            } else {
                axum::http::StatusCode::UNPROCESSABLE_ENTITY
            };
            ApiError::new(status, r.code, r.message)
        })
}

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
async fn patient_contact(
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
async fn send_patient_link(
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

// ------------------------------------------------------------ SMS codes

#[derive(Debug, Serialize, ToSchema)]
pub struct CodeSent {
    /// The masked phone the code went to.
    pub sent_to: String,
    pub expires_in_s: i64,
}

async fn live_link(conn: &mut AnyConnection, token: &str) -> ApiResult<store::LinkRow> {
    store::link_by_token(conn, &token_hash(token), now_ms())
        .await?
        .ok_or_else(|| {
            ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                ErrorCode::LinkInvalid,
                "This link is not valid or has expired; ask the hospital to send a new one.",
            )
        })
}

fn code_hash(link_id: &str, code: &str) -> String {
    token_hash(&format!("{link_id}:{code}"))
}

/// Send a one-time code for a link to the patient's phone.
pub async fn send_code(state: &AppState, token: &str) -> ApiResult<CodeSent> {
    let mut tx = state.store.begin().await?;
    let link = live_link(&mut tx, token).await?;
    let now = now_ms();
    let recent = store::code_times(&mut tx, &link.id, now - 3600 * 1000).await?;
    if let Err(wait) = sms::may_send(&recent, now) {
        return Err(ApiError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::TooManyCodes,
            format!("A code was sent recently; please wait {wait} seconds before asking again."),
        ));
    }
    let Some((account_id, phone)) = patient_contact(state, &mut tx, &link.patient_id).await? else {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            ErrorCode::NoPhone,
            "The patient has no phone number to send a code to.",
        ));
    };
    let code = format!("{:06}", rand::random::<u32>() % 1_000_000);
    store::insert_code(
        &mut tx,
        &link.id,
        &code_hash(&link.id, &code),
        now,
        now + sms::CODE_TTL_MS,
    )
    .await?;
    let masked = mask_phone(&phone);
    ihos_store::outbox::put(
        &mut tx,
        "sms.imaging_code",
        Some(&account_id),
        &json!({ "to": masked, "phone_enc": state.vault.encrypt(&phone), "code": code,
                 "text": format!("【ihos】您查看影像的验证码为{code}，5分钟内有效，请勿告诉他人。")
 }),
        ihos_store::now_ms(),
    )
    .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    if cfg!(debug_assertions) {
        // The development SMS channel is the log; production delivers the outbox.
        tracing::info!(target: "ihos::sms", to = %masked, %code, "imaging access code (dev log channel)");
    }
    Ok(CodeSent {
        sent_to: masked,
        expires_in_s: sms::CODE_TTL_MS / 1000,
    })
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CodeInput {
    pub code: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Verified {
    pub study_uid: String,
    /// View grant: sent back as the `ihos_imaging` cookie or `X-Imaging-Grant` header.
    pub grant: String,
    pub expires_at: i64,
}

/// Check a code: once, before expiry, within the attempt limit.
pub async fn verify_code(state: &AppState, token: &str, input: CodeInput) -> ApiResult<Verified> {
    let code = sms::parse_code(&input.code).ok_or_else(|| {
        ApiError::from(
            DomainError::new(
                ErrorCode::InvalidCode,
                "The code is the 6 digits in the SMS.",
            )
            .on("code"),
        )
    })?;
    let mut tx = state.store.begin().await?;
    let link = live_link(&mut tx, token).await?;
    let now = now_ms();
    let ok = store::consume_code(
        &mut tx,
        &link.id,
        &code_hash(&link.id, &code),
        sms::MAX_ATTEMPTS,
        now,
    )
    .await?;
    if !ok {
        tx.commit().await.map_err(ApiError::internal)?;
        return Err(ApiError::bad_request(
            ErrorCode::WrongCode,
            "The code is wrong, already used or expired; ask for a new code.",
        ));
    }
    let grant = new_token();
    let expires_at = now + sms::VIEW_TTL_MS;
    store::insert_view_grant(
        &mut tx,
        &token_hash(&grant),
        &link.study_id,
        &link.patient_id,
        expires_at,
    )
    .await?;
    let study = store::study_by_id(&mut tx, &link.study_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    audit::record(
        &mut tx,
        &audit::AuditEntry {
            actor_id: None,
            actor_roles: "sms_link",
            action: "imaging.link_verified",
            subject_type: "imaging_study",
            subject_id: &study.id,
            ground: "sms_verified_link",
            org_id: Some(&study.org_id),
            request_id: None,
        },
    )
    .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(Verified {
        study_uid: study.study_uid,
        grant,
        expires_at,
    })
}

/// Resolve a view grant token to a reader.
pub async fn grant_reader(state: &AppState, grant: &str) -> ApiResult<Option<Reader>> {
    let mut conn = state.store.conn().await?;
    Ok(store::view_grant(&mut conn, &token_hash(grant), now_ms())
        .await?
        .map(|(study_id, patient_id)| Reader::Grant {
            study_id,
            patient_id,
        }))
}

/// The study a link opens (its UID), without authorising anything.
pub async fn link_study_uid(state: &AppState, token: &str) -> ApiResult<String> {
    let mut conn = state.store.conn().await?;
    let link = live_link(&mut conn, token).await?;
    Ok(store::study_by_id(&mut conn, &link.study_id)
        .await?
        .ok_or_else(ApiError::not_found)?
        .study_uid)
}

// -------------------------------------------------------------- consents

#[derive(Debug, Deserialize, ToSchema)]
pub struct ConsentInput {
    /// The practitioner (account id) who may see the images.
    pub grantee_id: String,
    /// One study; omit to share all studies of `patient_id`.
    pub study_uid: Option<String>,
    /// The patient (self or a child in your care); defaults to yourself.
    pub patient_id: Option<String>,
    /// How long the consent lasts, 1 to 365 days.
    pub days: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentView {
    pub id: String,
    pub patient_id: String,
    pub study_id: Option<String>,
    pub grantee_id: String,
    pub grantee_name: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub active: bool,
}

fn consent_view(c: store::ConsentRow, now: i64) -> ConsentView {
    ConsentView {
        active: ihos_domain::imaging::consent_active(c.expires_at, c.revoked_at, now),
        id: c.id,
        patient_id: c.patient_id,
        study_id: c.study_id,
        grantee_id: c.grantee_id,
        grantee_name: c.grantee_name,
        created_at: c.created_at,
        expires_at: c.expires_at,
        revoked_at: c.revoked_at,
    }
}

/// A patient (or guardian) authorises a practitioner to see their images.
pub async fn grant_consent(
    state: &AppState,
    caller: &Caller,
    input: ConsentInput,
) -> ApiResult<ConsentView> {
    let days = consent_days(input.days)?;
    let mut tx = state.store.begin().await?;
    let own = identity::patient_of_account(&mut tx, &caller.account_id).await?;
    let children = identity::dependants_of(&mut tx, &caller.account_id).await?;
    let mine = |pid: &str| {
        own.as_ref().is_some_and(|p| p.id == pid) || children.iter().any(|c| c.id == pid)
    };
    let (patient_id, study_id) = match &input.study_uid {
        Some(uid) => {
            let v = store::study_for(&mut tx, uid, &caller.account_id, now_ms())
                .await?
                .filter(|v| v.is_self == 1 || v.is_guardian == 1)
                .ok_or_else(ApiError::not_found)?;
            let pid = v.study.patient_id.clone().ok_or_else(ApiError::not_found)?;
            (pid, Some(v.study.id))
        }
        None => {
            let pid = match &input.patient_id {
                Some(p) if mine(p) => p.clone(),
                Some(_) => return Err(ApiError::not_found()),
                None => own.as_ref().map(|p| p.id.clone()).ok_or_else(|| {
                    ApiError::bad_request(
                        ErrorCode::PatientRequired,
                        "Name the patient (patient_id) whose images you share.",
                    )
                })?,
            };
            (pid, None)
        }
    };
    if identity::practitioner(&mut tx, &input.grantee_id)
        .await?
        .is_none()
    {
        return Err(DomainError::new(
            ErrorCode::UnknownPractitioner,
            "Images are shared only with a registered practitioner; check the doctor's id.",
        )
        .on("grantee_id")
        .into());
    }
    let expires_at = now_ms() + days * 24 * 3600 * 1000;
    let id = store::insert_consent(
        &mut tx,
        &patient_id,
        study_id.as_deref(),
        &input.grantee_id,
        &caller.account_id,
        expires_at,
    )
    .await?;
    caller
        .audit(
            &mut tx,
            "imaging.consent_grant",
            "patient",
            &patient_id,
            if own.as_ref().is_some_and(|p| p.id == patient_id) {
                "self"
            } else {
                "guardian"
            },
            None,
        )
        .await?;
    let row = store::consents_of(&mut tx, &caller.account_id)
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(|| ApiError::internal("consent vanished"))?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(consent_view(row, now_ms()))
}

pub async fn revoke_consent(state: &AppState, caller: &Caller, id: &str) -> ApiResult<()> {
    let mut tx = state.store.begin().await?;
    let patient_id = store::revoke_consent(&mut tx, id, &caller.account_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    caller
        .audit(
            &mut tx,
            "imaging.consent_revoke",
            "patient",
            &patient_id,
            "self",
            None,
        )
        .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(())
}

pub async fn my_consents(state: &AppState, caller: &Caller) -> ApiResult<Vec<ConsentView>> {
    let mut conn = state.store.conn().await?;
    let now = now_ms();
    Ok(store::consents_of(&mut conn, &caller.account_id)
        .await?
        .into_iter()
        .map(|c| consent_view(c, now))
        .collect())
}

// ------------------------------------------------------------- review

#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewItem {
    pub study_uid: String,
    pub patient_name: String,
    pub patient_id_shown: String,
    pub study_date: String,
    pub modalities: String,
    pub link_issue: Option<String>,
}

/// Studies of the caller's organisations waiting to be linked to a patient.
pub async fn review_queue(state: &AppState, caller: &Caller) -> ApiResult<Vec<ReviewItem>> {
    let mut conn = state.store.conn().await?;
    Ok(store::review_queue(&mut conn, &caller.account_id)
        .await?
        .into_iter()
        .map(|s| ReviewItem {
            study_uid: s.study_uid,
            patient_name: s.dicom_patient_name,
            patient_id_shown: s.dicom_patient_id,
            study_date: s.study_date,
            modalities: s.modalities,
            link_issue: s.link_issue,
        })
        .collect())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LinkInput {
    /// The patient's resident ID number, as checked by a person.
    pub resident_id: String,
}

/// Staff link a study in review to a registered patient.
pub async fn link_to_patient(
    state: &AppState,
    caller: &Caller,
    study_uid: &str,
    input: LinkInput,
) -> ApiResult<()> {
    let rid = ResidentId::parse(&input.resident_id)?;
    let mut tx = state.store.begin().await?;
    let queue = store::review_queue(&mut tx, &caller.account_id).await?;
    let study = queue
        .into_iter()
        .find(|s| s.study_uid == study_uid)
        .ok_or_else(ApiError::not_found)?;
    let hash = state.vault.blind_index("resident_id", rid.as_str());
    let (patient_id, _) = store::patient_by_resident_hash(&mut tx, &hash)
        .await?
        .ok_or_else(|| {
            ApiError::from(
                DomainError::new(
                    ErrorCode::UnknownPatient,
                    "No registered patient has this resident ID number.",
                )
                .on("resident_id"),
            )
        })?;
    if !store::link_study(&mut tx, &study.id, &patient_id).await? {
        return Err(ApiError::not_found());
    }
    caller
        .audit(
            &mut tx,
            "imaging.link_patient",
            "imaging_study",
            &study.id,
            "performing_org",
            Some(&study.org_id),
        )
        .await?;
    tx.commit().await.map_err(ApiError::internal)?;
    Ok(())
}
