//! Results: one row per case and a summary, saved as JSON so that two runs (two prompt
//! variants) can be put side by side later.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// How the generated command compared when run on the fixture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Exec {
    /// Same output and same resulting tree as one of the references.
    Equivalent,
    Different,
    /// Rated dangerous by the safety checker, so not run (counts as not equivalent).
    Dangerous,
    /// No command came back (counts as not equivalent).
    NoCommand,
    /// No reference printed anything or changed the tree: nothing to compare.
    Uninformative,
    /// A reference gave different results on two runs (time, processes…).
    Unstable,
    /// The first reference failed (time limit, missing program, an error and no
    /// effect) or was rated dangerous.
    Failed,
    /// The first reference reads the host's state (time, users, hardware, /etc…).
    HostState,
    /// Execution was off or unavailable.
    NotRun,
}

impl Exec {
    /// Whether the case counts in the execution score's denominator.
    pub fn scored(self) -> bool {
        matches!(
            self,
            Self::Equivalent | Self::Different | Self::Dangerous | Self::NoCommand
        )
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    pub id: String,
    pub nl: String,
    pub gold: Vec<String>,
    pub command: Option<String>,
    pub error: Option<String>,
    /// Why the first answer was rejected and a second asked for.
    pub retried: Option<String>,
    pub exact: bool,
    pub first_program: bool,
    pub flag_overlap: f64,
    pub exec: Exec,
    /// Why the case is not scorable, or which references were dropped.
    #[serde(default)]
    pub exec_note: Option<String>,
    /// The case's area ([`crate::category`]).
    #[serde(default)]
    pub category: String,
    pub safety: Option<caro::safety::Level>,
    pub latency_ms: f64,
    pub user_tokens: usize,
    pub generated_tokens: usize,
    /// What the checks found and did, when they ran.
    #[serde(default)]
    pub checks: Option<Checks>,
}

/// How one command measures against a case's references.
pub struct Judged {
    pub exact: bool,
    pub first_program: bool,
    pub flag_overlap: f64,
    pub exec: Exec,
    pub exec_note: Option<String>,
    pub safety: Option<caro::safety::Level>,
}

/// The checks' part of a row: what they found in the first answer, and the first
/// answer's own scores when another answer replaced it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Checks {
    /// Kinds of what was found in the first answer (`option`, `syntax`, …), each once.
    pub fired: Vec<String>,
    /// What was found, as shown to a user.
    pub findings: Vec<String>,
    /// `first`, `candidate` or `note`.
    pub source: String,
    pub candidates: usize,
    /// What is still wrong with the answer given.
    pub remaining: Vec<String>,
    pub first_command: Option<String>,
    pub first_exec: Option<Exec>,
    pub first_first_program: Option<bool>,
    pub first_flag_overlap: Option<f64>,
}

impl Checks {
    pub fn new(v: &caro::engine::checked::Verification, first: Option<&Judged>) -> Self {
        let mut fired: Vec<String> = Vec::new();
        for f in &v.first {
            let k = f.kind.name().to_owned();
            if !fired.contains(&k) {
                fired.push(k);
            }
        }
        Self {
            fired,
            findings: v.first.iter().map(ToString::to_string).collect(),
            source: serde_json::to_value(v.source)
                .ok()
                .and_then(|x| x.as_str().map(str::to_owned))
                .unwrap_or_default(),
            candidates: v.candidates,
            remaining: v.remaining.iter().map(ToString::to_string).collect(),
            first_command: v.replaced.clone(),
            first_exec: first.map(|j| j.exec),
            first_first_program: first.map(|j| j.first_program),
            first_flag_overlap: first.map(|j| j.flag_overlap),
        }
    }
}

/// What one check (or one way of replacing an answer) did over a run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MechanismSummary {
    pub name: String,
    /// Cases whose first answer it fired on.
    pub fired: usize,
    /// Of those, answers replaced.
    pub replaced: usize,
    /// Execution: replaced answers that went from not equivalent to equivalent, and back.
    pub exec_gained: usize,
    pub exec_lost: usize,
    /// First program: right after replacing where it was wrong before, and the reverse.
    pub program_gained: usize,
    pub program_lost: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExecSummary {
    pub available: bool,
    /// Why execution was not available, or off.
    pub reason: Option<String>,
    /// Cases with a reference that had a visible, repeatable effect.
    pub scored: usize,
    pub equivalent: usize,
    /// Percent of `scored`.
    pub rate: f64,
    pub dangerous: usize,
    pub uninformative: usize,
    pub unstable: usize,
    #[serde(default)]
    pub failed: usize,
    #[serde(default)]
    pub host_state: usize,
}

