//! Demo data for online consultation: 林秀英's diabetes follow-up with
//! 李淑芬 in progress (with a few messages), 赵磊's son waiting in 陈晓东's
//! queue, and a family-doctor package. Goes through the same services as the
//! API, so it obeys the same rules.

use ihos_domain::Role;
use ihos_store::consultation::NewMessage;
use ihos_store::{identity, now_ms};

use super::service::{self, AcceptInput, EvidenceInput, NewConsultationInput, NewPackageInput};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

const RECORD: &[u8] = b"%PDF-1.4\n% demo outpatient record: type 2 diabetes, 2025-06-12\n";

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
    let patient = caller_by_phone(state, "13700000001").await?;
    let father = caller_by_phone(state, "13700000002").await?;
    let endocrinologist = caller_by_phone(state, "13800000002").await?;
    let paediatrician = caller_by_phone(state, "13800000003").await?;

    let record = service::upload(state, &patient, None, "application/pdf", RECORD).await?;
    let c = service::request(
        state,
        &patient,
        NewConsultationInput {
            patient_id: None,
            doctor_id: endocrinologist.account_id.clone(),
            department_id: None,
            complaint: "2型糖尿病复诊，最近空腹血糖偏高，口渴".into(),
            evidence: Some(EvidenceInput {
                kind: "outpatient_record".into(),
                reference: record.id,
                note: Some("2型糖尿病（2025年6月门诊确诊）".into()),
            }),
            guardian_present: false,
            subscription_id: None,
            appointment_id: None,
        },
    )
    .await?;
    service::accept(
        state,
        &endocrinologist,
        &c.id,
        AcceptInput { qualifies: true },
    )
    .await?;
    service::act(
        state,
        &endocrinologist,
        &c.id,
        ihos_domain::consultation::Action::Start,
        None,
    )
    .await?;
    let lines = [
        (&patient, "patient", "李医生您好，最近一周空腹血糖在8左右。"),
        (
            &endocrinologist,
            "doctor",
            "二甲双胍每天按时吃吗？饮食和运动怎么样？",
        ),
        (&patient, "patient", "药按时吃，晚饭后散步半小时。"),
    ];
    for (i, (who, role, text)) in lines.into_iter().enumerate() {
        super::chat::hub(state)
            .submit(NewMessage {
                consultation_id: c.id.clone(),
                sender_id: who.account_id.clone(),
                sender_role: role.into(),
                client_id: format!("demo-{i}"),
                kind: "text".into(),
                body: Some(text.into()),
                attachment_id: None,
                created_at: now_ms(),
            })
            .await?;
    }

    // A child under 6 with the father present, waiting for the paediatrician.
    let child = {
        let mut conn = state.store.conn().await?;
        identity::dependants_of(&mut conn, &father.account_id)
            .await?
            .into_iter()
            .next()
            .ok_or_else(ApiError::not_found)?
    };
    let record = service::upload(state, &father, None, "application/pdf", RECORD).await?;
    service::request(
        state,
        &father,
        NewConsultationInput {
            patient_id: Some(child.id),
            doctor_id: paediatrician.account_id.clone(),
            department_id: None,
            complaint: "孩子哮喘复诊，夜里偶尔咳嗽".into(),
            evidence: Some(EvidenceInput {
                kind: "discharge_record".into(),
                reference: record.id,
                note: Some("支气管哮喘".into()),
            }),
            guardian_present: true,
            subscription_id: None,
            appointment_id: None,
        },
    )
    .await?;

    service::create_package(
        state,
        &endocrinologist,
        NewPackageInput {
            name: "糖尿病家庭医生服务包（3个月）".into(),
            period_days: 90,
            consultations: 6,
            price_fen: 29_900,
        },
    )
    .await?;
    Ok(())
}
