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

#[cfg(test)]
mod tests {
    use super::prose;

    #[test]
    fn comment_marker_is_dropped() {
        assert_eq!(prose("# list files"), "list files");
        assert_eq!(prose("  list files  "), "list files");
        assert_eq!(prose("#list files"), "list files");
        assert_eq!(prose("count # of lines"), "count # of lines");
    }
}