/// The figures of one area ([`crate::category`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CategorySummary {
    pub category: String,
    pub cases: usize,
    /// Percent of cases.
    pub first_program: f64,
    /// Cases scorable by execution.
    pub scored: usize,
    pub equivalent: usize,
    /// Percent of `scored`.
    pub rate: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Latency {
    pub median_ms: f64,
    pub p90_ms: f64,
    pub mean_ms: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub variant: String,
    pub context: String,
    pub cases: usize,
    pub model: String,
    pub threads: usize,
    /// Percent of cases.
    pub exact: f64,
    pub first_program: f64,
    /// Mean best Jaccard overlap of key flags, in percent.
    pub flag_overlap: f64,
    pub exec: ExecSummary,
    pub latency: Latency,
    pub mean_user_tokens: f64,
    pub mean_generated_tokens: f64,
    pub retries: usize,
    pub no_command: usize,
    pub dangerous_generated: usize,
    /// Per area, in [`crate::category::NAMES`] order; areas without cases left out.
    #[serde(default)]
    pub categories: Vec<CategorySummary>,
    /// Per check kind, then per way of replacing an answer (`by candidate`, `by note`).
    #[serde(default)]
    pub mechanisms: Vec<MechanismSummary>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub summary: Summary,
    pub rows: Vec<Row>,
}

fn pct(n: usize, of: usize) -> f64 {
    if of == 0 {
        0.0
    } else {
        100.0 * n as f64 / of as f64
    }
}

/// The `q` quantile (0..=1) by nearest rank.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

pub struct RunInfo {
    pub variant: String,
    pub context: String,
    pub model: String,
    pub threads: usize,
    pub exec_available: bool,
    pub exec_reason: Option<String>,
}

pub fn summarise(info: RunInfo, rows: &[Row]) -> Summary {
    let n = rows.len();
    let count = |f: &dyn Fn(&Row) -> bool| rows.iter().filter(|r| f(r)).count();
    let scored = count(&|r| r.exec.scored());
    let equivalent = count(&|r| r.exec == Exec::Equivalent);
    let latencies: Vec<f64> = rows.iter().map(|r| r.latency_ms).collect();
    let mean = |f: &dyn Fn(&Row) -> f64| {
        if n == 0 {
            0.0
        } else {
            rows.iter().map(f).sum::<f64>() / n as f64
        }
    };
    Summary {
        variant: info.variant,
        context: info.context,
        cases: n,
        model: info.model,
        threads: info.threads,
        exact: pct(count(&|r| r.exact), n),
        first_program: pct(count(&|r| r.first_program), n),
        flag_overlap: 100.0 * mean(&|r| r.flag_overlap),
        exec: ExecSummary {
            available: info.exec_available,
            reason: info.exec_reason,
            scored,
            equivalent,
            rate: pct(equivalent, scored),
            dangerous: count(&|r| r.exec == Exec::Dangerous),
            uninformative: count(&|r| r.exec == Exec::Uninformative),
            unstable: count(&|r| r.exec == Exec::Unstable),
            failed: count(&|r| r.exec == Exec::Failed),
            host_state: count(&|r| r.exec == Exec::HostState),
        },
        latency: Latency {
            median_ms: quantile(&latencies, 0.5),
            p90_ms: quantile(&latencies, 0.9),
            mean_ms: mean(&|r| r.latency_ms),
        },
        mean_user_tokens: mean(&|r| r.user_tokens as f64),
        mean_generated_tokens: mean(&|r| r.generated_tokens as f64),
        retries: count(&|r| r.retried.is_some()),
        no_command: count(&|r| r.command.is_none()),
        dangerous_generated: count(&|r| r.safety == Some(caro::safety::Level::Dangerous)),
        categories: categories(rows),
        mechanisms: mechanisms(rows),
    }
}

