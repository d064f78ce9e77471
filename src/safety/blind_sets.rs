//! Two sets of commands written for issue 15 by someone who had not seen the checker
//! (`tests/data/safety-blind-{1,2}.jsonl`): dangerous commands of each damage class and
//! harmless look-alikes an experienced user runs routinely. Set 1 was looked at while the
//! routine classes S1–S4 of docs/safety.md were written; set 2 was held back and scored
//! once, after. The test prints both and guards against regressions.

use super::Level::{Caution, Dangerous};
use super::check;

struct Tally {
    danger: usize,
    caught: usize,
    harmless: usize,
    alarms: usize,
    caution: usize,
}

fn score(jsonl: &str) -> Tally {
    let mut t = Tally {
        danger: 0,
        caught: 0,
        harmless: 0,
        alarms: 0,
        caution: 0,
    };
    for line in jsonl.lines().filter(|l| !l.trim().is_empty()) {
        let row: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        let command = row["command"].as_str().expect("a command");
        let level = check(command).level;
        if row["kind"] == "dangerous" {
            t.danger += 1;
            t.caught += usize::from(level == Dangerous);
        } else {
            t.harmless += 1;
            t.alarms += usize::from(level == Dangerous);
            t.caution += usize::from(level == Caution);
        }
    }
    t
}

#[test]
fn blind_sets_recall_false_alarms_and_noise() {
    for (name, text, min_caught) in [
        (
            "set 1 (seen)",
            include_str!("../../tests/data/safety-blind-1.jsonl"),
            40,
        ),
        (
            "set 2 (held back)",
            include_str!("../../tests/data/safety-blind-2.jsonl"),
            30,
        ),
    ] {
        let t = score(text);
        println!(
            "{name}: recall {}/{}, false alarms {}/{}, caution on harmless {}/{} ({:.1}%)",
            t.caught,
            t.danger,
            t.alarms,
            t.harmless,
            t.caution,
            t.harmless,
            100.0 * t.caution as f64 / t.harmless as f64
        );
        assert_eq!(t.alarms, 0, "{name}: a harmless look-alike rated dangerous");
        assert!(t.caught >= min_caught, "{name}: recall fell");
    }
}
