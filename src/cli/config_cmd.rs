//! `caro config path|show`.

use super::ConfigAction;
use crate::error::{CaroError, exit};
use crate::settings::{ConfigFile, DaemonSection, KeysSection, Settings};
use crate::shell::default_keys;

pub fn run(action: ConfigAction, s: &Settings) -> Result<i32, CaroError> {
    match action {
        ConfigAction::Path => crate::outln!("{}", s.config_file.display()),
        ConfigAction::Show => {
            let effective = ConfigFile {
                model: Some(s.model.clone()),
                variant: None,
                threads: Some(s.threads),
                shell: Some(s.shell),
                max_tokens: Some(s.max_tokens),
                temperature: Some(s.temperature),
                seed: Some(s.seed),
                context: Some(s.context),
                speculate: Some(s.speculate),
                trial: Some(s.trial),
                backend: Some(s.backend),
                device: Some(s.device),
                instructions: s.instructions.clone(),
                history: Some(s.history),
                keep_prose: Some(s.keep_prose),
                pick: Some(s.pick),
                keys: {
                    let (complete, explain, pick) = default_keys();
                    KeysSection {
                        complete: s.keys.complete.clone().or(Some(complete.into())),
                        explain: s.keys.explain.clone().or(Some(explain.into())),
                        pick: s.keys.pick.clone().or(Some(pick.into())),
                    }
                },
                daemon: DaemonSection {
                    idle_timeout: Some(s.idle_timeout_secs),
                    workers: Some(s.workers),
                    queue: Some(s.queue),
                },
                openai: s.openai.section(),
            };
            let text = toml::to_string(&effective).map_err(|e| CaroError::Other(e.to_string()))?;
            crate::outln!("# settings in effect (file: {})", s.config_file.display());
            crate::out!("{text}");
        }
    }
    Ok(exit::OK)
}
