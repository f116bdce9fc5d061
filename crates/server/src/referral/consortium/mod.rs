//! The rest of the consortium: exam privileges and exam slots, wards and bed
//! reservation (beds never double-booked), remote consultation, and the
//! consortium dashboard of referrals.

use std::collections::BTreeMap;

use chrono::{NaiveTime, TimeZone};
use chrono_tz::Asia::Shanghai;
use ihos_domain::ErrorCode;
use ihos_domain::referral::{
    self as rules, BedAction, BedStatus, ExamType, Status, bed_transition, parse_text,
};
use ihos_domain::{DomainError, Role, parse_date};
use ihos_store::referral::{self as store, BedRequestRow};
use ihos_store::{AnyConnection, identity, imaging, now_ms, org};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::web::shanghai_time;

mod beds;
mod dashboard;
mod exam_slots;
mod privileges;
mod remote;
pub use beds::*;
pub use dashboard::*;
pub use exam_slots::*;
pub use privileges::*;
pub use remote::*;

fn opt(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Platform admins, or the org admin of `org_id`.
fn require_admin(caller: &Caller, org_id: &str) -> ApiResult<()> {
    if caller.may_admin_org(org_id) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "Only this organisation's admin may do this.",
        ))
    }
}
