//! `caro complete-line`: the shell widgets' client. Prints the new line on stdout and
//! exits 0, or prints one line on stderr and exits non-zero with stdout empty.

use std::time::Duration;

use clap::Args;

use super::tty::Tty;
use crate::daemon::DaemonError;
use crate::daemon::client::{Client, Progress, Wait, Waiter};
use crate::daemon::protocol::GenerateParams;
use crate::engine::request::prose;
use crate::error::{CaroError, exit};
use crate::safety::Level;
use crate::settings::Shell;

/// How long a keypress waits before the indicator appears.
const INDICATOR_DELAY: Duration = Duration::from_millis(150);

#[derive(Debug, Clone, Args)]
pub struct CompleteLineArgs {
    /// The shell the line comes from
    #[arg(long, value_enum)]
    pub shell: Option<Shell>,
    /// 0 for the first answer; 1, 2, … for another answer to the same prose
    #[arg(long, default_value_t = 0)]
    pub alternative: u32,
    /// Draw a waiting indicator under the prompt on /dev/tty
    #[arg(long)]
    pub progress: bool,
    /// BUFFER is the last command, which failed with this exit status: ask for a fix
    #[arg(long, value_name = "STATUS")]
    pub fix_status: Option<i32>,
    /// The line held caro's answer to this request, and BUFFER is what was typed after it
    #[arg(long, value_name = "TEXT", requires = "refine_answer")]
    pub refine_request: Option<String>,
    /// caro's answer that BUFFER's words revise (with --refine-request)
    #[arg(long, value_name = "COMMAND", requires = "refine_request")]
    pub refine_answer: Option<String>,
    /// List the answer and its alternatives on the terminal and print the one picked
    #[arg(long)]
    pub pick: bool,
    /// Standard input holds the shell's recent commands, oldest first; the last
    /// `history` of them (config.toml) go with the request
    #[arg(long)]
    pub history: bool,
    /// The whole line: the request wherever the cursor is
    #[arg(allow_hyphen_values = true, num_args = 0.., value_name = "BUFFER")]
    pub buffer: Vec<String>,
}

/// Answers a pick list offers.
const PICK_COUNT: u32 = 5;

pub fn run(args: &CompleteLineArgs) -> i32 {
    let mut buffer = args.buffer.join(" ");
    if let Some(status) = args.fix_status
        && !buffer.trim().is_empty()
    {
        buffer = crate::engine::request::fix(&buffer, status);
    }
    if let (Some(request), Some(answer)) = (&args.refine_request, &args.refine_answer)
        && !buffer.trim().is_empty()
    {
        buffer = crate::engine::request::refine(request, answer, &buffer);
    }
    if prose(&buffer).is_empty() {
        eprintln!("caro: nothing to turn into a command");
        return exit::BAD_REQUEST;
    }
    // Settings are read only for the features that need them, so the plain key press
    // costs no config parsing.
    let settings = if args.pick || args.history {
        match crate::settings::Settings::resolve(&Default::default()) {
            Ok(s) => Some(s),
            Err(e) => {
                let e = CaroError::from(e);
                eprintln!("{}", e.one_line());
                return e.exit_code();
            }
        }
    } else {
        None
    };
    let history = match (&settings, args.history) {
        (Some(s), true) if s.history > 0 => recent_commands(s.history),
        _ => Vec::new(),
    };
    let shell = args
        .shell
        .unwrap_or_else(crate::settings::env::default_shell);
    let cwd = std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "/".into());
    let params = GenerateParams {
        alternative: args.alternative,
        candidates: if args.pick { PICK_COUNT } else { 0 },
        history,
        ..GenerateParams::new(buffer, shell, cwd)
    };
    // Raw mode only while we wait; the guard restores the terminal before we print.
    let mut waiter = TtyWaiter {
        tty: Tty::open_raw(),
        show: args.progress,
        loading: false,
    };
    let result = Client::new().generate(&params, &mut waiter);
    drop(waiter);
    match result {
        Ok(mut done) => {
            if args.pick {
                let with = settings.as_ref().map(|s| s.pick).unwrap_or_default();
                match super::pick::choose(&done.candidates, with) {
                    Ok(super::pick::Choice::Index(i)) => {
                        if let Some(c) = done.candidates.get(i).cloned() {
                            done.command = c.command;
                            done.verdict = c.verdict;
                            done.unverified = c.unverified;
                        }
                    }
                    Ok(super::pick::Choice::Cancelled) => return exit::CANCELLED,
                    Err(e) => {
                        eprintln!("caro: {e}");
                        return exit::FAILURE;
                    }
                }
            }
            crate::outln!("{}", done.command);
            match (done.verdict.level, done.verdict.reason) {
                (Level::Dangerous, Some(r)) => eprintln!("caro: dangerous: {r}"),
                (Level::Caution, Some(r)) => eprintln!("caro: caution: {r}"),
                _ => {}
            }
            if let Some(w) = &done.unverified {
                eprintln!("caro: {w}");
            }
            exit::OK
        }
        Err(DaemonError::Cancelled) => {
            eprintln!("caro: cancelled");
            exit::CANCELLED
        }
        Err(e) => {
            let e = CaroError::from(e);
            eprintln!("{}", e.one_line());
            e.exit_code()
        }
    }
}

/// The last `n` lines of standard input (the widget writes the shell's history there),
/// read up to a bound so a runaway pipe cannot hold the key press.
fn recent_commands(n: usize) -> Vec<String> {
    use std::io::Read;
    const MAX_INPUT: u64 = 256 * 1024;
    let mut text = Vec::new();
    if std::io::stdin()
        .lock()
        .take(MAX_INPUT)
        .read_to_end(&mut text)
        .is_err()
    {
        return Vec::new();
    }
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| (*l).to_owned())
        .collect()
}

/// Waits on the terminal: Ctrl-C or Esc cancels, and an indicator appears under the
/// prompt once the wait is long enough to notice.
struct TtyWaiter {
    tty: Option<Tty>,
    show: bool,
    loading: bool,
}

impl Waiter for TtyWaiter {
    fn cancel_fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.tty.as_ref().map(Tty::fd)
    }

    fn cancel_requested(&mut self) -> bool {
        self.tty.as_mut().is_some_and(Tty::cancel_requested)
    }

    fn progress(&mut self, p: Progress<'_>) {
        match p {
            Progress::Waiting(Wait::Loading) if !self.loading => self.loading = true,
            Progress::Tick(elapsed) if elapsed >= INDICATOR_DELAY => {}
            _ => return,
        }
        if let (true, Some(t)) = (self.show, self.tty.as_mut()) {
            let what = if self.loading {
                "loading model…"
            } else {
                "thinking…"
            };
            t.show(&format!("\x1b[2mcaro: {what} (Esc cancels)\x1b[0m"));
        }
    }
}
