//! Smart triage for ihos: a complaint in the patient's words (Chinese or
//! English) becomes one of three answers:
//!
//! * **emergency**: a red-flag rule matched (chest pain with sweating, stroke
//!   signs, GI bleeding, ...): call 120 now, no department, no booking;
//! * **crisis**: self-harm or suicide: the crisis line (12356 and a local
//!   line) before anything else, and 110/120 when there is immediate danger;
//! * **routine**: up to three specialties with the words that point to them.
//!
//! Pure and synchronous: no IO, no model, no download. The knowledge is data
//! kept in the repository and reviewed like code (see `README.md` in this
//! crate for the formats): `data/language.txt` (negation and other cues),
//! `data/concepts.txt` (concept lexicons), `data/red_flags.txt` (rules) and
//! `data/departments.txt` (symptom -> specialty weights).

pub mod advice;
pub mod eval;
mod lexicon;
mod numbers;
mod rules;
mod text;

use std::collections::HashMap;
use std::fmt;

use ihos_domain::{ErrorCode, Specialty};

use lexicon::{Cues, Lexicon, Occ};
use rules::Rule;
use text::Text;

pub use advice::{Hotline, Lang};

const LANGUAGE: &str = include_str!("../data/language.txt");
const CONCEPTS: &str = include_str!("../data/concepts.txt");
const RED_FLAGS: &str = include_str!("../data/red_flags.txt");
const DEPARTMENTS: &str = include_str!("../data/departments.txt");

/// Longest complaint accepted, in characters.
pub const MAX_COMPLAINT_CHARS: usize = 1000;
/// Suggestions given for a routine complaint.
pub const MAX_SUGGESTIONS: usize = 3;

/// A mistake in a knowledge file (found when the files are loaded, and by
/// the tests, so a broken file never reaches a server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KbError {
    pub file: &'static str,
    pub line: usize,
    pub what: String,
}

impl fmt::Display for KbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.what)
    }
}

impl std::error::Error for KbError {}

/// Why a complaint cannot be triaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputError {
    Empty,
    TooLong { max: usize },
}

impl InputError {
    pub fn code(self) -> ErrorCode {
        match self {
            InputError::Empty => ErrorCode::ComplaintEmpty,
            InputError::TooLong { .. } => ErrorCode::ComplaintTooLong,
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::Empty => write!(f, "Describe the complaint in a few words."),
            InputError::TooLong { max } => {
                write!(f, "The complaint is longer than {max} characters.")
            }
        }
    }
}

impl std::error::Error for InputError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Routine,
    Emergency,
    Crisis,
}

impl Level {
    pub fn code(self) -> &'static str {
        match self {
            Level::Routine => "routine",
            Level::Emergency => "emergency",
            Level::Crisis => "crisis",
        }
    }
}

/// A red-flag rule that matched, with the words of the complaint behind it.
#[derive(Debug, Clone)]
pub struct Flag {
    pub rule: String,
    pub level: Level,
    pub zh: String,
    pub en: String,
    /// The published criterion the rule follows.
    pub source: String,
    pub matched: Vec<String>,
}

