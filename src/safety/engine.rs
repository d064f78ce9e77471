//! Walks the parsed script the way the shell would run it and collects the worst finding.
//!
//! The walk keeps a little state between commands (variables assigned, the directory
//! `cd` moved to, files just downloaded) because `cd / && rm -rf *` or
//! `DIR=/; rm -rf $DIR` are only dangerous in light of what came before.

use super::args::{Arg, HOME, OPAQUE, UNKNOWN, Vars, command_name, is_only_expansion, render};
use super::paths::{PathInfo, Scope, basename, classify};
use super::{Level, Verdict, exec, fanout, network, rules};
use crate::syntax::wrappers::{self, Note, Wrap};
use crate::syntax::{
    Command, HereDoc, MAX_DEPTH, Part, Pipeline, Redir, RedirOp, Script, Simple, Word, parse_nested,
};

const TOO_DEEP: &str = "nested too deeply to check safely";
const FORK_BOMB: &str = "fork bomb: keeps starting copies of itself until the system freezes";
/// Walking nested scripts may go a little past the parser's own limit before
/// giving up, so a command the parser accepted is never reported as too deep.
const WALK_LIMIT: usize = MAX_DEPTH + 4;

#[derive(Default)]
pub(crate) struct Engine {
    best: Option<(Level, String)>,
    depth: usize,
    pub(crate) vars: Vars,
    /// Where `cd` has taken us: None for "wherever the command is run", else a path
    /// relative to that, absolute, or under `~`.
    pub(crate) cwd: Option<String>,
    /// Basenames of files written by a downloader, to catch `curl -o x.sh && sh x.sh`.
    pub(crate) downloads: Vec<String>,
    /// What git has been told to throw away so far: changes to tracked files
    /// (`reset --hard`) and untracked files (`clean -f`); both together is all the
    /// uncommitted work.
    pub(crate) git_discards: GitDiscards,
}

#[derive(Default, Clone, Copy)]
pub(crate) struct GitDiscards {
    pub(crate) changes: bool,
    pub(crate) untracked: bool,
}

/// What flows into a pipeline stage from the stages before it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Upstream {
    pub(crate) present: bool,
    pub(crate) downloader: bool,
    pub(crate) decoder: bool,
    /// A stage before read keys or saved logins, so the data flowing on is secret.
    pub(crate) secret: bool,
    /// Text printed by an `echo`/`printf` just before, which a shell would run.
    pub(crate) echo: Option<String>,
    /// Paths a stage just before lists (`echo`, `ls`, an unfiltered `find`), which
    /// `xargs` turns into operands; the flag says they stand for whole trees.
    pub(crate) items: Option<(Vec<Arg<'static>>, bool)>,
}

/// Everything a command reads on standard input.
pub(crate) struct Input<'a> {
    pub(crate) up: &'a Upstream,
    /// A heredoc body or here-string.
    pub(crate) text: Option<String>,
    /// A `< file` redirection.
    pub(crate) file: Option<String>,
}

impl Input<'_> {
    pub(crate) fn none() -> Input<'static> {
        static NONE: Upstream = Upstream {
            present: false,
            downloader: false,
            decoder: false,
            secret: false,
            echo: None,
            items: None,
        };
        Input {
            up: &NONE,
            text: None,
            file: None,
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Ctx {
    pub(crate) sudo: bool,
    /// Set for `find … -exec cmd {}` over a whole tree: `cmd` acts recursively.
    pub(crate) recursive_hint: bool,
    /// Set under `xargs`: more operands arrive on input.
    pub(crate) stdin_operands: bool,
}

/// One command, after wrappers are peeled off.
pub(crate) struct Inv<'a, 'w> {
    pub(crate) args: &'a [Arg<'w>],
    pub(crate) ctx: Ctx,
    pub(crate) input: &'a Input<'a>,
}

