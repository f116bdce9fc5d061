//! Follow-up plans (随访) and chronic disease management: templates with
//! scheduled tasks, the patient's results, the ranges that decide whether a
//! reading needs the doctor's attention, missed tasks, and the figures
//! (adherence, control rate) the hospital watches.

use serde::{Deserialize, Serialize};

use crate::{DomainError, ErrorCode};

pub const DAY_MS: i64 = 86_400_000;

/// Settings file `[followup]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// A task not done this many hours after it was due is missed and escalated.
    pub grace_hours: i64,
    /// The follow-up job runs this often (seconds).
    pub job_interval_secs: u64,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            grace_hours: 48,
            job_interval_secs: 300,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    Questionnaire,
    BpReading,
    GlucoseReading,
    MedicationAdherence,
    RevisitReminder,
}

impl TaskKind {
    pub const ALL: [TaskKind; 5] = [
        TaskKind::Questionnaire,
        TaskKind::BpReading,
        TaskKind::GlucoseReading,
        TaskKind::MedicationAdherence,
        TaskKind::RevisitReminder,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::Questionnaire => "questionnaire",
            TaskKind::BpReading => "bp_reading",
            TaskKind::GlucoseReading => "glucose_reading",
            TaskKind::MedicationAdherence => "medication_adherence",
            TaskKind::RevisitReminder => "revisit_reminder",
        }
    }

    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                DomainError::new(ErrorCode::InvalidKind, format!("Unknown task kind '{s}'."))
            })
    }

    pub fn is_reading(self) -> bool {
        matches!(self, TaskKind::BpReading | TaskKind::GlucoseReading)
    }
}

/// The normal range of one measured value, inclusive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Range {
    /// systolic / diastolic (mmHg) or glucose (mmol/L)
    pub metric: String,
    pub min: f64,
    pub max: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSpec {
    pub kind: TaskKind,
    pub title: String,
    /// Day of the plan (0 = the day it is assigned) the first task is due.
    pub first_day: i64,
    /// Repeat every this many days until the plan ends; absent: once.
    pub every_days: Option<i64>,
    #[serde(default)]
    pub ranges: Vec<Range>,
    #[serde(default)]
    pub questions: Vec<String>,
}

/// A plan template, kept in the repository (`crates/server/followup_templates`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanTemplate {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub description: String,
    pub duration_days: i64,
    pub tasks: Vec<TaskSpec>,
}

impl PlanTemplate {
    /// A template is usable when every task can be scheduled and every
    /// reading has ranges for what it measures.
    pub fn validate(&self) -> Result<(), DomainError> {
        let bad = |m: String| Err(DomainError::new(ErrorCode::InvalidTemplate, m));
        if self.code.is_empty() || !(1..=730).contains(&self.duration_days) {
            return bad(format!("{}: code and 1-730 days needed", self.code));
        }
        if self.tasks.is_empty() {
            return bad(format!("{}: no tasks", self.code));
        }
        for t in &self.tasks {
            if t.first_day < 0 || t.first_day > self.duration_days {
                return bad(format!(
                    "{}: '{}' starts outside the plan",
                    self.code, t.title
                ));
            }
            if t.every_days.is_some_and(|d| d < 1) {
                return bad(format!("{}: '{}' repeats every <1 day", self.code, t.title));
            }
            let need: &[&str] = match t.kind {
                TaskKind::BpReading => &["systolic", "diastolic"],
                TaskKind::GlucoseReading => &["glucose"],
                _ => &[],
            };
            for m in need {
                if !t.ranges.iter().any(|r| r.metric == *m && r.min < r.max) {
                    return bad(format!("{}: '{}' needs a {m} range", self.code, t.title));
                }
            }
            if t.kind == TaskKind::Questionnaire && t.questions.is_empty() {
                return bad(format!("{}: '{}' has no questions", self.code, t.title));
            }
        }
        Ok(())
    }

    /// The plan's tasks from `start` (UTC ms): (seq, spec index, due_at), by due time.
    pub fn schedule(&self, start: i64) -> Vec<(i64, usize, i64)> {
        let mut due = Vec::new();
        for (i, t) in self.tasks.iter().enumerate() {
            let mut day = t.first_day;
            while day <= self.duration_days {
                due.push((i, start + day * DAY_MS));
                match t.every_days {
                    Some(step) if step > 0 => day += step,
                    _ => break,
                }
            }
        }
        due.sort_by_key(|(i, at)| (*at, *i));
        due.into_iter()
            .enumerate()
            .map(|(n, (i, at))| (n as i64 + 1, i, at))
            .collect()
    }
}

/// Why a plan is assigned.
pub fn parse_occasion(s: &str) -> Result<&'static str, DomainError> {
    match s.trim() {
        "discharge" => Ok("discharge"),
        "visit" => Ok("visit"),
        _ => Err(DomainError::new(
            ErrorCode::InvalidOccasion,
            "A plan is assigned at discharge ('discharge') or after a visit ('visit').",
        )
        .on("occasion")),
    }
}

