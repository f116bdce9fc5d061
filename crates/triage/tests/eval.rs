//! The evaluation set runs in the test suite: a knowledge-file change that
//! misses an emergency or a crisis, raises false alarms above 2 % or drops
//! top-3 department accuracy below 90 % fails CI.

use ihos_triage::{Triage, eval};

#[test]
fn the_evaluation_set_meets_the_targets() {
    let t = Triage::load().expect("knowledge files load");
    let cases = eval::parse(include_str!("../eval/complaints.tsv")).expect("eval set parses");
    assert!(
        cases.len() >= 300,
        "the evaluation set has only {} complaints",
        cases.len()
    );
    let report = eval::evaluate(&t, &cases);
    assert!(report.meets_targets(), "\n{report}");
}

#[test]
fn the_held_out_set_parses() {
    // Its figures are reported by `triage-eval`; it is never tuned against.
    let cases = eval::parse(include_str!("../eval/holdout.tsv")).expect("held-out set parses");
    assert!(cases.len() >= 100);
    let cases =
        eval::parse(include_str!("../eval/holdout2.tsv")).expect("second held-out set parses");
    assert!(cases.len() >= 100);
}
