//! Real-name identity: resident ID numbers, phone numbers, names, passwords,
//! roles and practitioner credentials.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::{DomainError, ErrorCode};

const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK_CHARS: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// An 18-character resident identity number (GB 11643-1999): region, birth
/// date, sequence and an ISO 7064 MOD 11-2 check character.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ResidentId(String);

impl ResidentId {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let id = raw.trim().to_ascii_uppercase();
        let err = |m: &str| DomainError::new(ErrorCode::InvalidResidentId, m).on("resident_id");
        if id.chars().count() != 18 {
            return Err(err("A resident ID number has 18 characters."));
        }
        let bytes = id.as_bytes();
        if !bytes[..17].iter().all(u8::is_ascii_digit) {
            return Err(err(
                "The first 17 characters of a resident ID number are digits.",
            ));
        }
        if !(bytes[17].is_ascii_digit() || bytes[17] == b'X') {
            return Err(err(
                "The last character of a resident ID number is a digit or X.",
            ));
        }
        if birth_date_of(&id).is_none() {
            return Err(err(
                "Characters 7-14 of the resident ID number are not a valid birth date.",
            ));
        }
        if check_char(&id[..17]) != char::from(bytes[17]) {
            return Err(err(
                "The check digit of the resident ID number does not match; please check the number for a typing error.",
            ));
        }
        Ok(Self(id))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn birth_date(&self) -> NaiveDate {
        // parse() guarantees a valid date.
        birth_date_of(&self.0).unwrap_or_default()
    }

    pub fn is_male(&self) -> bool {
        self.0.as_bytes()[16] % 2 == 1
    }

    /// "110105********002X": region and last four stay, the birth date is hidden.
    pub fn masked(&self) -> String {
        mask_resident_id(&self.0)
    }
}

impl std::fmt::Debug for ResidentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ResidentId({})", self.masked())
    }
}

/// The check character for the first 17 digits of a resident ID number.
pub fn check_char(first17: &str) -> char {
    let sum: u32 = first17
        .bytes()
        .zip(ID_WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    ID_CHECK_CHARS[(sum % 11) as usize]
}

fn birth_date_of(id: &str) -> Option<NaiveDate> {
    let y = id.get(6..10)?.parse().ok()?;
    let m = id.get(10..12)?.parse().ok()?;
    let d = id.get(12..14)?.parse().ok()?;
    let date = NaiveDate::from_ymd_opt(y, m, d)?;
    (y >= 1880).then_some(date)
}

pub fn mask_resident_id(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() < 10 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..6].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 10))
}

