//! Normalising a complaint and cutting it into clauses.
//!
//! Everything works on `char` positions of the normalised text: full-width
//! letters, digits and signs become ASCII, letters become lower case, runs of
//! white space become one space. A clause ends at a punctuation mark (but not
//! at the decimal point of "39.5") or starts at a turning word ("但是",
//! "but"): negation never reaches across a clause.

/// The normalised complaint and the clause of every character.
pub struct Text {
    pub chars: Vec<char>,
    pub clause: Vec<u32>,
}

fn normalise_char(c: char) -> char {
    match c {
        // Full-width ASCII block.
        '\u{FF01}'..='\u{FF5E}' => {
            char::from_u32(c as u32 - 0xFF01 + 0x21).map_or(c, |a| a.to_ascii_lowercase())
        }
        '\u{3000}' | '\t' | '\r' | '\n' => ' ',
        '\u{2018}' | '\u{2019}' => '\'',
        '\u{201C}' | '\u{201D}' => '"',
        '\u{2215}' | '\u{2044}' => '/',
        '\u{00B7}' => ' ',
        c => c.to_lowercase().next().unwrap_or(c),
    }
}

fn is_break(c: char) -> bool {
    matches!(
        c,
        ',' | '，'
            | '。'
            | ';'
            | '；'
            | '!'
            | '！'
            | '?'
            | '？'
            | '…'
            | ':'
            | '：'
            | '('
            | ')'
            | '（'
            | '）'
            | '\n'
    )
}

impl Text {
    /// Normalise `raw`; `turning` words (from the language file) open a new clause.
    pub fn new(raw: &str, turning: &[Vec<char>]) -> Text {
        let mut chars: Vec<char> = Vec::with_capacity(raw.len());
        for c in raw.chars().map(normalise_char) {
            if c.is_whitespace() {
                if chars.last().is_some_and(|l| *l != ' ') {
                    chars.push(' ');
                }
            } else if !c.is_control() {
                chars.push(c);
            }
        }
        while chars.last() == Some(&' ') {
            chars.pop();
        }
        let mut clause = vec![0u32; chars.len()];
        let mut id = 0u32;
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let decimal = c == '.'
                && i > 0
                && chars[i - 1].is_ascii_digit()
                && chars.get(i + 1).is_some_and(|n| n.is_ascii_digit());
            if (is_break(c) || c == '.') && !decimal {
                id += 1;
                clause[i] = id;
                id += 1;
                i += 1;
                continue;
            }
            if let Some(len) = turning
                .iter()
                .filter(|w| starts_with_at(&chars, i, w) && word_edges(&chars, i, w.len()))
                .map(|w| w.len())
                .max()
            {
                id += 1;
                for slot in clause.iter_mut().skip(i).take(len) {
                    *slot = id;
                }
                i += len;
                continue;
            }
            clause[i] = id;
            i += 1;
        }
        Text { chars, clause }
    }

    pub fn len(&self) -> usize {
        self.chars.len()
    }

    pub fn slice(&self, start: usize, end: usize) -> String {
        self.chars[start..end].iter().collect()
    }

    /// Is `[start, end)` inside one clause?
    pub fn one_clause(&self, start: usize, end: usize) -> bool {
        end > start && end <= self.len() && self.clause[start] == self.clause[end - 1]
    }
}

pub fn starts_with_at(chars: &[char], at: usize, word: &[char]) -> bool {
    at + word.len() <= chars.len() && chars[at..at + word.len()] == *word
}

pub fn ends_with_at(chars: &[char], end: usize, word: &[char]) -> bool {
    end >= word.len() && chars[end - word.len()..end] == *word
}

fn ascii_word(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

/// An English word must not start or end in the middle of another word;
/// Chinese has no such edge.
pub fn word_edges(chars: &[char], at: usize, len: usize) -> bool {
    let (Some(first), Some(last)) = (chars.get(at), chars.get(at + len.max(1) - 1)) else {
        return false;
    };
    let before_ok = !ascii_word(*first) || at == 0 || !ascii_word(chars[at - 1]);
    let after_ok = !ascii_word(*last) || chars.get(at + len).is_none_or(|c| !ascii_word(*c));
    before_ok && after_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(ws: &[&str]) -> Vec<Vec<char>> {
        ws.iter().map(|w| w.chars().collect()).collect()
    }

    #[test]
    fn full_width_and_case_are_folded() {
        let t = Text::new("ＢＰ　１８０／１１０ Chest", &[]);
        assert_eq!(t.slice(0, t.len()), "bp 180/110 chest");
    }

    #[test]
    fn clauses_end_at_punctuation_but_not_at_a_decimal_point() {
        let t = Text::new("发烧39.5度，咳嗽", &[]);
        let s: Vec<char> = t.chars.clone();
        let comma = s.iter().position(|c| *c == ',').unwrap_or(0);
        assert_eq!(t.clause[0], t.clause[comma - 1]);
        assert_ne!(t.clause[0], t.clause[comma + 1]);
    }

    #[test]
    fn turning_words_open_a_clause() {
        let t = Text::new("没有胸痛但是咳嗽", &words(&["但是"]));
        assert_ne!(t.clause[0], t.clause[t.len() - 1]);
    }

    #[test]
    fn english_words_have_edges() {
        let c: Vec<char> = "no chest pain".chars().collect();
        assert!(word_edges(&c, 0, 2));
        let c: Vec<char> = "nose".chars().collect();
        assert!(!word_edges(&c, 0, 2));
    }
}
