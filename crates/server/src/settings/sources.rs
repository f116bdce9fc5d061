//! Where settings come from, in order: the defaults (`Settings::default`,
//! through `#[serde(default)]`), the TOML file, then the environment.
//!
//! The environment mapping is generic: `IHOS_<KEY>` sets a top-level key and
//! `__` nests, so `IHOS_PAYMENT__ORDER_TIMEOUT_MINUTES` sets
//! `payment.order_timeout_minutes`. Only variables whose first key is a
//! field of `Settings` are read, so other `IHOS_*` variables (`IHOS_LOG`,
//! `IHOS_TEST_PG`, `IHOS_CONFIG`, ...) are left alone, while a misspelt
//! key inside a known table is refused. Older flat names are kept as
//! aliases ([`LEGACY_ENV`]). Values are kept as text and read as numbers
//! or booleans where the field is one (figment's lossy extraction).

use std::path::Path;

use figment::providers::{Format, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use serde::Deserialize;

use super::Settings;
use super::validate::Invalid;

/// Environment variable names older than the generic mapping, and the key
/// each sets. A generic name for the same key wins over these.
pub const LEGACY_ENV: &[(&str, &str)] = &[
    ("DATABASE_URL", "database_url"),
    ("IHOS_DRUG_CATALOGUE", "pharmacy.catalogue_file"),
    ("IHOS_PAYMENT_SECRET", "payment.provider_secret"),
    (
        "IHOS_PAYMENT_CALLBACK_BASE_URL",
        "payment.callback_base_url",
    ),
    (
        "IHOS_PAYMENT_ORDER_TIMEOUT_MINUTES",
        "payment.order_timeout_minutes",
    ),
    ("IHOS_NURSING_ASSESSMENT_DAYS", "nursing.assessment_days"),
    ("IHOS_NURSING_MIN_NURSE_YEARS", "nursing.min_nurse_years"),
    ("IHOS_NURSING_MIN_LEAD_HOURS", "nursing.min_lead_hours"),
    ("IHOS_FOLLOWUP_GRACE_HOURS", "followup.grace_hours"),
];

const PREFIX: &str = "IHOS_";

/// The layered sources, not yet extracted.
pub(super) fn figment(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> anyhow::Result<Figment> {
    let mut figment = Figment::new();
    if let Some(path) = file {
        // figment treats a missing file as empty; a named file must exist.
        std::fs::metadata(path)
            .map_err(|e| anyhow::anyhow!("cannot read settings file {}: {e}", path.display()))?;
        figment = figment.merge(Toml::file_exact(path));
    }
    for var in env_vars(env) {
        figment = figment.merge(var);
    }
    Ok(figment)
}

/// One environment variable as a provider, so an error names the variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct EnvVar {
    pub name: String,
    pub key: String,
    pub value: String,
}

impl Provider for EnvVar {
    fn metadata(&self) -> Metadata {
        Metadata::named(format!("environment variable {}", self.name))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let nested = figment::util::nest(&self.key, Value::from(self.value.clone()));
        let dict = nested.into_dict().unwrap_or_default();
        Ok(Map::from([(Profile::Default, dict)]))
    }
}

/// The settings variables among `env`, lowest priority first.
pub(super) fn env_vars(env: impl IntoIterator<Item = (String, String)>) -> Vec<EnvVar> {
    let fields = field_names::<Settings>();
    let mut legacy = Vec::new();
    let mut generic = Vec::new();
    for (name, value) in env {
        if let Some(rank) = LEGACY_ENV.iter().position(|(n, _)| *n == name) {
            legacy.push((
                rank,
                EnvVar {
                    key: LEGACY_ENV[rank].1.to_string(),
                    name,
                    value,
                },
            ));
        } else if let Some(key) = generic_key(&name, fields) {
            generic.push(EnvVar { name, key, value });
        }
    }
    legacy.sort_by_key(|(rank, _)| *rank);
    generic.sort_by(|a, b| a.name.cmp(&b.name));
    legacy.into_iter().map(|(_, v)| v).chain(generic).collect()
}

/// `IHOS_PAYMENT__ORDER_TIMEOUT_MINUTES` -> `payment.order_timeout_minutes`,
/// when `payment` is a field.
fn generic_key(name: &str, fields: &[&str]) -> Option<String> {
    let rest = name.strip_prefix(PREFIX)?.to_ascii_lowercase();
    let parts: Vec<&str> = rest.split("__").collect();
    if parts.iter().any(|p| p.is_empty()) || !fields.contains(&parts[0]) {
        return None;
    }
    Some(parts.join("."))
}

/// The field names serde's derive gives a struct, read by asking it to
/// deserialise from a deserializer that only records them.
fn field_names<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
    use serde::de::{self, Visitor};

    struct Names<'a>(&'a mut &'static [&'static str]);

    impl<'de> de::Deserializer<'de> for Names<'_> {
        type Error = de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("only structs are read"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("names recorded"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }

    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Names(&mut fields));
    fields
}

/// A figment error as one line per problem, naming the key and its source.
pub(super) fn explain(e: figment::Error) -> anyhow::Error {
    let lines: Vec<String> = e
        .into_iter()
        .map(|e| {
            let key = e.path.join(".");
            let origin = e.metadata.as_ref().map(origin).unwrap_or_default();
            if key.is_empty() {
                format!("settings: {}{origin}", e.kind)
            } else {
                format!("settings: {key}: {}{origin}", e.kind)
            }
        })
        .collect();
    anyhow::anyhow!("{}", lines.join("\n"))
}

/// Problems found by `validate`, each with where its value came from.
pub(super) fn with_origin(figment: &Figment, problems: &[Invalid]) -> String {
    problems
        .iter()
        .map(|p| {
            let origin = figment
                .find_metadata(&p.key)
                .map(origin)
                .unwrap_or_default();
            format!("settings: {p}{origin}")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn origin(md: &Metadata) -> String {
    match &md.source {
        Some(source) => format!(" (from {} {source})", md.name),
        None => format!(" (from {})", md.name),
    }
}
