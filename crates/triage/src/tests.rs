//! Unit tests of the engine: negation, numbers, English, crisis, departments
//! and input bounds. The evaluation sets are run by `tests/eval.rs`.

use super::*;

fn t() -> Triage {
    match Triage::load() {
        Ok(t) => t,
        Err(e) => panic!("knowledge files do not load: {e}"),
    }
}

fn level(t: &Triage, s: &str) -> Level {
    match t.assess(s) {
        Ok(a) => a.level,
        Err(e) => panic!("{s}: {e}"),
    }
}

fn top3(t: &Triage, s: &str) -> Vec<&'static str> {
    t.assess(s)
        .map(|a| a.suggestions.iter().map(|s| s.specialty.code()).collect())
        .unwrap_or_default()
}

#[test]
fn knowledge_files_load_and_every_rule_has_both_languages() {
    let t = t();
    assert!(t.rule_count() >= 15);
    for r in &t.rules {
        assert!(!r.zh.is_empty() && !r.en.is_empty(), "{}", r.id);
        assert!(r.en.is_ascii(), "{}: English text is not English", r.id);
    }
}

#[test]
fn a_broken_knowledge_file_is_refused_with_its_line() {
    let e = Triage::from_sources(
        LANGUAGE,
        CONCEPTS,
        "[x]\nlevel = emergency\nwhen = no_such_concept\nzh = a\nen = b\n",
        DEPARTMENTS,
    );
    let Err(e) = e else {
        panic!("an unknown concept was accepted")
    };
    assert_eq!(e.file, "red_flags.txt");
    assert!(e.what.contains("no_such_concept"), "{e}");
    let e = Triage::from_sources(LANGUAGE, CONCEPTS, RED_FLAGS, "heart_magic 2 = 心慌\n");
    assert!(e.is_err(), "an unknown specialty was accepted");
    let e = Triage::from_sources(LANGUAGE, "a = {b} {c}\n", RED_FLAGS, DEPARTMENTS);
    assert!(
        e.is_err(),
        "a concept used before its definition was accepted"
    );
}

#[test]
fn negation_is_scoped_to_the_clause() {
    let t = t();
    assert_eq!(level(&t, "没有胸痛，只是有点咳嗽"), Level::Routine);
    assert_eq!(level(&t, "没有胸痛也没有出冷汗"), Level::Routine);
    assert_eq!(level(&t, "胸口不疼，就是有点咳嗽"), Level::Routine);
    assert_eq!(level(&t, "没有发烧和呼吸困难，只是流鼻涕"), Level::Routine);
    // The negation ends at the comma or at a turning word.
    assert_eq!(
        level(&t, "没有发烧，但是喘不上气，嘴唇发紫"),
        Level::Emergency
    );
    assert_eq!(level(&t, "不发烧，突然说话不清楚"), Level::Emergency);
    // Words that contain 不 or 没 are not negations.
    assert_eq!(level(&t, "喘不上气"), Level::Emergency);
    assert_eq!(level(&t, "一边手脚没力气"), Level::Emergency);
    assert_eq!(level(&t, "叫他没反应"), Level::Emergency);
    // A negation far away with other words between does not reach.
    assert_eq!(level(&t, "没睡好今天胸口疼得厉害出冷汗"), Level::Emergency);
}

#[test]
fn resolved_and_past_symptoms_of_a_follow_up_are_not_emergencies() {
    let t = t();
    assert_eq!(level(&t, "上次胸痛已经好了，来复查"), Level::Routine);
    assert_eq!(level(&t, "去年脑梗，现在来复查开药"), Level::Routine);
    // ... but the same words now are.
    assert_eq!(
        level(&t, "去年脑梗过，今天又突然说话不清楚"),
        Level::Emergency
    );
    assert_eq!(level(&t, "胸痛持续不缓解，出冷汗"), Level::Emergency);
}

