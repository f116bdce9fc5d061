//! QIDO-RS: searching studies, series and instances.

use super::*;

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

pub(super) fn nonempty(v: &Option<String>) -> Option<String> {
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

pub(super) fn int_attr(vr: &str, v: Option<i64>) -> Value {
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
