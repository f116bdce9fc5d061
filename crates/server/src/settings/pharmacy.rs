//! Settings `[pharmacy]`.

use std::path::PathBuf;

use ihos_domain::pharmacy::Limits;
use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PharmacySettings {
    /// A drug catalogue CSV to use instead of the built-in one
    /// (`crates/server/data/drugs.csv` format).
    pub catalogue_file: Option<PathBuf>,
    /// Days' supply and other prescribing limits.
    pub limits: Limits,
}
