//! Who may read a study, and the audit of every read.

use super::*;

// --------------------------------------------------------- access and audit

pub(super) fn rel_of(v: &store::VisibleStudy, reader: &Reader) -> StudyRelationship {
    StudyRelationship {
        is_self: v.is_self == 1,
        is_guardian: v.is_guardian == 1,
        at_performing_org: v.at_org == 1,
        has_active_consent: v.consented == 1,
        verified_link: matches!(reader, Reader::Grant { study_id, .. } if *study_id == v.study.id),
    }
}

pub(super) fn roles_of(reader: &Reader) -> Vec<Role> {
    match reader {
        Reader::Account(c) => c.roles(),
        Reader::Grant { .. } => Vec::new(),
    }
}

pub(super) async fn record_access(
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
