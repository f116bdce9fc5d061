//! Audit entries, built in one place: who (the caller, or the system for
//! jobs), their roles and request id, what they did to which subject, and
//! on what ground. Ids only, never patient data.

use ihos_store::AnyConnection;
use ihos_store::audit::{self, AuditEntry};

use crate::auth::Caller;
use crate::error::ApiResult;

/// Write one audit entry; `caller` is `None` for work the system does on
/// its own (a job expiring a request).
pub async fn record(
    conn: &mut AnyConnection,
    caller: Option<&Caller>,
    action: &str,
    subject_type: &str,
    subject_id: &str,
    ground: &str,
    org_id: Option<&str>,
) -> ApiResult<()> {
    let roles = caller.map_or_else(|| "system".to_string(), Caller::roles_label);
    audit::record(
        conn,
        &AuditEntry {
            actor_id: caller.map(|c| c.account_id.as_str()),
            actor_roles: &roles,
            action,
            subject_type,
            subject_id,
            ground,
            org_id,
            request_id: caller.and_then(|c| c.request_id.as_deref()),
        },
    )
    .await?;
    Ok(())
}

impl Caller {
    /// Audit what this caller did, in the caller's transaction.
    pub async fn audit(
        &self,
        conn: &mut AnyConnection,
        action: &str,
        subject_type: &str,
        subject_id: &str,
        ground: &str,
        org_id: Option<&str>,
    ) -> ApiResult<()> {
        record(
            conn,
            Some(self),
            action,
            subject_type,
            subject_id,
            ground,
            org_id,
        )
        .await
    }
}