#[test]
fn numbers_with_units_are_read() {
    let t = t();
    assert_eq!(level(&t, "我妈血压180/110，头很痛"), Level::Emergency);
    assert_eq!(level(&t, "高压190，头晕"), Level::Emergency);
    assert_eq!(level(&t, "舒张压112，看东西模糊"), Level::Emergency);
    assert_eq!(level(&t, "BP 185/115 with a headache"), Level::Emergency);
    assert_eq!(level(&t, "ＢＰ １８５／１１５，头痛"), Level::Emergency);
    // High but below the threshold, or no symptom: a department.
    assert_eq!(level(&t, "血压150/95，想调药"), Level::Routine);
    assert_eq!(level(&t, "血压170/100，头有点痛"), Level::Routine);
    assert_eq!(level(&t, "血压180/100，没有不舒服，想调药"), Level::Routine);
    assert!(top3(&t, "血压150/95，想调药").contains(&"cardiology"));
    // Temperature, heart rate, glucose.
    assert_eq!(level(&t, "孩子发烧39度8，抽搐了"), Level::Emergency);
    assert_eq!(level(&t, "孩子发烧38度，精神很好"), Level::Routine);
    assert_eq!(level(&t, "心率180，晕倒了"), Level::Emergency);
    assert_eq!(
        level(&t, "heart rate 170 and I feel faint"),
        Level::Emergency
    );
    assert_eq!(level(&t, "血糖2.5，手抖出冷汗"), Level::Emergency);
    assert_eq!(level(&t, "空腹血糖6.8，想咨询"), Level::Routine);
    assert_eq!(level(&t, "血糖33，一直吐"), Level::Emergency);
}

#[test]
fn english_complaints_are_understood() {
    let t = t();
    assert_eq!(
        level(&t, "chest pain and shortness of breath"),
        Level::Emergency
    );
    assert_eq!(
        level(&t, "Sudden slurred speech and a drooping face"),
        Level::Emergency
    );
    assert_eq!(level(&t, "no chest pain, just a cough"), Level::Routine);
    assert_eq!(level(&t, "I want to kill myself"), Level::Crisis);
    assert_eq!(
        level(&t, "I do not feel suicidal, just stressed at work"),
        Level::Routine
    );
    assert!(top3(&t, "knee pain going up stairs").contains(&"orthopedics"));
    assert!(top3(&t, "hair falling out").contains(&"dermatology"));
}

#[test]
fn crisis_comes_first_with_the_crisis_line_and_no_booking() {
    let t = t();
    for s in [
        "不想活了",
        "最近总想自杀",
        "想结束自己的生命",
        "kill myself",
    ] {
        let a = t.assess(s).expect("assess");
        assert_eq!(a.level, Level::Crisis, "{s}");
        assert!(a.suggestions.is_empty(), "{s}");
        let lines: Vec<String> = a
            .hotlines(Lang::Zh, Some("0571-85029595"))
            .into_iter()
            .map(|h| h.number)
            .collect();
        assert!(lines.contains(&"12356".to_string()), "{s}");
        assert!(lines.contains(&"0571-85029595".to_string()), "{s}");
        assert!(!a.immediate_danger, "{s}");
        assert!(!a.advice(Lang::Zh, None).contains("预约"), "{s}");
    }
    // Immediate danger adds 120 and 110 before the crisis line.
    let a = t.assess("我已经吃了一瓶安眠药，不想活了").expect("assess");
    assert!(a.immediate_danger);
    let lines: Vec<String> = a
        .hotlines(Lang::En, None)
        .into_iter()
        .map(|h| h.number)
        .collect();
    assert_eq!(lines, vec!["120", "110", "12356"]);
    assert!(
        a.advice(Lang::En, None)
            .starts_with("If you have hurt yourself")
    );
    // Denying the thought is not a crisis.
    assert_eq!(
        level(&t, "没有自杀的想法，就是压力大睡不好"),
        Level::Routine
    );
    // A local line that is not a phone number is not offered.
    let a = t.assess("想自杀").expect("assess");
    assert_eq!(a.hotlines(Lang::Zh, Some("<script>")).len(), 1);
}

#[test]
fn an_emergency_never_carries_a_department_or_booking_advice() {
    let t = t();
    let a = t.assess("突然说话不清楚，一边手脚没力气").expect("assess");
    assert_eq!(a.level, Level::Emergency);
    assert!(a.suggestions.is_empty());
    let zh = a.advice(Lang::Zh, None);
    assert!(
        zh.contains("120") && !zh.contains("预约") && !zh.contains("科（"),
        "{zh}"
    );
    let en = a.advice(Lang::En, None);
    assert!(en.contains("120") && !en.contains("book"), "{en}");
    assert_eq!(a.hotlines(Lang::Zh, None)[0].number, "120");
    assert!(
        a.flags
            .iter()
            .any(|f| f.rule == "stroke_fast" && !f.matched.is_empty())
    );
}

#[test]
fn everyday_complaints_get_up_to_three_departments_with_reasons() {
    let t = t();
    let a = t.assess("膝盖疼，上下楼梯更明显").expect("assess");
    assert_eq!(a.level, Level::Routine);
    assert!(a.suggestions.len() <= MAX_SUGGESTIONS);
    assert_eq!(a.suggestions[0].specialty.code(), "orthopedics");
    assert!(a.suggestions[0].reasons.iter().any(|r| r.contains("膝盖")));
    assert!(top3(&t, "掉头发越来越多").contains(&"dermatology"));
    assert!(top3(&t, "眼睛干涩").contains(&"ophthalmology"));
    let a = t.assess("说不清楚哪里难受").expect("assess");
    assert!(a.advice(Lang::Zh, None).contains("全科"));
}

