//! Short notes added after a request when its wording carries a cue that a 1.5B model
//! tends to overlook: "under this directory" (so find, not a glob), "the whole file
//! system" (start at /), files of any kind (no -type f). Rules in the cached system
//! turn and worked examples move the model little; a note right after the request,
//! where its attention is, moves it a lot (see docs/quality.md). Notes cost prefill
//! tokens, so only requests with a cue get one. Each note kept here helped on a
//! held-back half, or (ranking by time) keeps the find note off requests it hurts;
//! those that did not help (times in minutes, long listings, exact sizes) were removed.

use std::sync::LazyLock;

use regex::Regex;

struct Rule {
    cue: Regex,
    /// Further condition on the request: the cue alone is too broad.
    also: Option<Regex>,
    /// Only worth saying once find is suggested.
    with_find: bool,
    note: &'static str,
}

fn re(pattern: &str) -> Regex {
    // The patterns are constants checked by the tests below.
    Regex::new(pattern).unwrap_or_else(|e| panic!("bad hint pattern {pattern}: {e}"))
}

const FIND: &str = "use find";
const FIND_ACT: &str = "use find -exec";
/// Told only "no -type", the model still wrote `-type f -o -type d` for "files/directories".
const ANY_TYPE: &str = "find lists both by default: no -type";

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    vec![
        Rule {
            // Everything below a directory, or all files of a folder.
            cue: re(concat!(
                r"\b(under|beneath|below|tree|sub-?director(y|ies)|sub-?folders?)\b",
                r"|\ball\b.*\b(files|directories|folders)\b.*\b(in|from|of)\b.*\b(folder|directory|dir)\b",
                // Looking for a file by name is find's job, wherever it is.
                r"|\b(search|look|hunt)\w*\s+(for\s+)?(a|the|all|any)?\s*(files?|director(y|ies)|folders?)\b",
            )),
            also: Some(re(r"\b(files?|director(y|ies)|folders?|dirs?)\b")),
            with_find: false,
            note: FIND,
        },
        Rule {
            // Files picked by a property: what find's tests are for.
            cue: re(concat!(
                r"\b(named|called|larger|bigger|smaller|greater|size[sd]?|modified|accessed|changed|",
                r"owned|belong\w*|permissions?|empty|newer|older|writable|executable|readable|suid|setuid)\b",
            )),
            also: Some(re(r"\b(files|directories|folders)\b")),
            with_find: false,
            note: FIND,
        },
        Rule {
            cue: re(
                r"\b(the|entire|whole|all)\s+(file\s?system|system|disk|machine)\b|\beverywhere\b|\bsystem-wide\b",
            ),
            also: Some(re(
                r"\b(find|search\w*|locate|look\w*|files|director(y|ies)|folders)\b",
            )),
            with_find: false,
            note: "start at /",
        },
        Rule {
            cue: re(r"\bbytes?\b"),
            also: Some(re(r"\b(files|size[sd]?|larger|bigger|smaller)\b")),
            with_find: true,
            note: "bytes: -size Nc",
        },
    ]
});

/// A request that already is a command (a known program with options or a pipe) gets
/// no notes: it is repeated, not translated.
fn is_command(request: &str) -> bool {
    request.contains(" -") || request.contains(" | ") || request.starts_with('-')
}

