//! City medical digitalisation index (中国城市数字经济指数·医疗篇): an indicator
//! tree with weights from a config file, min-max normalisation per
//! sub-indicator, 0-100 scores, ranks, tiers, regional clusters and
//! single-indicator highlights. Pure Rust: the input is one row per city.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};

/// A problem in the input, located by row (1 = first data row) and column.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}{}{message}", row.map(|r| format!("row {r}, ")).unwrap_or_default(), column.as_ref().map(|c| format!("column '{c}': ")).unwrap_or_default())]
pub struct InputError {
    pub row: Option<usize>,
    pub column: Option<String>,
    pub message: String,
}

fn input_err(row: Option<usize>, column: Option<&str>, message: impl Into<String>) -> InputError {
    InputError {
        row,
        column: column.map(str::to_string),
        message: message.into(),
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Tier sizes from the top (default 4/16/28/76/26 for 150 cities); scaled
    /// proportionally when the CSV has another number of cities.
    #[serde(default = "default_tiers")]
    pub tier_sizes: Vec<usize>,
    /// Alternatively, score thresholds from the top (tier 1 if score >= first, ...).
    #[serde(default)]
    pub tier_thresholds: Vec<f64>,
    /// A city "stands out" in an indicator when it ranks in this top N there...
    #[serde(default = "default_highlight_top")]
    pub highlight_top: usize,
    /// ...while its overall rank is in the lower part, below this fraction of cities.
    #[serde(default = "default_highlight_overall")]
    pub highlight_overall_below: f64,
    #[serde(rename = "indicator")]
    pub indicators: Vec<FirstLevel>,
    #[serde(default)]
    pub clusters: BTreeMap<String, Vec<String>>,
}

fn default_tiers() -> Vec<usize> {
    vec![4, 16, 28, 76, 26]
}
fn default_highlight_top() -> usize {
    10
}
fn default_highlight_overall() -> f64 {
    0.5
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirstLevel {
    pub code: String,
    pub name: String,
    pub weight: f64,
    #[serde(rename = "sub")]
    pub subs: Vec<SubIndicator>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubIndicator {
    pub code: String,
    pub name: String,
    pub weight: f64,
}

impl Config {
    pub fn load(path: &Path) -> Result<Self, InputError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            input_err(
                None,
                None,
                format!("cannot read config {}: {e}", path.display()),
            )
        })?;
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Self, InputError> {
        let c: Config =
            toml::from_str(text).map_err(|e| input_err(None, None, format!("config: {e}")))?;
        c.check()?;
        Ok(c)
    }

    fn check(&self) -> Result<(), InputError> {
        let close = |s: f64| (s - 1.0).abs() < 1e-6;
        if self.indicators.is_empty() {
            return Err(input_err(None, None, "config: no indicators"));
        }
        let total: f64 = self.indicators.iter().map(|i| i.weight).sum();
        if !close(total) {
            return Err(input_err(
                None,
                None,
                format!("config: first-level weights sum to {total}, not 1"),
            ));
        }
        for i in &self.indicators {
            let s: f64 = i.subs.iter().map(|s| s.weight).sum();
            if i.subs.is_empty() || !close(s) {
                return Err(input_err(
                    None,
                    None,
                    format!(
                        "config: sub-indicator weights of '{}' sum to {s}, not 1",
                        i.code
                    ),
                ));
            }
        }
        if !self.tier_thresholds.windows(2).all(|w| w[0] > w[1]) {
            return Err(input_err(
                None,
                None,
                "config: tier_thresholds must be strictly decreasing",
            ));
        }
        Ok(())
    }

    fn sub_codes(&self) -> impl Iterator<Item = &str> {
        self.indicators
            .iter()
            .flat_map(|i| i.subs.iter().map(|s| s.code.as_str()))
    }
}

/// One city's raw indicator values.
#[derive(Debug, Clone)]
pub struct CityRow {
    pub city: String,
    pub province: String,
    /// Weight of the city within its cluster (e.g. population); 1 when absent.
    pub weight: f64,
    pub values: HashMap<String, f64>,
}

/// Read the wide CSV: `city,province[,weight],<sub-indicator codes...>`.
pub fn read_csv(text: &str, config: &Config) -> Result<Vec<CityRow>, InputError> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| input_err(None, None, format!("header: {e}")))?
        .clone();
    let known: Vec<&str> = config.sub_codes().collect();
    for h in headers.iter() {
        if !matches!(h, "city" | "province" | "weight") && !known.contains(&h) {
            return Err(input_err(
                None,
                Some(h),
                "unknown indicator (not in the config)",
            ));
        }
    }
    for required in ["city"].into_iter().chain(known.iter().copied()) {
        if !headers.iter().any(|h| h == required) {
            return Err(input_err(
                None,
                Some(required),
                "column missing from the header",
            ));
        }
    }
    let col = |name: &str| headers.iter().position(|h| h == name);
    let mut rows = Vec::new();
    let mut seen = HashMap::new();
    for (i, rec) in rdr.records().enumerate() {
        let row = i + 1;
        let rec = rec.map_err(|e| input_err(Some(row), None, format!("{e}")))?;
        let get = |name: &str| col(name).and_then(|c| rec.get(c)).unwrap_or("");
        let city = get("city").to_string();
        if city.is_empty() {
            return Err(input_err(Some(row), Some("city"), "city is missing"));
        }
        if let Some(prev) = seen.insert(city.clone(), row) {
            return Err(input_err(
                Some(row),
                Some("city"),
                format!("'{city}' already appears in row {prev}"),
            ));
        }
        let number = |name: &str| -> Result<f64, InputError> {
            let raw = get(name);
            let v: f64 = raw.parse().map_err(|_| {
                input_err(Some(row), Some(name), format!("'{raw}' is not a number"))
            })?;
            if v.is_finite() {
                Ok(v)
            } else {
                Err(input_err(
                    Some(row),
                    Some(name),
                    format!("'{raw}' is not a finite number"),
                ))
            }
        };
        let weight = if col("weight").is_some() {
            number("weight")?
        } else {
            1.0
        };
        let mut values = HashMap::new();
        for code in &known {
            values.insert((*code).to_string(), number(code)?);
        }
        rows.push(CityRow {
            city,
            province: get("province").to_string(),
            weight,
            values,
        });
    }
    if rows.is_empty() {
        return Err(input_err(None, None, "the CSV has no city rows"));
    }
    Ok(rows)
}

