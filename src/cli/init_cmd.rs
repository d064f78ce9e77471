//! `caro init <shell>` and `caro completions <shell>`: print scripts to be sourced.

use clap::CommandFactory;

use super::Cli;
use crate::error::{CaroError, exit};
use crate::shell::{self, ShellKind};

pub fn init(shell: ShellKind, key: Option<&str>, no_bind: bool) -> Result<i32, CaroError> {
    // The script calls this very binary, so a PATH change cannot swap it.
    let bin = std::env::current_exe().unwrap_or_else(|_| "caro".into());
    let script = shell::init_script(shell, key, !no_bind, &bin)
        .map_err(|e| CaroError::Usage(e.to_string()))?;
    print!("{script}");
    Ok(exit::OK)
}

pub fn completions(shell: ShellKind) -> Result<i32, CaroError> {
    let target = match shell {
        ShellKind::Zsh => clap_complete::Shell::Zsh,
        ShellKind::Bash => clap_complete::Shell::Bash,
        ShellKind::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(target, &mut Cli::command(), "caro", &mut std::io::stdout());
    Ok(exit::OK)
}
