//! Organisations, their levels and regions, and the 36 specialties of the
//! hospital internet influence index that every department maps to.

use serde::{Deserialize, Serialize};

use crate::{DomainError, ErrorCode};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    Hospital,
    CommunityHealthCentre,
    Pharmacy,
    Enterprise,
}

impl OrgKind {
    pub const ALL: [OrgKind; 4] = [
        OrgKind::Hospital,
        OrgKind::CommunityHealthCentre,
        OrgKind::Pharmacy,
        OrgKind::Enterprise,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrgKind::Hospital => "hospital",
            OrgKind::CommunityHealthCentre => "community_health_centre",
            OrgKind::Pharmacy => "pharmacy",
            OrgKind::Enterprise => "enterprise",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            OrgKind::Hospital => "医院",
            OrgKind::CommunityHealthCentre => "社区卫生服务中心",
            OrgKind::Pharmacy => "药店",
            OrgKind::Enterprise => "企业",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                DomainError::new(
                    ErrorCode::InvalidOrgKind,
                    format!(
                        "Unknown organisation kind '{s}'; use hospital, community_health_centre, pharmacy or enterprise."
                    ),
                )
                .on("kind")
            })
    }

    /// Only care providers have clinical departments.
    pub fn has_departments(self) -> bool {
        matches!(self, OrgKind::Hospital | OrgKind::CommunityHealthCentre)
    }
}

/// Hospital grade (医院等级): three levels, each with 甲/乙/丙.
pub const HOSPITAL_LEVELS: [&str; 9] = [
    "三级甲等",
    "三级乙等",
    "三级丙等",
    "二级甲等",
    "二级乙等",
    "二级丙等",
    "一级甲等",
    "一级乙等",
    "一级丙等",
];

pub fn parse_hospital_level(
    kind: OrgKind,
    level: Option<&str>,
) -> Result<Option<String>, DomainError> {
    match (kind, level.map(str::trim).filter(|l| !l.is_empty())) {
        (OrgKind::Hospital, Some(l)) if HOSPITAL_LEVELS.contains(&l) => Ok(Some(l.to_string())),
        (OrgKind::Hospital, Some(l)) => Err(DomainError::new(
            ErrorCode::InvalidHospitalLevel,
            format!(
                "Unknown hospital level '{l}'; use one of {}.",
                HOSPITAL_LEVELS.join(", ")
            ),
        )
        .on("level")),
        (OrgKind::Hospital, None) => Err(DomainError::new(
            ErrorCode::InvalidHospitalLevel,
            "A hospital needs its level, e.g. 三级甲等.",
        )
        .on("level")),
        (_, Some(_)) => Err(DomainError::new(
            ErrorCode::InvalidHospitalLevel,
            "Only hospitals have a level.",
        )
        .on("level")),
        (_, None) => Ok(None),
    }
}

/// A non-empty short label (organisation, department, province or city name).
pub fn parse_label(raw: &str, field: &'static str, max: usize) -> Result<String, DomainError> {
    let s = raw.trim();
    if s.is_empty() || s.chars().count() > max || s.chars().any(char::is_control) {
        return Err(DomainError::new(
            ErrorCode::InvalidField,
            format!("'{field}' must be 1 to {max} characters."),
        )
        .on(field));
    }
    Ok(s.to_string())
}

