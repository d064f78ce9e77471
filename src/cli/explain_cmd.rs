//! `caro explain -- CMD`: what a command does, from the manuals on this machine;
//! `--model` adds a few sentences from the model.

use crate::engine::{CancelToken, ChatPrompt, GenerateRequest, Preamble, Sampling};
use crate::error::{CaroError, exit};
use crate::settings::Settings;

/// The model's instructions for `--model`: short, plain, and about this command only.
const SYSTEM: &str = "You explain shell commands to a user at their terminal. In at most \
three short sentences of plain text (no markdown, no code blocks), say what the given \
command does, including what each option changes, and warn if it deletes or overwrites \
anything.";

/// Tokens the model may write: three sentences.
const MAX_TOKENS: usize = 120;

pub fn run(command: &str, json: bool) -> i32 {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let e = crate::explain::explain(command, &path);
    if json {
        crate::outln!("{}", serde_json::to_string(&e).unwrap_or_default());
    } else {
        crate::out!("{}", crate::explain::render(&e));
    }
    exit::OK
}

/// [`run`], then the model's explanation (`"model"` in the JSON).
pub fn run_with_model(command: &str, json: bool, s: &Settings) -> Result<i32, CaroError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let e = crate::explain::explain(command, &path);
    if !json {
        crate::out!("{}", crate::explain::render(&e));
    }
    let backend = super::generate::open_backend(s, None)?;
    let req = GenerateRequest {
        prompt: ChatPrompt {
            preamble: Preamble::new(SYSTEM),
            context: String::new(),
            request: command.trim().to_owned(),
        },
        max_tokens: MAX_TOKENS,
        sampling: Sampling {
            temperature: 0.0,
            top_p: 1.0,
            seed: s.seed,
        },
        ignore_stop: false,
    };
    let g = backend.generate(&req, &mut |_| {}, &CancelToken::new())?;
    let text = g.text.trim();
    if json {
        let mut v = serde_json::to_value(&e).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.insert("model".into(), text.into());
        }
        crate::outln!("{v}");
    } else {
        crate::outln!("model: {text}");
    }
    Ok(exit::OK)
}
