//! `caro config path|show`.

use super::ConfigAction;
use crate::error::{CaroError, exit};
use crate::settings::{ConfigFile, DaemonSection, Settings};

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
