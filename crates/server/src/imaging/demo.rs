//! Demo imaging: a chest CT of the demo patient with a signed report (an
//! SMS link is queued for her), and a study whose patient is not
//! registered, waiting in the review queue.

use ihos_domain::Role;
use ihos_store::identity;

use super::dicom::{Synth, new_uid, synth_ct};
use super::service::{self, ReportInput};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The demo radiologist's licence number (黄丽华, 医学影像科).
pub const RADIOLOGIST_LICENCE: &str = "110330100000005";

pub async fn load(state: &AppState, patient_name: &str, resident_id: &str) -> ApiResult<()> {
    let mut conn = state.store.conn().await?;
    let Some(rad) = identity::practitioner_by_licence(&mut conn, RADIOLOGIST_LICENCE).await? else {
        return Err(ApiError::internal("demo radiologist missing"));
    };
    drop(conn);
    let radiologist = Caller {
        account_id: rad.account_id,
        display_name: rad.name,
        grants: vec![(Role::Doctor, String::new())],
        request_id: None,
    };
    let study = |pid: &str, name: &str, acc: &str, n: i64| {
        let (study_uid, series_uid) = (new_uid(), new_uid());
        (1..=n)
            .map(|i| {
                bytes::Bytes::from(synth_ct(&Synth {
                    study_uid: study_uid.clone(),
                    series_uid: series_uid.clone(),
                    sop_uid: new_uid(),
                    patient_id: pid.into(),
                    patient_name: name.into(),
                    study_date: "20261118".into(),
                    accession_number: acc.into(),
                    modality: "CT".into(),
                    series_number: 1,
                    instance_number: i,
                    size: 128,
                }))
            })
            .collect::<Vec<_>>()
    };
    let out = service::stow(
        state,
        &radiologist,
        None,
        None,
        Some("demo-exam-ct-001"),
        study(resident_id, patient_name, "CT20261118001", 12),
    )
    .await?;
    let Some(service::PartOutcome::Stored { study_uid, .. }) = out.into_iter().next() else {
        return Err(ApiError::internal("demo CT was not stored"));
    };
    service::write_report(
        state,
        &radiologist,
        &study_uid,
        ReportInput {
            findings: "双肺纹理清晰，右肺上叶见一直径约4mm磨玻璃结节，边界清。纵隔未见肿大淋巴结，心影大小正常。".into(),
            impression: "右肺上叶微小磨玻璃结节，建议12个月后复查胸部CT。".into(),
            sign: true,
        },
    )
    .await?;
    service::stow(
        state,
        &radiologist,
        None,
        None,
        None,
        study("MRN-0099812", "Wang^Fang", "CT20261118002", 4),
    )
    .await?;
    Ok(())
}
