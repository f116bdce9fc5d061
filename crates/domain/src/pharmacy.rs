//! E-prescriptions: the drug catalogue, the rules a prescription must pass
//! before it is signed (no specially controlled drugs online, no duplicates,
//! recorded allergies, days' supply, weight for young children), the review
//! state machine and the fulfilment choices.
//!
//! Error codes are stable and prefixed `rx_`.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::{DomainError, ErrorCode};

/// Special control class (特殊管理药品). Anything but `None` is never
/// prescribed online.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlClass {
    None,
    /// 麻醉药品
    Narcotic,
    /// 第一类精神药品
    Psychotropic1,
    /// 第二类精神药品
    Psychotropic2,
    /// 医疗用毒性药品
    Toxic,
    /// 放射性药品
    Radioactive,
    /// 药品类易制毒化学品 (and compound preparations containing them)
    Precursor,
}

impl ControlClass {
    pub const ALL: [ControlClass; 7] = [
        ControlClass::None,
        ControlClass::Narcotic,
        ControlClass::Psychotropic1,
        ControlClass::Psychotropic2,
        ControlClass::Toxic,
        ControlClass::Radioactive,
        ControlClass::Precursor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ControlClass::None => "none",
            ControlClass::Narcotic => "narcotic",
            ControlClass::Psychotropic1 => "psychotropic_1",
            ControlClass::Psychotropic2 => "psychotropic_2",
            ControlClass::Toxic => "toxic",
            ControlClass::Radioactive => "radioactive",
            ControlClass::Precursor => "precursor",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            ControlClass::None => "普通药品",
            ControlClass::Narcotic => "麻醉药品",
            ControlClass::Psychotropic1 => "第一类精神药品",
            ControlClass::Psychotropic2 => "第二类精神药品",
            ControlClass::Toxic => "医疗用毒性药品",
            ControlClass::Radioactive => "放射性药品",
            ControlClass::Precursor => "药品类易制毒化学品",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                DomainError::new(
                    ErrorCode::RxInvalidControl,
                    format!("Unknown control class '{s}'."),
                )
            })
    }

    /// Whether a drug of this class may be prescribed on the internet.
    pub fn allowed_online(self) -> bool {
        self == ControlClass::None
    }
}

/// Medical-insurance catalogue category (医保目录甲/乙/丙类).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum InsuranceCategory {
    /// 甲类
    A,
    /// 乙类
    B,
    /// 丙类: outside the catalogue, self-paid
    C,
}

impl InsuranceCategory {
    pub fn as_str(self) -> &'static str {
        match self {
            InsuranceCategory::A => "甲",
            InsuranceCategory::B => "乙",
            InsuranceCategory::C => "丙",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "甲" | "A" | "a" => Ok(InsuranceCategory::A),
            "乙" | "B" | "b" => Ok(InsuranceCategory::B),
            "丙" | "C" | "c" => Ok(InsuranceCategory::C),
            _ => Err(DomainError::new(
                ErrorCode::RxInvalidInsurance,
                format!("Unknown insurance category '{s}'; use 甲, 乙 or 丙."),
            )),
        }
    }
}

/// One drug of the catalogue. Prices are per `unit`, in fen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drug {
    pub code: String,
    pub generic_name: String,
    pub form: String,
    pub strength: String,
    pub unit: String,
    pub price_fen: i64,
    pub insurance: InsuranceCategory,
    /// Share of the price the insurance pays, per mille (1000 = 100%).
    pub reimburse_permille: i64,
    pub control: ControlClass,
    /// A drug class an allergy may be recorded against (e.g. 青霉素类).
    pub allergy_class: Option<String>,
}

/// The drug catalogue, loaded once at start.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    drugs: Vec<Drug>,
    by_code: HashMap<String, usize>,
}

/// A catalogue file that cannot be loaded: which line and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for CatalogueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "drug catalogue line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for CatalogueError {}

