//! What the user typed, reduced to the request itself.

/// The prose in a command line. A leading `# ` marks a line as prose in the shell
/// widgets (so Enter would not run it); the marker is not part of the request.
pub fn prose(buffer: &str) -> &str {
    let t = buffer.trim();
    t.strip_prefix("# ")
        .or_else(|| t.strip_prefix('#'))
        .unwrap_or(t)
        .trim()
}

/// The request that asks for a corrected `command`, which just exited with `status`
/// (the widgets send it from an empty line after a failure; no output is captured).
pub fn fix(command: &str, status: i32) -> String {
    format!(
        "fix this command, which failed with exit status {status}: {}",
        command.trim()
    )
}

/// The request that changes `previous` (caro's answer to `request`) as the `extra`
/// words say: the line held the answer and the user typed more after it.
pub fn refine(request: &str, previous: &str, extra: &str) -> String {
    format!(
        "{}; revise `{}` so that: {}",
        prose(request),
        previous.trim(),
        extra.trim()
    )
}

#[cfg(test)]
mod tests {
    use super::prose;

    #[test]
    fn a_refinement_carries_the_request_the_answer_and_the_new_words() {
        assert_eq!(
            super::refine(
                "# find log files",
                "find . -name '*.log'\n",
                " only the ones over 1 MB"
            ),
            "find log files; revise `find . -name '*.log'` so that: only the ones over 1 MB"
        );
    }

    #[test]
    fn a_fix_request_names_the_command_and_its_status() {
        assert_eq!(
            super::fix(" ls --nosuchflag\n", 2),
            "fix this command, which failed with exit status 2: ls --nosuchflag"
        );
    }

    #[test]
    fn comment_marker_is_dropped() {
        assert_eq!(prose("# list files"), "list files");
        assert_eq!(prose("  list files  "), "list files");
        assert_eq!(prose("#list files"), "list files");
        assert_eq!(prose("count # of lines"), "count # of lines");
    }
}
