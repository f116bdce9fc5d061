//! The evaluation: a TSV of complaints with the expected flag and the
//! acceptable departments (`eval/complaints.tsv`, `eval/holdout.tsv`), and
//! the figures the targets are about.

use std::fmt;

use crate::{Level, Triage};

/// Targets on every set: emergency and crisis recall 100 %, false alarms on
/// ordinary complaints at most 2 %, top-3 department accuracy at least 90 %.
pub const MIN_RECALL: f64 = 1.0;
pub const MAX_FALSE_ALARM: f64 = 0.02;
pub const MIN_TOP3: f64 = 0.90;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    Emergency,
    Crisis,
    Ordinary,
}

#[derive(Debug, Clone)]
pub struct Case {
    pub line: usize,
    pub expected: Expected,
    pub departments: Vec<String>,
    pub complaint: String,
}

pub fn parse(tsv: &str) -> Result<Vec<Case>, String> {
    let mut out = Vec::new();
    for (n, line) in tsv.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let mut f = line.splitn(3, '\t');
        let (Some(flag), Some(deps), Some(complaint)) = (f.next(), f.next(), f.next()) else {
            return Err(format!(
                "line {}: expected flag<TAB>departments<TAB>complaint",
                n + 1
            ));
        };
        let expected = match flag.trim() {
            "emergency" => Expected::Emergency,
            "crisis" => Expected::Crisis,
            "none" => Expected::Ordinary,
            other => return Err(format!("line {}: unknown flag '{other}'", n + 1)),
        };
        let departments: Vec<String> = deps
            .split(',')
            .map(|d| d.trim().to_string())
            .filter(|d| !d.is_empty() && d != "-")
            .collect();
        for d in &departments {
            ihos_domain::Specialty::parse(d)
                .map_err(|_| format!("line {}: unknown specialty '{d}'", n + 1))?;
        }
        if expected == Expected::Ordinary && departments.is_empty() {
            return Err(format!(
                "line {}: an ordinary complaint needs departments",
                n + 1
            ));
        }
        out.push(Case {
            line: n + 1,
            expected,
            departments,
            complaint: complaint.trim().to_string(),
        });
    }
    Ok(out)
}

#[derive(Debug, Default, Clone)]
pub struct Report {
    pub emergency: (usize, usize),
    pub crisis: (usize, usize),
    /// (ordinary complaints flagged as emergency or crisis, ordinary complaints)
    pub false_alarms: (usize, usize),
    pub top3: (usize, usize),
    pub failures: Vec<String>,
}

fn ratio((a, b): (usize, usize)) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

impl Report {
    pub fn emergency_recall(&self) -> f64 {
        ratio(self.emergency)
    }
    pub fn crisis_recall(&self) -> f64 {
        ratio(self.crisis)
    }
    pub fn false_alarm_rate(&self) -> f64 {
        if self.false_alarms.1 == 0 {
            0.0
        } else {
            ratio(self.false_alarms)
        }
    }
    pub fn top3_accuracy(&self) -> f64 {
        ratio(self.top3)
    }
    pub fn meets_targets(&self) -> bool {
        self.emergency_recall() >= MIN_RECALL
            && self.crisis_recall() >= MIN_RECALL
            && self.false_alarm_rate() <= MAX_FALSE_ALARM
            && self.top3_accuracy() >= MIN_TOP3
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pct = |x: f64| x * 100.0;
        writeln!(
            f,
            "emergency recall   {:>6.1}%  ({}/{})   target 100%",
            pct(self.emergency_recall()),
            self.emergency.0,
            self.emergency.1
        )?;
        writeln!(
            f,
            "crisis recall      {:>6.1}%  ({}/{})   target 100%",
            pct(self.crisis_recall()),
            self.crisis.0,
            self.crisis.1
        )?;
        writeln!(
            f,
            "false alarms       {:>6.1}%  ({}/{})   target <= 2%",
            pct(self.false_alarm_rate()),
            self.false_alarms.0,
            self.false_alarms.1
        )?;
        writeln!(
            f,
            "top-3 department   {:>6.1}%  ({}/{})   target >= 90%",
            pct(self.top3_accuracy()),
            self.top3.0,
            self.top3.1
        )?;
        if self.failures.is_empty() {
            writeln!(f, "failures: none")?;
        } else {
            writeln!(f, "failures ({}):", self.failures.len())?;
            for l in &self.failures {
                writeln!(f, "  {l}")?;
            }
        }
        write!(
            f,
            "{}",
            if self.meets_targets() {
                "PASS"
            } else {
                "FAIL: below target"
            }
        )
    }
}

pub fn evaluate(t: &Triage, cases: &[Case]) -> Report {
    let mut r = Report::default();
    for c in cases {
        let got = match t.assess(&c.complaint) {
            Ok(a) => a,
            Err(e) => {
                r.failures.push(format!(
                    "line {}: {} -> error {}",
                    c.line,
                    c.complaint,
                    e.code()
                ));
                continue;
            }
        };
        let top: Vec<&str> = got.suggestions.iter().map(|s| s.specialty.code()).collect();
        let rules: Vec<&str> = got.flags.iter().map(|f| f.rule.as_str()).collect();
        let fail = |what: &str| {
            format!(
                "line {}: {} -> {} [{}] {:?}",
                c.line,
                c.complaint,
                what,
                rules.join(","),
                top
            )
        };
        match c.expected {
            Expected::Emergency => {
                r.emergency.1 += 1;
                // A crisis that also says 120 answers an emergency too.
                if got.level == Level::Emergency
                    || (got.level == Level::Crisis && got.immediate_danger)
                {
                    r.emergency.0 += 1;
                } else {
                    r.failures.push(fail(&format!(
                        "missed emergency (got {})",
                        got.level.code()
                    )));
                }
            }
            Expected::Crisis => {
                r.crisis.1 += 1;
                if got.level == Level::Crisis {
                    r.crisis.0 += 1;
                } else {
                    r.failures
                        .push(fail(&format!("missed crisis (got {})", got.level.code())));
                }
            }
            Expected::Ordinary => {
                r.false_alarms.1 += 1;
                r.top3.1 += 1;
                if got.level != Level::Routine {
                    r.false_alarms.0 += 1;
                    r.failures
                        .push(fail(&format!("false alarm ({})", got.level.code())));
                } else if top.iter().any(|s| c.departments.iter().any(|d| d == s)) {
                    r.top3.0 += 1;
                } else {
                    r.failures.push(fail(&format!(
                        "department not in top 3 (want {})",
                        c.departments.join("/")
                    )));
                }
            }
        }
    }
    r
}