const CHECK_KINDS: &[&str] = &["syntax", "program", "option", "argument", "fish", "trial"];

fn mechanisms(rows: &[Row]) -> Vec<MechanismSummary> {
    let checked: Vec<(&Row, &Checks)> = rows
        .iter()
        .filter_map(|r| r.checks.as_ref().map(|c| (r, c)))
        .collect();
    if checked.is_empty() {
        return Vec::new();
    }
    let tally = |name: String, pick: &dyn Fn(&Checks) -> bool| {
        let mut m = MechanismSummary {
            name,
            ..MechanismSummary::default()
        };
        for (r, c) in checked.iter().filter(|(_, c)| pick(c)) {
            m.fired += 1;
            if c.first_command.is_none() {
                continue;
            }
            m.replaced += 1;
            let was = c.first_exec == Some(Exec::Equivalent);
            let is = r.exec == Exec::Equivalent;
            // Only cases scorable either way count for execution.
            if r.exec.scored() && c.first_exec.is_some_and(Exec::scored) {
                m.exec_gained += usize::from(is && !was);
                m.exec_lost += usize::from(was && !is);
            }
            let was = c.first_first_program == Some(true);
            m.program_gained += usize::from(r.first_program && !was);
            m.program_lost += usize::from(was && !r.first_program);
        }
        m
    };
    let mut out: Vec<MechanismSummary> = CHECK_KINDS
        .iter()
        .map(|k| tally(format!("check: {k}"), &|c| c.fired.iter().any(|f| f == k)))
        .collect();
    out.push(tally("any check".into(), &|c| !c.fired.is_empty()));
    out.push(tally("by candidate".into(), &|c| c.source == "candidate"));
    out.push(tally("by note".into(), &|c| c.source == "note"));
    out.push(tally("left unverified".into(), &|c| {
        !c.remaining.is_empty()
    }));
    out
}

/// The checks' table: per check kind and per way of replacing, how often it fired and
/// what replacing did to execution and first program.
fn render_mechanisms(summaries: &[&Summary]) -> String {
    let mut out = String::new();
    for s in summaries.iter().filter(|s| !s.mechanisms.is_empty()) {
        out.push_str(&format!(
            "{:<18}  {:>5}  {:>8}  {:>9}  {:>9}   ({})\n",
            "mechanism", "fired", "replaced", "exec +/-", "prog +/-", s.variant
        ));
        for m in &s.mechanisms {
            out.push_str(&format!(
                "{:<18}  {:>5}  {:>8}  {:>9}  {:>9}\n",
                m.name,
                m.fired,
                m.replaced,
                format!("+{}/-{}", m.exec_gained, m.exec_lost),
                format!("+{}/-{}", m.program_gained, m.program_lost)
            ));
        }
    }
    out
}

fn categories(rows: &[Row]) -> Vec<CategorySummary> {
    crate::category::NAMES
        .iter()
        .filter_map(|name| {
            let rows: Vec<&Row> = rows.iter().filter(|r| r.category == *name).collect();
            if rows.is_empty() {
                return None;
            }
            let scored = rows.iter().filter(|r| r.exec.scored()).count();
            let equivalent = rows.iter().filter(|r| r.exec == Exec::Equivalent).count();
            let first = rows.iter().filter(|r| r.first_program).count();
            Some(CategorySummary {
                category: (*name).into(),
                cases: rows.len(),
                first_program: pct(first, rows.len()),
                scored,
                equivalent,
                rate: pct(equivalent, scored),
            })
        })
        .collect()
}