impl<'a, 'w> Inv<'a, 'w> {
    pub(crate) fn name(&self) -> &'a str {
        self.args.first().map_or("", |a| command_name(&a.text))
    }

    pub(crate) fn rest(&self) -> &'a [Arg<'w>] {
        self.args.get(1..).unwrap_or_default()
    }

    /// Something feeds this command's standard input.
    pub(crate) fn piped(&self) -> bool {
        self.input.up.present || self.input.text.is_some() || self.input.file.is_some()
    }
}

pub(crate) fn run(command: &str) -> Verdict {
    let mut engine = Engine::default();
    if looks_like_fork_bomb(command) {
        engine.note(Level::Dangerous, FORK_BOMB);
    }
    engine.check_source(command);
    match engine.best {
        Some((level, reason)) => Verdict {
            level,
            reason: Some(reason),
        },
        None => Verdict {
            level: Level::Safe,
            reason: None,
        },
    }
}

impl Engine {
    /// Records a finding; the worst level wins, and the first reason among equals.
    pub(crate) fn note(&mut self, level: Level, reason: impl Into<String>) {
        if level == Level::Safe {
            return;
        }
        if self.best.as_ref().is_some_and(|(l, _)| *l >= level) {
            return;
        }
        self.best = Some((level, reason.into()));
    }

    pub(crate) fn classify(&self, arg: &Arg<'_>) -> PathInfo {
        classify(arg, self.cwd.as_deref())
    }

