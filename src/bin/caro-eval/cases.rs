//! Evaluation cases: one JSON object per line, `{"id", "nl", "gold": [...]}`, with an
//! optional `"fixture": "NAME"`: the tree in `fixtures/NAME.json` beside the case file.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    pub id: String,
    /// The request in plain words.
    pub nl: String,
    /// Reference commands; any one of them counts as right.
    pub gold: Vec<String>,
    /// The fixture file's name; without it the built-in fixture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixture: Option<String>,
    /// `fixtures/NAME.json` beside the case file, resolved when loaded.
    #[serde(skip)]
    pub fixture_file: Option<PathBuf>,
}

/// Reads every case of `path`; blank lines and `//` comments are skipped.
pub fn load(path: &Path) -> Result<Vec<Case>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut cases = parse(&text).map_err(|(line, e)| format!("{}:{line}: {e}", path.display()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    for case in &mut cases {
        case.fixture_file = case
            .fixture
            .as_ref()
            .map(|name| dir.join("fixtures").join(format!("{name}.json")));
    }
    Ok(cases)
}

/// Case ids, one a line (blank lines and `#` comments skipped), from `--ids` files.
pub fn load_ids(path: &Path) -> Result<BTreeSet<String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(parse_ids(&text))
}

fn parse_ids(text: &str) -> BTreeSet<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

/// The cases whose id is in `ids`, in case-file order, and the ids that matched none.
pub fn select(cases: Vec<Case>, ids: &BTreeSet<String>) -> (Vec<Case>, Vec<String>) {
    let found: BTreeSet<&str> = cases.iter().map(|c| c.id.as_str()).collect();
    let missing = ids
        .iter()
        .filter(|id| !found.contains(id.as_str()))
        .cloned()
        .collect();
    let kept = cases.into_iter().filter(|c| ids.contains(&c.id)).collect();
    (kept, missing)
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

    #[test]
    fn a_fixture_name_resolves_beside_the_case_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cases.jsonl");
        let text = "{\"id\":\"a\",\"nl\":\"x\",\"gold\":[\"ls\"],\"fixture\":\"fs1\"}\n\
                    {\"id\":\"b\",\"nl\":\"x\",\"gold\":[\"ls\"]}\n";
        std::fs::write(&path, text).expect("write");
        let cases = load(&path).expect("load");
        assert_eq!(
            cases[0].fixture_file.as_deref(),
            Some(dir.path().join("fixtures/fs1.json").as_path())
        );
        assert_eq!(cases[1].fixture_file, None);
    }

    #[test]
    fn ids_select_a_subset_in_file_order() {
        let cases = parse(
            "{\"id\":\"a\",\"nl\":\"x\",\"gold\":[\"ls\"]}\n\
             {\"id\":\"b\",\"nl\":\"x\",\"gold\":[\"ls\"]}\n\
             {\"id\":\"c\",\"nl\":\"x\",\"gold\":[\"ls\"]}\n",
        )
        .expect("parse");
        let ids = parse_ids("c\n# a comment\n\n  a  \nzz\n");
        let (kept, missing) = select(cases, &ids);
        let kept: Vec<&str> = kept.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(kept, ["a", "c"]);
        assert_eq!(missing, ["zz"]);
    }

    #[test]
    fn the_split_files_cover_alfa_dev_once() {
        let splits = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/eval/splits");
        let tune = load_ids(&splits.join("alfa-tune.ids")).expect("tune ids");
        let held = load_ids(&splits.join("alfa-held.ids")).expect("held ids");
        assert_eq!(tune.len() + held.len(), 115);
        assert!(tune.is_disjoint(&held));
    }
}
