//! `cargo run -p ihos-triage --bin triage-eval [FILE.tsv ...] [--explain TEXT]`
//!
//! Prints emergency recall, crisis recall, the false-alarm rate on ordinary
//! complaints and top-3 department accuracy for each set (by default
//! `eval/complaints.tsv`, `eval/holdout.tsv` and `eval/holdout2.tsv`), with every failure.
//! Exits non-zero when a set is below target.

use std::process::ExitCode;

use ihos_triage::{Lang, Triage, eval};

fn main() -> ExitCode {
    let triage = match Triage::load() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("knowledge files: {e}");
            return ExitCode::FAILURE;
        }
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--explain") {
        let text = args[1..].join(" ");
        for c in triage.explain(&text) {
            println!("  {c}");
        }
        match triage.assess(&text) {
            Ok(a) => {
                println!("level: {}", a.level.code());
                for f in &a.flags {
                    println!("  [{}] {} <- {}", f.rule, f.zh, f.matched.join("、"));
                }
                for s in &a.suggestions {
                    println!(
                        "  {} {} <- {}",
                        s.specialty.code(),
                        s.score,
                        s.reasons.join("、")
                    );
                }
                println!("{}", a.advice(Lang::Zh, None));
            }
            Err(e) => println!("error: {e}"),
        }
        return ExitCode::SUCCESS;
    }
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/eval");
    let files: Vec<String> = if args.is_empty() {
        vec![
            format!("{dir}/complaints.tsv"),
            format!("{dir}/holdout.tsv"),
            format!("{dir}/holdout2.tsv"),
        ]
    } else {
        args
    };
    let mut ok = true;
    for f in files {
        let src = match std::fs::read_to_string(&f) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{f}: {e}");
                return ExitCode::FAILURE;
            }
        };
        let cases = match eval::parse(&src) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("{f}: {e}");
                return ExitCode::FAILURE;
            }
        };
        let report = eval::evaluate(&triage, &cases);
        println!(
            "== {} ({} complaints, {} red-flag rules)",
            f.rsplit('/').next().unwrap_or(&f),
            cases.len(),
            triage.rule_count()
        );
        println!("{report}\n");
        ok &= report.meets_targets();
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
