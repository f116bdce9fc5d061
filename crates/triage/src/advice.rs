//! What the patient reads: the advice sentence and the numbers to call, in
//! the caller's language. An emergency or a crisis never carries a
//! department or a booking hint.

use crate::{Assessment, Level};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

/// A number to call, with a label in the caller's language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hotline {
    pub number: String,
    pub label: String,
}

/// The national psychological assistance hotline (全国心理援助热线).
pub const CRISIS_LINE: &str = "12356";
pub const AMBULANCE: &str = "120";
pub const POLICE: &str = "110";

fn line(number: &str, zh: &str, en: &str, lang: Lang) -> Hotline {
    Hotline {
        number: number.to_string(),
        label: match lang {
            Lang::Zh => zh.to_string(),
            Lang::En => en.to_string(),
        },
    }
}

/// Keep only what can be dialled: digits, `+`, `-` and spaces, at most 32.
pub fn clean_number(raw: &str) -> Option<String> {
    let s = raw.trim();
    let ok = !s.is_empty()
        && s.len() <= 32
        && s.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' '))
        && s.chars().any(|c| c.is_ascii_digit());
    ok.then(|| s.to_string())
}

impl Assessment {
    /// The numbers to offer, most urgent first.
    pub fn hotlines(&self, lang: Lang, local_crisis_line: Option<&str>) -> Vec<Hotline> {
        match self.level {
            Level::Routine => Vec::new(),
            Level::Emergency => vec![line(
                AMBULANCE,
                "拨打120急救电话",
                "Call 120 (ambulance)",
                lang,
            )],
            Level::Crisis => {
                let mut v = Vec::new();
                if self.immediate_danger {
                    v.push(line(
                        AMBULANCE,
                        "拨打120急救电话",
                        "Call 120 (ambulance)",
                        lang,
                    ));
                    v.push(line(POLICE, "拨打110报警", "Call 110 (police)", lang));
                }
                v.push(line(
                    CRISIS_LINE,
                    "全国心理援助热线 12356",
                    "National psychological assistance hotline 12356",
                    lang,
                ));
                if let Some(n) = local_crisis_line.and_then(clean_number) {
                    v.push(line(&n, "本地心理危机干预热线", "Local crisis line", lang));
                }
                v
            }
        }
    }

    /// One piece of advice in one language.
    pub fn advice(&self, lang: Lang, local_crisis_line: Option<&str>) -> String {
        let why: Vec<&str> = self.flags.iter().map(|f| f.text(lang)).collect();
        let local = local_crisis_line.and_then(clean_number);
        match (self.level, lang) {
            (Level::Crisis, Lang::Zh) => {
                let mut s = String::new();
                if self.immediate_danger {
                    s.push_str(
                        "如果你已经伤害了自己、服了药，或正处在危险中，请立即拨打120或110。",
                    );
                }
                s.push_str("你并不孤单，现在就可以和专业的人谈一谈：请拨打全国心理援助热线12356");
                if let Some(n) = &local {
                    s.push_str(&format!("，或本地心理危机干预热线{n}"));
                }
                s.push_str("。也请告诉身边信任的人，让他们陪着你。");
                s
            }
            (Level::Crisis, Lang::En) => {
                let mut s = String::new();
                if self.immediate_danger {
                    s.push_str("If you have hurt yourself, taken pills or are in danger right now, call 120 or 110 immediately. ");
                }
                s.push_str("You are not alone, and you can talk to someone now: call the national psychological assistance hotline 12356");
                if let Some(n) = &local {
                    s.push_str(&format!(" or the local crisis line {n}"));
                }
                s.push_str(". Please also tell someone you trust and ask them to stay with you.");
                s
            }
            (Level::Emergency, Lang::Zh) => format!(
                "{}请立即拨打120急救电话，或马上去最近医院的急诊科；不要等待线上问诊，不要自行开车。",
                why.iter().map(|w| format!("{w}。")).collect::<String>()
            ),
            (Level::Emergency, Lang::En) => format!(
                "{}Call 120 now or go to the nearest emergency department; do not wait for an online consultation and do not drive yourself.",
                why.iter().map(|w| format!("{w}. ")).collect::<String>()
            ),
            (Level::Routine, lang) => {
                let mut s = self.routine_advice(lang);
                for c in &self.cautions {
                    s.push_str(if lang == Lang::Zh { "" } else { " " });
                    s.push_str(c.text(lang));
                }
                s
            }
        }
    }

    fn routine_advice(&self, lang: Lang) -> String {
        {
            match (self.suggestions.first(), lang) {
                (Some(top), Lang::Zh) => format!(
                    "建议就诊{}（{}）。点击科室可查看有号源的医生。线上问诊仅限已在线下确诊的复诊；首次就诊请预约线下门诊。",
                    top.specialty.label_zh(),
                    top.reasons.join("、")
                ),
                (Some(top), Lang::En) => format!(
                    "Suggested department: {} ({}). Tap a department to see doctors with open slots. Online consultations are for follow-ups of a diagnosis made in person; for a first visit, book an in-person appointment.",
                    top.specialty.label_en(),
                    top.reasons.join(", ")
                ),
                (None, Lang::Zh) => {
                    "未能从描述中判断科室，建议先咨询全科医生（家庭医生），或补充更多症状。"
                        .to_string()
                }
                (None, Lang::En) => {
                    "We could not tell the department from this description: ask a general practitioner (family doctor) first, or describe more symptoms."
                        .to_string()
                }
            }
        }
    }
}
