//! The pick list: caro's answers under the prompt, numbered, each with its verdict; a
//! digit puts that one on the line. With `pick = "fzf"` and fzf installed, fzf shows
//! them instead.

use std::io::Write;
use std::process::{Command, Stdio};

use super::tty::Tty;
use crate::daemon::protocol::Candidate;
use crate::safety::Level;
use crate::settings::PickWith;

/// What the user did with the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Index(usize),
    Cancelled,
}

/// Why no list could be shown.
#[derive(Debug, thiserror::Error)]
pub enum PickError {
    #[error("no terminal to show the answers on")]
    NoTerminal,
    #[error("fzf failed: {0}")]
    Fzf(String),
}

pub fn choose(cands: &[Candidate], with: PickWith) -> Result<Choice, PickError> {
    if with == PickWith::Fzf && on_path("fzf") {
        return fzf(cands);
    }
    list(cands)
}

/// One line of the list: the command on one line, and its verdict when it is not safe.
pub fn describe(c: &Candidate) -> String {
    let command = c.command.replace('\n', " ↵ ");
    let note = match (c.verdict.level, &c.verdict.reason) {
        (Level::Dangerous, Some(r)) => format!("  (dangerous: {r})"),
        (Level::Caution, Some(r)) => format!("  (caution: {r})"),
        (Level::Dangerous, None) => "  (dangerous)".into(),
        (Level::Caution, None) => "  (caution)".into(),
        (Level::Safe, _) => match &c.unverified {
            Some(w) => format!("  ({w})"),
            None => String::new(),
        },
    };
    format!("{command}{note}")
}

fn clip(line: &str, width: usize) -> String {
    if line.chars().count() <= width {
        return line.to_owned();
    }
    let mut out: String = line.chars().take(width.saturating_sub(1)).collect();
    out.push('~');
    out
}

fn list(cands: &[Candidate]) -> Result<Choice, PickError> {
    let mut tty = Tty::open_raw().ok_or(PickError::NoTerminal)?;
    let width = tty.columns().saturating_sub(1).max(20);
    let mut lines: Vec<String> = cands
        .iter()
        .enumerate()
        .map(|(i, c)| clip(&format!("{}  {}", i + 1, describe(c)), width))
        .collect();
    lines.push(clip(
        &format!(
            "\x1b[2mcaro: 1-{} puts that one on the line, Esc keeps the line\x1b[0m",
            cands.len()
        ),
        width + 8,
    ));
    tty.show_lines(&lines);
    let choice = loop {
        match tty.read_key() {
            Some(d @ b'1'..=b'9') if usize::from(d - b'1') < cands.len() => {
                break Choice::Index(usize::from(d - b'1'));
            }
            Some(b'\r' | b'\n') => break Choice::Index(0),
            // Esc, Ctrl-C, Ctrl-G, q, or the terminal gone.
            Some(0x1b | 0x03 | 0x07 | b'q') | None => break Choice::Cancelled,
            Some(_) => {}
        }
    };
    tty.clear();
    Ok(choice)
}

fn fzf(cands: &[Candidate]) -> Result<Choice, PickError> {
    let mut child = Command::new("fzf")
        .args([
            "--height=~40%",
            "--reverse",
            "--no-sort",
            "--delimiter=\t",
            "--with-nth=2",
            "--prompt=caro> ",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| PickError::Fzf(e.to_string()))?;
    let input: String = cands
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{}\t{}\n", i + 1, describe(c).replace('\t', " ")))
        .collect();
    if let Some(mut stdin) = child.stdin.take() {
        // fzf may exit (Esc) before reading everything: a closed pipe is no error.
        let _ = stdin.write_all(input.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| PickError::Fzf(e.to_string()))?;
    if !out.status.success() {
        return Ok(Choice::Cancelled);
    }
    let picked = String::from_utf8_lossy(&out.stdout);
    Ok(picked
        .split('\t')
        .next()
        .and_then(|n| n.trim().parse::<usize>().ok())
        .and_then(|n| n.checked_sub(1))
        .filter(|i| *i < cands.len())
        .map_or(Choice::Cancelled, Choice::Index))
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| {
        std::env::split_paths(&p).any(|d| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(d.join(program))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::safety::Verdict;

    fn cand(command: &str, level: Level, reason: Option<&str>) -> Candidate {
        Candidate {
            command: command.into(),
            verdict: Verdict {
                level,
                reason: reason.map(str::to_owned),
            },
            unverified: None,
        }
    }

    #[test]
    fn a_line_names_the_verdict_only_when_it_is_not_safe() {
        assert_eq!(describe(&cand("ls -la", Level::Safe, None)), "ls -la");
        assert_eq!(
            describe(&cand("rm -rf build", Level::Caution, Some("deletes build"))),
            "rm -rf build  (caution: deletes build)"
        );
        assert_eq!(
            describe(&cand("cat <<EOF\nx\nEOF", Level::Safe, None)),
            "cat <<EOF ↵ x ↵ EOF"
        );
    }

    #[test]
    fn long_lines_are_clipped_to_the_terminal() {
        assert_eq!(clip("abcdef", 4), "abc~");
        assert_eq!(clip("abc", 4), "abc");
    }
}