impl Flag {
    pub fn text(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => &self.zh,
            Lang::En => &self.en,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Suggestion {
    pub specialty: Specialty,
    pub score: u32,
    /// The words of the complaint that point to this specialty.
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Assessment {
    pub level: Level,
    /// A crisis with immediate danger (a plan, pills taken, on a rooftop).
    pub immediate_danger: bool,
    /// Every red-flag rule that matched (crisis rules first).
    pub flags: Vec<Flag>,
    /// Routine only: when to call 120 after all ("watch" rules).
    pub cautions: Vec<Flag>,
    /// Only for routine complaints: never next to an emergency or a crisis.
    pub suggestions: Vec<Suggestion>,
}

struct DeptTerm {
    specialty: Specialty,
    concept: usize,
    weight: u32,
}

pub struct Triage {
    lex: Lexicon,
    cues: Cues,
    rules: Vec<Rule>,
    depts: Vec<DeptTerm>,
}

/// Department lines (`code weight = term | {concept}`) become hidden
/// concepts appended to the lexicon, so they are matched and negated alike.
/// (specialty, concept name, weight) of one department term.
type DeptEntry = (Specialty, String, u32);

fn department_lexicon(src: &str) -> Result<(String, Vec<DeptEntry>), KbError> {
    let mut extra = String::new();
    let mut entries = Vec::new();
    for (n, line) in src.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let err = |what: String| KbError {
            file: "departments.txt",
            line: n + 1,
            what,
        };
        let (head, list) = line
            .split_once('=')
            .ok_or_else(|| err("expected `specialty weight = term | term`".into()))?;
        let mut head = head.split_whitespace();
        let code = head.next().unwrap_or_default();
        let specialty = Specialty::parse(code).map_err(|e| err(e.message))?;
        let weight: u32 = match head.next() {
            Some(w) => w
                .parse()
                .map_err(|_| err(format!("weight '{w}' is not a number")))?,
            None => 1,
        };
        for (k, term) in list.split('|').map(str::trim).enumerate() {
            if term.is_empty() {
                continue;
            }
            let name = if let Some(c) = term.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                c.to_string()
            } else {
                let hidden = format!("dept_{}_{k}", n + 1);
                extra.push_str(&format!("{hidden} = {term}\n"));
                hidden
            };
            entries.push((specialty, name, weight));
        }
    }
    Ok((extra, entries))
}

impl Triage {
    /// Load the knowledge files compiled into the binary.
    pub fn load() -> Result<Triage, KbError> {
        Triage::from_sources(LANGUAGE, CONCEPTS, RED_FLAGS, DEPARTMENTS)
    }

    pub fn from_sources(
        language: &str,
        concepts: &str,
        red_flags: &str,
        departments: &str,
    ) -> Result<Triage, KbError> {
        let cue_lex = Lexicon::parse(language, "language.txt")?;
        let cues = Cues::from(&cue_lex)?;
        let (extra, entries) = department_lexicon(departments)?;
        let lex = Lexicon::parse(&format!("{concepts}\n{extra}"), "concepts.txt")?;
        let rules = rules::parse_rules(red_flags, &lex)?;
        let mut depts = Vec::new();
        for (specialty, name, weight) in entries {
            let concept = lex.id(&name).ok_or_else(|| KbError {
                file: "departments.txt",
                line: 0,
                what: format!("unknown concept '{{{name}}}'"),
            })?;
            depts.push(DeptTerm {
                specialty,
                concept,
                weight,
            });
        }
        Ok(Triage {
            lex,
            cues,
            rules,
            depts,
        })
    }

    /// Number of red-flag rules (for the docs and tests).
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    fn matches(&self, complaint: &str) -> (Text, Vec<Occ>) {
        let text = Text::new(complaint, &self.cues.turning);
        let nums = numbers::find(&self.lex, &text);
        let mut occs = self.lex.find(&text, nums);
        self.cues.mark(&text, &mut occs);
        (text, occs)
    }

