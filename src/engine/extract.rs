//! Turns what the model wrote into exactly one command: code fences, `$ ` prompts,
//! "Command:" labels, trailing explanations and JSON replies are peeled off, while the
//! command itself (quotes, `{}`, `\;`, heredocs, continuations) is kept byte for byte.

use crate::syntax::{self, Unfinished};

/// Labels a model puts before the command ("Command: ls").
const LABELS: &[&str] = &[
    "shell command:",
    "bash command:",
    "the command is:",
    "command:",
    "cmd:",
    "answer:",
    "solution:",
    "output:",
];

/// Extracts the command, or `None` when the text holds none.
pub fn extract_command(text: &str) -> Option<String> {
    let text = text.trim().trim_start_matches('\u{feff}');
    if text.is_empty() {
        return None;
    }
    if let Some(cmd) = from_json(text) {
        return non_empty(cmd);
    }
    if let Some(block) = fenced_block(text) {
        let commands = split_commands(&block);
        return non_empty(commands.join(" && "));
    }
    let commands = split_commands(text);
    commands.into_iter().next().and_then(non_empty)
}

fn non_empty(s: String) -> Option<String> {
    let s = s.trim().to_owned();
    (!s.is_empty()).then_some(s)
}

fn from_json(text: &str) -> Option<String> {
    if !text.starts_with('{') {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    v.get("command")?.as_str().map(str::to_owned)
}

/// The body of the first ``` fence (an unclosed fence runs to the end).
fn fenced_block(text: &str) -> Option<String> {
    let start = text.find("```")?;
    let after = &text[start + 3..];
    // Inline fence on one line: ```ls -la```
    let first_line = after.lines().next().unwrap_or_default();
    if let Some(end) = first_line.find("```") {
        let inner = first_line[..end].trim();
        if inner.contains(' ') || !is_language_tag(inner) {
            return Some(inner.to_owned());
        }
    }
    let (tag, body) = after.split_once('\n').unwrap_or((after, ""));
    let body = if is_language_tag(tag.trim()) {
        body
    } else {
        // The command started on the fence line itself.
        after
    };
    let end = body
        .find("\n```")
        .map(|i| i + 1)
        .or_else(|| body.find("```"));
    let body = match end {
        Some(i) => &body[..i],
        None => body,
    };
    Some(body.to_owned())
}

fn is_language_tag(tag: &str) -> bool {
    tag.is_empty()
        || matches!(
            tag.to_ascii_lowercase().as_str(),
            "bash"
                | "sh"
                | "shell"
                | "zsh"
                | "fish"
                | "console"
                | "terminal"
                | "shellscript"
                | "powershell"
                | "cmd"
                | "text"
                | "plaintext"
                | "ksh"
                | "dash"
        )
}

/// Splits text into commands, keeping each command's continuation lines, heredoc body
/// and multi-line quotes together, and dropping prose lead-ins and comment lines.
fn split_commands(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = clean_first_line(lines[i]);
        i += 1;
        if line.is_empty() || line.starts_with('#') || is_lead_in(&line) {
            continue;
        }
        let mut cmd = line;
        // Take further lines for as long as a shell would ask for them.
        while i < lines.len() {
            let Some(open) = syntax::parse(&cmd).incomplete else {
                break;
            };
            cmd.push('\n');
            // A heredoc body is data, kept as written.
            if matches!(open.what, Unfinished::HereDoc(_)) {
                cmd.push_str(lines[i]);
            } else {
                cmd.push_str(strip_prompt(lines[i]));
            }
            i += 1;
        }
        let cmd = strip_trailing_comment(&cmd);
        if !cmd.is_empty() {
            out.push(cmd);
        }
    }
    out
}

fn clean_first_line(line: &str) -> String {
    let mut l = line.trim();
    let lower = l.to_ascii_lowercase();
    for label in LABELS {
        if lower.starts_with(label) {
            l = l[label.len()..].trim_start();
            break;
        }
    }
    let l = strip_prompt(l).trim();
    // A whole line wrapped in single backticks is markdown, not command substitution.
    let l = match l.strip_prefix('`').and_then(|r| r.strip_suffix('`')) {
        Some(inner) if !inner.contains('`') => inner,
        _ => l,
    };
    l.trim().to_owned()
}

fn strip_prompt(line: &str) -> &str {
    let t = line.trim_start();
    t.strip_prefix("$ ").unwrap_or(line)
}

/// "Here is the command:" and similar sentences that introduce the command.
fn is_lead_in(line: &str) -> bool {
    let t = line.trim_end();
    t.ends_with(':') && t.contains(' ') && !t.contains(['|', '$', '/', '=', '"', '\'', '-'])
}

