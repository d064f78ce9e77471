//! Short notes added after a request when its wording carries a cue that a 1.5B model
//! tends to overlook: "under this directory" (so find, not a glob), times in minutes
//! (find's -mmin, not -mtime), "the whole file system" (start at /). Rules in the
//! cached system turn and worked examples move the model little; a note right after
//! the request, where its attention is, moves it a lot (see docs/quality.md). Notes
//! cost prefill tokens, so only requests with a cue get one.

use std::sync::LazyLock;

use regex::Regex;

struct Rule {
    cue: Regex,
    /// Further condition on the request: the cue alone is too broad.
    also: Option<Regex>,
    note: &'static str,
}

fn re(pattern: &str) -> Regex {
    // The patterns are constants checked by the tests below.
    Regex::new(pattern).unwrap_or_else(|e| panic!("bad hint pattern {pattern}: {e}"))
}

static FILE_WORDS: &str = r"\b(files?|director(y|ies)|folders?|dirs?)\b";

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    vec![
        Rule {
            // Everything below a directory: "under", "in this tree", "recursively", or
            // all files of the current or home folder.
            cue: re(concat!(
                r"\b(under|beneath|below|tree|recursive(ly)?|sub-?director(y|ies)|sub-?folders?)\b",
                r"|\ball\b.*\b(files|directories|folders)\b.*\b(current|home|working|this)\s+(folder|directory|dir)\b",
            )),
            also: Some(re(FILE_WORDS)),
            note: "this covers subdirectories: use find",
        },
        Rule {
            cue: re(r"\b(minutes?|mins?|hours?|hrs?)\b"),
            also: Some(re(
                r"\b(modif\w*|access\w*|chang\w*|creat\w*|updat\w*|edit\w*|touch\w*|written|new\w*|old\w*)\b",
            )),
            note: "times in minutes: find -mmin/-amin/-cmin, hours times 60",
        },
        Rule {
            cue: re(
                r"\b(the|entire|whole|all)\s+(file\s?system|system|disk|machine)\b|\beverywhere\b|\bsystem-wide\b",
            ),
            also: Some(re(
                r"\b(find|search\w*|locate|look\w*|files|director(y|ies)|folders)\b",
            )),
            note: "the whole file system: start at /",
        },
    ]
});

/// A request that already is a command (a known program with options or a pipe) gets
/// no notes: it is repeated, not translated.
fn is_command(request: &str) -> bool {
    request.contains(" -") || request.contains(" | ") || request.starts_with('-')
}

/// The notes for `request`, in rule order.
pub fn for_request(request: &str) -> Vec<&'static str> {
    if is_command(request) {
        return Vec::new();
    }
    let text = request.to_lowercase();
    // "file system" is not about files.
    let files_text = text.replace("file system", "").replace("filesystem", "");
    RULES
        .iter()
        .filter(|r| {
            r.cue.is_match(&text) && r.also.as_ref().is_none_or(|a| a.is_match(&files_text))
        })
        .map(|r| r.note)
        .collect()
}

/// `request` followed by its notes, if any.
pub fn annotate(request: &str) -> String {
    let notes = for_request(request);
    if notes.is_empty() {
        request.to_owned()
    } else {
        format!("{request}\n({})", notes.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notes(r: &str) -> Vec<&'static str> {
        for_request(r)
    }

    #[test]
    fn every_pattern_compiles() {
        assert_eq!(RULES.len(), 3);
    }

    #[test]
    fn subtree_cues_ask_for_find() {
        for r in [
            "copy all mp3 files under the current directory to /music",
            "delete the .pyc files in this tree",
            "change permissions of all files beneath src to 644",
            "list all directories recursively",
            "display all the .sh files in the current folder",
        ] {
            assert_eq!(notes(r), vec!["this covers subdirectories: use find"], "{r}");
        }
        for r in [
            "show the files here",
            "count lines in main.rs",
            "show free memory",
            "sort the lines under the heading",
        ] {
            assert!(notes(r).is_empty(), "{r}: {:?}", notes(r));
        }
    }

    #[test]
    fn minutes_only_with_file_times() {
        assert_eq!(
            notes("files modified in the last 30 minutes"),
            vec!["times in minutes: find -mmin/-amin/-cmin, hours times 60"]
        );
        assert!(notes("sleep for 5 minutes").is_empty());
        assert!(notes("run backup.sh every hour").is_empty());
    }

    #[test]
    fn whole_file_system_only_when_searching() {
        assert_eq!(
            notes("find all files bigger than 1 GB in the entire file system"),
            vec!["the whole file system: start at /"]
        );
        assert!(notes("print file system disk space usage").is_empty());
    }

    #[test]
    fn commands_and_plain_requests_are_left_alone() {
        assert!(notes("find . -name '*.log' -mmin -30").is_empty());
        assert!(notes("du -sh /tmp | sort -h").is_empty());
        assert_eq!(annotate("list files"), "list files");
        assert_eq!(
            annotate("remove all .tmp files under /tmp"),
            "remove all .tmp files under /tmp\n(this covers subdirectories: use find)"
        );
    }
}
