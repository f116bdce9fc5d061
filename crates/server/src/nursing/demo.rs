//! Demo data for home nursing and follow-up: the demo hospital's nursing
//! catalogue, 何美玲's verified qualifications, an assessment for 林秀英 (so
//! she can order a visit), and a hypertension follow-up plan from 李淑芬.
//! Goes through the same services as the API.

use ihos_domain::Role;
use ihos_store::identity;

use super::service::{self, AssessmentInput, NewServiceInput, QualificationsInput};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub async fn caller_by_phone(state: &AppState, phone: &str) -> ApiResult<Caller> {
    let mut conn = state.store.conn().await?;
    let acc = identity::account_by_phone_hash(&mut conn, &state.vault.blind_index("phone", phone))
        .await?
        .ok_or_else(ApiError::not_found)?;
    let grants = identity::roles_of(&mut conn, &acc.id)
        .await?
        .into_iter()
        .filter_map(|g| Role::parse(&g.role).ok().map(|r| (r, g.scope_id)))
        .collect::<Vec<_>>();
    Ok(Caller {
        account_id: acc.id,
        display_name: acc.display_name,
        grants,
        request_id: None,
    })
}

pub async fn load(state: &AppState, hospital_id: &str) -> ApiResult<()> {
    let org_admin = caller_by_phone(state, "13900000101").await?;
    let nurse = caller_by_phone(state, "13800000010").await?;
    let patient = caller_by_phone(state, "13700000001").await?;
    let endocrinologist = caller_by_phone(state, "13800000002").await?;

    let services = [
        (
            "wound_care",
            "伤口换药",
            "术后伤口、压疮、糖尿病足换药",
            12000,
            45,
            Some("wound_care"),
        ),
        (
            "picc_maintenance",
            "PICC导管维护",
            "冲封管、更换敷料及正压接头",
            15000,
            60,
            Some("picc"),
        ),
        (
            "catheter_care",
            "导尿管护理",
            "留置导尿管更换与护理",
            10000,
            45,
            Some("catheter"),
        ),
        (
            "perinatal_newborn",
            "母婴护理",
            "产后康复指导、新生儿沐浴、脐部护理、黄疸监测",
            20000,
            90,
            Some("maternal_newborn"),
        ),
        (
            "injection",
            "居家注射",
            "遵医嘱肌肉/皮下注射",
            6000,
            30,
            None,
        ),
    ];
    for (code, name, description, fee, minutes, qual) in services {
        service::add_service(
            state,
            &org_admin,
            hospital_id,
            NewServiceInput {
                code: code.into(),
                name: name.into(),
                description: description.into(),
                fee_fen: fee,
                duration_minutes: minutes,
                min_years: Some(5),
                required_qualification: qual.map(str::to_string),
            },
        )
        .await?;
    }
    service::set_qualifications(
        state,
        &org_admin,
        hospital_id,
        &nurse.account_id,
        QualificationsInput {
            qualifications: vec!["picc".into(), "wound_care".into(), "catheter".into()],
        },
    )
    .await?;
    let me = crate::identity::service::me(state, &patient).await?;
    if let Some(p) = me.patient {
        service::assess(
            state,
            &nurse,
            AssessmentInput {
                patient_id: p.id.clone(),
                org_id: hospital_id.into(),
                note: "上门评估：PICC置管后居家维护条件良好，可提供居家护理。".into(),
            },
        )
        .await?;
        crate::followup::service::assign(
            state,
            &endocrinologist,
            crate::followup::service::AssignPlanInput {
                patient_id: p.id,
                template: "hypertension".into(),
                occasion: "visit".into(),
                consultation_id: None,
            },
        )
        .await?;
    }
    Ok(())
}