/// Quoted names and paths can contain any word ("/data/subfolder"); only the prose
/// around them carries cues.
fn prose_only(request: &str) -> String {
    static QUOTED: LazyLock<Regex> = LazyLock::new(|| re(r#""[^"]*"|'[^']*'|`[^`]*'|\S*/\S*"#));
    // Typed in a hurry, "fles" still means files; a missed cue costs the note.
    static TYPOS: LazyLock<Regex> = LazyLock::new(|| re(r"\b(fles|fiels|fils)\b"));
    let text = request
        .to_lowercase()
        .replace("files/directories", "files and directories")
        .replace("tree-like", "treelike")
        .replace("tree like", "treelike");
    let text = TYPOS.replace_all(&text, "files");
    QUOTED.replace_all(&text, " ").into_owned()
}

/// The notes for `request`, in rule order, each once.
pub fn for_request(request: &str) -> Vec<&'static str> {
    if is_command(request) {
        return Vec::new();
    }
    let text = prose_only(request);
    // "file system" is not about files.
    let files_text = text.replace("file system", "").replace("filesystem", "");
    let mut notes: Vec<&'static str> = Vec::new();
    for r in RULES.iter() {
        if r.with_find && !notes.contains(&FIND) {
            continue;
        }
        if r.cue.is_match(&text)
            && r.also.as_ref().is_none_or(|a| a.is_match(&files_text))
            && !notes.contains(&r.note)
        {
            notes.push(r.note);
        }
    }
    // Searching inside files is grep's job (grep -r below a directory), not find's.
    if CONTENT_SEARCH.is_match(&text) && !IN_NAMES.is_match(&text) {
        notes.retain(|n| *n != FIND);
    }
    // "Recursively change the owner/permissions of X" is chown -R / chmod -R on X, not
    // a find over its files, unless the request picks which entries to change.
    if let Some(note) = recursive_change_note(&text) {
        notes.retain(|n| *n != FIND);
        notes.insert(0, note);
    }
    // find cannot rank by time: told to use it for "the newest file", the model ran
    // -exec over every file. `ls -t` ranks.
    if let Some(note) = by_time_note(&text) {
        notes.retain(|n| *n != FIND);
        notes.insert(0, note);
        return notes;
    }
    // Changing the shell's directory needs `cd $(find …)`: find -exec cannot do it, and
    // a find note makes the model try.
    if CHANGE_DIR.is_match(&text) {
        return Vec::new();
    }
    // Which kinds find should return, only once find is suggested.
    if let Some(i) = notes.iter().position(|n| *n == FIND) {
        // Pointed at find, the model tends to drop what was to be done with the files.
        if ACTION.is_match(&text) {
            notes[i] = FIND_ACT;
        }
        if let Some(n) = kind_note(&files_text) {
            notes.push(n);
        }
    }
    notes
}

/// The note for a recursive change of owner or mode over a whole tree, if `text` asks
/// for one without selecting entries by kind, name or other property.
fn recursive_change_note(text: &str) -> Option<&'static str> {
    static RECURSIVE: LazyLock<Regex> = LazyLock::new(|| re(r"\brecursive(ly)?\b"));
    static OWNER: LazyLock<Regex> = LazyLock::new(|| re(r"\b(owner|ownership|owners|group)\b"));
    static MODE: LazyLock<Regex> = LazyLock::new(|| re(r"\b(permissions?|mode)\b"));
    static SELECTS: LazyLock<Regex> = LazyLock::new(|| {
        re(concat!(
            r"\b(directories|folders|dirs|regular|normal|named|called|only|except|but|",
            r"larger|bigger|smaller|modified|accessed|older|newer|empty|owned)\b|\*|\.\w+ files",
        ))
    });
    if !RECURSIVE.is_match(text) || SELECTS.is_match(text) {
        return None;
    }
    if OWNER.is_match(text) {
        Some("use chown -R")
    } else if MODE.is_match(text) {
        Some("use chmod -R")
    } else {
        None
    }
}

/// The note for "the newest/oldest N files": an order by time, which ls gives.
fn by_time_note(text: &str) -> Option<&'static str> {
    static RANKED: LazyLock<Regex> = LazyLock::new(|| {
        re(concat!(
            r"\b(?:(newest|latest|most\s+recent(?:ly)?)|oldest|least\s+recent(?:ly)?)",
            r"(?:\s+(?:modified|changed|created|updated|edited))?",
            r"\s+(?:\d+\s+)?(?:files?|entries|entry|ones?|director(?:y|ies)|folders?)\b",
        ))
    });
    let caps = RANKED.captures(text)?;
    Some(if caps.get(1).is_some() {
        "ls -t lists newest first"
    } else {
        "ls -tr lists oldest first"
    })
}

/// A search in the files' contents rather than their names or properties.
static CONTENT_SEARCH: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"\b(search\w*|look\w*|grep\w*|find\w*)\b.*\b(words?|strings?|text|patterns?|lines?)\b",
        r"|\bcontain(s|ing)?\b",
    ))
});

static CHANGE_DIR: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(change|switch|move)\s+(the\s+)?(current\s+|working\s+)?director(y|ies)\s+to\b|\bcd\b|\bgo\s+to\s+(its|the)\b",
    )
});

/// "containing x in their names" is about names, not contents.
static IN_NAMES: LazyLock<Regex> =
    LazyLock::new(|| re(r"\b(in|within)\s+(their|its|the)\s+(full\s+)?(file\s*|path\s*)?names?\b"));

/// Verbs that do something with the files found, beyond listing them.
static ACTION: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"\b(copy|copies|move|moves|delete|deletes|remove|removes|rename|change|changes|set|",
        r"compress|gzip|archive|count|counts|calculate|sum|print out the contents|contents|",
        r"replace|chmod|chown|md5sum|checksum)\b",
    ))
});

