//! `caro init <shell>` and `caro completions <shell>`: print scripts to be sourced.

use clap::CommandFactory;

use super::Cli;
use crate::error::{CaroError, exit};
use crate::settings::{self, Shell};
use crate::shell;

pub fn init(
    shell: Shell,
    key: Option<&str>,
    explain_key: Option<&str>,
    no_bind: bool,
) -> Result<i32, CaroError> {
    // The script calls this very binary, so a PATH change cannot swap it.
    let bin = std::env::current_exe().unwrap_or_else(|_| "caro".into());
    let key = key.map(str::to_owned).or_else(settings::env::key);
    let explain_key = explain_key
        .map(str::to_owned)
        .or_else(settings::env::explain_key);
    let script = shell::init_script(
        shell,
        key.as_deref(),
        explain_key.as_deref(),
        !no_bind,
        &bin,
    )
    .map_err(|e| CaroError::Usage(e.to_string()))?;
    crate::out!("{script}");
    Ok(exit::OK)
}

pub fn completions(shell: Shell) -> Result<i32, CaroError> {
    let target = match shell {
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Fish => clap_complete::Shell::Fish,
        Shell::Sh => {
            return Err(CaroError::Usage(
                "there are no completions for sh; use zsh, bash or fish".into(),
            ));
        }
    };
    // Generated into memory: clap_complete panics when it cannot write.
    let mut script = Vec::new();
    clap_complete::generate(target, &mut Cli::command(), "caro", &mut script);
    crate::out!("{}", String::from_utf8_lossy(&script));
    Ok(exit::OK)
}