/// The 36 specialties of the hospital internet influence index (the 2022
/// edition added the last six).
pub const SPECIALTIES: [(&str, &str, &str); 36] = [
    ("cardiology", "心血管内科", "Cardiology"),
    ("respiratory", "呼吸内科", "Respiratory medicine"),
    ("gastroenterology", "消化内科", "Gastroenterology"),
    ("neurology", "神经内科", "Neurology"),
    ("nephrology", "肾脏内科", "Nephrology"),
    ("endocrinology", "内分泌科", "Endocrinology"),
    ("hematology", "血液科", "Hematology"),
    ("rheumatology", "风湿免疫科", "Rheumatology and immunology"),
    ("infectious_disease", "感染科", "Infectious diseases"),
    ("general_surgery", "普通外科", "General surgery"),
    ("orthopedics", "骨科", "Orthopedics"),
    ("neurosurgery", "神经外科", "Neurosurgery"),
    (
        "cardiothoracic_surgery",
        "心胸外科",
        "Cardiothoracic surgery",
    ),
    ("urology", "泌尿外科", "Urology"),
    ("plastic_surgery", "整形外科", "Plastic surgery"),
    (
        "obstetrics_gynecology",
        "妇产科",
        "Obstetrics and gynecology",
    ),
    ("pediatrics", "儿科", "Pediatrics"),
    ("ophthalmology", "眼科", "Ophthalmology"),
    ("otolaryngology", "耳鼻咽喉科", "Otolaryngology"),
    ("stomatology", "口腔科", "Stomatology"),
    ("dermatology", "皮肤科", "Dermatology"),
    ("psychiatry", "精神科", "Psychiatry"),
    ("oncology", "肿瘤科", "Oncology"),
    ("tcm", "中医科", "Traditional Chinese medicine"),
    ("rehabilitation", "康复医学科", "Rehabilitation medicine"),
    ("emergency", "急诊科", "Emergency medicine"),
    ("anesthesiology", "麻醉科", "Anesthesiology"),
    ("critical_care", "重症医学科", "Critical care medicine"),
    ("radiology", "医学影像科", "Medical imaging"),
    ("geriatrics", "老年医学科", "Geriatrics"),
    (
        "reproductive_medicine",
        "生殖医学科",
        "Reproductive medicine",
    ),
    ("andrology", "男科", "Andrology"),
    ("sports_medicine", "运动医学科", "Sports medicine"),
    ("pain", "疼痛科", "Pain medicine"),
    ("nutrition", "营养科", "Clinical nutrition"),
    ("nuclear_medicine", "核医学科", "Nuclear medicine"),
];

/// One of the 36 specialties, by code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Specialty(usize);

impl Specialty {
    pub fn parse(code: &str) -> Result<Self, DomainError> {
        SPECIALTIES
            .iter()
            .position(|(c, zh, _)| *c == code || *zh == code)
            .map(Specialty)
            .ok_or_else(|| {
                DomainError::new(
                    ErrorCode::InvalidSpecialty,
                    format!(
                        "Unknown specialty '{code}'; see GET /api/v1/specialties for the 36 codes."
                    ),
                )
                .on("specialty")
            })
    }

    pub fn code(self) -> &'static str {
        SPECIALTIES[self.0].0
    }

    pub fn label_zh(self) -> &'static str {
        SPECIALTIES[self.0].1
    }

    pub fn label_en(self) -> &'static str {
        SPECIALTIES[self.0].2
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn there_are_36_distinct_specialties() {
        let codes: HashSet<_> = SPECIALTIES.iter().map(|s| s.0).collect();
        let names: HashSet<_> = SPECIALTIES.iter().map(|s| s.1).collect();
        assert_eq!((codes.len(), names.len()), (36, 36));
    }

    #[test]
    fn specialties_parse_by_code_or_name() {
        assert_eq!(Specialty::parse("儿科").unwrap().code(), "pediatrics");
        assert_eq!(
            Specialty::parse("cardiology").unwrap().label_zh(),
            "心血管内科"
        );
        assert_eq!(
            Specialty::parse("magic").unwrap_err().code,
            "invalid_specialty"
        );
    }

    #[test]
    fn only_hospitals_carry_a_level() {
        assert_eq!(
            parse_hospital_level(OrgKind::Hospital, Some("三级甲等"))
                .unwrap()
                .as_deref(),
            Some("三级甲等")
        );
        assert!(parse_hospital_level(OrgKind::Hospital, None).is_err());
        assert!(parse_hospital_level(OrgKind::Hospital, Some("四级")).is_err());
        assert!(parse_hospital_level(OrgKind::Pharmacy, Some("三级甲等")).is_err());
        assert_eq!(parse_hospital_level(OrgKind::Pharmacy, None).unwrap(), None);
    }

    #[test]
    fn labels_are_trimmed_and_bounded() {
        assert_eq!(parse_label(" 浙江省 ", "province", 20).unwrap(), "浙江省");
        assert!(parse_label("  ", "province", 20).is_err());
        assert!(parse_label(&"长".repeat(21), "province", 20).is_err());
    }
}