/// Drops a `# comment` that ends the command; a `#` inside a word, quotes, `${#x}` or
/// a heredoc body is no comment to the shell and stays.
fn strip_trailing_comment(cmd: &str) -> String {
    let cmd = cmd.trim_end();
    match syntax::parse(cmd).comments.last() {
        Some(comment) if comment.end == cmd.len() => cmd
            .get(..comment.start)
            .unwrap_or(cmd)
            .trim_end()
            .to_owned(),
        _ => cmd.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::extract_command as x;

    fn ok(input: &str, want: &str) {
        assert_eq!(x(input).as_deref(), Some(want), "input: {input:?}");
    }

    #[test]
    fn plain_commands_survive_intact() {
        for cmd in [
            "find . -type f -size +100M",
            "find . -name '*.log' -exec rm {} \\;",
            "awk '{print $2}' data.txt",
            "echo \"${HOME}/bin\"",
            "ps aux | grep -v grep | grep nginx",
            "mkdir -p build && cd build",
            "du -sh * | sort -h",
            "grep -rn \"TODO\" --include='*.rs' .",
            "sed -i 's/foo/bar/g' file.txt",
            "find . -name \"*.py\" | xargs wc -l",
            "tar -czf backup.tar.gz ~/docs",
            "for f in *.png; do convert \"$f\" \"${f%.png}.jpg\"; done",
            "echo 'it'\\''s'",
            "ls -la | awk 'NR>1 {sum += $5} END {print sum}'",
            "git log --format='%h %s' -n 5",
            "echo ${#PATH}",
            "test -f x || touch x",
            "printf '%s\\n' \"$@\"",
        ] {
            ok(cmd, cmd);
        }
    }

    #[test]
    fn code_fences_are_removed() {
        ok("```bash\nls -la\n```", "ls -la");
        ok("```\ndf -h\n```", "df -h");
        ok(
            "```sh\nfind . -name '*.tmp' -delete\n```\nThis deletes temp files.",
            "find . -name '*.tmp' -delete",
        );
        ok("Here is the command:\n```zsh\ndu -sh .\n```", "du -sh .");
        ok("```ls -1```", "ls -1");
        ok("```bash\nls -la", "ls -la");
    }

    #[test]
    fn prompts_and_labels_are_removed() {
        ok("$ ls -a", "ls -a");
        ok("Command: ls -a", "ls -a");
        ok("command: wc -l main.rs", "wc -l main.rs");
        ok("`ls -a`", "ls -a");
        ok("Here is the command:\nls -a", "ls -a");
        ok("  $ uname -a  ", "uname -a");
    }

    #[test]
    fn trailing_explanations_are_dropped() {
        ok(
            "ls -a\nThis lists all files including hidden ones.",
            "ls -a",
        );
        ok("wc -l main.rs # counts lines", "wc -l main.rs");
        ok("ls -a\n\nExplanation: -a shows hidden files", "ls -a");
    }

    #[test]
    fn json_replies_are_understood() {
        ok(r#"{"command": "ls -a"}"#, "ls -a");
        ok(
            r#"{"command": "awk '{print $2}' f", "explanation": "x"}"#,
            "awk '{print $2}' f",
        );
    }

    #[test]
    fn continuations_heredocs_and_multiline_quotes_are_kept() {
        ok(
            "docker run \\\n  -it ubuntu \\\n  bash",
            "docker run \\\n  -it ubuntu \\\n  bash",
        );
        ok(
            "cat <<EOF > notes.txt\nhello # not a comment\nEOF\nThat writes a file.",
            "cat <<EOF > notes.txt\nhello # not a comment\nEOF",
        );
        ok("cat <<'END'\n$HOME\nEND", "cat <<'END'\n$HOME\nEND");
        ok("echo \"a\nb\"", "echo \"a\nb\"");
        ok("ps aux |\n  grep ssh", "ps aux |\n  grep ssh");
        ok("make ||\n  echo failed", "make ||\n  echo failed");
        ok(
            "for f in *.txt; do\n  echo \"$f\"\ndone\nThis prints each name.",
            "for f in *.txt; do\n  echo \"$f\"\ndone",
        );
        ok("(cd src &&\n  ls)", "(cd src &&\n  ls)");
    }

    #[test]
    fn fenced_multi_command_blocks_are_joined() {
        ok("```bash\n# go there\ncd /tmp\nls\n```", "cd /tmp && ls");
    }

    #[test]
    fn hashes_inside_words_and_quotes_are_kept() {
        ok("echo 'a # b'", "echo 'a # b'");
        ok("echo a#b", "echo a#b");
        ok("grep -c '^#' file", "grep -c '^#' file");
        ok("echo ${#PATH} # length", "echo ${#PATH}");
        ok("ls;# list", "ls;");
    }

    #[test]
    fn nothing_gives_none() {
        assert_eq!(x(""), None);
        assert_eq!(x("   \n  "), None);
        assert_eq!(x("```\n```"), None);
        assert_eq!(x("# just a comment"), None);
    }
}
