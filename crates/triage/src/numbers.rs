//! Vital signs written as numbers: "血压180/110", "高压190", "体温39度8",
//! "心率180", "血糖2.8", "3岁", "孕12周", "BP 185/115", "heart rate 170".
//! Each reading becomes a match of a concept of `data/concepts.txt`
//! (`bp_severe`, `temp_high`, ...) so rules use them like words.
//!
//! Thresholds (adults unless said):
//! * `bp_severe`: systolic >= 180 or diastolic >= 110 (hypertensive urgency /
//!   emergency, 中国高血压防治指南); `bp_high`: >= 140 or >= 90; `bp_low`:
//!   systolic under 90 (with symptoms: shock);
//! * `temp_high`: >= 39.0 °C; `fever`: >= 37.3 °C;
//! * `hr_very_fast`: >= 150 per minute; `hr_very_slow`: <= 40;
//! * `glucose_low`: < 3.9 mmol/L; `glucose_very_low`: <= 2.8;
//!   `glucose_very_high`: >= 16.7 (DKA / hyperosmolar suspicion);
//! * `age_child`: under 14 years; `young_infant`: under 3 months;
//!   `age_elderly`: 65 or more;
//! * `pregnant`: "孕N周", "怀孕N周", "N weeks pregnant".

use crate::lexicon::{Lexicon, Occ};
use crate::text::{Text, ends_with_at, starts_with_at};

struct Num {
    value: f64,
    start: usize,
    end: usize,
}

fn cn_digit(c: char) -> Option<u32> {
    Some(match c {
        '零' | '〇' => 0,
        '一' => 1,
        '二' | '两' => 2,
        '三' => 3,
        '四' => 4,
        '五' => 5,
        '六' => 6,
        '七' => 7,
        '八' => 8,
        '九' => 9,
        _ => return None,
    })
}

/// "一百八" = 180, "一百零五" = 105, "三十九" = 39, "两百" = 200, "九十" = 90.
fn cn_integer(run: &[char]) -> Option<f64> {
    let mut total = 0u32;
    let mut cur: Option<u32> = None;
    let mut last_unit = 1u32;
    for &c in run {
        match c {
            '百' => {
                total += cur.unwrap_or(1) * 100;
                cur = None;
                last_unit = 100;
            }
            '十' => {
                total += cur.unwrap_or(1) * 10;
                cur = None;
                last_unit = 10;
            }
            c => {
                let d = cn_digit(c)?;
                if d == 0 {
                    last_unit = 1;
                }
                cur = Some(d);
            }
        }
    }
    if let Some(d) = cur {
        // "一百八" is 180: a last digit right after 百 counts tens.
        total += if last_unit == 100 { d * 10 } else { d };
    }
    Some(f64::from(total))
}

/// Chinese numerals with 十 or 百 ("一百九", "三十九点五"); runs without them
/// ("一边", "一下子") are words, not numbers.
fn cn_number(chars: &[char], start: usize) -> Option<(f64, usize)> {
    let is_cn = |c: char| cn_digit(c).is_some() || c == '十' || c == '百';
    let mut end = start;
    while end < chars.len() && is_cn(chars[end]) && end - start < 8 {
        end += 1;
    }
    let run = &chars[start..end];
    if !run.iter().any(|c| *c == '十' || *c == '百') {
        return None;
    }
    let mut v = cn_integer(run)?;
    if end + 1 < chars.len()
        && chars[end] == '点'
        && let Some(d) = cn_digit(chars[end + 1])
    {
        v += f64::from(d) / 10.0;
        end += 2;
    }
    Some((v, end))
}

fn numbers(chars: &[char]) -> Vec<Num> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if let Some((value, end)) = cn_number(chars, i) {
            out.push(Num {
                value,
                start: i,
                end,
            });
            i = end;
            continue;
        }
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        if i + 1 < chars.len() && chars[i] == '.' && chars[i + 1].is_ascii_digit() {
            i += 1;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
        }
        let s: String = chars[start..i].iter().collect();
        if let Ok(value) = s.parse::<f64>() {
            out.push(Num {
                value,
                start,
                end: i,
            });
        }
    }
    out
}

fn w(s: &str) -> Vec<char> {
    s.chars().collect()
}

