//! The drug catalogue and its control classes (nothing controlled online).

use super::*;

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
