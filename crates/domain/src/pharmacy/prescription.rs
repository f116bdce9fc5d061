//! Prescription rules: limits, allergies, the review state machine.

use super::*;

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
