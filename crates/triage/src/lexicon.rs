//! Concept lexicons and the matcher.
//!
//! A concept is a named list of ways to say one thing (`data/concepts.txt`):
//!
//! ```text
//! chest = 胸 | 胸口 | 心口 | chest
//! chest_pain = 胸痛 | {chest} {pain} | {pain} {chest} | -胸痛已经好了
//! ```
//!
//! * a plain term is matched as written (Chinese as is; English in lower case,
//!   on word edges; `breath*` also matches "breathing");
//! * `{a}` includes every match of concept `a`; `{a} {b}` matches a term of concept `a` followed in the same clause by a
//!   term of `b`, at most [`GAP`] characters apart (`{a} {b} {c}` chains);
//!   concepts used this way must be defined on an earlier line;
//! * `-word` removes matches that lie inside `word` (so `头` is not found in
//!   `指头`).
//!
//! Each match (an [`Occ`]) then learns whether it is negated ("没有胸痛",
//! "胸口不疼"), resolved ("胸痛已经好了") or in the past of a follow-up
//! ("上次胸痛…来复查"), using the cue lists of `data/language.txt`.

use std::collections::HashMap;

use crate::KbError;
use crate::text::{Text, ends_with_at, starts_with_at, word_edges};

/// Largest number of characters between the parts of `{a} {b}`.
pub const GAP: usize = 6;
/// English words are longer: the gap for a part that starts with a letter.
pub const GAP_EN: usize = 24;
/// How far back a negation cue reaches over fillers and other terms.
const NEG_REACH: usize = 16;
/// How far after a term a resolution cue ("好了") may stand.
const RESOLVE_REACH: usize = 10;

#[derive(Debug, Clone)]
enum Term {
    Literal { chars: Vec<char>, prefix: bool },
    Seq(Vec<usize>),
}

#[derive(Debug, Default, Clone)]
struct Concept {
    terms: Vec<Term>,
    excludes: Vec<Vec<char>>,
}

#[derive(Debug, Default)]
pub struct Lexicon {
    names: Vec<String>,
    index: HashMap<String, usize>,
    concepts: Vec<Concept>,
    /// first char -> (concept, literal term index)
    by_first: HashMap<char, Vec<(usize, usize)>>,
}

/// One match of a concept in the complaint.
#[derive(Debug, Clone)]
pub struct Occ {
    pub concept: usize,
    pub start: usize,
    pub end: usize,
    pub negated: bool,
    pub resolved: bool,
    pub past: bool,
    /// Past, the complaint says it got better, and nothing after it is acute
    /// ("以前有过轻生念头，现在治疗后好多了，来复诊"): even a crisis word is settled.
    pub settled: bool,
    /// Chars inside the span that a sequence skipped (checked for negation).
    gaps: Vec<(usize, usize)>,
}

impl Occ {
    pub fn current(&self) -> bool {
        !self.negated && !self.resolved && !self.past
    }
}

fn parse_term(raw: &str) -> Option<(Vec<char>, bool)> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    let (word, prefix) = match raw.strip_suffix('*') {
        Some(w) => (w.trim(), true),
        None => (raw, false),
    };
    let chars: Vec<char> = crate::text::Text::new(word, &[]).chars;
    (!chars.is_empty()).then_some((chars, prefix))
}