impl Catalogue {
    /// Parse the CSV catalogue (see `crates/server/data/drugs.csv`): ten
    /// comma-separated columns, `#` comments. Every row is validated; the
    /// first bad row is the error.
    pub fn parse(text: &str) -> Result<Self, CatalogueError> {
        let mut cat = Catalogue::default();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let row = raw.trim();
            if row.is_empty() || row.starts_with('#') {
                continue;
            }
            let bad = |message: String| CatalogueError { line, message };
            let cols: Vec<&str> = row.split(',').map(str::trim).collect();
            if cols.len() != 10 {
                return Err(bad(format!(
                    "expected 10 columns (code,generic_name,form,strength,unit,price_fen,insurance,reimburse_permille,control,allergy_class), found {}",
                    cols.len()
                )));
            }
            let code = cols[0];
            if code.is_empty()
                || code.len() > 32
                || !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                return Err(bad(format!("bad drug code '{code}'")));
            }
            for (name, v) in [
                ("generic_name", cols[1]),
                ("form", cols[2]),
                ("strength", cols[3]),
                ("unit", cols[4]),
            ] {
                if v.is_empty() || v.chars().count() > 60 {
                    return Err(bad(format!("{name} must be 1-60 characters")));
                }
            }
            let price_fen: i64 = cols[5].parse().map_err(|_| {
                bad(format!(
                    "price_fen '{}' is not a whole number of fen",
                    cols[5]
                ))
            })?;
            if !(1..=100_000_000).contains(&price_fen) {
                return Err(bad(format!("price_fen {price_fen} out of range")));
            }
            let insurance = InsuranceCategory::parse(cols[6]).map_err(|e| bad(e.message))?;
            let ratio: i64 = cols[7]
                .parse()
                .map_err(|_| bad(format!("reimburse_permille '{}' is not a number", cols[7])))?;
            if !(0..=1000).contains(&ratio) {
                return Err(bad(format!("reimburse_permille {ratio} must be 0-1000")));
            }
            if insurance == InsuranceCategory::C && ratio != 0 {
                return Err(bad(
                    "a 丙 (category C) drug is self-paid: reimburse_permille must be 0".into(),
                ));
            }
            if insurance != InsuranceCategory::C && ratio == 0 {
                return Err(bad(
                    "a 甲/乙 drug needs a reimbursement ratio above 0".into()
                ));
            }
            let control = ControlClass::parse(cols[8]).map_err(|e| bad(e.message))?;
            let drug = Drug {
                code: code.to_string(),
                generic_name: cols[1].to_string(),
                form: cols[2].to_string(),
                strength: cols[3].to_string(),
                unit: cols[4].to_string(),
                price_fen,
                insurance,
                reimburse_permille: ratio,
                control,
                allergy_class: (!cols[9].is_empty()).then(|| cols[9].to_string()),
            };
            if cat.by_code.contains_key(code) {
                return Err(bad(format!("duplicate drug code '{code}'")));
            }
            cat.by_code.insert(drug.code.clone(), cat.drugs.len());
            cat.drugs.push(drug);
        }
        if cat.drugs.is_empty() {
            return Err(CatalogueError {
                line: 0,
                message: "the catalogue has no drugs".into(),
            });
        }
        Ok(cat)
    }

    pub fn get(&self, code: &str) -> Option<&Drug> {
        self.by_code.get(code).map(|&i| &self.drugs[i])
    }

    pub fn all(&self) -> &[Drug] {
        &self.drugs
    }

    pub fn len(&self) -> usize {
        self.drugs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.drugs.is_empty()
    }

    /// The drug, if it exists and may be prescribed online.
    pub fn orderable(&self, code: &str) -> Result<&Drug, DomainError> {
        let drug = self.get(code).ok_or_else(|| {
            DomainError::new(
                ErrorCode::RxUnknownDrug,
                format!("There is no drug '{code}' in the catalogue."),
            )
            .on("items")
        })?;
        check_online(drug)?;
        Ok(drug)
    }
}

/// Narcotic, psychotropic and other specially controlled drugs are never
/// prescribed online.
pub fn check_online(drug: &Drug) -> Result<(), DomainError> {
    if drug.control.allowed_online() {
        return Ok(());
    }
    Err(DomainError::new(
        ErrorCode::RxControlledDrug,
        format!(
            "{} is a {} ({}); specially controlled drugs are never prescribed online. Ask the patient to see a doctor in person.",
            drug.generic_name,
            drug.control.label_zh(),
            drug.control.as_str()
        ),
    )
    .on("items"))
}