#[test]
fn any_input_is_answered_without_a_panic() {
    let t = t();
    assert_eq!(t.assess("").map(|a| a.level), Err(InputError::Empty));
    assert_eq!(
        t.assess("  ，。!!").map(|a| a.level),
        Err(InputError::Empty)
    );
    let long = "头痛".repeat(501);
    assert_eq!(
        t.assess(&long).map(|a| a.level),
        Err(InputError::TooLong {
            max: MAX_COMPLAINT_CHARS
        })
    );
    let ok = "头痛".repeat(500);
    assert!(t.assess(&ok).is_ok());
    for s in [
        "😀😀😀胸痛😭",
        "ｈｅａｄａｃｈｅ头疼",
        "\u{202e}abc",
        "1/0",
        "血压/",
        "99999999999999999999/1",
        "体温.5度",
        "心率-",
        "a\u{0}b",
        "胸口疼\n\n出冷汗",
    ] {
        // Fails by panicking, if at all.
        let _ = t.assess(s);
        let _ = t.explain(s);
    }
    assert_eq!(level(&t, "胸口疼\n出冷汗"), Level::Emergency);
}

#[test]
fn chinese_numerals_are_numbers_but_words_like_yibian_are_not() {
    let t = t();
    assert_eq!(level(&t, "高压一百九，头疼得厉害"), Level::Emergency);
    assert_eq!(level(&t, "血压一百八十五/一百一十，头痛"), Level::Emergency);
    assert_eq!(level(&t, "孩子烧到三十九点五度，抽了"), Level::Emergency);
    assert_eq!(level(&t, "血压一百四，想开药"), Level::Routine);
    assert_eq!(level(&t, "一边手脚没力气"), Level::Emergency);
}

#[test]
fn a_routine_answer_with_a_near_red_flag_says_when_to_call_120() {
    let t = t();
    let a = t.assess("胸口有点闷，偶尔发作").expect("assess");
    assert_eq!(a.level, Level::Routine);
    assert!(a.cautions.iter().any(|c| c.rule == "watch_chest"));
    assert!(a.advice(Lang::Zh, None).contains("120"));
    let a = t.assess("膝盖疼").expect("assess");
    assert!(a.cautions.is_empty());
    assert!(!a.advice(Lang::Zh, None).contains("120"));
    // An emergency carries no caution (it already says call 120).
    let a = t.assess("胸口疼得厉害，出冷汗").expect("assess");
    assert!(a.cautions.is_empty());
}

#[test]
fn a_long_worst_case_complaint_is_answered_quickly() {
    let t = t();
    // Many overlapping terms: body parts, sides, limbs and weakness words.
    let s = "左手右脚一边没力气胸口疼出汗不没有".repeat(1000 / 17);
    let started = std::time::Instant::now();
    let a = t.assess(&s).expect("assess");
    assert_eq!(a.level, Level::Emergency);
    // Generous for an unoptimised build on a busy machine.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_settled_history_is_a_follow_up_but_a_recurrence_is_not() {
    let t = t();
    // Past, better now, asking for a follow-up: the psychiatrist, not the crisis line.
    let a = t
        .assess("以前有过轻生念头，现在治疗后好多了，来复诊开药")
        .expect("assess");
    assert_eq!(a.level, Level::Routine);
    assert_eq!(a.suggestions[0].specialty.code(), "psychiatry");
    assert_eq!(
        level(&t, "中风后遗症，左手还是没劲，来康复复查"),
        Level::Routine
    );
    // The same history with something new is not settled.
    assert_eq!(level(&t, "我以前想过自杀，最近又开始想了"), Level::Crisis);
    assert_eq!(level(&t, "去年中风过，今天早上又嘴歪了"), Level::Emergency);
    assert_eq!(
        level(&t, "以前有心绞痛，今天又胸痛出汗了，想复诊"),
        Level::Emergency
    );
}

#[test]
fn an_english_history_is_past_but_minutes_make_it_now() {
    let t = t();
    assert_eq!(
        level(
            &t,
            "I have had slurred words since my stroke last year, here for a follow-up"
        ),
        Level::Routine
    );
    assert_eq!(
        level(
            &t,
            "I've had crushing chest pain for 20 minutes, can I book a follow-up?"
        ),
        Level::Emergency
    );
}
