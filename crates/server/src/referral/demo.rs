//! Demo data for the consortium: CT/MRI privileges for the radiologist,
//! exam slots, two wards, one closed referral loop (孙婷, 吴静 ⇄ 王建国), one
//! CT request waiting for the radiologist and a remote consultation waiting
//! for the cardiologist. Goes through the same services as the API.

use chrono::Duration;
use ihos_domain::Role;
use ihos_domain::referral::Action;
use ihos_store::identity;

use super::consortium::{self, ExamSlotInput, PrivilegeInput, RemoteConsultInput, WardInput};
use super::service::{self, NewReferralInput, StepInput};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

async fn caller_by_phone(state: &AppState, phone: &str) -> ApiResult<Caller> {
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

pub async fn load(state: &AppState) -> ApiResult<()> {
    let hospital_admin = caller_by_phone(state, "13900000101").await?;
    let hospital = hospital_admin
        .scopes(Role::OrgAdmin)
        .next()
        .map(str::to_string)
        .ok_or_else(ApiError::not_found)?;
    let cardiologist = caller_by_phone(state, "13800000001").await?;
    let radiologist = caller_by_phone(state, "13800000005").await?;
    let gp_hubin = caller_by_phone(state, "13800000006").await?;
    let gp_wangjiang = caller_by_phone(state, "13800000007").await?;
    let mut conn = state.store.conn().await?;
    let sun_ting = identity::patient_of_account(
        &mut conn,
        &caller_by_phone(state, "13700000003").await?.account_id,
    )
    .await?
    .ok_or_else(ApiError::not_found)?;
    let lin = identity::patient_of_account(
        &mut conn,
        &caller_by_phone(state, "13700000001").await?.account_id,
    )
    .await?
    .ok_or_else(ApiError::not_found)?;
    drop(conn);

    for exam in ["ct", "mri"] {
        consortium::grant_privilege(
            state,
            &hospital_admin,
            &radiologist.account_id,
            PrivilegeInput {
                exam_type: exam.into(),
            },
        )
        .await?;
    }
    let today = crate::clock::today_in_shanghai();
    for day in 1..=7 {
        let date = (today + Duration::days(day)).format("%Y-%m-%d").to_string();
        for (exam, start) in [("ct", "09:00"), ("ct", "14:00"), ("mri", "10:00")] {
            consortium::add_exam_slot(
                state,
                &hospital_admin,
                &hospital,
                ExamSlotInput {
                    exam_type: exam.into(),
                    date: date.clone(),
                    start: start.into(),
                    minutes: Some(30),
                    capacity: 4,
                },
            )
            .await?;
        }
    }
    for (name, beds) in [("心内科一病区", 30), ("呼吸与危重症医学科病区", 20)] {
        consortium::add_ward(
            state,
            &hospital_admin,
            &hospital,
            WardInput {
                name: name.into(),
                beds,
                department_id: None,
            },
        )
        .await?;
    }

    // A closed loop: up from 望江 to the cardiologist and back down.
    let r = service::create(
        state,
        &gp_wangjiang,
        NewReferralInput {
            patient_id: Some(sun_ting.id.clone()),
            to_org_id: hospital.clone(),
            to_doctor_id: Some(cardiologist.account_id.clone()),
            reason: "反复心悸，需专科评估".into(),
            summary: "32岁女性，阵发心悸3月，社区心电图示窦性心动过速。".into(),
            ..Default::default()
        },
    )
    .await?;
    let steps = [
        (Action::Accept, StepInput::default()),
        (Action::MarkSeen, StepInput::default()),
        (
            Action::ReturnResults,
            StepInput {
                results: Some("24小时动态心电图：窦性心律，偶发房早；甲功正常。".into()),
                ..Default::default()
            },
        ),
        (
            Action::ReferDown,
            StepInput {
                follow_up_plan: Some(
                    "避免浓茶咖啡；症状加重随时复诊；3个月后社区复查心电图。".into(),
                ),
                ..Default::default()
            },
        ),
    ];
    for (action, input) in steps {
        service::step(state, &cardiologist, &r.id, action, input).await?;
    }
    service::step(
        state,
        &gp_wangjiang,
        &r.id,
        Action::Close,
        StepInput::default(),
    )
    .await?;

    // A CT request waiting for the radiologist.
    service::create(
        state,
        &gp_wangjiang,
        NewReferralInput {
            kind: Some("exam".into()),
            exam_type: Some("ct".into()),
            patient_id: Some(sun_ting.id.clone()),
            to_org_id: hospital.clone(),
            to_doctor_id: Some(radiologist.account_id.clone()),
            reason: "胸闷气短，排除肺栓塞".into(),
            summary: "D-二聚体升高，社区无CT开单权限。".into(),
            ..Default::default()
        },
    )
    .await?;

    // A remote consultation waiting for the cardiologist.
    consortium::ask_expert(
        state,
        &gp_hubin,
        RemoteConsultInput {
            patient_id: Some(lin.id.clone()),
            resident_id: None,
            expert_id: cardiologist.account_id.clone(),
            question: "血压控制欠佳，是否需要调整为联合用药？".into(),
            study_ids: Vec::new(),
            records: Some("近两周家庭血压150-165/90-100mmHg，现服氨氯地平5mg qd。".into()),
        },
    )
    .await?;
    Ok(())
}