/// Per area: cases, first program %, and execution equivalent (of scorable), one
/// column per summary.
fn render_categories(summaries: &[&Summary]) -> String {
    let mut names: Vec<&str> = Vec::new();
    for s in summaries {
        for c in &s.categories {
            if !names.contains(&c.category.as_str()) {
                names.push(&c.category);
            }
        }
    }
    if names.is_empty() {
        return String::new();
    }
    let label_w = names.iter().map(|n| n.len()).max().unwrap_or(0).max(8);
    let mut out = format!("{:<label_w$}", "category");
    for s in summaries {
        out.push_str(&format!(
            "  {:>5}  {:>6}  {:>16}",
            "cases", "prog %", s.variant
        ));
    }
    out.push('\n');
    for name in names {
        out.push_str(&format!("{name:<label_w$}"));
        for s in summaries {
            match s.categories.iter().find(|c| c.category == name) {
                Some(c) => out.push_str(&format!(
                    "  {:>5}  {:>6.1}  {:>16}",
                    c.cases,
                    c.first_program,
                    if s.exec.available {
                        format!("{:.1} ({}/{})", c.rate, c.equivalent, c.scored)
                    } else {
                        "n/a".into()
                    }
                )),
                None => out.push_str(&format!("  {:>5}  {:>6}  {:>16}", 0, "-", "-")),
            }
        }
        out.push('\n');
    }
    out
}

/// The lines of the side-by-side table: label, then one value per summary.
fn table(summaries: &[&Summary]) -> Vec<(String, Vec<String>)> {
    let row = |label: &str, f: &dyn Fn(&Summary) -> String| {
        (
            label.to_owned(),
            summaries.iter().map(|s| f(s)).collect::<Vec<_>>(),
        )
    };
    vec![
        row("variant", &|s| s.variant.clone()),
        row("context", &|s| s.context.clone()),
        row("cases", &|s| s.cases.to_string()),
        row("exact match %", &|s| format!("{:.1}", s.exact)),
        row("first program %", &|s| format!("{:.1}", s.first_program)),
        row("flag overlap %", &|s| format!("{:.1}", s.flag_overlap)),
        row("exec equivalent %", &|s| {
            if s.exec.available {
                format!(
                    "{:.1} ({}/{})",
                    s.exec.rate, s.exec.equivalent, s.exec.scored
                )
            } else {
                "n/a".into()
            }
        }),
        row("  not comparable", &|s| {
            format!(
                "{} uninf. + {} unstable + {} failed + {} host",
                s.exec.uninformative, s.exec.unstable, s.exec.failed, s.exec.host_state
            )
        }),
        row("dangerous (not run)", &|s| {
            s.dangerous_generated.to_string()
        }),
        row("no command", &|s| s.no_command.to_string()),
        row("retries", &|s| s.retries.to_string()),
        row("latency median ms", &|s| {
            format!("{:.0}", s.latency.median_ms)
        }),
        row("latency p90 ms", &|s| format!("{:.0}", s.latency.p90_ms)),
        row("user-turn tokens", &|s| {
            format!("{:.1}", s.mean_user_tokens)
        }),
        row("generated tokens", &|s| {
            format!("{:.1}", s.mean_generated_tokens)
        }),
        row("threads", &|s| s.threads.to_string()),
    ]
}

/// A plain-text table of one or more summaries, one column each.
pub fn render(summaries: &[&Summary]) -> String {
    let lines = table(summaries);
    let label_w = lines.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    let col_w = lines
        .iter()
        .flat_map(|(_, v)| v.iter().map(|s| s.chars().count()))
        .max()
        .unwrap_or(0)
        .max(8);
    let mut out = String::new();
    for (label, values) in lines {
        out.push_str(&format!("{label:<label_w$}"));
        for v in values {
            out.push_str(&format!("  {v:>col_w$}"));
        }
        out.push('\n');
    }
    if let Some(reason) = summaries.iter().find_map(|s| s.exec.reason.as_deref()) {
        out.push_str(&format!("execution: {reason}\n"));
    }
    for part in [render_categories(summaries), render_mechanisms(summaries)] {
        if !part.is_empty() {
            out.push('\n');
            out.push_str(&part);
        }
    }
    out
}

pub fn save(report: &Report, path: &Path) -> Result<(), String> {
    let json = serde_json::to_string_pretty(report).map_err(|e| e.to_string())?;
    std::fs::write(path, json + "\n").map_err(|e| format!("cannot write {}: {e}", path.display()))
}