/// Full years between `birth` and `on`.
pub fn age_on(birth: NaiveDate, on: NaiveDate) -> u32 {
    let mut years = on.year() - birth.year();
    if (on.month(), on.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    years.max(0) as u32
}

/// A mainland China mobile number, 11 digits starting 13-19.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let digits: String = raw
            .trim()
            .trim_start_matches("+86")
            .chars()
            .filter(|c| !matches!(c, ' ' | '-'))
            .collect();
        let b = digits.as_bytes();
        let ok = b.len() == 11
            && b.iter().all(u8::is_ascii_digit)
            && b[0] == b'1'
            && (b'3'..=b'9').contains(&b[1]);
        if !ok {
            return Err(DomainError::new(
                ErrorCode::InvalidPhone,
                "A mobile number has 11 digits and starts with 13-19.",
            )
            .on("phone"));
        }
        Ok(Self(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// "138****0000"
    pub fn masked(&self) -> String {
        mask_phone(&self.0)
    }
}

impl std::fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

pub fn mask_phone(phone: &str) -> String {
    if phone.len() != 11 || !phone.is_ascii() {
        return "*".repeat(phone.chars().count());
    }
    format!("{}****{}", &phone[..3], &phone[7..])
}

/// A person's real name as on the identity card (Chinese or Latin letters,
/// the middle dot of minority names allowed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealName(String);

impl RealName {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let name = raw.trim();
        let n = name.chars().count();
        let err = |m: &str| DomainError::new(ErrorCode::InvalidName, m).on("name");
        if !(2..=30).contains(&n) {
            return Err(err("A real name has 2 to 30 characters."));
        }
        if !name
            .chars()
            .all(|c| c.is_alphabetic() || matches!(c, '·' | '•' | ' ' | '.'))
        {
            return Err(err(
                "A real name holds letters only (no digits or symbols).",
            ));
        }
        Ok(Self(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password that meets the policy. The plain text never leaves this type
/// except to be hashed.
pub struct Password(String);

impl Password {
    pub const MIN_LEN: usize = 8;

    pub fn parse(raw: &str, phone: Option<&PhoneNumber>) -> Result<Self, DomainError> {
        let err = |m: &str| DomainError::new(ErrorCode::WeakPassword, m).on("password");
        if raw.chars().count() < Self::MIN_LEN || raw.len() > 128 {
            return Err(err("A password has 8 to 128 characters."));
        }
        let has_letter = raw.chars().any(|c| c.is_alphabetic());
        let has_digit = raw.chars().any(|c| c.is_ascii_digit());
        if !has_letter || !has_digit {
            return Err(err("A password mixes letters and digits."));
        }
        if let Some(p) = phone
            && raw.contains(&p.as_str()[3..])
        {
            return Err(err("A password must not contain your phone number."));
        }
        let lower = raw.to_lowercase();
        if ["password", "12345678", "qwerty", "abc12345", "iloveyou"]
            .iter()
            .any(|w| lower.contains(w))
        {
            return Err(err("This password is too common; choose another."));
        }
        Ok(Self(raw.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Patient,
    Doctor,
    Pharmacist,
    Nurse,
    OrgAdmin,
    ConsortiumAdmin,
    Regulator,
    PlatformAdmin,
}

impl Role {
    pub const ALL: [Role; 8] = [
        Role::Patient,
        Role::Doctor,
        Role::Pharmacist,
        Role::Nurse,
        Role::OrgAdmin,
        Role::ConsortiumAdmin,
        Role::Regulator,
        Role::PlatformAdmin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Patient => "patient",
            Role::Doctor => "doctor",
            Role::Pharmacist => "pharmacist",
            Role::Nurse => "nurse",
            Role::OrgAdmin => "org_admin",
            Role::ConsortiumAdmin => "consortium_admin",
            Role::Regulator => "regulator",
            Role::PlatformAdmin => "platform_admin",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| DomainError::new(ErrorCode::InvalidRole, format!("Unknown role '{s}'.")))
    }

    pub fn is_practitioner(self) -> bool {
        matches!(self, Role::Doctor | Role::Pharmacist | Role::Nurse)
    }
}

/// Professional title of a practitioner (职称).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Title {
    ChiefPhysician,
    AssociateChiefPhysician,
    AttendingPhysician,
    Resident,
    ChiefPharmacist,
    SeniorPharmacist,
    Pharmacist,
    ChiefNurse,
    SeniorNurse,
    Nurse,
}

impl Title {
    pub const ALL: [Title; 10] = [
        Title::ChiefPhysician,
        Title::AssociateChiefPhysician,
        Title::AttendingPhysician,
        Title::Resident,
        Title::ChiefPharmacist,
        Title::SeniorPharmacist,
        Title::Pharmacist,
        Title::ChiefNurse,
        Title::SeniorNurse,
        Title::Nurse,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Title::ChiefPhysician => "chief_physician",
            Title::AssociateChiefPhysician => "associate_chief_physician",
            Title::AttendingPhysician => "attending_physician",
            Title::Resident => "resident",
            Title::ChiefPharmacist => "chief_pharmacist",
            Title::SeniorPharmacist => "senior_pharmacist",
            Title::Pharmacist => "pharmacist",
            Title::ChiefNurse => "chief_nurse",
            Title::SeniorNurse => "senior_nurse",
            Title::Nurse => "nurse",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Title::ChiefPhysician => "主任医师",
            Title::AssociateChiefPhysician => "副主任医师",
            Title::AttendingPhysician => "主治医师",
            Title::Resident => "住院医师",
            Title::ChiefPharmacist => "主任药师",
            Title::SeniorPharmacist => "主管药师",
            Title::Pharmacist => "药师",
            Title::ChiefNurse => "主任护师",
            Title::SeniorNurse => "主管护师",
            Title::Nurse => "护师",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s || t.label_zh() == s)
            .ok_or_else(|| {
                DomainError::new(ErrorCode::InvalidTitle, format!("Unknown title '{s}'."))
                    .on("title")
            })
    }

    /// The practitioner role a title belongs to.
    pub fn role(self) -> Role {
        match self {
            Title::ChiefPhysician
            | Title::AssociateChiefPhysician
            | Title::AttendingPhysician
            | Title::Resident => Role::Doctor,
            Title::ChiefPharmacist | Title::SeniorPharmacist | Title::Pharmacist => {
                Role::Pharmacist
            }
            Title::ChiefNurse | Title::SeniorNurse | Title::Nurse => Role::Nurse,
        }
    }
}

/// A practising licence number (执业证书编码): letters and digits, 6-30 long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenceNumber(String);

impl LicenceNumber {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let s = raw.trim();
        if !(6..=30).contains(&s.len()) || !s.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(DomainError::new(
                ErrorCode::InvalidLicence,
                "A licence number has 6 to 30 letters or digits.",
            )
            .on("licence_no"));
        }
        Ok(Self(s.to_ascii_uppercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Online practice requires at least this many full years of independent practice.
pub const MIN_YEARS_FOR_ONLINE_PRACTICE: u32 = 3;

pub fn years_of_practice(practising_since: NaiveDate, today: NaiveDate) -> u32 {
    age_on(practising_since, today)
}

pub fn may_practise_online(practising_since: NaiveDate, today: NaiveDate) -> bool {
    years_of_practice(practising_since, today) >= MIN_YEARS_FOR_ONLINE_PRACTICE
}

/// Age below which a patient is a minor who may be linked to a guardian.
pub const ADULT_AGE: u32 = 18;

#[cfg(test)]
mod tests {
    use super::*;

    fn valid_id(first17: &str) -> String {
        format!("{first17}{}", check_char(first17))
    }

    #[test]
    fn accepts_the_published_example_id() {
        let id = ResidentId::parse("11010519491231002X").unwrap();
        assert_eq!(
            id.birth_date(),
            NaiveDate::from_ymd_opt(1949, 12, 31).unwrap()
        );
        assert!(!id.is_male());
        assert_eq!(id.masked(), "110105********002X");
    }

    #[test]
    fn lower_case_x_is_accepted() {
        assert!(ResidentId::parse("11010519491231002x").is_ok());
    }

    #[test]
    fn wrong_check_digit_is_refused_with_a_clear_code() {
        let e = ResidentId::parse("110105194912310021").unwrap_err();
        assert_eq!(e.code, "invalid_resident_id");
        assert!(e.message.contains("check digit"));
    }

    #[test]
    fn impossible_birth_date_is_refused() {
        let id = valid_id("11010519990230123");
        let e = ResidentId::parse(&id).unwrap_err();
        assert!(e.message.contains("birth date"));
    }

    #[test]
    fn wrong_length_and_letters_are_refused() {
        assert!(ResidentId::parse("1101051949123100").is_err());
        assert!(ResidentId::parse("1101051949123A002X").is_err());
    }

    #[test]
    fn every_single_digit_typo_is_caught() {
        let good = valid_id("32010619870512341");
        for pos in 0..17 {
            for d in b'0'..=b'9' {
                let mut b = good.clone().into_bytes();
                if b[pos] == d {
                    continue;
                }
                b[pos] = d;
                let typo = String::from_utf8(b).unwrap();
                assert!(ResidentId::parse(&typo).is_err(), "{typo} accepted");
            }
        }
    }

    #[test]
    fn ages_are_counted_in_full_years() {
        let birth = NaiveDate::from_ymd_opt(2020, 6, 15).unwrap();
        assert_eq!(
            age_on(birth, NaiveDate::from_ymd_opt(2026, 6, 14).unwrap()),
            5
        );
        assert_eq!(
            age_on(birth, NaiveDate::from_ymd_opt(2026, 6, 15).unwrap()),
            6
        );
    }

    #[test]
    fn phone_numbers_are_normalised_and_masked() {
        let p = PhoneNumber::parse("+86 138-0013-8000").unwrap();
        assert_eq!(p.as_str(), "13800138000");
        assert_eq!(p.masked(), "138****8000");
        assert_eq!(format!("{p:?}"), "PhoneNumber(138****8000)");
        assert!(PhoneNumber::parse("12800138000").is_err());
        assert!(PhoneNumber::parse("1380013800").is_err());
    }

    #[test]
    fn names_refuse_digits() {
        assert!(RealName::parse("张三").is_ok());
        assert!(RealName::parse("阿依古丽·买买提").is_ok());
        assert_eq!(RealName::parse("张3").unwrap_err().code, "invalid_name");
        assert!(RealName::parse("张").is_err());
    }

    #[test]
    fn weak_passwords_are_refused() {
        let phone = PhoneNumber::parse("13800138000").unwrap();
        assert!(Password::parse("short1", None).is_err());
        assert!(Password::parse("onlyletters", None).is_err());
        assert!(Password::parse("12345678901", None).is_err());
        assert!(Password::parse("Password123", None).is_err());
        assert!(Password::parse("ab00138000x", Some(&phone)).is_err());
        assert!(Password::parse("Zhang-2026-hz", Some(&phone)).is_ok());
        assert_eq!(
            format!("{:?}", Password::parse("Zhang-2026-hz", None).unwrap()),
            "Password(***)"
        );
    }

    #[test]
    fn three_years_of_independent_practice_allow_online_work() {
        let since = NaiveDate::from_ymd_opt(2023, 11, 26).unwrap();
        assert!(!may_practise_online(
            since,
            NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
        ));
        assert!(may_practise_online(
            since,
            NaiveDate::from_ymd_opt(2026, 11, 26).unwrap()
        ));
    }

    #[test]
    fn titles_parse_from_code_or_chinese_label() {
        assert_eq!(Title::parse("主任医师").unwrap(), Title::ChiefPhysician);
        assert_eq!(
            Title::parse("attending_physician").unwrap().role(),
            Role::Doctor
        );
        assert_eq!(Title::parse("主管药师").unwrap().role(), Role::Pharmacist);
        assert!(Title::parse("教授").is_err());
    }
}
