//! The words sent to the model. The system turn and the example exchanges are constant
//! (their KV cache is reused across requests); the context line changes rarely (cached
//! while equal); only the request is new each time.

use super::context::Context;
use super::{ChatPrompt, Preamble};

/// Byte-identical across requests and processes: changing it invalidates every cache.
/// Short on purpose: every generated token attends over the whole preamble, and the
/// notes added to requests (`hints`) carry the conventions better than rules here.
pub const SYSTEM_PROMPT: &str = "\
You write exactly one shell command for the user's request.
Reply with the command alone: no explanation, no markdown.
- Use the shell and OS in the context; GNU tools unless it says BSD.
- Work in the current directory (.) unless the request names another path; keep the paths and names it gives.
- Do not delete, overwrite or kill anything unless the request asks for it.
- A note in parentheses after the request is a hint: follow it.
- The request may be in any language. If it is already a shell command, repeat it unchanged.";

/// Worked exchanges, shown to the model as earlier turns of the conversation (cached
/// with the system turn). Chosen for coverage of what the model gets wrong without
/// them (find's tests and actions, -ls, grep -r, sizes sorted, other languages, a
/// request that already is a command); none is taken from the evaluation set.
pub const EXAMPLES: &[(&str, &str)] = &[
    ("list all files including hidden ones", "ls -a"),
    (
        "find regular files bigger than 10 MB under /var/log",
        "find /var/log -type f -size +10M",
    ),
    ("files changed in the last 45 minutes", "find . -mmin -45"),
    (
        "copy every .jpg file under photos to /backup",
        "find photos -name '*.jpg' -exec cp {} /backup \\;",
    ),
    (
        "files owned by the user bob on the whole system",
        "find / -user bob",
    ),
    (
        "files with the setuid bit under /usr",
        "find /usr -perm -4000",
    ),
    (
        "executable files in the current directory",
        "find . -executable",
    ),
    (
        "long listing of the .conf files in /etc and below",
        "find /etc -name '*.conf' -ls",
    ),
    (
        "count the lines of every .c file under src",
        "find src -name '*.c' | xargs wc -l",
    ),
    (
        "search for TODO in all python files recursively, ignoring case",
        "grep -rin TODO --include='*.py' .",
    ),
    (
        "show how much space each folder here takes, largest last",
        "du -sh */ | sort -h",
    ),
    (
        "replace foo with bar in config.txt",
        "sed -i 's/foo/bar/g' config.txt",
    ),
    ("zeige den freien Arbeitsspeicher an", "free -h"),
    ("du -sh /tmp", "du -sh /tmp"),
];

/// The constant start of every prompt.
pub fn preamble() -> Preamble {
    preamble_with(true)
}

/// [`preamble`] with the user's standing instructions (`instructions.md`), cached
/// with it.
pub fn preamble_for(instructions: Option<&str>) -> Preamble {
    let mut p = preamble();
    p.instructions = instructions_turn(instructions);
    p
}

/// The system turn that carries the user's instructions; `None` without any.
pub fn instructions_turn(instructions: Option<&str>) -> Option<String> {
    instructions
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| format!("The user's standing instructions; follow them:\n{t}"))
}

/// The preamble with or without request notes on its examples (the evaluation
/// measures both).
pub fn preamble_with(notes: bool) -> Preamble {
    Preamble {
        system: SYSTEM_PROMPT.to_owned(),
        // The examples carry the same notes a real request would, so the model sees
        // notes being followed.
        examples: EXAMPLES
            .iter()
            .map(|(u, a)| (with_notes(u, notes), (*a).to_owned()))
            .collect(),
        instructions: None,
    }
}

fn with_notes(request: &str, notes: bool) -> String {
    if notes {
        super::hints::annotate(request)
    } else {
        request.to_owned()
    }
}

/// Builds the prompt for `request` in `ctx`.
pub fn build(request: &str, ctx: &Context) -> ChatPrompt {
    build_with(preamble(), request, ctx)
}

/// [`build`] after another preamble (one with instructions).
pub fn build_with(preamble: Preamble, request: &str, ctx: &Context) -> ChatPrompt {
    ChatPrompt {
        preamble,
        context: ctx.summary(),
        request: request_text(request, ctx),
    }
}

/// The request part of the user turn. What changes with every command (the last exit
/// status) goes here rather than in the context, which stays cached while it is equal.
pub fn request_text(request: &str, ctx: &Context) -> String {
    request_text_with(request, ctx, true)
}

/// [`request_text`] with or without the request notes.
pub fn request_text_with(request: &str, ctx: &Context, notes: bool) -> String {
    let mut request = with_notes(request.trim(), notes);
    if let Some(s) = ctx.last_status.filter(|s| *s != 0) {
        request = format!("(last command failed: exit {s})\n{request}");
    }
    if !ctx.history.is_empty() {
        let mut recent = String::from("(my recent commands, oldest first:\n");
        for c in &ctx.history {
            recent.push_str(&format!("$ {c}\n"));
        }
        request = format!("{recent})\n{request}");
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_are_a_system_turn_after_the_examples() {
        let plain = preamble_for(None);
        assert_eq!(plain, preamble());
        assert_eq!(preamble_for(Some("  \n")), preamble());
        let p = preamble_for(Some("Always use rg.\n"));
        let text = p.render();
        assert!(
            text.starts_with(&plain.render()),
            "the rest stays as cached"
        );
        assert!(
            text.ends_with("<|im_start|>system\nThe user's standing instructions; follow them:\nAlways use rg.<|im_end|>\n"),
            "{text}"
        );
    }

    #[test]
    fn system_turn_does_not_depend_on_the_request_or_context() {
        let a = build("list files", &Context::for_tests("zsh", "/tmp"));
        let b = build("count lines", &Context::for_tests("fish", "/home/x"));
        assert_eq!(a.preamble, b.preamble);
        assert!(a.request.contains("list files") && a.context.contains("zsh"));
        assert!(b.context.contains("cwd . (x)"));
    }

    #[test]
    fn every_example_follows_its_own_notes() {
        // An example that contradicts the note it carries teaches ignoring notes.
        for (user, answer) in preamble().examples {
            if user.contains("use find") {
                assert!(answer.starts_with("find "), "{user} → {answer}");
            }
            if user.contains("no -type f") {
                assert!(!answer.contains("-type f"), "{user} → {answer}");
            }
        }
    }

    #[test]
    fn history_goes_with_the_request_and_only_when_sent() {
        let plain = build("count its lines", &Context::for_tests("zsh", "/tmp"));
        assert_eq!(
            plain.request,
            request_text("count its lines", &Context::for_tests("zsh", "/tmp"))
        );
        assert!(!plain.request.contains("recent commands"));
        let ctx = Context::for_tests("zsh", "/tmp").with_history(&["touch notes.txt"]);
        let p = build("count its lines", &ctx);
        assert_eq!(p.context, plain.context, "the cached context is unchanged");
        assert!(p.request.contains("$ touch notes.txt\n"), "{}", p.request);
        assert!(p.request.ends_with("count its lines"));
    }

    #[test]
    fn a_failed_last_command_goes_with_the_request_not_the_cached_context() {
        let ctx = Context::for_tests("zsh", "/tmp").with_last_status(Some(2));
        let p = build("list files", &ctx);
        assert!(!p.context.contains("failed"));
        assert!(p.request.contains("exit 2") && p.request.ends_with("list files"));
    }
}