/// "files" alone means entries of any kind (find's sense); "regular files" are -type f.
fn kind_note(text: &str) -> Option<&'static str> {
    static REGULAR: LazyLock<Regex> =
        LazyLock::new(|| re(r"\b(regular|normal|plain|ordinary|text)\b"));
    // Plural only: "the current directory" is a place, not a kind.
    static DIRS: LazyLock<Regex> = LazyLock::new(|| re(r"\b(directories|folders|dirs)\b"));
    static FILES: LazyLock<Regex> = LazyLock::new(|| re(r"\bfiles?\b"));
    let files = FILES.is_match(text);
    let dirs = DIRS.is_match(text);
    match (files, dirs, REGULAR.is_match(text)) {
        (true, true, false)
            if text.contains("files/directories")
                || text.contains("files and directories")
                || text.contains("files or directories") =>
        {
            Some(ANY_TYPE)
        }
        (true, false, false) => Some("no -type f"),
        _ => None,
    }
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

    const ANY_KIND: &str = "no -type f";

    #[test]
    fn subtree_and_property_cues_ask_for_find() {
        for r in [
            "copy all mp3 files under the current directory to /music",
            "delete the .pyc files in this tree",
            "change permissions of all files beneath src to 644",
            "remove the files named core that are larger than 1 MB",
        ] {
            assert_eq!(notes(r), vec![FIND_ACT, ANY_KIND], "{r}");
        }
        assert_eq!(
            notes("display all the .sh files in the current folder"),
            vec![FIND, ANY_KIND]
        );
        assert_eq!(notes("list the directories below /srv"), vec![FIND]);
        for r in [
            "search for the word TODO in all files under src recursively",
            "list the files under /etc containing the string 'listen'",
        ] {
            assert!(!notes(r).contains(&FIND), "{r}: {:?}", notes(r));
        }
        assert_eq!(notes("find regular files under /tmp"), vec![FIND]);
        assert_eq!(
            notes("search for a file \"notes.txt\" in the home folder"),
            vec![FIND, ANY_KIND]
        );
        assert_eq!(
            notes("search directory foo for files containing \"bar\" in their names"),
            vec![FIND, ANY_KIND]
        );
        assert_eq!(
            notes("find files/directories under /tmp"),
            vec![FIND, ANY_TYPE]
        );
        for r in [
            "show the files here",
            "count lines in main.rs",
            "show free memory",
            "sort the lines under the heading",
            "move everything in \"/data/subfolder\" to /data",
        ] {
            assert!(notes(r).is_empty(), "{r}: {:?}", notes(r));
        }
    }

    #[test]
    fn times_in_minutes_get_no_note() {
        // The minutes note did not help on the held-back halves (docs/quality.md).
        assert_eq!(
            notes("directories modified in the last 30 minutes"),
            vec![FIND]
        );
        assert!(notes("sleep for 5 minutes").is_empty());
    }

    #[test]
    fn whole_file_system_only_when_searching() {
        assert_eq!(
            notes("find all directories bigger than 1 GB in the entire file system"),
            vec![FIND, "start at /"]
        );
        assert!(notes("print file system disk space usage").is_empty());
    }

    #[test]
    fn byte_notes_only_with_find() {
        assert!(notes("display a long listing of the current directory").is_empty());
        assert_eq!(
            notes("regular files larger than 2048 bytes"),
            vec![FIND, "bytes: -size Nc"]
        );
    }

    #[test]
    fn recursive_owner_and_mode_changes_use_dash_r() {
        assert_eq!(
            notes(
                "recursively change the owner and group of all files in \"public_html\" to \"owner\""
            ),
            vec!["use chown -R"]
        );
        assert_eq!(
            notes("Recursively set all permissions under \"../tools\" to 777"),
            vec!["use chmod -R"]
        );
        // Picking entries is find's job.
        assert_eq!(
            notes("recursively change the permissions of all directories under www to 755"),
            vec![FIND_ACT]
        );
        assert_eq!(
            notes("recursively change the owner of public_html to www"),
            vec!["use chown -R"]
        );
        assert!(notes("recursively list the tree").is_empty());
    }

    #[test]
    fn ranking_by_time_points_at_ls_not_find() {
        assert_eq!(
            notes("show the 5 most recently modified files"),
            vec!["ls -t lists newest first"]
        );
        assert_eq!(
            notes("delete the oldest 3 files in logs"),
            vec!["ls -tr lists oldest first"]
        );
        assert_eq!(
            notes("find files modified in the last 2 days"),
            vec!["use find", "no -type f"]
        );
    }

    #[test]
    fn common_typos_of_files_still_give_notes() {
        assert_eq!(
            notes("long listing of all fles in current folder modified in the last 60 minutes"),
            notes("long listing of all files in current folder modified in the last 60 minutes"),
        );
        assert!(!notes("list fles modified today").is_empty());
    }

    #[test]
    fn sizes_get_the_find_notes_only() {
        assert_eq!(
            annotate("find all files in the file system whose size is exactly 2KB"),
            "find all files in the file system whose size is exactly 2KB\n(use find; start at /; no -type f)"
        );
        assert_eq!(
            annotate("files larger than 2 KB"),
            "files larger than 2 KB\n(use find; no -type f)"
        );
    }

    #[test]
    fn changing_directory_and_tree_formats_get_no_find_note() {
        assert!(
            notes(
                "Find \"file.xml\" under the current directory and change directory to its parent"
            )
            .is_empty()
        );
        assert!(notes("recursively list the current directory in a tree-like format").is_empty());
        assert_eq!(notes("list the files in this tree"), vec![FIND, ANY_KIND]);
    }

    #[test]
    fn commands_and_plain_requests_are_left_alone() {
        assert!(notes("find . -name '*.log' -mmin -30").is_empty());
        assert!(notes("du -sh /tmp | sort -h").is_empty());
        assert_eq!(annotate("list files"), "list files");
        assert_eq!(
            annotate("list all .tmp directories under /tmp"),
            "list all .tmp directories under /tmp\n(use find)"
        );
    }
}