/// Acute or stable chronic disease: decides the longest supply allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RxKind {
    Acute,
    Chronic,
}

impl RxKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RxKind::Acute => "acute",
            RxKind::Chronic => "chronic",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s {
            "acute" => Ok(RxKind::Acute),
            "chronic" => Ok(RxKind::Chronic),
            _ => Err(DomainError::new(
                ErrorCode::RxInvalidKind,
                "The prescription kind is acute or chronic.",
            )
            .on("kind")),
        }
    }
}

/// Configurable limits (settings `pharmacy.*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Longest supply of an acute prescription, days (e.g. 7).
    pub acute_max_days: u32,
    /// Longest supply for a stable chronic disease, days (up to 12 weeks).
    pub chronic_max_days: u32,
    /// Most drugs on one prescription (5 in the prescription rules).
    pub max_items: usize,
    /// Children younger than this need their weight on the prescription.
    pub weight_required_under_years: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            acute_max_days: 7,
            chronic_max_days: 84,
            max_items: 5,
            weight_required_under_years: 6,
        }
    }
}

impl Limits {
    pub fn max_days(&self, kind: RxKind) -> u32 {
        match kind {
            RxKind::Acute => self.acute_max_days,
            RxKind::Chronic => self.chronic_max_days,
        }
    }
}

/// One line the doctor writes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ItemInput {
    pub drug_code: String,
    /// How many units (片, 支, 盒 ...) are dispensed.
    pub quantity: i64,
    /// Per-dose instruction, e.g. "0.5g".
    pub dosage: String,
    /// e.g. "每日2次".
    pub frequency: String,
    /// Days of supply.
    pub days: u32,
}

/// What the rules need to know about the patient.
#[derive(Debug, Clone, Default)]
pub struct PatientFacts {
    pub age_years: u32,
    /// Weight in grams, when the doctor recorded it.
    pub weight_g: Option<i64>,
    /// Recorded allergies: substances or drug classes.
    pub allergies: Vec<String>,
}

/// Everything a prescription must pass before the doctor signs it. Answers
/// the drugs in order.
pub fn check_prescription<'a>(
    catalogue: &'a Catalogue,
    kind: RxKind,
    items: &[ItemInput],
    patient: &PatientFacts,
    limits: &Limits,
) -> Result<Vec<&'a Drug>, DomainError> {
    if items.is_empty() {
        return Err(DomainError::new(ErrorCode::RxEmpty, "Add at least one drug.").on("items"));
    }
    if items.len() > limits.max_items {
        return Err(DomainError::new(
            ErrorCode::RxTooManyItems,
            format!(
                "A prescription holds at most {} drugs; write a second one for the rest.",
                limits.max_items
            ),
        )
        .on("items"));
    }
    if patient.age_years < limits.weight_required_under_years
        && !patient
            .weight_g
            .is_some_and(|w| (500..=60_000).contains(&w))
    {
        return Err(DomainError::new(
            ErrorCode::RxWeightRequired,
            format!(
                "The patient is under {}: record the child's weight (kg) to dose by weight.",
                limits.weight_required_under_years
            ),
        )
        .on("weight_kg"));
    }
    let max_days = limits.max_days(kind);
    let mut seen_codes = HashSet::new();
    let mut seen_names = HashSet::new();
    let mut drugs = Vec::with_capacity(items.len());
    for item in items {
        let drug = catalogue.orderable(item.drug_code.trim())?;
        if !seen_codes.insert(drug.code.as_str()) || !seen_names.insert(drug.generic_name.as_str())
        {
            return Err(DomainError::new(
                ErrorCode::RxDuplicateDrug,
                format!("{} is on the prescription twice.", drug.generic_name),
            )
            .on("items"));
        }
        if let Some(hit) = allergy_hit(drug, &patient.allergies) {
            return Err(DomainError::new(
                ErrorCode::RxAllergy,
                format!(
                    "The patient has a recorded allergy to {hit}; {} must not be prescribed.",
                    drug.generic_name
                ),
            )
            .on("items"));
        }
        if !(1..=10_000).contains(&item.quantity) {
            return Err(DomainError::new(
                ErrorCode::RxInvalidQuantity,
                format!("Give a quantity of {} between 1 and 10000.", drug.unit),
            )
            .on("items"));
        }
        if item.days == 0 || item.days > max_days {
            return Err(DomainError::new(
                ErrorCode::RxDaysExceeded,
                format!(
                    "A {} prescription supplies at most {max_days} days; {} asks for {}.",
                    kind.as_str(),
                    drug.generic_name,
                    item.days
                ),
            )
            .on("items"));
        }
        for (name, v) in [("dosage", &item.dosage), ("frequency", &item.frequency)] {
            let n = v.trim().chars().count();
            if n == 0 || n > 60 {
                return Err(DomainError::new(
                    ErrorCode::RxInvalidUsage,
                    format!(
                        "Give the {name} of {} (1-60 characters).",
                        drug.generic_name
                    ),
                )
                .on("items"));
            }
        }
        drugs.push(drug);
    }
    Ok(drugs)
}

