//! Smart triage: a complaint written in Chinese is segmented with jieba and
//! matched against a symptom-to-specialty knowledge file kept in the
//! repository (`crates/server/data/triage.txt`). Emergency words answer with
//! advice to call 120 instead of a booking. No model, no download: the
//! reasons shown are the words that matched.

use std::collections::{HashMap, HashSet};

use ihos_domain::Specialty;
use jieba_rs::Jieba;
use serde::Serialize;
use utoipa::ToSchema;

const KNOWLEDGE: &str = include_str!("../../data/triage.txt");
const MAX_SUGGESTIONS: usize = 3;

pub const EMERGENCY_ADVICE: &str = "您描述的症状可能危及生命，请立即拨打120急救电话或尽快前往最近医院的急诊科，不要等待线上问诊。\
     (These symptoms may be life-threatening: call 120 now or go to the nearest emergency department; do not wait for an online consultation.)";

pub struct Triage {
    jieba: Jieba,
    /// word -> (specialty code, weight)
    words: HashMap<String, Vec<(&'static str, u32)>>,
    emergency: HashSet<String>,
    negation: HashSet<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Suggestion {
    pub specialty: &'static str,
    pub name_zh: &'static str,
    pub name_en: &'static str,
    pub score: u32,
    /// The words of the complaint that point to this specialty.
    pub reasons: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TriageResult {
    /// Call 120 instead of booking.
    pub emergency: bool,
    pub advice: String,
    /// The emergency words found, if any.
    pub emergency_words: Vec<String>,
    pub suggestions: Vec<Suggestion>,
}

impl Triage {
    /// Parse the knowledge file and teach jieba its words (so "胸闷" or
    /// "肚子疼" come out as one token).
    pub fn load() -> Triage {
        let mut jieba = Jieba::new();
        let mut words: HashMap<String, Vec<(&'static str, u32)>> = HashMap::new();
        let mut emergency = HashSet::new();
        let mut negation = HashSet::new();
        for line in KNOWLEDGE.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((head, list)) = line.split_once(':') else {
                continue;
            };
            let head = head.trim();
            for raw in list.split_whitespace() {
                let word = raw.trim_end_matches('*');
                // `*` doubles a word's weight, `**` quadruples it.
                let weight = 1u32 << (raw.len() - word.len()).min(2);
                jieba.add_word(word, Some(100_000), None);
                match head {
                    "!emergency" => {
                        emergency.insert(word.to_string());
                    }
                    "!negation" => {
                        negation.insert(word.to_string());
                    }
                    code => {
                        if let Ok(s) = Specialty::parse(code) {
                            words
                                .entry(word.to_string())
                                .or_default()
                                .push((s.code(), weight));
                        }
                    }
                }
            }
        }
        Triage {
            jieba,
            words,
            emergency,
            negation,
        }
    }

    /// Suggest up to three specialties for a complaint, with the reasons.
    pub fn suggest(&self, complaint: &str) -> TriageResult {
        let tokens: Vec<&str> = self
            .jieba
            .cut(complaint, true)
            .into_iter()
            .map(|t| t.word)
            .filter(|w| !w.trim().is_empty())
            .collect();
        let negated = |i: usize| {
            (1..=2).any(|back| {
                i.checked_sub(back)
                    .and_then(|j| tokens.get(j))
                    .is_some_and(|t| self.negation.contains(*t))
            })
        };
        let mut emergency_words = Vec::new();
        let mut scores: HashMap<&'static str, (u32, Vec<String>)> = HashMap::new();
        for (i, tok) in tokens.iter().enumerate() {
            if negated(i) {
                continue;
            }
            if self.emergency.contains(*tok) && !emergency_words.iter().any(|w| w == tok) {
                emergency_words.push(tok.to_string());
            }
            if let Some(targets) = self.words.get(*tok) {
                for (code, weight) in targets {
                    let e = scores.entry(code).or_default();
                    if !e.1.iter().any(|w| w == tok) {
                        e.0 += weight;
                        e.1.push(tok.to_string());
                    }
                }
            }
        }
        let mut ranked: Vec<_> = scores.into_iter().collect();
        ranked.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(b.0)));
        let suggestions: Vec<Suggestion> = ranked
            .into_iter()
            .take(MAX_SUGGESTIONS)
            .filter_map(|(code, (score, reasons))| {
                let s = Specialty::parse(code).ok()?;
                Some(Suggestion {
                    specialty: s.code(),
                    name_zh: s.label_zh(),
                    name_en: s.label_en(),
                    score,
                    reasons,
                })
            })
            .collect();
        let emergency = !emergency_words.is_empty();
        let advice = if emergency {
            EMERGENCY_ADVICE.to_string()
        } else if let Some(top) = suggestions.first() {
            format!(
                "建议就诊{}（{}）。线上问诊仅限已在线下确诊的复诊；首次就诊请预约线下门诊。",
                top.name_zh,
                top.reasons.join("、")
            )
        } else {
            "未能从描述中判断科室，建议先咨询全科医生（家庭医生）。".to_string()
        };
        TriageResult {
            emergency,
            advice,
            emergency_words,
            suggestions,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn top(t: &Triage, s: &str) -> &'static str {
        t.suggest(s).suggestions.first().map_or("", |s| s.specialty)
    }

    #[test]
    fn complaints_map_to_departments_with_reasons() {
        let t = Triage::load();
        assert_eq!(top(&t, "最近老是心慌胸闷，血压高"), "cardiology");
        assert_eq!(top(&t, "孩子发烧咳嗽三天了"), "pediatrics");
        assert_eq!(top(&t, "我的糖尿病复诊，血糖控制不好"), "endocrinology");
        assert_eq!(top(&t, "牙疼，牙龈出血"), "stomatology");
        assert_eq!(top(&t, "皮肤痒，起了很多红疹"), "dermatology");
        let r = t.suggest("肚子疼，拉肚子");
        assert_eq!(r.suggestions[0].specialty, "gastroenterology");
        assert!(r.suggestions[0].reasons.contains(&"肚子疼".to_string()));
        assert!(!r.emergency);
    }

    #[test]
    fn emergency_words_say_call_120() {
        let t = Triage::load();
        let r = t.suggest("突然胸痛，出冷汗");
        assert!(r.emergency);
        assert!(r.advice.contains("120"));
        assert_eq!(r.emergency_words, vec!["胸痛".to_string()]);
        assert!(t.suggest("老人呼吸困难").emergency);
    }

    #[test]
    fn negated_symptoms_do_not_count() {
        let t = Triage::load();
        let r = t.suggest("没有胸痛，只是有点咳嗽");
        assert!(!r.emergency, "{:?}", r.emergency_words);
        assert_eq!(r.suggestions[0].specialty, "respiratory");
    }

    #[test]
    fn unknown_complaints_go_to_a_gp() {
        let t = Triage::load();
        let r = t.suggest("说不清楚哪里不舒服");
        assert!(r.suggestions.is_empty());
        assert!(r.advice.contains("全科"));
    }

    #[test]
    fn every_knowledge_line_names_a_real_specialty() {
        for line in KNOWLEDGE.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
                continue;
            }
            let code = line.split(':').next().unwrap_or_default().trim();
            assert!(Specialty::parse(code).is_ok(), "unknown specialty {code}");
        }
    }
}
