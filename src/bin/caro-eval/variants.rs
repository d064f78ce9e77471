//! The prompts compared by `caro-eval --prompt`: the one-line baseline, the prompt caro
//! shipped before the evaluation existed, and the current one (`engine::prompt`).
//! Every variant keeps its preamble constant; only the user turn varies.

use clap::ValueEnum;

use caro::engine::context::Context;
use caro::engine::prompt;
use caro::engine::{ChatPrompt, Preamble};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Variant {
    /// One line of instruction, the request alone as the user turn
    Baseline,
    /// caro's first prompt (rules and three examples) with its one-line context
    Original,
    /// The prompt caro uses now
    Current,
}

/// What the user turn says about the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ContextMode {
    /// The request only
    None,
    /// One line: shell, OS, tools, directory (the original format)
    Basic,
    /// `Context::summary`: shell, OS, short cwd, git (what caro sends)
    Compact,
    /// Everything `Context::describe` gives (listing, git, …)
    Full,
}

impl Variant {
    pub fn name(self) -> &'static str {
        match self {
            Self::Baseline => "baseline",
            Self::Original => "original",
            Self::Current => "current",
        }
    }

    pub fn default_context(self) -> ContextMode {
        match self {
            Self::Baseline => ContextMode::None,
            Self::Original => ContextMode::Basic,
            Self::Current => ContextMode::Compact,
        }
    }

    /// The constant part of the variant's prompt, with or without request notes on the
    /// current prompt's examples.
    pub fn preamble(self, notes: bool) -> Preamble {
        match self {
            Self::Baseline => Preamble::new(BASELINE_SYSTEM),
            Self::Original => Preamble::new(ORIGINAL_SYSTEM),
            Self::Current => prompt::preamble_with(notes),
        }
    }

    /// The prompt for `request`: `preamble` (the variant's own, or one read from a file)
    /// and the user turn in this variant's style with the context `mode` asks for, with
    /// or without the current prompt's request notes.
    pub fn build(
        self,
        preamble: &Preamble,
        mode: ContextMode,
        request: &str,
        ctx: &Context,
        notes: bool,
    ) -> ChatPrompt {
        let request = request.trim();
        let context = match mode {
            ContextMode::None => String::new(),
            ContextMode::Basic => basic_line(ctx),
            ContextMode::Compact => ctx.summary(),
            ContextMode::Full => ctx.describe(),
        };
        let request = match self {
            Self::Baseline => request.to_owned(),
            // Its examples are written as "request: …".
            Self::Original => format!("request: {request}"),
            Self::Current => prompt::request_text_with(request, ctx, notes),
        };
        ChatPrompt {
            preamble: preamble.clone(),
            context,
            request,
        }
    }
}

impl ContextMode {
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Basic => "basic",
            Self::Compact => "compact",
            Self::Full => "full",
        }
    }
}

/// A preamble to try, from TOML: `system = "…"` and `examples = [["request", "command"]]`.
/// The examples get the hint notes their requests would get, as the shipped ones do,
/// so a file is compared like for like.
pub fn load_preamble(path: &std::path::Path) -> Result<Preamble, String> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        system: String,
        #[serde(default)]
        examples: Vec<(String, String)>,
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let f: File = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Preamble {
        system: f.system,
        examples: f
            .examples
            .into_iter()
            .map(|(u, a)| (caro::engine::hints::annotate(&u), a))
            .collect(),
        instructions: None,
    })
}

/// The context line caro sent before `Context` grew a listing.
fn basic_line(ctx: &Context) -> String {
    format!(
        "context: {} shell on {} ({} tools), current directory {}",
        ctx.shell,
        ctx.os,
        ctx.userland,
        ctx.cwd.display()
    )
}

const BASELINE_SYSTEM: &str =
    "Translate the request into a single bash command. Output only the command.";

const ORIGINAL_SYSTEM: &str = "\
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

#[cfg(test)]
mod tests {
    use super::*;
    use caro::settings::Shell;

    #[test]
    fn system_turn_is_constant_per_variant() {
        let a = Context::detect(Shell::Bash, std::path::Path::new("/a"));
        let b = Context::detect(Shell::Zsh, std::path::Path::new("/b"));
        for v in [Variant::Baseline, Variant::Original, Variant::Current] {
            for m in [
                ContextMode::None,
                ContextMode::Basic,
                ContextMode::Compact,
                ContextMode::Full,
            ] {
                let x = v.build(&v.preamble(true), m, "list files", &a, true);
                let y = v.build(&v.preamble(true), m, "count lines", &b, true);
                assert_eq!(x.preamble, y.preamble);
                assert!(x.request.contains("list files"));
            }
        }
        let p = Variant::Baseline.build(
            &Variant::Baseline.preamble(true),
            ContextMode::None,
            " ls ",
            &a,
            true,
        );
        assert_eq!((p.context.as_str(), p.user().as_str()), ("", "ls"));
    }

    #[test]
    fn prompt_file_examples_get_the_shipped_notes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("p.toml");
        std::fs::write(
            &path,
            "system = \"s\"\nexamples = [[\"files under src changed in the last 2 hours\", \"find src -mmin -120\"]]\n",
        )
        .expect("write prompt file");
        let p = load_preamble(&path).expect("valid prompt file");
        let want = caro::engine::hints::annotate("files under src changed in the last 2 hours");
        assert!(want.contains('('), "the request should get a note: {want}");
        assert_eq!(p.examples, vec![(want, "find src -mmin -120".to_owned())]);
        assert!(load_preamble(&dir.path().join("missing.toml")).is_err());
    }
}