/// Does one of `words` end within `reach` chars before `at` (same sentence)?
fn keyword_before(chars: &[char], at: usize, reach: usize, words: &[Vec<char>]) -> Option<usize> {
    let lo = at.saturating_sub(reach + 8);
    (lo..=at).rev().find(|&end| {
        words.iter().any(|k| {
            ends_with_at(chars, end, k) && at - end <= reach && {
                // No other number between the keyword and this one.
                !chars[end..at].iter().any(|c| c.is_ascii_digit())
            }
        })
    })
}

fn followed_by(chars: &[char], at: usize, words: &[Vec<char>]) -> bool {
    let mut i = at;
    while i < chars.len() && chars[i] == ' ' {
        i += 1;
    }
    words.iter().any(|k| starts_with_at(chars, i, k))
}

pub fn find(lex: &Lexicon, text: &Text) -> Vec<Occ> {
    let chars = &text.chars;
    let nums = numbers(chars);
    let mut out = Vec::new();
    let mut push = |name: &str, start: usize, end: usize| {
        if let Some(c) = lex.id(name) {
            out.push(Occ::new(c, start, end));
        }
    };
    let bp_kw: Vec<Vec<char>> = ["血压", "bp", "blood pressure", "量了", "量出来", "测了"]
        .iter()
        .map(|s| w(s))
        .collect();
    let sys_kw: Vec<Vec<char>> = ["高压", "收缩压", "上压", "systolic"]
        .iter()
        .map(|s| w(s))
        .collect();
    let dia_kw: Vec<Vec<char>> = ["低压", "舒张压", "下压", "diastolic"]
        .iter()
        .map(|s| w(s))
        .collect();
    let temp_unit: Vec<Vec<char>> = ["度", "℃", "°c", "°", "摄氏度", "c "]
        .iter()
        .map(|s| w(s))
        .collect();
    let temp_kw: Vec<Vec<char>> = [
        "体温",
        "发烧",
        "发热",
        "烧到",
        "高烧",
        "低烧",
        "fever",
        "temperature",
        "temp",
    ]
    .iter()
    .map(|s| w(s))
    .collect();
    let hr_kw: Vec<Vec<char>> = [
        "心率",
        "心跳",
        "脉搏",
        "脉率",
        "heart rate",
        "pulse",
        "hr",
        "heart racing at",
        "heartbeat",
        "heart rate of",
        "heart is beating",
        "heart beating",
        "beating at",
        "心跳到",
    ]
    .iter()
    .map(|s| w(s))
    .collect();
    let hr_unit: Vec<Vec<char>> = ["次/分", "下/分", "bpm", "beats"]
        .iter()
        .map(|s| w(s))
        .collect();
    let glu_kw: Vec<Vec<char>> = ["血糖", "blood sugar", "glucose", "sugar", "bg"]
        .iter()
        .map(|s| w(s))
        .collect();
    let preg_kw: Vec<Vec<char>> = ["孕", "怀孕", "妊娠"].iter().map(|s| w(s)).collect();
    let mut used = vec![false; nums.len()];
    // Blood pressure "A/B".
    for (k, pair) in nums.windows(2).enumerate() {
        let (a, b) = (&pair[0], &pair[1]);
        let between: String = chars[a.end..b.start].iter().collect();
        if (between.trim() == "/" || between.trim() == "over")
            && (40.0..=300.0).contains(&a.value)
            && (20.0..=200.0).contains(&b.value)
            && a.value > b.value
        {
            used[k] = true;
            used[k + 1] = true;
            if a.value >= 180.0 || b.value >= 110.0 {
                push("bp_severe", a.start, b.end);
            }
            if a.value >= 140.0 || b.value >= 90.0 {
                push("bp_high", a.start, b.end);
            }
            if a.value < 90.0 {
                push("bp_low", a.start, b.end);
            }
        }
    }
    for (k, n) in nums.iter().enumerate() {
        if used[k] {
            continue;
        }
        let v = n.value;
        let (s, e) = (n.start, n.end);
        // Systolic / diastolic alone.
        if keyword_before(chars, s, 3, &sys_kw).is_some() {
            if v >= 180.0 {
                push("bp_severe", s, e);
            }
            if v >= 140.0 {
                push("bp_high", s, e);
            }
            continue;
        }
        if keyword_before(chars, s, 3, &dia_kw).is_some() {
            if v >= 110.0 {
                push("bp_severe", s, e);
            }
            if v >= 90.0 {
                push("bp_high", s, e);
            }
            continue;
        }
        // "血压高到200多": a lone number after 血压 is the systolic.
        if (60.0..=300.0).contains(&v) && keyword_before(chars, s, 6, &bp_kw).is_some() {
            if v >= 180.0 {
                push("bp_severe", s, e);
            }
            if v >= 140.0 {
                push("bp_high", s, e);
            }
            continue;
        }
        // Temperature.
        let unit = followed_by(chars, e, &temp_unit);
        let fahrenheit = followed_by(chars, e, &[w("°f"), w("f "), w("华氏")])
            || (e < chars.len()
                && chars[e] == 'f'
                && chars.get(e + 1).is_none_or(|c| !c.is_ascii_alphabetic()));
        let celsius = if fahrenheit && (95.0..=110.0).contains(&v) {
            Some((v - 32.0) * 5.0 / 9.0)
        } else if (34.0..=43.0).contains(&v)
            && (unit || keyword_before(chars, s, 4, &temp_kw).is_some())
        {
            // "39度8" = 39.8
            let mut c = v;
            if followed_by(chars, e, &[w("度")]) {
                let d = e + 1;
                if d < chars.len()
                    && chars[d].is_ascii_digit()
                    && chars.get(d + 1).is_none_or(|x| !x.is_ascii_digit())
                {
                    c += f64::from(chars[d].to_digit(10).unwrap_or(0)) / 10.0;
                }
            }
            Some(c)
        } else {
            None
        };
        if let Some(c) = celsius {
            if c >= 39.0 {
                push("temp_high", s, e);
            }
            if c >= 37.3 {
                push("fever", s, e);
            }
            continue;
        }
        // Age.
        if followed_by(chars, e, &[w("岁"), w("周岁")]) {
            if v < 14.0 {
                push("age_child", s, e + 1);
            }
            if v >= 65.0 {
                push("age_elderly", s, e + 1);
            }
            continue;
        }
        if followed_by(chars, e, &[w("个月"), w("月大"), w("个多月")])
            && keyword_before(chars, s, 3, &preg_kw).is_none()
        {
            push("age_child", s, e + 1);
            if v < 3.0 {
                push("young_infant", s, e + 1);
            }
            continue;
        }
        // "出生20天", "6 weeks old": a baby under three months.
        let days = followed_by(
            chars,
            e,
            &[w("天大"), w("天的宝宝"), w("days old"), w("-day-old")],
        );
        let weeks = followed_by(
            chars,
            e,
            &[
                w("周大"),
                w("周的宝宝"),
                w("weeks old"),
                w("week old"),
                w("-week-old"),
            ],
        );
        if (days && v < 90.0) || (weeks && v < 13.0) {
            push("age_child", s, e);
            push("young_infant", s, e);
            continue;
        }
        if followed_by(
            chars,
            e,
            &[
                w("-year-old"),
                w("year old"),
                w("years old"),
                w("-month-old"),
                w("months old"),
                w("month old"),
                w("yo "),
            ],
        ) {
            let months = followed_by(chars, e, &[w("-month"), w("month")]);
            if months || v < 14.0 {
                push("age_child", s, e);
            }
            if !months && v >= 65.0 {
                push("age_elderly", s, e);
            }
            continue;
        }
        // Pregnancy weeks.
        if (keyword_before(chars, s, 2, &preg_kw).is_some()
            && followed_by(chars, e, &[w("周"), w("w"), w("个月")]))
            || followed_by(chars, e, &[w("weeks pregnant"), w("week pregnant")])
        {
            push("pregnant", s, e);
            continue;
        }
        // Heart rate.
        if (20.0..=300.0).contains(&v)
            && (keyword_before(chars, s, 12, &hr_kw).is_some() || followed_by(chars, e, &hr_unit))
        {
            if v >= 150.0 {
                push("hr_very_fast", s, e);
            }
            if v <= 40.0 {
                push("hr_very_slow", s, e);
            }
            continue;
        }
        // Blood glucose (mmol/L; mg/dL converted).
        if keyword_before(chars, s, 12, &glu_kw).is_some() {
            let mmol = if followed_by(chars, e, &[w("mg")]) {
                v / 18.0
            } else {
                v
            };
            if mmol > 0.0 && mmol < 3.9 {
                push("glucose_low", s, e);
            }
            if mmol > 0.0 && mmol <= 2.8 {
                push("glucose_very_low", s, e);
            }
            if (16.7..=80.0).contains(&mmol) {
                push("glucose_very_high", s, e);
            }
        }
    }
    out
}