/// The recorded allergy that forbids `drug`, if any: the generic name, or
/// its class (a penicillin allergy forbids amoxicillin).
pub fn allergy_hit<'a>(drug: &Drug, allergies: &'a [String]) -> Option<&'a str> {
    allergies.iter().map(String::as_str).find(|a| {
        let a = a.trim();
        !a.is_empty()
            && (drug.generic_name.contains(a)
                || a.contains(drug.generic_name.as_str())
                || drug.allergy_class.as_deref().is_some_and(|c| {
                    c == a || c.trim_end_matches('类') == a.trim_end_matches('类')
                }))
    })
}

/// An allergy as the patient or doctor records it.
pub fn parse_allergy(raw: &str) -> Result<String, DomainError> {
    let s = raw.trim();
    let n = s.chars().count();
    if n == 0 || n > 40 || s.chars().any(char::is_control) {
        return Err(DomainError::new(
            ErrorCode::RxInvalidAllergy,
            "Name the substance or drug class (1-40 characters), e.g. 青霉素类.",
        )
        .on("substance"));
    }
    Ok(s.to_string())
}

/// Where a prescription is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RxStatus {
    /// Signed by the doctor, waiting in the pharmacists' queue.
    PendingReview,
    Approved,
    /// Sent back to the doctor with a reason; the doctor may revise.
    Rejected,
    /// Replaced by a revised version.
    Superseded,
    /// Withdrawn by the doctor before approval.
    Cancelled,
}

impl RxStatus {
    pub const ALL: [RxStatus; 5] = [
        RxStatus::PendingReview,
        RxStatus::Approved,
        RxStatus::Rejected,
        RxStatus::Superseded,
        RxStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RxStatus::PendingReview => "pending_review",
            RxStatus::Approved => "approved",
            RxStatus::Rejected => "rejected",
            RxStatus::Superseded => "superseded",
            RxStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                DomainError::new(ErrorCode::RxInvalidStatus, format!("Unknown status '{s}'."))
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RxAction {
    Approve,
    Reject,
    Revise,
    Cancel,
}

/// The review state machine.
pub fn rx_transition(from: RxStatus, action: RxAction) -> Result<RxStatus, DomainError> {
    use RxAction as A;
    use RxStatus as S;
    match (from, action) {
        (S::PendingReview, A::Approve) => Ok(S::Approved),
        (S::PendingReview, A::Reject) => Ok(S::Rejected),
        (S::Rejected, A::Revise) => Ok(S::Superseded),
        (S::PendingReview | S::Rejected, A::Cancel) => Ok(S::Cancelled),
        (from, _) => Err(DomainError::new(
            ErrorCode::RxWrongState,
            format!(
                "This prescription is {}; that is not possible now.",
                from.as_str().replace('_', " ")
            ),
        )),
    }
}

/// Drugs may be paid, dispensed or shipped only from an approved prescription.
pub fn check_releasable(status: RxStatus) -> Result<(), DomainError> {
    if status == RxStatus::Approved {
        Ok(())
    } else {
        Err(DomainError::new(
            ErrorCode::RxNotApproved,
            "A pharmacist has not approved this prescription; nothing can be paid, dispensed or shipped before approval.",
        ))
    }
}

/// A reason the pharmacist gives when sending a prescription back.
pub fn parse_reason(raw: &str) -> Result<String, DomainError> {
    let s = raw.trim();
    let n = s.chars().count();
    if !(2..=500).contains(&n) {
        return Err(DomainError::new(
            ErrorCode::RxReasonRequired,
            "Tell the doctor why (2-500 characters).",
        )
        .on("reason"));
    }
    Ok(s.to_string())
}

/// How the patient gets the drugs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Hospital pharmacy window, with a pickup code.
    Pickup,
    /// Delivered by the hospital.
    HospitalDelivery,
    /// Delivered by a third-party courier.
    Courier,
    /// Transferred to a nearby pharmacy, which dispenses with a verification code.
    PharmacyTransfer,
}

impl Method {
    pub const ALL: [Method; 4] = [
        Method::Pickup,
        Method::HospitalDelivery,
        Method::Courier,
        Method::PharmacyTransfer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Pickup => "pickup",
            Method::HospitalDelivery => "hospital_delivery",
            Method::Courier => "courier",
            Method::PharmacyTransfer => "pharmacy_transfer",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                DomainError::new(
                    ErrorCode::RxInvalidMethod,
                    "Choose pickup, hospital_delivery, courier or pharmacy_transfer.",
                )
                .on("method")
            })
    }

    pub fn is_delivery(self) -> bool {
        matches!(self, Method::HospitalDelivery | Method::Courier)
    }
}

