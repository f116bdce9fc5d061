//! Red-flag rules (`data/red_flags.txt`): blocks of `key = value` lines.
//!
//! ```text
//! [chest_pain_cardiac]
//! level = emergency
//! when = chest_discomfort & (radiation | sweating | severe)
//! zh = 胸痛伴放射痛或出汗，可能是急性心肌梗死
//! en = Chest pain with sweating or pain spreading to the arm, jaw or back may be a heart attack
//! source = 急诊预检分诊专家共识（2018）胸痛; MTS chest pain: cardiac pain
//! ```
//!
//! `when` combines concepts with `&` (and), `|` (or), `!` (not) and
//! parentheses; a concept counts when it is said and not negated (and, for
//! emergencies, not resolved or only in the past of a follow-up). `level` is
//! `emergency` (call 120), `crisis` (self-harm: crisis line first), `danger`
//! (a crisis with immediate danger: 110/120 as well) or `watch` (a routine
//! answer that adds when to call 120 instead: "胸痛持续超过15分钟…").

use crate::lexicon::Lexicon;
use crate::{KbError, Level};

#[derive(Debug, Clone)]
pub enum Expr {
    Concept(usize),
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

impl Expr {
    pub fn eval(&self, has: &dyn Fn(usize) -> bool) -> bool {
        match self {
            Expr::Concept(c) => has(*c),
            Expr::Not(e) => !e.eval(has),
            Expr::And(v) => v.iter().all(|e| e.eval(has)),
            Expr::Or(v) => v.iter().any(|e| e.eval(has)),
        }
    }

    /// The concepts that made the expression true (for the reasons shown).
    pub fn positive(&self, has: &dyn Fn(usize) -> bool, out: &mut Vec<usize>) {
        match self {
            Expr::Concept(c) => {
                if has(*c) {
                    out.push(*c);
                }
            }
            Expr::Not(_) => {}
            Expr::And(v) | Expr::Or(v) => v.iter().for_each(|e| e.positive(has, out)),
        }
    }
}

struct Parser<'a> {
    toks: Vec<String>,
    pos: usize,
    lex: &'a Lexicon,
}

fn tokenize(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            cur.push(c);
        } else {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            if !c.is_whitespace() {
                out.push(c.to_string());
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

impl Parser<'_> {
    fn peek(&self) -> Option<&str> {
        self.toks.get(self.pos).map(String::as_str)
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut v = vec![self.and()?];
        while self.peek() == Some("|") {
            self.pos += 1;
            v.push(self.and()?);
        }
        Ok(if v.len() == 1 {
            v.remove(0)
        } else {
            Expr::Or(v)
        })
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut v = vec![self.unary()?];
        while self.peek() == Some("&") {
            self.pos += 1;
            v.push(self.unary()?);
        }
        Ok(if v.len() == 1 {
            v.remove(0)
        } else {
            Expr::And(v)
        })
    }

    fn unary(&mut self) -> Result<Expr, String> {
        match self.peek() {
            Some("!") => {
                self.pos += 1;
                Ok(Expr::Not(Box::new(self.unary()?)))
            }
            Some("(") => {
                self.pos += 1;
                let e = self.or()?;
                if self.peek() != Some(")") {
                    return Err("missing ')'".into());
                }
                self.pos += 1;
                Ok(e)
            }
            Some(name) => {
                let id = self
                    .lex
                    .id(name)
                    .ok_or_else(|| format!("unknown concept '{name}'"))?;
                self.pos += 1;
                Ok(Expr::Concept(id))
            }
            None => Err("expression ends too early".into()),
        }
    }
}

pub fn parse_expr(s: &str, lex: &Lexicon) -> Result<Expr, String> {
    let mut p = Parser {
        toks: tokenize(s),
        pos: 0,
        lex,
    };
    let e = p.or()?;
    if let Some(t) = p.peek() {
        return Err(format!("unexpected '{t}'"));
    }
    Ok(e)
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub level: Level,
    /// A crisis with immediate danger (110/120 as well as the crisis line).
    pub danger: bool,
    pub when: Expr,
    pub zh: String,
    pub en: String,
    pub source: String,
}

pub fn parse_rules(src: &str, lex: &Lexicon) -> Result<Vec<Rule>, KbError> {
    let mut rules = Vec::new();
    // (first line, rule id, key-value pairs) of the block being read.
    type Block = (usize, String, Vec<(String, String)>);
    let mut cur: Option<Block> = None;
    let finish = |start: usize,
                  id: String,
                  kv: Vec<(String, String)>,
                  rules: &mut Vec<Rule>|
     -> Result<(), KbError> {
        let err = |what: String| KbError {
            file: "red_flags.txt",
            line: start,
            what: format!("[{id}]: {what}"),
        };
        let get = |k: &str| {
            kv.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| err(format!("missing '{k}'")))
        };
        let (level, danger) = match get("level")?.as_str() {
            "emergency" => (Level::Emergency, false),
            "crisis" => (Level::Crisis, false),
            "danger" => (Level::Crisis, true),
            "watch" => (Level::Routine, false),
            other => return Err(err(format!("unknown level '{other}'"))),
        };
        let when = parse_expr(&get("when")?, lex).map_err(err)?;
        rules.push(Rule {
            level,
            danger,
            when,
            zh: get("zh")?,
            en: get("en")?,
            source: get("source").unwrap_or_default(),
            id,
        });
        Ok(())
    };
    for (n, line) in src.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(id) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            if let Some((s, id, kv)) = cur.take() {
                finish(s, id, kv, &mut rules)?;
            }
            cur = Some((n + 1, id.trim().to_string(), Vec::new()));
            continue;
        }
        let Some((_, _, kv)) = cur.as_mut() else {
            return Err(KbError {
                file: "red_flags.txt",
                line: n + 1,
                what: "a line before the first [rule]".into(),
            });
        };
        let Some((k, v)) = line.split_once('=') else {
            return Err(KbError {
                file: "red_flags.txt",
                line: n + 1,
                what: "expected `key = value`".into(),
            });
        };
        let (k, v) = (k.trim().to_string(), v.trim().to_string());
        // A repeated `when` continues the expression with `|`.
        if let Some(prev) = kv.iter_mut().find(|(key, _)| *key == k && k == "when") {
            prev.1 = format!("({}) | ({})", prev.1, v);
        } else {
            kv.push((k, v));
        }
    }
    if let Some((s, id, kv)) = cur.take() {
        finish(s, id, kv, &mut rules)?;
    }
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_parse_with_precedence_and_names_are_checked() {
        let lex = Lexicon::parse("a = x\nb = y\nc = z", "t").expect("lexicon");
        let e = parse_expr("a & !b | c", &lex).expect("parses");
        let has = |c: usize| c == 0;
        assert!(e.eval(&has));
        let has = |c: usize| c == 0 || c == 1;
        assert!(!e.eval(&has));
        assert!(parse_expr("a & nothing", &lex).is_err());
        assert!(parse_expr("(a | b", &lex).is_err());
    }
}
