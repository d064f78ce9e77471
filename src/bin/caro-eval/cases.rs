//! Evaluation cases: one JSON object per line, `{"id", "nl", "gold": [...]}`.

use std::path::Path;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    pub id: String,
    /// The request in plain words.
    pub nl: String,
    /// Reference commands; any one of them counts as right.
    pub gold: Vec<String>,
}

/// Reads every case of `path`; blank lines and `//` comments are skipped.
pub fn load(path: &Path) -> Result<Vec<Case>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse(&text).map_err(|(line, e)| format!("{}:{line}: {e}", path.display()))
}

fn parse(text: &str) -> Result<Vec<Case>, (usize, String)> {
    let mut cases = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        let case: Case = serde_json::from_str(line).map_err(|e| (i + 1, e.to_string()))?;
        if case.gold.is_empty() {
            return Err((i + 1, format!("case {} has no reference command", case.id)));
        }
        cases.push(case);
    }
    Ok(cases)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines_and_reports_the_bad_one() {
        let ok = "{\"id\":\"a\",\"nl\":\"list\",\"gold\":[\"ls\"]}\n\n// note\n";
        assert_eq!(parse(ok).expect("parse").len(), 1);
        let bad = "{\"id\":\"a\",\"nl\":\"x\",\"gold\":[\"ls\"]}\n{oops}\n";
        assert_eq!(parse(bad).expect_err("bad line").0, 2);
        let empty = "{\"id\":\"a\",\"nl\":\"x\",\"gold\":[]}";
        assert!(parse(empty).is_err());
    }
}
