//! From a request in plain words to one command: prompt, generate, extract.

use super::context::Context;
use super::extract::extract_command;
use super::{Backend, CancelToken, EngineError, GenerateRequest, Generation, Sampling, prompt};

#[derive(Debug, Clone)]
pub struct CommandOptions {
    pub max_tokens: usize,
    pub sampling: Sampling,
}

#[derive(Debug, Clone)]
pub struct CommandResult {
    pub command: String,
    /// What the model wrote before extraction.
    pub raw: String,
    pub generation: Generation,
}

/// Generates one command for `request`.
pub fn generate_command(
    backend: &dyn Backend,
    request: &str,
    ctx: &Context,
    opts: &CommandOptions,
    on_token: &mut dyn FnMut(&str),
    cancel: &CancelToken,
) -> Result<CommandResult, EngineError> {
    let request = request.trim();
    if request.is_empty() {
        return Err(EngineError::EmptyRequest);
    }
    let req = GenerateRequest {
        prompt: prompt::build(request, ctx),
        max_tokens: opts.max_tokens,
        sampling: opts.sampling,
        ignore_stop: false,
    };
    let generation = backend.generate(&req, on_token, cancel)?;
    let command = extract_command(&generation.text).ok_or(EngineError::NoCommand)?;
    Ok(CommandResult {
        command,
        raw: generation.text.clone(),
        generation,
    })
}