/// What the patient sends for one task.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct ResultInput {
    pub systolic: Option<i64>,
    pub diastolic: Option<i64>,
    /// mmol/L
    pub glucose: Option<f64>,
    #[serde(default)]
    pub answers: Vec<String>,
    /// Medication taken as prescribed since the last check.
    pub taken_as_prescribed: Option<bool>,
    pub missed_doses: Option<i64>,
    /// The patient confirms the revisit (booked or done).
    pub confirmed: Option<bool>,
    pub note: Option<String>,
}

/// A checked result: what is stored, and whether a reading is in range
/// (`None` for tasks that are not readings), with the values outside.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub stored: serde_json::Value,
    pub in_range: Option<bool>,
    pub outside: Vec<String>,
}

fn need<T>(v: Option<T>, field: &'static str, what: &str) -> Result<T, DomainError> {
    v.ok_or_else(|| DomainError::new(ErrorCode::InvalidResult, format!("Give {what}.")).on(field))
}

fn in_range(ranges: &[Range], metric: &str, v: f64, outside: &mut Vec<String>) {
    if let Some(r) = ranges.iter().find(|r| r.metric == metric)
        && (v < r.min || v > r.max)
    {
        outside.push(format!("{metric} {v} (normal {}-{})", r.min, r.max));
    }
}

/// Check a result against the task's kind and ranges.
pub fn check_result(spec: &TaskSpec, input: &ResultInput) -> Result<Checked, DomainError> {
    let note = match input.note.as_deref().map(str::trim) {
        Some(n) if n.chars().count() > 500 => {
            return Err(DomainError::new(
                ErrorCode::InvalidResult,
                "A note is at most 500 characters.",
            )
            .on("note"));
        }
        Some(n) if !n.is_empty() => Some(n.to_string()),
        _ => None,
    };
    let mut outside = Vec::new();
    let (stored, reading) = match spec.kind {
        TaskKind::BpReading => {
            let s = need(input.systolic, "systolic", "the systolic pressure (mmHg)")?;
            let d = need(
                input.diastolic,
                "diastolic",
                "the diastolic pressure (mmHg)",
            )?;
            if !(50..=300).contains(&s) || !(30..=200).contains(&d) || d >= s {
                return Err(DomainError::new(
                    ErrorCode::InvalidResult,
                    "Blood pressure is systolic 50-300 over diastolic 30-200 mmHg, systolic the higher.",
                )
                .on("systolic"));
            }
            in_range(&spec.ranges, "systolic", s as f64, &mut outside);
            in_range(&spec.ranges, "diastolic", d as f64, &mut outside);
            (
                serde_json::json!({"systolic": s, "diastolic": d, "note": note}),
                true,
            )
        }
        TaskKind::GlucoseReading => {
            let g = need(input.glucose, "glucose", "the blood glucose (mmol/L)")?;
            if !g.is_finite() || !(1.0..=40.0).contains(&g) {
                return Err(DomainError::new(
                    ErrorCode::InvalidResult,
                    "Blood glucose is 1.0-40.0 mmol/L.",
                )
                .on("glucose"));
            }
            let g = (g * 10.0).round() / 10.0;
            in_range(&spec.ranges, "glucose", g, &mut outside);
            (serde_json::json!({"glucose": g, "note": note}), true)
        }
        TaskKind::Questionnaire => {
            if input.answers.len() != spec.questions.len()
                || input
                    .answers
                    .iter()
                    .any(|a| a.trim().is_empty() || a.chars().count() > 500)
            {
                return Err(DomainError::new(
                    ErrorCode::InvalidResult,
                    format!(
                        "Answer all {} questions (each up to 500 characters).",
                        spec.questions.len()
                    ),
                )
                .on("answers"));
            }
            let answers: Vec<&str> = input.answers.iter().map(|a| a.trim()).collect();
            (serde_json::json!({"answers": answers, "note": note}), false)
        }
        TaskKind::MedicationAdherence => {
            let taken = need(
                input.taken_as_prescribed,
                "taken_as_prescribed",
                "whether you took the medication as prescribed",
            )?;
            let missed = input.missed_doses.unwrap_or(0);
            if !(0..=100).contains(&missed) || (taken && missed > 0) {
                return Err(DomainError::new(
                    ErrorCode::InvalidResult,
                    "Missed doses are 0-100, and 0 when taken as prescribed.",
                )
                .on("missed_doses"));
            }
            (
                serde_json::json!({"taken_as_prescribed": taken, "missed_doses": missed, "note": note}),
                false,
            )
        }
        TaskKind::RevisitReminder => {
            let c = need(
                input.confirmed,
                "confirmed",
                "whether the revisit is booked",
            )?;
            (serde_json::json!({"confirmed": c, "note": note}), false)
        }
    };
    Ok(Checked {
        stored,
        in_range: reading.then_some(outside.is_empty()),
        outside,
    })
}

/// A task still due `grace_hours` after its due time is missed.
pub fn is_missed(due_at: i64, now: i64, policy: &Policy) -> bool {
    now > due_at + policy.grace_hours * 3_600_000
}