#[derive(Debug, Clone, Serialize)]
pub struct CityScore {
    pub rank: usize,
    pub city: String,
    pub province: String,
    pub score: f64,
    pub tier: usize,
    /// First-level indicator code -> 0-100 score.
    pub indicators: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClusterScore {
    pub name: String,
    pub cities: usize,
    pub weighted_score: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Highlight {
    pub city: String,
    pub overall_rank: usize,
    pub indicator: String,
    pub indicator_rank: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct DigitalIndex {
    pub cities: Vec<CityScore>,
    pub tier_sizes: Vec<usize>,
    pub mean: f64,
    pub max: f64,
    pub min: f64,
    pub clusters: Vec<ClusterScore>,
    pub highlights: Vec<Highlight>,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Split `n` cities into tiers proportional to `sizes` (largest remainder).
pub fn scale_tiers(sizes: &[usize], n: usize) -> Vec<usize> {
    let total: usize = sizes.iter().sum();
    if total == n || total == 0 {
        return sizes.to_vec();
    }
    let exact: Vec<f64> = sizes
        .iter()
        .map(|s| *s as f64 * n as f64 / total as f64)
        .collect();
    let mut out: Vec<usize> = exact.iter().map(|x| x.floor() as usize).collect();
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by(|a, b| {
        (exact[*b] - exact[*b].floor())
            .total_cmp(&(exact[*a] - exact[*a].floor()))
            .then(a.cmp(b))
    });
    let mut missing = n - out.iter().sum::<usize>();
    for i in order {
        if missing == 0 {
            break;
        }
        out[i] += 1;
        missing -= 1;
    }
    out
}

pub fn compute(rows: &[CityRow], config: &Config) -> Result<DigitalIndex, InputError> {
    // Min-max normalise each sub-indicator over all cities to 0-100; an
    // indicator on which all cities are equal tells nothing and scores 100.
    let mut norm: HashMap<&str, Vec<f64>> = HashMap::new();
    for code in config.sub_codes() {
        let vals: Vec<f64> = rows.iter().map(|r| r.values[code]).collect();
        let (lo, hi) = vals
            .iter()
            .fold((f64::MAX, f64::MIN), |(l, h), v| (l.min(*v), h.max(*v)));
        norm.insert(
            code,
            vals.iter()
                .map(|v| {
                    if hi > lo {
                        100.0 * (v - lo) / (hi - lo)
                    } else {
                        100.0
                    }
                })
                .collect(),
        );
    }
    let mut scored: Vec<(usize, f64, BTreeMap<String, f64>)> = (0..rows.len())
        .map(|i| {
            let mut firsts = BTreeMap::new();
            let mut total = 0.0;
            for ind in &config.indicators {
                let s: f64 = ind
                    .subs
                    .iter()
                    .map(|s| s.weight * norm[s.code.as_str()][i])
                    .sum();
                total += ind.weight * s;
                firsts.insert(ind.code.clone(), s);
            }
            (i, total, firsts)
        })
        .collect();
    scored.sort_by(|a, b| {
        b.1.total_cmp(&a.1)
            .then_with(|| rows[a.0].city.cmp(&rows[b.0].city))
    });

    let n = rows.len();
    let tier_sizes = if config.tier_thresholds.is_empty() {
        scale_tiers(&config.tier_sizes, n)
    } else {
        Vec::new()
    };
    let tier_of = |pos: usize, score: f64| -> usize {
        if !config.tier_thresholds.is_empty() {
            return config
                .tier_thresholds
                .iter()
                .position(|t| score >= *t)
                .unwrap_or(config.tier_thresholds.len())
                + 1;
        }
        let mut acc = 0;
        for (t, size) in tier_sizes.iter().enumerate() {
            acc += size;
            if pos < acc {
                return t + 1;
            }
        }
        tier_sizes.len().max(1)
    };
    let cities: Vec<CityScore> = scored
        .iter()
        .enumerate()
        .map(|(pos, (i, total, firsts))| CityScore {
            rank: pos + 1,
            city: rows[*i].city.clone(),
            province: rows[*i].province.clone(),
            score: round2(*total),
            tier: tier_of(pos, *total),
            indicators: firsts
                .iter()
                .map(|(k, v)| (k.clone(), round2(*v)))
                .collect(),
        })
        .collect();

    let mean = cities.iter().map(|c| c.score).sum::<f64>() / n as f64;
    let max = cities.iter().map(|c| c.score).fold(f64::MIN, f64::max);
    let min = cities.iter().map(|c| c.score).fold(f64::MAX, f64::min);

    let by_city: HashMap<&str, (usize, f64)> = scored
        .iter()
        .map(|(i, total, _)| (rows[*i].city.as_str(), (*i, *total)))
        .collect();
    let mut clusters = Vec::new();
    for (name, members) in &config.clusters {
        let mut wsum = 0.0;
        let mut acc = 0.0;
        let mut count = 0;
        for m in members {
            if let Some((i, total)) = by_city.get(m.as_str()) {
                wsum += rows[*i].weight;
                acc += rows[*i].weight * total;
                count += 1;
            }
        }
        if count > 0 && wsum > 0.0 {
            clusters.push(ClusterScore {
                name: name.clone(),
                cities: count,
                weighted_score: round2(acc / wsum),
            });
        }
    }
    clusters.sort_by(|a, b| b.weighted_score.total_cmp(&a.weighted_score));

    let mut highlights = Vec::new();
    let lower_from = (n as f64 * config.highlight_overall_below).ceil() as usize;
    for ind in &config.indicators {
        let mut order: Vec<&CityScore> = cities.iter().collect();
        order.sort_by(|a, b| {
            b.indicators[&ind.code]
                .total_cmp(&a.indicators[&ind.code])
                .then(a.rank.cmp(&b.rank))
        });
        for (pos, c) in order.iter().enumerate().take(config.highlight_top) {
            if c.rank > lower_from {
                highlights.push(Highlight {
                    city: c.city.clone(),
                    overall_rank: c.rank,
                    indicator: ind.code.clone(),
                    indicator_rank: pos + 1,
                });
            }
        }
    }
    Ok(DigitalIndex {
        cities,
        tier_sizes,
        mean: round2(mean),
        max,
        min,
        clusters,
        highlights,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"
tier_sizes = [1, 2, 1]
highlight_top = 1
[[indicator]]
code = "infra"
name = "数字健康基础设施"
weight = 0.6
  [[indicator.sub]]
  code = "broadband"
  name = "宽带"
  weight = 0.5
  [[indicator.sub]]
  code = "hospitals"
  name = "互联网医院"
  weight = 0.5
[[indicator]]
code = "industry"
name = "数字健康产业"
weight = 0.4
  [[indicator.sub]]
  code = "firms"
  name = "企业"
  weight = 1.0
[clusters]
"北" = ["甲市", "乙市"]
"#;

    const CSV: &str = "city,province,weight,broadband,hospitals,firms\n甲市,甲省,2,100,10,5\n乙市,甲省,1,80,8,1\n丙市,乙省,1,0,0,0\n丁市,乙省,1,10,1,9\n";

    #[test]
    fn scores_ranks_tiers_and_clusters() {
        let c = Config::parse(CONFIG).unwrap();
        let rows = read_csv(CSV, &c).unwrap();
        let idx = compute(&rows, &c).unwrap();
        let names: Vec<_> = idx.cities.iter().map(|c| c.city.as_str()).collect();
        assert_eq!(names, ["甲市", "乙市", "丁市", "丙市"]);
        // 甲: infra 100, industry 5/9*100 -> 0.6*100 + 0.4*55.56 = 82.22
        assert_eq!(idx.cities[0].score, 82.22);
        assert_eq!(idx.cities[3].score, 0.0);
        let tiers: Vec<_> = idx.cities.iter().map(|c| c.tier).collect();
        assert_eq!(tiers, [1, 2, 2, 3]);
        // cluster 北: (2*82.22.. + 1*乙) / 3
        let yi = idx.cities[1].score;
        assert!((idx.clusters[0].weighted_score - (2.0 * 82.2222 + yi) / 3.0).abs() < 0.02);
        // 丁市 ranks 3rd of 4 overall but 1st in industry.
        assert_eq!(idx.highlights.len(), 1);
        assert_eq!(idx.highlights[0].city, "丁市");
        assert_eq!(idx.highlights[0].indicator, "industry");
    }

    #[test]
    fn tier_sizes_scale_to_the_number_of_cities() {
        assert_eq!(scale_tiers(&[4, 16, 28, 76, 26], 150), [4, 16, 28, 76, 26]);
        let s = scale_tiers(&[4, 16, 28, 76, 26], 15);
        assert_eq!(s.iter().sum::<usize>(), 15);
    }

    #[test]
    fn bad_input_names_row_and_column() {
        let c = Config::parse(CONFIG).unwrap();
        let e = read_csv(
            "city,province,broadband,hospitals,firms\n甲市,甲省,1,abc,3\n",
            &c,
        )
        .unwrap_err();
        assert_eq!((e.row, e.column.as_deref()), (Some(1), Some("hospitals")));
        assert_eq!(
            e.to_string(),
            "row 1, column 'hospitals': 'abc' is not a number"
        );
        let e = read_csv("city,province,broadband,hospitals,firms\n,甲省,1,2,3\n", &c).unwrap_err();
        assert_eq!((e.row, e.column.as_deref()), (Some(1), Some("city")));
        let e = read_csv("city,broadband,hospitals,firms,magic\n甲市,1,2,3,4\n", &c).unwrap_err();
        assert_eq!(e.column.as_deref(), Some("magic"));
        assert!(e.message.contains("unknown indicator"));
        let e = read_csv("city,broadband,hospitals\n甲市,1,2\n", &c).unwrap_err();
        assert_eq!(e.column.as_deref(), Some("firms"));
        let e = read_csv(
            "city,broadband,hospitals,firms\n甲市,1,2,3\n甲市,1,2,3\n",
            &c,
        )
        .unwrap_err();
        assert_eq!(e.row, Some(2));
    }

    #[test]
    fn weights_must_sum_to_one() {
        let bad = CONFIG.replace("weight = 0.6", "weight = 0.7");
        let e = Config::parse(&bad).unwrap_err();
        assert!(e.message.contains("first-level weights sum to"), "{e}");
        let bad = CONFIG.replace("weight = 1.0", "weight = 0.9");
        assert!(
            Config::parse(&bad)
                .unwrap_err()
                .message
                .contains("'industry'")
        );
    }
}
