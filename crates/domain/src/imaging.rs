//! Rules of cloud imaging (云胶片): who may see a study, how a study is
//! matched to a patient, consents for sharing and the SMS access code.

use crate::{DomainError, ErrorCode, Role};

/// What the platform knows about the reader's relationship to a study.
#[derive(Debug, Default, Clone)]
pub struct StudyRelationship {
    /// The study is the reader's own (linked to their patient record).
    pub is_self: bool,
    /// The study belongs to a child in the reader's care.
    pub is_guardian: bool,
    /// The reader practises at the organisation that took the images.
    pub at_performing_org: bool,
    /// The patient authorised the reader, and the consent is active now.
    pub has_active_consent: bool,
    /// The reader opened the study through an SMS-verified link.
    pub verified_link: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StudyGround {
    SelfAccess,
    Guardian,
    VerifiedLink,
    PerformingOrg,
    PatientConsent,
    Supervision,
}

impl StudyGround {
    pub fn as_str(self) -> &'static str {
        match self {
            StudyGround::SelfAccess => "self",
            StudyGround::Guardian => "guardian",
            StudyGround::VerifiedLink => "sms_verified_link",
            StudyGround::PerformingOrg => "performing_org",
            StudyGround::PatientConsent => "patient_consent",
            StudyGround::Supervision => "regulator_supervision",
        }
    }
}

/// Decide whether a reader may see a study. A practitioner elsewhere (e.g.
/// a community doctor) needs the patient's active consent; admins never read
/// images. A refusal looks like "not found".
pub fn study_read_ground(
    roles: &[Role],
    rel: &StudyRelationship,
) -> Result<StudyGround, DomainError> {
    let practitioner = roles.iter().any(|r| r.is_practitioner());
    if rel.is_self {
        return Ok(StudyGround::SelfAccess);
    }
    if rel.is_guardian {
        return Ok(StudyGround::Guardian);
    }
    if rel.verified_link {
        return Ok(StudyGround::VerifiedLink);
    }
    if practitioner && rel.at_performing_org {
        return Ok(StudyGround::PerformingOrg);
    }
    if practitioner && rel.has_active_consent {
        return Ok(StudyGround::PatientConsent);
    }
    if roles.contains(&Role::Regulator) {
        return Ok(StudyGround::Supervision);
    }
    Err(DomainError::new(ErrorCode::NotFound, "No such study."))
}

/// Why a study could not be linked to a patient automatically.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkIssue {
    /// Neither PatientID nor OtherPatientIDs is a valid resident ID number.
    NoResidentId,
    /// The resident ID number belongs to no registered patient.
    NoPatient,
    /// The patient exists but the name in the images differs.
    NameMismatch,
}

impl LinkIssue {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkIssue::NoResidentId => "no_resident_id",
            LinkIssue::NoPatient => "no_patient",
            LinkIssue::NameMismatch => "name_mismatch",
        }
    }
}

/// Does a DICOM person name (PN: `Family^Given=表意^名=phonetic`) name the
/// registered patient? Chinese names are compared on the ideographic group
/// or on a single group, without the component separators and spaces.
pub fn names_match(dicom_pn: &str, real_name: &str) -> bool {
    let norm = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_whitespace() && *c != '^')
            .flat_map(char::to_lowercase)
            .collect()
    };
    let want = norm(real_name);
    !want.is_empty() && dicom_pn.split('=').any(|group| norm(group) == want)
}

/// Consents last from one day to one year.
pub const CONSENT_MAX_DAYS: i64 = 365;

pub fn consent_days(days: i64) -> Result<i64, DomainError> {
    if (1..=CONSENT_MAX_DAYS).contains(&days) {
        Ok(days)
    } else {
        Err(DomainError::new(
            ErrorCode::InvalidConsentDays,
            format!("A consent lasts from 1 to {CONSENT_MAX_DAYS} days."),
        )
        .on("days"))
    }
}

/// A consent is active between its grant and its expiry, unless revoked.
pub fn consent_active(expires_at: i64, revoked_at: Option<i64>, now: i64) -> bool {
    revoked_at.is_none() && now < expires_at
}

/// SMS verification code rules.
pub mod sms {
    /// A code is valid for five minutes.
    pub const CODE_TTL_MS: i64 = 5 * 60 * 1000;
    /// Wrong guesses allowed per code before it is void.
    pub const MAX_ATTEMPTS: i64 = 5;
    /// At most one new code per link per minute ...
    pub const RESEND_INTERVAL_MS: i64 = 60 * 1000;
    /// ... and at most five per link per hour.
    pub const MAX_PER_HOUR: i64 = 5;
    /// A verified code lets the patient view the study for 30 minutes.
    pub const VIEW_TTL_MS: i64 = 30 * 60 * 1000;
    /// Links sent to patients stay valid for 30 days.
    pub const LINK_TTL_MS: i64 = 30 * 24 * 3600 * 1000;

    /// May another code be sent, given the send times of earlier codes for
    /// this link in the last hour? Answers the wait in seconds otherwise.
    pub fn may_send(recent: &[i64], now: i64) -> Result<(), i64> {
        let hour: Vec<i64> = recent
            .iter()
            .copied()
            .filter(|t| now - t < 3600 * 1000)
            .collect();
        if let Some(last) = hour.iter().max()
            && now - last < RESEND_INTERVAL_MS
        {
            return Err((RESEND_INTERVAL_MS - (now - last) + 999) / 1000);
        }
        if hour.len() as i64 >= MAX_PER_HOUR {
            let oldest = hour.iter().min().copied().unwrap_or(now);
            return Err((3600 * 1000 - (now - oldest) + 999) / 1000);
        }
        Ok(())
    }

