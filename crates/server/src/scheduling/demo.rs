//! Demo schedules: the hospital's doctors publish weekly hours, the
//! cardiologist every day (an expert with a queue at 07:00), the others on
//! Monday, Wednesday and Friday mornings, and one evening of online hours.

use ihos_domain::Role;
use ihos_domain::Title;
use ihos_store::identity;

use super::service::{self, TemplateInput};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

pub async fn load(state: &AppState, admin: &Caller, org_id: &str) -> Result<(), ApiError> {
    let doctors = {
        let mut c = state.store.conn().await?;
        identity::practitioners_of_org(&mut c, org_id).await?
    };
    for d in doctors.iter().filter(|d| d.role == Role::Doctor.as_str()) {
        let (slot_type, fee_fen) = match Title::parse(&d.title) {
            Ok(Title::ChiefPhysician) => ("expert", 5000),
            Ok(Title::AssociateChiefPhysician) => ("specialist", 3000),
            _ => ("general", 1000),
        };
        let days: &[i64] = if d.name == "王建国" {
            &[1, 2, 3, 4, 5, 6, 7]
        } else {
            &[1, 3, 5]
        };
        for &weekday in days {
            let hours = TemplateInput {
                org_id: org_id.to_string(),
                department_id: None,
                weekday,
                start: "08:00".into(),
                end: "11:30".into(),
                slot_minutes: 15,
                capacity: 2,
                slot_type: slot_type.into(),
                fee_fen,
                mode: "offline".into(),
            };
            service::create_template(state, admin, &d.account_id, hours).await?;
        }
        if d.name == "李淑芬" {
            let evening = TemplateInput {
                org_id: org_id.to_string(),
                department_id: None,
                weekday: 2,
                start: "19:00".into(),
                end: "21:00".into(),
                slot_minutes: 10,
                capacity: 1,
                slot_type: "specialist".into(),
                fee_fen: 2000,
                mode: "online".into(),
            };
            service::create_template(state, admin, &d.account_id, evening).await?;
        }
    }
    Ok(())
}