/// Where the drugs are. `AwaitingPayment` → `Ready` happens only when the
/// visit's order is paid; `Ready` → `Dispensed` exactly once (pickup,
/// pharmacy), or `Ready` → `Shipped` → `InTransit` → `Delivered`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FulfilmentStatus {
    AwaitingPayment,
    Ready,
    Dispensed,
    Shipped,
    InTransit,
    Delivered,
    Cancelled,
}

impl FulfilmentStatus {
    pub const ALL: [FulfilmentStatus; 7] = [
        FulfilmentStatus::AwaitingPayment,
        FulfilmentStatus::Ready,
        FulfilmentStatus::Dispensed,
        FulfilmentStatus::Shipped,
        FulfilmentStatus::InTransit,
        FulfilmentStatus::Delivered,
        FulfilmentStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FulfilmentStatus::AwaitingPayment => "awaiting_payment",
            FulfilmentStatus::Ready => "ready",
            FulfilmentStatus::Dispensed => "dispensed",
            FulfilmentStatus::Shipped => "shipped",
            FulfilmentStatus::InTransit => "in_transit",
            FulfilmentStatus::Delivered => "delivered",
            FulfilmentStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                DomainError::new(ErrorCode::RxInvalidStatus, format!("Unknown status '{s}'."))
                    .on("status")
            })
    }

    /// The drugs left the pharmacy: no refund, no change of method.
    pub fn handed_over(self) -> bool {
        matches!(
            self,
            FulfilmentStatus::Dispensed
                | FulfilmentStatus::Shipped
                | FulfilmentStatus::InTransit
                | FulfilmentStatus::Delivered
        )
    }
}

/// The delivery tracking states, in order; each step only forward by one.
pub fn delivery_step(
    method: Method,
    from: FulfilmentStatus,
    to: FulfilmentStatus,
) -> Result<(), DomainError> {
    use FulfilmentStatus as F;
    if from == F::AwaitingPayment {
        return Err(DomainError::new(
            ErrorCode::RxNotPaid,
            "The order is not paid yet; nothing is shipped before payment.",
        ));
    }
    let ok = method.is_delivery()
        && matches!(
            (from, to),
            (F::Ready, F::Shipped) | (F::Shipped, F::InTransit) | (F::InTransit, F::Delivered)
        );
    if ok {
        Ok(())
    } else {
        Err(DomainError::new(
            ErrorCode::RxWrongState,
            format!(
                "A {} fulfilment cannot go from {} to {}.",
                method.as_str(),
                from.as_str(),
                to.as_str()
            ),
        )
        .on("status"))
    }
}

