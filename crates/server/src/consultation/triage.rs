//! Smart triage over HTTP. The rules and the knowledge live in the pure
//! crate `ihos-triage` (`crates/triage`, data files reviewed like code); this
//! module turns an assessment into the API answer in the caller's language:
//! the level, the advice, the numbers to call, the reasons and, for routine
//! complaints only, up to three departments with a link to doctors with open
//! slots.

use axum::http::HeaderMap;
use ihos_domain::{DomainError, ErrorCode};
use ihos_triage::{Assessment, Level};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::cookie;
use crate::i18n::Lang;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Suggestion {
    pub specialty: &'static str,
    pub name_zh: &'static str,
    pub name_en: &'static str,
    /// The name in the caller's language.
    pub name: &'static str,
    pub score: u32,
    /// The words of the complaint that point to this specialty.
    pub reasons: Vec<String>,
    /// The booking search for this specialty (doctors with open slots).
    pub booking_url: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Hotline {
    pub number: String,
    pub label: String,
    /// `tel:` link for a tap-to-call button.
    pub tel: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Reason {
    /// The red-flag rule (see crates/triage/data/red_flags.txt).
    pub rule: String,
    pub text: String,
    /// The words of the complaint that matched.
    pub matched: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TriageResult {
    /// `emergency` (call 120), `crisis` (crisis line first) or `routine`.
    pub level: &'static str,
    /// Call 120 instead of booking.
    pub emergency: bool,
    /// Self-harm or suicide: the crisis line before anything else.
    pub crisis: bool,
    /// A crisis with immediate danger: 120 and 110 as well.
    pub immediate_danger: bool,
    /// The language of `advice`, labels and reasons: `zh-CN` or `en`.
    pub lang: &'static str,
    pub advice: String,
    /// Numbers to call, most urgent first (empty for routine complaints).
    pub hotlines: Vec<Hotline>,
    /// Why the complaint is an emergency or a crisis.
    pub reasons: Vec<Reason>,
    /// Routine only: when to call 120 after all (e.g. chest pain lasting 15 minutes).
    pub cautions: Vec<Reason>,
    /// The words behind the red flags (kept for older clients).
    pub emergency_words: Vec<String>,
    /// Departments, for routine complaints only.
    pub suggestions: Vec<Suggestion>,
}

/// The caller's language for an API answer: an explicit `lang`, else the
/// page-language cookie, else `Accept-Language`, else Chinese.
pub fn api_lang(explicit: Option<&str>, headers: &HeaderMap) -> Lang {
    let en = |v: &str| v.trim().to_ascii_lowercase().starts_with("en");
    if let Some(v) = explicit.filter(|v| !v.trim().is_empty()) {
        return if en(v) { Lang::En } else { Lang::Zh };
    }
    if let Some(v) = cookie(headers, "ihos_lang") {
        return if en(&v) { Lang::En } else { Lang::Zh };
    }
    let accept = headers
        .get(axum::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    // The first listed language decides ("en-US,en;q=0.9,zh;q=0.8").
    if en(accept.split(',').next().unwrap_or_default()) {
        Lang::En
    } else {
        Lang::Zh
    }
}

fn tlang(lang: Lang) -> ihos_triage::Lang {
    match lang {
        Lang::En => ihos_triage::Lang::En,
        Lang::Zh => ihos_triage::Lang::Zh,
    }
}

fn local_line(state: &AppState) -> Option<&str> {
    let l = state.settings.triage_local_crisis_line.trim();
    (!l.is_empty()).then_some(l)
}

/// A complaint as typed: 1 to 1000 characters of text (`complaint_too_long`
/// past that, so the page can say so).
pub fn parse_complaint(raw: &str) -> Result<String, DomainError> {
    let max = ihos_triage::MAX_COMPLAINT_CHARS;
    if raw.trim().chars().count() > max {
        return Err(DomainError::new(
            ErrorCode::ComplaintTooLong,
            format!("Describe the complaint in at most {max} characters."),
        )
        .on("complaint"));
    }
    ihos_domain::consultation::parse_text(raw, "complaint", max)
}

/// Triage a complaint (already checked for length) for the caller.
pub fn assess(state: &AppState, complaint: &str) -> Result<Assessment, DomainError> {
    state
        .triage
        .assess(complaint)
        .map_err(|e| DomainError::new(e.code(), e.to_string()).on("complaint"))
}

/// The advice for an emergency or a crisis, for the refusal of a consultation.
pub fn advice(state: &AppState, a: &Assessment, lang: Lang) -> String {
    a.advice(tlang(lang), local_line(state))
}

pub fn result(state: &AppState, a: &Assessment, lang: Lang) -> TriageResult {
    let l = tlang(lang);
    let local = local_line(state);
    let reason = |f: &ihos_triage::Flag| Reason {
        rule: f.rule.clone(),
        text: f.text(l).to_string(),
        matched: f.matched.clone(),
    };
    let reasons: Vec<Reason> = a.flags.iter().map(reason).collect();
    let cautions: Vec<Reason> = a.cautions.iter().map(reason).collect();
    let mut emergency_words: Vec<String> = Vec::new();
    for w in a.flags.iter().flat_map(|f| f.matched.iter()) {
        if !emergency_words.contains(w) {
            emergency_words.push(w.clone());
        }
    }
    TriageResult {
        level: a.level.code(),
        emergency: a.level == Level::Emergency,
        crisis: a.level == Level::Crisis,
        immediate_danger: a.immediate_danger,
        lang: lang.code(),
        advice: a.advice(l, local),
        hotlines: a
            .hotlines(l, local)
            .into_iter()
            .map(|h| Hotline {
                tel: format!("tel:{}", h.number.replace([' ', '-'], "")),
                number: h.number,
                label: h.label,
            })
            .collect(),
        reasons,
        cautions,
        emergency_words,
        suggestions: a
            .suggestions
            .iter()
            .map(|s| Suggestion {
                specialty: s.specialty.code(),
                name_zh: s.specialty.label_zh(),
                name_en: s.specialty.label_en(),
                name: if lang == Lang::En {
                    s.specialty.label_en()
                } else {
                    s.specialty.label_zh()
                },
                score: s.score,
                reasons: s.reasons.clone(),
                booking_url: format!("/booking?specialty={}", s.specialty.code()),
            })
            .collect(),
    }
}
