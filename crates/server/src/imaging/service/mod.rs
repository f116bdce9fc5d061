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

mod access;
mod consents;
mod qido;
mod reports;
mod review;
mod sms_codes;
mod stow;
mod wado;
pub use access::*;
pub use consents::*;
pub use qido::*;
pub use reports::*;
pub use review::*;
pub use sms_codes::*;
pub use stow::*;
pub use wado::*;

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