    pub(crate) fn render<'w>(&self, word: &'w Word) -> Arg<'w> {
        render(word, &self.vars)
    }

    /// Parses and checks text that a shell will run (`sh -c`, `eval`, `ssh host …`).
    pub(crate) fn check_source(&mut self, src: &str) {
        if self.depth >= MAX_DEPTH {
            self.note(Level::Dangerous, TOO_DEEP);
            return;
        }
        let parsed = parse_nested(src, self.depth);
        if parsed.too_deep {
            self.note(Level::Dangerous, TOO_DEEP);
        }
        self.nested(|e| e.check_script(&parsed.script, &Upstream::default()));
    }

    /// Like `check_source`, but the code itself may have come off the network.
    pub(crate) fn check_code_arg(&mut self, code: &Arg<'_>) {
        if code.word.is_some_and(network::word_fetches) {
            self.note(Level::Dangerous, "runs code downloaded from the internet");
        }
        self.check_source(&code.text);
    }

    pub(crate) fn nested(&mut self, f: impl FnOnce(&mut Self)) {
        if self.depth >= WALK_LIMIT {
            self.note(Level::Dangerous, TOO_DEEP);
            return;
        }
        self.depth += 1;
        f(self);
        self.depth -= 1;
    }

    /// `input` feeds the first stage of each pipeline, as a group's stdin does.
    fn check_script(&mut self, script: &Script, input: &Upstream) {
        for pipeline in &script.pipelines {
            self.check_pipeline(pipeline, input);
        }
    }

    fn check_pipeline(&mut self, pipeline: &Pipeline, input: &Upstream) {
        let mut up = input.clone();
        for stage in &pipeline.stages {
            self.check_command(stage, &up);
            up = self.after(stage, &up);
        }
    }

    fn check_command(&mut self, cmd: &Command, up: &Upstream) {
        match cmd {
            Command::Simple(simple) => self.check_simple(simple, up),
            Command::Group { body, redirs } => {
                self.nested(|e| e.check_script(body, up));
                self.check_redirs(redirs, false, None);
            }
            Command::Function { name, body } => {
                if is_fork_bomb(name, body) {
                    self.note(Level::Dangerous, FORK_BOMB);
                }
                // The body runs whenever the function is called, so judge it now.
                self.nested(|e| e.check_command(body, &Upstream::default()));
            }
        }
    }

    fn check_simple(&mut self, simple: &Simple, up: &Upstream) {
        // Substitutions run before the command itself, wherever they appear.
        for assign in &simple.assigns {
            self.walk_word(&assign.value);
        }
        for word in &simple.words {
            self.walk_word(word);
        }
        for redir in &simple.redirs {
            self.walk_word(&redir.target);
            if let Some(HereDoc {
                expanded: Some(body),
                ..
            }) = &redir.heredoc
            {
                self.walk_word(body);
            }
        }
        let args: Vec<Arg<'_>> = simple.words.iter().map(|w| self.render(w)).collect();
        let effective = self.effective(&args);
        let downloads = effective
            .as_ref()
            .is_some_and(|a| network::is_downloader(a.name));
        // What `echo x > file` writes, so settings files can be judged by their content.
        let printed = effective
            .filter(|e| e.name == "echo" || e.name == "printf")
            .map(|e| fanout::printed_text(e.name, e.args.get(1..).unwrap_or_default()));
        self.check_redirs(&simple.redirs, downloads, printed.as_deref());
        if args.is_empty() {
            for assign in &simple.assigns {
                let value = self.render(&assign.value).text;
                rules::system::history_var(self, &assign.name, &value);
                // Arrays hold several words; their elements stay unknown.
                if value.starts_with('(') {
                    self.vars.remove(&assign.name);
                } else {
                    self.vars.insert(assign.name.clone(), value);
                }
            }
            return;
        }
        let input = Input {
            up,
            text: self.stdin_text(simple),
            file: simple
                .redirs
                .iter()
                .rfind(|r| r.op == RedirOp::Read)
                .map(|r| self.render(&r.target).text),
        };
        self.dispatch(&args, Ctx::default(), &input);
    }

    /// A heredoc body or here-string given to the command, if any (the last wins).
    fn stdin_text(&self, simple: &Simple) -> Option<String> {
        simple
            .redirs
            .iter()
            .filter_map(|r| match (&r.op, &r.heredoc) {
                (_, Some(doc)) => Some(doc.body.clone()),
                (RedirOp::HereString, None) => Some(self.render(&r.target).text),
                _ => None,
            })
            .next_back()
    }

    fn walk_word(&mut self, word: &Word) {
        for part in &word.parts {
            match part {
                Part::Sub(script) | Part::ProcSub(script) => {
                    self.nested(|e| e.check_script(script, &Upstream::default()));
                }
                Part::Param {
                    inner: Some(inner), ..
                } => self.nested(|e| e.walk_word(inner)),
                _ => {}
            }
        }
    }

    fn check_redirs(&mut self, redirs: &[Redir], from_downloader: bool, printed: Option<&str>) {
        for redir in redirs {
            let append = match redir.op {
                RedirOp::Write => false,
                RedirOp::Append | RedirOp::ReadWrite => true,
                RedirOp::DupWrite => {
                    // `>&2` and `>&-` duplicate or close descriptors; only a name is a file.
                    let fd = redir.target.literal().is_some_and(|t| {
                        t == "-" || (!t.is_empty() && t.chars().all(|c| c.is_ascii_digit()))
                    });
                    if fd {
                        continue;
                    }
                    false
                }
                _ => continue,
            };
            let arg = self.render(&redir.target);
            if from_downloader {
                self.downloads.push(basename(&arg.text).to_string());
            }
            let info = self.classify(&arg);
            if let Some(text) = printed {
                rules::security::written(self, &info, text);
            }
            if let Some((level, why)) = rules::files::write_target(&info, append) {
                self.note(level, why);
            }
        }
    }

    /// The command behind any transparent wrappers.
    pub(crate) fn effective<'a, 'w>(&self, args: &'a [Arg<'w>]) -> Option<Effective<'a, 'w>> {
        let mut i = 0;
        loop {
            match unwrap(args, i) {
                Wrap::Not => break,
                Wrap::Into { next, .. } if next > i => i = next,
                _ => return None,
            }
        }
        let args = args.get(i..)?;
        let name = command_name(&args.first()?.text);
        Some(Effective { name, args })
    }

    /// Runs one command: peels wrappers, then lets the executors and rules judge it.
    pub(crate) fn dispatch(&mut self, args: &[Arg<'_>], mut ctx: Ctx, input: &Input<'_>) {
        let mut i = 0;
        loop {
            match unwrap(args, i) {
                Wrap::Not => break,
                Wrap::Into { next, elevated } => {
                    if next <= i {
                        return;
                    }
                    i = next;
                    ctx.sudo |= elevated;
                }
                Wrap::Code(code) => {
                    self.check_source(&code);
                    return;
                }
                Wrap::Done(note) => {
                    match note {
                        Some(Note::EditsAsRoot) => self.note(Level::Caution, "edits files as root"),
                        Some(Note::RootShell) => self.note(Level::Caution, "opens a root shell"),
                        None => {}
                    }
                    return;
                }
            }
        }
        let Some(args) = args.get(i..).filter(|a| !a.is_empty()) else {
            return;
        };
        let inv = Inv { args, ctx, input };
        if self.builtin(&inv) || exec::check(self, &inv) {
            return;
        }
        rules::check(self, &inv);
    }

    /// Builtins that change what later commands mean.
    fn builtin(&mut self, inv: &Inv<'_, '_>) -> bool {
        match inv.name() {
            "cd" | "pushd" => {
                let target = inv
                    .rest()
                    .iter()
                    .find(|a| !a.text.starts_with('-') || a.is("-"));
                self.cwd = match target {
                    None => Some(HOME.to_string()),
                    Some(a) if a.is("-") || a.text.contains([UNKNOWN, OPAQUE]) => None,
                    Some(a) if a.text.starts_with(['/', HOME]) => Some(a.text.clone()),
                    Some(a) => Some(match &self.cwd {
                        Some(cwd) => format!("{cwd}/{}", a.text),
                        None => a.text.clone(),
                    }),
                };
                true
            }
            "popd" => {
                self.cwd = None;
                true
            }
            "export" | "declare" | "typeset" | "local" | "readonly" => {
                for arg in inv.rest() {
                    if let Some((name, value)) = arg.text.split_once('=') {
                        rules::system::history_var(self, name, value);
                        self.vars.insert(name.to_string(), value.to_string());
                    }
                }
                true
            }
            "unset" | "read" => {
                for arg in inv.rest() {
                    if arg.is("HISTFILE") && inv.name() == "unset" {
                        self.note(Level::Caution, "stops your shell from saving history");
                    }
                    self.vars.remove(&arg.text);
                }
                true
            }
            "for" | "select" => {
                self.loop_var(inv.rest());
                true
            }
            _ => false,
        }
    }

    /// Runs `f` with `$0`, `$1`, … set to `words`, as `sh -c CODE WORDS` does.
    pub(crate) fn with_positional(&mut self, words: &[Arg<'_>], f: impl FnOnce(&mut Self)) {
        const NAMES: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
        let saved: Vec<Option<String>> = NAMES.iter().map(|n| self.vars.remove(*n)).collect();
        for (name, word) in NAMES.iter().zip(words) {
            self.vars.insert((*name).to_string(), word.text.clone());
        }
        f(self);
        for (name, old) in NAMES.iter().zip(saved) {
            match old {
                Some(value) => self.vars.insert((*name).to_string(), value),
                None => self.vars.remove(*name),
            };
        }
    }

    /// `for f in A B C`: the body runs with `$f` set to each word, so `$f` stands for
    /// the gravest of them (`for f in ~/*; do rm -rf "$f"; done` deletes the home
    /// directory's contents).
    fn loop_var(&mut self, rest: &[Arg<'_>]) {
        let Some(var) = rest.first() else { return };
        let words = match rest.get(1) {
            Some(a) if a.is("in") => rest.get(2..).unwrap_or_default(),
            _ => &[],
        };
        let gravest = words
            .iter()
            .take(16)
            .find(|w| self.classify(w).scope.grave())
            .or_else(|| words.first());
        match gravest {
            Some(word) if !word.text.contains([UNKNOWN, OPAQUE]) => {
                self.vars.insert(var.text.clone(), word.text.clone());
            }
            _ => {
                self.vars.remove(&var.text);
            }
        }
    }

    /// What a pipeline stage hands to the next one.
    fn after(&self, stage: &Command, prev: &Upstream) -> Upstream {
        let mut next = Upstream {
            present: true,
            downloader: prev.downloader,
            decoder: prev.decoder,
            secret: prev.secret,
            echo: None,
            items: None,
        };
        match stage {
            Command::Simple(simple) => {
                let args: Vec<Arg<'_>> = simple.words.iter().map(|w| self.render(w)).collect();
                if let Some(eff) = self.effective(&args) {
                    let rest = eff.args.get(1..).unwrap_or_default();
                    next.secret |= network::reads_secret(self, rest);
                    if network::is_downloader(eff.name) {
                        next.downloader = true;
                    } else if network::is_decoder(eff.name, rest) {
                        next.decoder = true;
                    } else if let Some(text) = (eff.name == "cat" && rest.is_empty())
                        .then(|| self.stdin_text(simple))
                        .flatten()
                    {
                        // `cat <<EOF | sh` hands the heredoc to the shell.
                        next.echo = Some(text);
                    } else if eff.name == "echo" || eff.name == "printf" {
                        let text = fanout::printed_text(eff.name, rest);
                        let items = text.split_whitespace().map(Arg::synthetic).collect();
                        next.items = Some((items, false));
                        next.echo = Some(text);
                    } else {
                        next.items = fanout::listed_paths(self, eff.name, rest);
                        // `find / -name '*.key' -exec cat {} \;` prints keys too.
                        next.secret |= next.items.as_ref().is_some_and(|(items, _)| {
                            items
                                .iter()
                                .any(|a| self.classify(a).scope == Scope::Credentials)
                        });
                    }
                }
            }
            Command::Group { body, .. } => {
                if network::script_fetches(body) {
                    next.downloader = true;
                }
            }
            Command::Function { .. } => {}
        }
        next
    }
}

/// The wrapper at `args[i]`, if it is one. A word of nothing but unknown expansions
/// (`$SUDO rm …`) is often empty, so the next word may be the real command.
fn unwrap(args: &[Arg<'_>], i: usize) -> Wrap {
    match args.get(i) {
        Some(first) if is_only_expansion(&first.text) => Wrap::Into {
            next: i + 1,
            elevated: false,
        },
        Some(first) => wrappers::unwrap(command_name(&first.text), args, i),
        None => Wrap::Done(None),
    }
}

pub(crate) struct Effective<'a, 'w> {
    pub(crate) name: &'a str,
    pub(crate) args: &'a [Arg<'w>],
}

/// `f(){ f|f& }; f`: a function whose body pipes into or backgrounds itself.
fn is_fork_bomb(name: &str, body: &Command) -> bool {
    fn calls(cmd: &Command, name: &str) -> bool {
        matches!(cmd, Command::Simple(s) if s.words.first().and_then(Word::literal).as_deref() == Some(name))
    }
    fn search(cmd: &Command, name: &str, depth: usize) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        match cmd {
            Command::Group { body, .. } => body.pipelines.iter().any(|p| {
                let selfish = p.stages.iter().filter(|s| calls(s, name)).count();
                selfish >= 2
                    || (selfish >= 1 && p.background)
                    || p.stages.iter().any(|s| search(s, name, depth + 1))
            }),
            Command::Function { body, .. } => search(body, name, depth + 1),
            Command::Simple(_) => false,
        }
    }
    !name.is_empty() && search(body, name, 0)
}

/// Unspaced fork bombs such as `:(){:|:&};:` do not parse as a function body, yet they
/// are what people paste; spot the shape `name(){name|name…` in the text itself.
fn looks_like_fork_bomb(src: &str) -> bool {
    let compact: String = src.chars().filter(|c| !c.is_whitespace()).collect();
    compact.match_indices("(){").take(16).any(|(pos, _)| {
        let before = compact.get(..pos).unwrap_or_default();
        let start = before
            .rfind(|c: char| ";&|(){}".contains(c))
            .map_or(0, |i| i + 1);
        let name = before.get(start..).unwrap_or_default();
        let body = compact.get(pos + 3..).unwrap_or_default();
        !name.is_empty() && body.starts_with(&format!("{name}|{name}"))
    })
}