    /// A code as typed by a person: six digits, surrounding spaces ignored.
    pub fn parse_code(input: &str) -> Option<String> {
        let t = input.trim();
        (t.len() == 6 && t.bytes().all(|b| b.is_ascii_digit())).then(|| t.to_string())
    }
}

/// A DICOM UID: 1 to 64 characters of digits and dots, no empty component.
pub fn valid_uid(uid: &str) -> bool {
    !uid.is_empty()
        && uid.len() <= 64
        && uid.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && uid.split('.').all(|c| !c.is_empty())
}

/// A QIDO date matcher: `YYYYMMDD`, `YYYYMMDD-YYYYMMDD`, `-YYYYMMDD` or
/// `YYYYMMDD-`. Answers the inclusive (from, to) bounds.
pub fn date_range(q: &str) -> Result<(Option<String>, Option<String>), DomainError> {
    let bad = || {
        DomainError::new(
            ErrorCode::InvalidDate,
            "StudyDate is YYYYMMDD or a range YYYYMMDD-YYYYMMDD (either side may be open).",
        )
        .on("StudyDate")
    };
    let date = |s: &str| -> Result<Option<String>, DomainError> {
        if s.is_empty() {
            Ok(None)
        } else if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Some(s.to_string()))
        } else {
            Err(bad())
        }
    };
    let q = q.trim();
    match q.split_once('-') {
        Some((a, b)) => {
            let (from, to) = (date(a)?, date(b)?);
            if from.is_none() && to.is_none() {
                return Err(bad());
            }
            Ok((from, to))
        }
        None => {
            let d = date(q)?.ok_or_else(bad)?;
            Ok((Some(d.clone()), Some(d)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_community_doctor_needs_an_active_consent() {
        let none = StudyRelationship::default();
        assert_eq!(
            study_read_ground(&[Role::Doctor], &none).unwrap_err().code,
            "not_found"
        );
        let consented = StudyRelationship {
            has_active_consent: true,
            ..Default::default()
        };
        assert_eq!(
            study_read_ground(&[Role::Doctor], &consented),
            Ok(StudyGround::PatientConsent)
        );
    }

    #[test]
    fn staff_of_the_performing_org_read_but_admins_do_not() {
        let rel = StudyRelationship {
            at_performing_org: true,
            ..Default::default()
        };
        assert_eq!(
            study_read_ground(&[Role::Doctor], &rel),
            Ok(StudyGround::PerformingOrg)
        );
        assert!(study_read_ground(&[Role::OrgAdmin], &rel).is_err());
        assert!(study_read_ground(&[Role::PlatformAdmin], &rel).is_err());
    }

    #[test]
    fn patients_read_their_own_and_a_verified_link_opens_one_study() {
        let own = StudyRelationship {
            is_self: true,
            ..Default::default()
        };
        assert_eq!(
            study_read_ground(&[Role::Patient], &own),
            Ok(StudyGround::SelfAccess)
        );
        let link = StudyRelationship {
            verified_link: true,
            ..Default::default()
        };
        assert_eq!(study_read_ground(&[], &link), Ok(StudyGround::VerifiedLink));
        assert!(study_read_ground(&[Role::Patient], &StudyRelationship::default()).is_err());
    }

    #[test]
    fn consents_end_at_expiry_or_revocation() {
        assert!(consent_active(1000, None, 999));
        assert!(!consent_active(1000, None, 1000));
        assert!(!consent_active(1000, Some(500), 600));
        assert!(consent_days(0).is_err());
        assert!(consent_days(366).is_err());
        assert_eq!(consent_days(30), Ok(30));
    }

    #[test]
    fn dicom_names_match_the_registered_name() {
        assert!(names_match("林秀英", "林秀英"));
        assert!(names_match("Lin^Xiuying=林^秀英", "林秀英"));
        assert!(names_match("LIN^XIUYING", "Lin Xiuying"));
        assert!(!names_match("王^芳", "林秀英"));
        assert!(!names_match("", "林秀英"));
        assert!(!names_match("林秀英", ""));
    }

    #[test]
    fn codes_are_rate_limited_per_minute_and_per_hour() {
        use sms::*;
        let now = 10 * 3600 * 1000;
        assert_eq!(may_send(&[], now), Ok(()));
        assert_eq!(may_send(&[now - 10_000], now), Err(50));
        let five: Vec<i64> = (1..=5).map(|i| now - i * 5 * 60 * 1000).collect();
        assert!(may_send(&five, now).is_err());
        let old: Vec<i64> = (1..=5).map(|i| now - 3600 * 1000 - i).collect();
        assert_eq!(may_send(&old, now), Ok(()));
        assert_eq!(parse_code(" 123456 "), Some("123456".into()));
        assert_eq!(parse_code("12345"), None);
        assert_eq!(parse_code("12345a"), None);
    }

    #[test]
    fn uids_and_dates_are_checked() {
        assert!(valid_uid("1.2.840.10008.5.1.4.1.1.2"));
        assert!(!valid_uid("1..2"));
        assert!(!valid_uid("../etc"));
        assert!(!valid_uid(&"1".repeat(65)));
        assert_eq!(
            date_range("20200101-20201231").unwrap(),
            (Some("20200101".into()), Some("20201231".into()))
        );
        assert_eq!(
            date_range("20200101").unwrap(),
            (Some("20200101".into()), Some("20200101".into()))
        );
        assert_eq!(
            date_range("-20200101").unwrap(),
            (None, Some("20200101".into()))
        );
        assert!(date_range("2020").is_err());
        assert!(date_range("-").is_err());
    }
}
