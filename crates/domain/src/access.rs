//! Who may read a patient's records, and on what ground. The ground is
//! written to the audit log with every read.

use crate::{DomainError, ErrorCode, Role};

/// What the platform knows about the reader's relationship to the patient.
#[derive(Debug, Default, Clone)]
pub struct Relationship {
    pub is_self: bool,
    pub is_guardian: bool,
    /// The reader is a practitioner with an active care relationship
    /// (consultation, referral, follow-up plan) with the patient.
    pub is_treating: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessGround {
    SelfAccess,
    Guardian,
    Treating,
    Supervision,
}

impl AccessGround {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessGround::SelfAccess => "self",
            AccessGround::Guardian => "guardian",
            AccessGround::Treating => "treating_practitioner",
            AccessGround::Supervision => "regulator_supervision",
        }
    }
}

/// Decide whether a reader holding `roles` may read the patient's record.
/// Admin roles manage organisations and staff, not patient records.
pub fn patient_read_ground(
    roles: &[Role],
    rel: &Relationship,
) -> Result<AccessGround, DomainError> {
    if rel.is_self {
        return Ok(AccessGround::SelfAccess);
    }
    if rel.is_guardian {
        return Ok(AccessGround::Guardian);
    }
    if rel.is_treating && roles.iter().any(|r| r.is_practitioner()) {
        return Ok(AccessGround::Treating);
    }
    if roles.contains(&Role::Regulator) {
        return Ok(AccessGround::Supervision);
    }
    Err(DomainError::new(ErrorCode::NotFound, "No such patient."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patient_reads_their_own_record() {
        let rel = Relationship {
            is_self: true,
            ..Default::default()
        };
        assert_eq!(
            patient_read_ground(&[Role::Patient], &rel),
            Ok(AccessGround::SelfAccess)
        );
    }

    #[test]
    fn a_guardian_reads_the_childs_record() {
        let rel = Relationship {
            is_guardian: true,
            ..Default::default()
        };
        assert_eq!(
            patient_read_ground(&[Role::Patient], &rel),
            Ok(AccessGround::Guardian)
        );
    }

    #[test]
    fn a_doctor_needs_a_care_relationship() {
        let none = Relationship::default();
        assert!(patient_read_ground(&[Role::Doctor], &none).is_err());
        let treating = Relationship {
            is_treating: true,
            ..Default::default()
        };
        assert_eq!(
            patient_read_ground(&[Role::Doctor], &treating),
            Ok(AccessGround::Treating)
        );
    }

    #[test]
    fn admins_do_not_read_patient_records_and_refusal_looks_like_not_found() {
        for role in [Role::OrgAdmin, Role::ConsortiumAdmin, Role::PlatformAdmin] {
            let e = patient_read_ground(&[role], &Relationship::default()).unwrap_err();
            assert_eq!(e.code, "not_found");
        }
    }

    #[test]
    fn a_regulator_reads_for_supervision() {
        assert_eq!(
            patient_read_ground(&[Role::Regulator], &Relationship::default()),
            Ok(AccessGround::Supervision)
        );
    }
}