impl Lexicon {
    /// Parse `name = term | term | ...` lines; `file` names the source in errors.
    pub fn parse(src: &str, file: &'static str) -> Result<Lexicon, KbError> {
        let mut lex = Lexicon::default();
        for (n, line) in src.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |what: String| KbError {
                file,
                line: n + 1,
                what,
            };
            let (name, list) = line
                .split_once('=')
                .ok_or_else(|| err("expected `name = term | term`".into()))?;
            let name = name.trim();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(err(format!("bad concept name '{name}'")));
            }
            let id = lex.id_or_new(name);
            for raw in list.split('|') {
                let raw = raw.trim();
                if raw.is_empty() {
                    continue;
                }
                if let Some(ex) = raw.strip_prefix('-') {
                    if let Some((chars, _)) = parse_term(ex) {
                        lex.concepts[id].excludes.push(chars);
                    }
                } else if raw.starts_with('{') {
                    let mut seq = Vec::new();
                    for part in raw.split_whitespace() {
                        let inner = part
                            .strip_prefix('{')
                            .and_then(|p| p.strip_suffix('}'))
                            .ok_or_else(|| {
                                err(format!("'{part}' in '{raw}' is not {{concept}}"))
                            })?;
                        let &c = lex.index.get(inner).ok_or_else(|| {
                            err(format!("concept '{inner}' is used before it is defined"))
                        })?;
                        if c == id {
                            return Err(err(format!("'{name}' refers to itself")));
                        }
                        seq.push(c);
                    }
                    if seq.is_empty() {
                        return Err(err(format!("'{raw}' names no {{concept}}")));
                    }
                    lex.concepts[id].terms.push(Term::Seq(seq));
                } else if let Some((chars, prefix)) = parse_term(raw) {
                    let t = lex.concepts[id].terms.len();
                    lex.by_first.entry(chars[0]).or_default().push((id, t));
                    lex.concepts[id].terms.push(Term::Literal { chars, prefix });
                }
            }
        }
        Ok(lex)
    }

    fn id_or_new(&mut self, name: &str) -> usize {
        if let Some(&id) = self.index.get(name) {
            return id;
        }
        let id = self.names.len();
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), id);
        self.concepts.push(Concept::default());
        id
    }

    pub fn id(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    pub fn name(&self, id: usize) -> &str {
        self.names.get(id).map_or("", String::as_str)
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// The literal terms of a concept (the cue lists of the language file).
    pub fn words(&self, name: &str) -> Vec<Vec<char>> {
        let mut out: Vec<Vec<char>> = self
            .id(name)
            .map(|id| {
                self.concepts[id]
                    .terms
                    .iter()
                    .filter_map(|t| match t {
                        Term::Literal { chars, .. } => Some(chars.clone()),
                        Term::Seq(_) => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        // Longest first, so "没有" wins over "没".
        out.sort_by_key(|w| std::cmp::Reverse(w.len()));
        out
    }

    /// Every match of every concept, in concept order, without the cues.
    /// `extra` are matches found elsewhere (numbers) and take part in sequences.
    pub fn find(&self, text: &Text, extra: Vec<Occ>) -> Vec<Occ> {
        let n = text.len();
        let mut per: Vec<Vec<Occ>> = vec![Vec::new(); self.concepts.len()];
        for o in extra {
            if let Some(v) = per.get_mut(o.concept) {
                v.push(o);
            }
        }
        for i in 0..n {
            let Some(cands) = self.by_first.get(&text.chars[i]) else {
                continue;
            };
            for &(c, t) in cands {
                let Term::Literal { chars, prefix } = &self.concepts[c].terms[t] else {
                    continue;
                };
                if !starts_with_at(&text.chars, i, chars) {
                    continue;
                }
                let mut end = i + chars.len();
                if *prefix {
                    while end < n && text.chars[end].is_ascii_alphanumeric() {
                        end += 1;
                    }
                }
                if !text.one_clause(i, end) || !word_edges(&text.chars, i, end - i) {
                    continue;
                }
                per[c].push(Occ::new(c, i, end));
            }
        }
        for c in 0..self.concepts.len() {
            let mut found = std::mem::take(&mut per[c]);
            for term in &self.concepts[c].terms {
                if let Term::Seq(parts) = term {
                    found.extend(chain(text, &per, c, parts));
                }
            }
            let ex = &self.concepts[c].excludes;
            if !ex.is_empty() {
                let mut spans = Vec::new();
                for w in ex {
                    for s in 0..n {
                        if starts_with_at(&text.chars, s, w) {
                            spans.push((s, s + w.len()));
                        }
                    }
                }
                found.retain(|o| !spans.iter().any(|&(s, e)| s <= o.start && o.end <= e));
            }
            found.sort_by_key(|o| (o.start, std::cmp::Reverse(o.end)));
            found.dedup_by(|a, b| a.start == b.start && a.end == b.end);
            per[c] = found;
        }
        per.into_iter().flatten().collect()
    }
}

impl Occ {
    pub fn new(concept: usize, start: usize, end: usize) -> Occ {
        Occ {
            concept,
            start,
            end,
            negated: false,
            resolved: false,
            past: false,
            settled: false,
            gaps: Vec::new(),
        }
    }
}

/// Matches of `{p0} {p1} ...`: each part after the previous, in one clause,
/// no more than GAP characters apart.
fn chain(text: &Text, per: &[Vec<Occ>], concept: usize, parts: &[usize]) -> Vec<Occ> {
    let mut partial: Vec<Occ> = per[parts[0]]
        .iter()
        .map(|o| {
            let mut p = Occ::new(concept, o.start, o.end);
            p.gaps.clone_from(&o.gaps);
            p
        })
        .collect();
    for &part in &parts[1..] {
        let mut next = Vec::new();
        for p in &partial {
            for o in &per[part] {
                let english = text.chars[o.start].is_ascii_alphabetic();
                let gap = if english { GAP_EN } else { GAP };
                if o.start >= p.end && o.start - p.end <= gap && text.one_clause(p.start, o.end) {
                    let mut q = Occ::new(concept, p.start, o.end);
                    q.gaps.clone_from(&p.gaps);
                    q.gaps.extend(o.gaps.iter().copied());
                    if o.start > p.end {
                        q.gaps.push((p.end, o.start));
                    }
                    next.push(q);
                }
            }
        }
        partial = next;
        if partial.is_empty() {
            break;
        }
    }
    partial
}

/// The cue lists of `data/language.txt`.
pub struct Cues {
    pub negation: Vec<Vec<char>>,
    pub not_negation: Vec<Vec<char>>,
    pub filler: Vec<Vec<char>>,
    pub resolved: Vec<Vec<char>>,
    pub past: Vec<Vec<char>>,
    pub acute: Vec<Vec<char>>,
    pub follow_up: Vec<Vec<char>>,
    pub turning: Vec<Vec<char>>,
}

impl Cues {
    pub fn from(lex: &Lexicon) -> Result<Cues, KbError> {
        let get = |name: &str| {
            let w = lex.words(name);
            if w.is_empty() {
                Err(KbError {
                    file: "language.txt",
                    line: 0,
                    what: format!("the cue list '{name}' is missing or empty"),
                })
            } else {
                Ok(w)
            }
        };
        Ok(Cues {
            negation: get("negation")?,
            not_negation: get("not_negation")?,
            filler: get("filler")?,
            resolved: get("resolved")?,
            past: get("past")?,
            acute: get("acute")?,
            follow_up: get("follow_up")?,
            turning: get("turning")?,
        })
    }

    /// A negation cue ending at `end` (and not the start of "不舒服"-like words).
    fn negation_ending_at(&self, chars: &[char], end: usize) -> bool {
        self.negation.iter().any(|cue| {
            ends_with_at(chars, end, cue) && word_edges(chars, end - cue.len(), cue.len()) && {
                let at = end - cue.len();
                !self
                    .not_negation
                    .iter()
                    .any(|w| starts_with_at(chars, at, w))
            }
        })
    }

    fn negation_within(&self, chars: &[char], start: usize, end: usize) -> bool {
        (start..end).any(|at| {
            self.negation.iter().any(|cue| {
                at + cue.len() <= end
                    && starts_with_at(chars, at, cue)
                    && word_edges(chars, at, cue.len())
                    && !self
                        .not_negation
                        .iter()
                        .any(|w| starts_with_at(chars, at, w))
            })
        })
    }

    fn filler_ending_at(&self, chars: &[char], end: usize) -> Option<usize> {
        self.filler
            .iter()
            .find(|w| ends_with_at(chars, end, w) && word_edges(chars, end - w.len(), w.len()))
            .map(Vec::len)
    }

    /// A resolution cue starting at `at`, not itself negated ("不缓解").
    fn resolved_at(&self, chars: &[char], at: usize) -> bool {
        let negated_before = at > 0 && matches!(chars[at - 1], '不' | '没' | '未' | '无');
        !negated_before
            && self
                .resolved
                .iter()
                .any(|w| starts_with_at(chars, at, w) && word_edges(chars, at, w.len()))
    }

    fn any_at(list: &[Vec<char>], chars: &[char], at: usize) -> bool {
        list.iter()
            .any(|w| starts_with_at(chars, at, w) && word_edges(chars, at, w.len()))
    }

    /// Fill in negated / resolved / past for every match.
    pub fn mark(&self, text: &Text, occs: &mut [Occ]) {
        let chars = &text.chars;
        let follow_up = (0..text.len()).any(|i| Self::any_at(&self.follow_up, chars, i));
        let spans: Vec<(usize, usize)> = occs.iter().map(|o| (o.start, o.end)).collect();
        let improved_at: Vec<usize> = (0..text.len())
            .filter(|&i| self.resolved_at(chars, i))
            .collect();
        let improved = !improved_at.is_empty();
        // Acute words, except in a clause that says it got better ("现在好多了").
        let acute_at: Vec<usize> = (0..text.len())
            .filter(|&i| {
                Self::any_at(&self.acute, chars, i)
                    && !improved_at
                        .iter()
                        .any(|&r| text.clause[r] == text.clause[i])
            })
            .collect();
        for o in occs.iter_mut() {
            o.negated = self.negated_before(text, &spans, o.start)
                || o.gaps
                    .iter()
                    .any(|&(s, e)| self.negation_within(chars, s, e));
            o.resolved = self.resolved_after(text, &spans, o);
            o.past = follow_up && self.in_past(text, o);
            o.settled = o.past && improved && !acute_at.iter().any(|&i| i >= o.end);
        }
        // "没有呼吸" inside "没有呼吸困难" is not "not breathing": a match that
        // starts with a negation and is overrun by a longer match of the same
        // concept is a fragment of that negated phrase.
        let snapshot: Vec<(usize, usize, usize)> =
            occs.iter().map(|o| (o.concept, o.start, o.end)).collect();
        for o in occs.iter_mut() {
            let starts_negated = self
                .negation
                .iter()
                .any(|cue| starts_with_at(chars, o.start, cue));
            if starts_negated
                && snapshot
                    .iter()
                    .any(|&(c, s, e)| c == o.concept && s > o.start && s < o.end && e > o.end)
            {
                o.negated = true;
            }
        }
        // A match inside a longer one shares its fate ("喘不上气" covers its "不").
        let outer: Vec<(usize, usize, bool)> =
            occs.iter().map(|o| (o.start, o.end, o.negated)).collect();
        for o in occs.iter_mut() {
            if let Some(&(_, _, neg)) = outer
                .iter()
                .filter(|&&(s, e, _)| s <= o.start && o.end <= e && e - s > o.end - o.start)
                .max_by_key(|&&(s, e, _)| e - s)
            {
                o.negated = neg;
            }
        }
    }

    fn negated_before(&self, text: &Text, spans: &[(usize, usize)], start: usize) -> bool {
        let chars = &text.chars;
        let clause = text.clause.get(start).copied();
        let mut pos = start;
        while pos > 0 && start - pos <= NEG_REACH && text.clause.get(pos - 1).copied() == clause {
            if self.negation_ending_at(chars, pos) {
                return true;
            }
            if chars[pos - 1] == ' ' {
                pos -= 1;
                continue;
            }
            if let Some(len) = self.filler_ending_at(chars, pos) {
                pos -= len;
                continue;
            }
            if let Some(&(s, _)) = spans
                .iter()
                .filter(|&&(s, e)| e == pos && s < pos)
                .min_by_key(|&&(s, _)| s)
            {
                pos = s;
                continue;
            }
            break;
        }
        false
    }

    fn resolved_after(&self, text: &Text, spans: &[(usize, usize)], o: &Occ) -> bool {
        let chars = &text.chars;
        let clause = text.clause[o.start];
        let same = (o.end..text.len().min(o.end + RESOLVE_REACH))
            .take_while(|&i| text.clause[i] == clause)
            .any(|i| self.resolved_at(chars, i));
        if same {
            return true;
        }
        // "上次胸痛，已经好了": a next clause that says only that it went away.
        let next: Vec<usize> = (o.end..text.len())
            .skip_while(|&i| text.clause[i] == clause || !chars[i].is_alphanumeric())
            .collect();
        let Some(&first) = next.first() else {
            return false;
        };
        let nclause = text.clause[first];
        let range: Vec<usize> = next
            .into_iter()
            .take_while(|&i| text.clause[i] == nclause)
            .collect();
        let (Some(&s), Some(&e)) = (range.first(), range.last()) else {
            return false;
        };
        let has_terms = spans.iter().any(|&(a, b)| a >= s && b <= e + 1);
        !has_terms && range.iter().any(|&i| self.resolved_at(chars, i))
    }

    /// "以前/上次/去年…" earlier in the clause, with nothing acute ("突然",
    /// "又") between it and the match.
    fn in_past(&self, text: &Text, o: &Occ) -> bool {
        let chars = &text.chars;
        // "惊厥过一次", "中风过": the experiential 过 right after the match.
        let after_guo = chars.get(o.end) == Some(&'过')
            && ![
                "过来", "过去", "过敏", "过量", "过度", "过多", "过快", "过高", "过低",
            ]
            .iter()
            .any(|w| starts_with_at(chars, o.end, &w.chars().collect::<Vec<_>>()));
        let clause = text.clause[o.start];
        // Anything acute in the match's own clause ("I've had chest pain for
        // 20 minutes") means it is happening now.
        if (0..text.len()).any(|i| text.clause[i] == clause && Self::any_at(&self.acute, chars, i))
        {
            return false;
        }
        // From the end of the match ("右手还有点没劲" carries its "还有点"
        // inside) back to the start of the previous clause ("中风后遗症，左手
        // 还是没劲"); anything acute on the way means it is happening now.
        let mut i = o.end;
        let mut clauses = 0;
        while i > 0 {
            if text.clause[i - 1] != text.clause[i.min(text.len() - 1)] && i != o.end {
                clauses += 1;
                if clauses > 2 {
                    break;
                }
            }
            i -= 1;
            if Self::any_at(&self.acute, chars, i) {
                return false;
            }
            if Self::any_at(&self.past, chars, i) {
                return true;
            }
        }
        after_guo && text.clause[o.start] == clause
    }
}