    /// Triage one complaint.
    pub fn assess(&self, complaint: &str) -> Result<Assessment, InputError> {
        let count = complaint.chars().count();
        if count > MAX_COMPLAINT_CHARS {
            return Err(InputError::TooLong {
                max: MAX_COMPLAINT_CHARS,
            });
        }
        let (text, occs) = self.matches(complaint);
        if text.chars.iter().all(|c| !c.is_alphanumeric()) {
            return Err(InputError::Empty);
        }
        let mut said = vec![false; self.lex.len()];
        let mut current = vec![false; self.lex.len()];
        for o in &occs {
            if !o.negated && !o.settled {
                said[o.concept] = true;
            }
            if o.current() {
                current[o.concept] = true;
            }
        }
        let mut flags = Vec::new();
        let mut danger = false;
        for r in &self.rules {
            // A crisis counts whenever it is said, unless denied or settled
            // (past, better now, nothing acute after); an emergency only while
            // it is happening.
            let truth: &[bool] = if r.level == Level::Crisis {
                &said
            } else {
                &current
            };
            let has = |c: usize| truth.get(c).copied().unwrap_or(false);
            if !r.when.eval(&has) {
                continue;
            }
            danger |= r.danger;
            let mut pos = Vec::new();
            r.when.positive(&has, &mut pos);
            let mut spans: Vec<(usize, usize)> = occs
                .iter()
                .filter(|o| pos.contains(&o.concept) && !o.negated)
                .map(|o| (o.start, o.end))
                .collect();
            spans.sort_unstable_by_key(|&(s, e)| (s, std::cmp::Reverse(e)));
            let mut matched: Vec<String> = Vec::new();
            let mut last_end = 0;
            for (s, e) in spans {
                // Keep the outermost of nested matches.
                if s < last_end {
                    continue;
                }
                let w = text.slice(s, e);
                if !matched.contains(&w) {
                    matched.push(w);
                }
                last_end = e;
            }
            flags.push(Flag {
                rule: r.id.clone(),
                level: r.level,
                zh: r.zh.clone(),
                en: r.en.clone(),
                source: r.source.clone(),
                matched,
            });
        }
        let (mut cautions, mut flags): (Vec<Flag>, Vec<Flag>) =
            flags.into_iter().partition(|f| f.level == Level::Routine);
        flags.sort_by_key(|f| std::cmp::Reverse(f.level));
        let level = flags.first().map_or(Level::Routine, |f| f.level);
        if level != Level::Routine {
            cautions.clear();
        }
        let suggestions = if level == Level::Routine {
            self.departments(&text, &occs)
        } else {
            Vec::new()
        };
        Ok(Assessment {
            level,
            immediate_danger: level == Level::Crisis
                && (danger || flags.iter().any(|f| f.level == Level::Emergency)),
            flags,
            cautions,
            suggestions,
        })
    }

    fn departments(&self, text: &Text, occs: &[Occ]) -> Vec<Suggestion> {
        // specialty code -> (score, first position, reasons, file order)
        let mut scores: HashMap<&'static str, (u32, usize, Vec<String>, usize, Specialty)> =
            HashMap::new();
        for (order, d) in self.depts.iter().enumerate() {
            let Some(o) = occs
                .iter()
                .filter(|o| o.concept == d.concept && !o.negated)
                .min_by_key(|o| o.start)
            else {
                continue;
            };
            let word = text.slice(o.start, o.end);
            let e = scores.entry(d.specialty.code()).or_insert((
                0,
                usize::MAX,
                Vec::new(),
                order,
                d.specialty,
            ));
            if e.2.iter().any(|w| w.contains(&word)) {
                continue;
            }
            e.2.retain(|w| !word.contains(w.as_str()));
            e.0 += d.weight;
            e.1 = e.1.min(o.start);
            e.2.push(word);
        }
        let mut ranked: Vec<_> = scores.into_values().collect();
        ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.3.cmp(&b.3)));
        ranked
            .into_iter()
            .take(MAX_SUGGESTIONS)
            .map(|(score, _, reasons, _, specialty)| Suggestion {
                specialty,
                score,
                reasons,
            })
            .collect()
    }

    /// The concepts found in a complaint, with their state (for `triage-eval --explain`).
    pub fn explain(&self, complaint: &str) -> Vec<String> {
        let (text, occs) = self.matches(complaint);
        occs.iter()
            .filter(|o| !self.lex.name(o.concept).starts_with("dept_"))
            .map(|o| {
                let mut s = format!(
                    "{}={}",
                    self.lex.name(o.concept),
                    text.slice(o.start, o.end)
                );
                for (flag, on) in [
                    ("negated", o.negated),
                    ("resolved", o.resolved),
                    ("past", o.past),
                ] {
                    if on {
                        s.push_str(&format!(" ({flag})"));
                    }
                }
                s
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
