//! `caro complete-line`: the shell widgets' client. Prints the new line on stdout and
//! exits 0, or prints one line on stderr and exits non-zero with stdout empty.

use std::time::Duration;

use clap::Args;

use super::tty::Tty;
use crate::daemon::DaemonError;
use crate::daemon::client::{Client, Progress, Wait, Waiter};
use crate::daemon::protocol::{self, GenerateParams, PROTOCOL_VERSION};
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
    /// The whole line: the request wherever the cursor is
    #[arg(allow_hyphen_values = true, num_args = 0.., value_name = "BUFFER")]
    pub buffer: Vec<String>,
}

pub fn run(args: &CompleteLineArgs) -> i32 {
    let mut buffer = args.buffer.join(" ");
    if let Some(status) = args.fix_status
        && !buffer.trim().is_empty()
    {
        buffer = crate::engine::request::fix(&buffer, status);
    }
    if prose(&buffer).is_empty() {
        eprintln!("caro: nothing to turn into a command");
        return exit::BAD_REQUEST;
    }
    let shell = args
        .shell
        .unwrap_or_else(crate::settings::env::default_shell);
    let cwd = std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "/".into());
    let params = GenerateParams {
        v: PROTOCOL_VERSION,
        client: protocol::crate_version().into(),
        buffer,
        shell,
        cwd,
        alternative: args.alternative,
        temperature: None,
        max_tokens: None,
        seed: None,
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
        Ok(done) => {
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