pub fn load(path: &Path) -> Result<Report, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| format!("{} is not an eval result: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(exec: Exec, latency_ms: f64, first_program: bool) -> Row {
        Row {
            id: "x".into(),
            nl: "x".into(),
            gold: vec!["ls".into()],
            command: Some("ls".into()),
            error: None,
            retried: None,
            exact: false,
            first_program,
            flag_overlap: 0.5,
            exec,
            exec_note: None,
            category: if first_program { "files/find" } else { "other" }.into(),
            safety: None,
            latency_ms,
            user_tokens: 10,
            generated_tokens: 4,
            checks: None,
        }
    }

    fn checked(exec: Exec, fired: &[&str], first: Option<(Exec, bool)>) -> Row {
        let mut r = row(exec, 1.0, true);
        r.checks = Some(Checks {
            fired: fired.iter().map(|f| (*f).to_owned()).collect(),
            findings: Vec::new(),
            source: if first.is_some() {
                "candidate"
            } else {
                "first"
            }
            .into(),
            candidates: 4,
            remaining: Vec::new(),
            first_command: first.map(|_| "ls --bad".into()),
            first_exec: first.map(|f| f.0),
            first_first_program: first.map(|f| f.1),
            first_flag_overlap: first.map(|_| 0.0),
        });
        r
    }

    #[test]
    fn each_check_counts_what_replacing_gained_and_lost() {
        let rows = vec![
            // Fired, replaced, wrong → right on both measures.
            checked(
                Exec::Equivalent,
                &["option"],
                Some((Exec::Different, false)),
            ),
            // Fired, replaced, right → wrong in execution.
            checked(
                Exec::Different,
                &["option", "syntax"],
                Some((Exec::Equivalent, true)),
            ),
            // Fired, nothing better found.
            checked(Exec::Different, &["syntax"], None),
            // Passed.
            checked(Exec::Equivalent, &[], None),
            // Replaced, but the first answer was not scorable: execution not counted.
            checked(
                Exec::Equivalent,
                &["argument"],
                Some((Exec::Uninformative, true)),
            ),
        ];
        let m = mechanisms(&rows);
        let get = |n: &str| m.iter().find(|x| x.name == n).expect(n).clone();
        let option = get("check: option");
        assert_eq!((option.fired, option.replaced), (2, 2));
        assert_eq!((option.exec_gained, option.exec_lost), (1, 1));
        assert_eq!((option.program_gained, option.program_lost), (1, 0));
        let syntax = get("check: syntax");
        assert_eq!((syntax.fired, syntax.replaced, syntax.exec_lost), (2, 1, 1));
        let argument = get("check: argument");
        assert_eq!((argument.replaced, argument.exec_gained), (1, 0));
        assert_eq!(get("any check").fired, 4);
        assert_eq!(get("by candidate").fired, 3);
        // Rows without checks give no table.
        assert!(mechanisms(&[row(Exec::Equivalent, 1.0, true)]).is_empty());
    }

    #[test]
    fn summary_counts_only_comparable_cases_for_execution() {
        let rows = vec![
            row(Exec::Equivalent, 100.0, true),
            row(Exec::Different, 200.0, true),
            row(Exec::Uninformative, 300.0, false),
            row(Exec::Dangerous, 400.0, false),
        ];
        let info = RunInfo {
            variant: "v".into(),
            context: "full".into(),
            model: "m".into(),
            threads: 2,
            exec_available: true,
            exec_reason: None,
        };
        let s = summarise(info, &rows);
        assert_eq!(s.exec.scored, 3);
        assert!((s.exec.rate - 100.0 / 3.0).abs() < 1e-9);
        assert_eq!(s.first_program, 50.0);
        assert_eq!(s.latency.median_ms, 200.0);
        assert_eq!(s.latency.p90_ms, 400.0);
        let table = render(&[&s, &s]);
        assert!(table.contains("first program %"));
        // Per area: two "files/find" rows (one equivalent of two scored), two "other".
        let files = &s.categories[0];
        assert_eq!(files.category, "files/find");
        assert_eq!((files.cases, files.scored, files.equivalent), (2, 2, 1));
        assert_eq!(files.rate, 50.0);
        let other = &s.categories[1];
        assert_eq!((other.category.as_str(), other.scored), ("other", 1));
        assert!(
            table.contains("files/find") && table.contains("50.0 (1/2)"),
            "{table}"
        );
    }

    #[test]
    fn quantiles_by_nearest_rank() {
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), 5.0);
        assert_eq!(quantile(&v, 0.9), 9.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
    }
}
