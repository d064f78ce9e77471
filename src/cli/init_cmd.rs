//! `caro init <shell>` and `caro completions <shell>`: print scripts to be sourced.

use clap::CommandFactory;

use super::Cli;
use crate::error::{CaroError, exit};
use crate::settings::{self, Settings, Shell};
use crate::shell;

/// `keys`: the main, explain and pick keys given as flags.
pub fn init(shell: Shell, keys: [Option<&str>; 3], no_bind: bool) -> Result<i32, CaroError> {
    // The script calls this very binary, so a PATH change cannot swap it.
    let bin = std::env::current_exe().unwrap_or_else(|_| "caro".into());
    // A config file that does not parse must not cost the user their key binding:
    // the script is printed with the defaults, and the error once on stderr.
    let s = match Settings::resolve(&Default::default()) {
        Ok(s) => Some(s),
        Err(e) => {
            eprintln!("caro: {e} (keys and history settings from it are ignored)");
            None
        }
    };
    let cfg = s.as_ref().map(|s| s.keys.clone()).unwrap_or_default();
    let [key, explain, pick] = keys;
    let key = key
        .map(str::to_owned)
        .or_else(settings::env::key)
        .or(cfg.complete);
    let explain = explain
        .map(str::to_owned)
        .or_else(settings::env::explain_key)
        .or(cfg.explain);
    let pick = pick
        .map(str::to_owned)
        .or_else(settings::env::pick_key)
        .or(cfg.pick);
    let opts = shell::InitOptions {
        key: key.as_deref(),
        explain_key: explain.as_deref(),
        pick_key: pick.as_deref(),
        bind: !no_bind,
        history: s.as_ref().map_or(0, |s| s.history),
        keep_prose: s.as_ref().is_none_or(|s| s.keep_prose),
    };
    let script =
        shell::init_script(shell, &opts, &bin).map_err(|e| CaroError::Usage(e.to_string()))?;
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
