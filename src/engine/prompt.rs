//! The words sent to the model. The system turn is constant (its KV cache is reused
//! across requests); everything that varies goes into the user turn.

use super::ChatPrompt;
use super::context::Context;

/// Byte-identical across requests and processes: changing it invalidates every cache.
pub const SYSTEM_PROMPT: &str = "\
You turn a request into exactly one shell command.
Reply with the command only: no explanation, no markdown, no code fences.
Use the shell, OS and tools described in the context (GNU or BSD flags).
Work in the current directory unless the request names another path.
Give files to the command as arguments; do not pipe them in with cat.
Do not produce destructive commands (deleting, overwriting, killing, formatting) unless the request clearly asks for it.
If the request is already a shell command, repeat it unchanged.
Examples:
request: list all files including hidden ones
ls -a
request: show disk usage of this folder in human units
du -sh .
request: find files named *.log modified in the last day
find . -name '*.log' -mtime -1";

/// Builds the prompt for `request` in `ctx`.
pub fn build(request: &str, ctx: &Context) -> ChatPrompt {
    ChatPrompt {
        system: SYSTEM_PROMPT.to_owned(),
        user: user_turn(request, ctx),
    }
}

/// The user turn: the context, then the request.
pub fn user_turn(request: &str, ctx: &Context) -> String {
    format!("{}\nrequest: {}", ctx.describe(), request.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_turn_does_not_depend_on_the_request_or_context() {
        let a = build("list files", &Context::for_tests("zsh", "/tmp"));
        let b = build("count lines", &Context::for_tests("fish", "/home/x"));
        assert_eq!(a.system, b.system);
        assert!(a.user.contains("list files") && a.user.contains("zsh"));
        assert!(b.user.contains("/home/x"));
    }
}