/// A percentage with one decimal, or `None` without a denominator.
pub fn percent(numerator: i64, denominator: i64) -> Option<f64> {
    (denominator > 0).then(|| (numerator as f64 * 1000.0 / denominator as f64).round() / 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bp_spec() -> TaskSpec {
        TaskSpec {
            kind: TaskKind::BpReading,
            title: "血压".into(),
            first_day: 1,
            every_days: Some(7),
            ranges: vec![
                Range {
                    metric: "systolic".into(),
                    min: 90.0,
                    max: 139.0,
                },
                Range {
                    metric: "diastolic".into(),
                    min: 60.0,
                    max: 89.0,
                },
            ],
            questions: vec![],
        }
    }

    fn template() -> PlanTemplate {
        PlanTemplate {
            code: "hypertension".into(),
            name_zh: "高血压随访".into(),
            name_en: "Hypertension".into(),
            description: String::new(),
            duration_days: 30,
            tasks: vec![
                bp_spec(),
                TaskSpec {
                    kind: TaskKind::RevisitReminder,
                    title: "复诊".into(),
                    first_day: 30,
                    every_days: None,
                    ranges: vec![],
                    questions: vec![],
                },
            ],
        }
    }

    #[test]
    fn a_plan_schedules_repeating_and_one_off_tasks_in_order() {
        let t = template();
        t.validate().unwrap();
        let s = t.schedule(0);
        // days 1, 8, 15, 22, 29 for the reading, day 30 for the revisit
        let days: Vec<i64> = s.iter().map(|x| x.2 / DAY_MS).collect();
        assert_eq!(days, vec![1, 8, 15, 22, 29, 30]);
        assert_eq!(s.last().unwrap().1, 1);
        assert_eq!(
            s.iter().map(|x| x.0).collect::<Vec<_>>(),
            vec![1, 2, 3, 4, 5, 6]
        );
    }

    #[test]
    fn a_reading_without_a_range_makes_the_template_invalid() {
        let mut t = template();
        t.tasks[0].ranges.pop();
        assert_eq!(t.validate().unwrap_err().code, "invalid_template");
    }

    #[test]
    fn readings_outside_the_range_are_flagged() {
        let spec = bp_spec();
        let ok = check_result(
            &spec,
            &ResultInput {
                systolic: Some(128),
                diastolic: Some(82),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(ok.in_range, Some(true));
        let high = check_result(
            &spec,
            &ResultInput {
                systolic: Some(168),
                diastolic: Some(95),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(high.in_range, Some(false));
        assert_eq!(high.outside.len(), 2);
        // The edges of the range are normal.
        let edge = check_result(
            &spec,
            &ResultInput {
                systolic: Some(139),
                diastolic: Some(89),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(edge.in_range, Some(true));
        let e = check_result(
            &spec,
            &ResultInput {
                systolic: Some(80),
                diastolic: Some(120),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(e.code, "invalid_result");
        assert!(check_result(&spec, &ResultInput::default()).is_err());
    }

    #[test]
    fn glucose_questionnaires_and_adherence_are_checked() {
        let g = TaskSpec {
            kind: TaskKind::GlucoseReading,
            title: "空腹血糖".into(),
            first_day: 0,
            every_days: Some(3),
            ranges: vec![Range {
                metric: "glucose".into(),
                min: 3.9,
                max: 7.0,
            }],
            questions: vec![],
        };
        let r = |v: f64| {
            check_result(
                &g,
                &ResultInput {
                    glucose: Some(v),
                    ..Default::default()
                },
            )
        };
        assert_eq!(r(6.1).unwrap().in_range, Some(true));
        assert_eq!(r(11.2).unwrap().in_range, Some(false));
        assert!(r(0.2).is_err());
        let q = TaskSpec {
            kind: TaskKind::Questionnaire,
            title: "问卷".into(),
            first_day: 0,
            every_days: None,
            ranges: vec![],
            questions: vec!["头晕吗？".into(), "饮食如何？".into()],
        };
        let one = ResultInput {
            answers: vec!["没有".into()],
            ..Default::default()
        };
        assert!(check_result(&q, &one).is_err());
        let both = ResultInput {
            answers: vec!["没有".into(), "清淡".into()],
            ..Default::default()
        };
        assert_eq!(check_result(&q, &both).unwrap().in_range, None);
        let m = TaskSpec {
            kind: TaskKind::MedicationAdherence,
            ..q.clone()
        };
        let bad = ResultInput {
            taken_as_prescribed: Some(true),
            missed_doses: Some(2),
            ..Default::default()
        };
        assert!(check_result(&m, &bad).is_err());
    }

    #[test]
    fn missed_after_the_grace_period_and_rates_round() {
        let p = Policy::default();
        assert!(!is_missed(0, 48 * 3_600_000, &p));
        assert!(is_missed(0, 48 * 3_600_000 + 1, &p));
        assert_eq!(percent(2, 3), Some(66.7));
        assert_eq!(percent(0, 0), None);
        assert_eq!(parse_occasion("discharge"), Ok("discharge"));
        assert!(parse_occasion("whenever").is_err());
    }
}