/// Dispensing at a window or pharmacy: only a paid, not yet handed-over
/// fulfilment of the right method.
pub fn check_dispensable(method: Method, status: FulfilmentStatus) -> Result<(), DomainError> {
    match status {
        FulfilmentStatus::Ready if matches!(method, Method::Pickup | Method::PharmacyTransfer) => {
            Ok(())
        }
        FulfilmentStatus::AwaitingPayment => Err(DomainError::new(
            ErrorCode::RxNotPaid,
            "The order is not paid yet; nothing is dispensed before payment.",
        )),
        s if s.handed_over() => Err(DomainError::new(
            ErrorCode::RxAlreadyDispensed,
            "These drugs were already dispensed or shipped.",
        )),
        _ => Err(DomainError::new(
            ErrorCode::RxWrongState,
            "This prescription is not for dispensing here.",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "# test\n\
        D1,阿莫西林胶囊,胶囊剂,0.25g,粒,18,甲,1000,none,青霉素类\n\
        D2,二甲双胍缓释片,片剂,0.5g,片,45,甲,1000,none,\n\
        D3,盐酸吗啡缓释片,片剂,30mg,片,420,甲,1000,narcotic,\n\
        D4,艾司唑仑片,片剂,1mg,片,10,甲,1000,psychotropic_2,\n\
        D5,复方甘草片,片剂,复方,片,5,甲,1000,precursor,\n\
        D6,维生素C片,片剂,0.1g,片,3,丙,0,none,\n";

    fn cat() -> Catalogue {
        Catalogue::parse(CSV).unwrap()
    }

    fn item(code: &str, days: u32) -> ItemInput {
        ItemInput {
            drug_code: code.into(),
            quantity: 14,
            dosage: "0.5g".into(),
            frequency: "每日2次".into(),
            days,
        }
    }

    fn adult() -> PatientFacts {
        PatientFacts {
            age_years: 40,
            ..Default::default()
        }
    }

    #[test]
    fn the_repository_catalogue_loads() {
        let c = Catalogue::parse(include_str!("../../server/data/drugs.csv")).unwrap();
        assert!(c.len() >= 60, "{}", c.len());
        assert!(c.all().iter().any(|d| !d.control.allowed_online()));
    }

    #[test]
    fn a_bad_row_names_its_line() {
        let e = Catalogue::parse("D1,甲药,片剂,1mg,片,abc,甲,1000,none,\n").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.message.contains("price_fen"), "{e}");
        let e = Catalogue::parse("# c\nD1,甲药,片剂,1mg,片,10,丙,500,none,\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = Catalogue::parse("D1,甲药,片剂,1mg,片,10,甲,1000,opium,\n").unwrap_err();
        assert!(e.message.contains("opium"));
        let e = Catalogue::parse("D1,a,b,c,d,1,甲,1000,none,\nD1,a,b,c,d,1,甲,1000,none,\n")
            .unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("duplicate"));
        assert!(Catalogue::parse("D1,a,b,c\n").is_err());
        assert!(Catalogue::parse("# nothing\n").is_err());
    }

    #[test]
    fn controlled_drugs_are_refused_online() {
        let c = cat();
        for code in ["D3", "D4", "D5"] {
            let e = check_prescription(
                &c,
                RxKind::Acute,
                &[item(code, 3)],
                &adult(),
                &Limits::default(),
            )
            .unwrap_err();
            assert_eq!(e.code, "rx_controlled_drug", "{code}");
            assert!(e.message.contains("never prescribed online"));
        }
        assert!(c.orderable("D2").is_ok());
    }

    #[test]
    fn a_drug_twice_is_refused() {
        let e = check_prescription(
            &cat(),
            RxKind::Acute,
            &[item("D2", 3), item("D2", 5)],
            &adult(),
            &Limits::default(),
        )
        .unwrap_err();
        assert_eq!(e.code, "rx_duplicate_drug");
    }

    #[test]
    fn a_recorded_allergy_to_the_drug_or_its_class_is_refused() {
        let mut p = adult();
        p.allergies = vec!["青霉素类".into()];
        let e = check_prescription(
            &cat(),
            RxKind::Acute,
            &[item("D1", 3)],
            &p,
            &Limits::default(),
        )
        .unwrap_err();
        assert_eq!(e.code, "rx_allergy");
        p.allergies = vec!["阿莫西林".into()];
        assert!(
            check_prescription(
                &cat(),
                RxKind::Acute,
                &[item("D1", 3)],
                &p,
                &Limits::default()
            )
            .is_err()
        );
        // An unrelated allergy does not block.
        p.allergies = vec!["磺胺类".into()];
        assert!(
            check_prescription(
                &cat(),
                RxKind::Acute,
                &[item("D1", 3)],
                &p,
                &Limits::default()
            )
            .is_ok()
        );
    }

    #[test]
    fn days_supply_depends_on_the_kind() {
        let l = Limits::default();
        let e =
            check_prescription(&cat(), RxKind::Acute, &[item("D2", 8)], &adult(), &l).unwrap_err();
        assert_eq!(e.code, "rx_days_exceeded");
        assert!(check_prescription(&cat(), RxKind::Acute, &[item("D2", 7)], &adult(), &l).is_ok());
        assert!(
            check_prescription(&cat(), RxKind::Chronic, &[item("D2", 84)], &adult(), &l).is_ok()
        );
        let e = check_prescription(&cat(), RxKind::Chronic, &[item("D2", 85)], &adult(), &l)
            .unwrap_err();
        assert_eq!(e.code, "rx_days_exceeded");
        let e = check_prescription(&cat(), RxKind::Chronic, &[item("D2", 0)], &adult(), &l)
            .unwrap_err();
        assert_eq!(e.code, "rx_days_exceeded");
    }

    #[test]
    fn a_child_under_six_needs_a_weight() {
        let mut p = PatientFacts {
            age_years: 4,
            ..Default::default()
        };
        let l = Limits::default();
        let e = check_prescription(&cat(), RxKind::Acute, &[item("D1", 3)], &p, &l).unwrap_err();
        assert_eq!(e.code, "rx_weight_required");
        p.weight_g = Some(16_500);
        assert!(check_prescription(&cat(), RxKind::Acute, &[item("D1", 3)], &p, &l).is_ok());
        p.age_years = 6;
        p.weight_g = None;
        assert!(check_prescription(&cat(), RxKind::Acute, &[item("D1", 3)], &p, &l).is_ok());
    }

    #[test]
    fn too_many_or_no_items_are_refused() {
        let l = Limits {
            max_items: 1,
            ..Limits::default()
        };
        let e = check_prescription(
            &cat(),
            RxKind::Acute,
            &[item("D1", 3), item("D2", 3)],
            &adult(),
            &l,
        )
        .unwrap_err();
        assert_eq!(e.code, "rx_too_many_items");
        let e = check_prescription(&cat(), RxKind::Acute, &[], &adult(), &l).unwrap_err();
        assert_eq!(e.code, "rx_empty");
    }

    #[test]
    fn the_review_state_machine() {
        use RxAction as A;
        use RxStatus as S;
        assert_eq!(rx_transition(S::PendingReview, A::Approve), Ok(S::Approved));
        assert_eq!(rx_transition(S::PendingReview, A::Reject), Ok(S::Rejected));
        assert_eq!(rx_transition(S::Rejected, A::Revise), Ok(S::Superseded));
        assert!(rx_transition(S::Approved, A::Reject).is_err());
        assert!(rx_transition(S::Approved, A::Revise).is_err());
        assert!(rx_transition(S::Superseded, A::Approve).is_err());
        assert!(check_releasable(S::PendingReview).is_err());
        assert!(check_releasable(S::Rejected).is_err());
        assert!(check_releasable(S::Approved).is_ok());
    }

    #[test]
    fn dispensing_and_delivery_follow_payment() {
        use FulfilmentStatus as F;
        assert_eq!(
            check_dispensable(Method::Pickup, F::AwaitingPayment)
                .unwrap_err()
                .code,
            "rx_not_paid"
        );
        assert!(check_dispensable(Method::PharmacyTransfer, F::Ready).is_ok());
        assert_eq!(
            check_dispensable(Method::PharmacyTransfer, F::Dispensed)
                .unwrap_err()
                .code,
            "rx_already_dispensed"
        );
        assert!(check_dispensable(Method::Courier, F::Ready).is_err());
        assert!(delivery_step(Method::Courier, F::Ready, F::Shipped).is_ok());
        assert!(delivery_step(Method::Courier, F::Ready, F::Delivered).is_err());
        assert!(delivery_step(Method::Pickup, F::Ready, F::Shipped).is_err());
        assert_eq!(
            delivery_step(Method::Courier, F::AwaitingPayment, F::Shipped)
                .unwrap_err()
                .code,
            "rx_not_paid"
        );
    }
}
