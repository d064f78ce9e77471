//! End to end: real zsh, bash and fish in tmux, with `caro init <shell>` in
//! their rc file, prose typed at the prompt and Ctrl-G pressed; the screen is
//! read back with `capture-pane`.
//!
//! Needs tmux and the shells (a missing one is skipped with a message). Tests
//! that need the real model skip when it is absent, unless
//! `CARO_REQUIRE_MODEL=1`. Each test has its own tmux server (`tmux -L`),
//! HOME, XDG_CONFIG_HOME and XDG_RUNTIME_DIR (so its own daemon, stopped on
//! drop); XDG_CACHE_HOME keeps pointing at the real model.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const PROMPT: &str = "PROMPT> ";
/// Prose whose literal execution would run the `list` function that every
/// test rc defines, which creates the "prose ran" marker.
const PROSE: &str = "list all files including hidden ones";

/// Generous: the first request of a test starts a daemon and loads the model
/// on a CPU that other tests may share.
const MODEL_TIMEOUT: Duration = Duration::from_secs(300);
const SHORT: Duration = Duration::from_secs(20);

/// Requests to the real model run one at a time, so that parallel tests do
/// not slow each other past their deadlines.
static MODEL_LOCK: Mutex<()> = Mutex::new(());
static COUNTER: AtomicUsize = AtomicUsize::new(0);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sh {
    Zsh,
    Bash,
    Fish,
}

impl Sh {
    fn name(self) -> &'static str {
        match self {
            Sh::Zsh => "zsh",
            Sh::Bash => "bash",
            Sh::Fish => "fish",
        }
    }

    /// The key that puts the prose back.
    fn undo_key(self) -> &'static str {
        match self {
            Sh::Zsh => "C-_",
            Sh::Bash | Sh::Fish => "M-g",
        }
    }
}

enum Model {
    /// The real model, found through XDG_CACHE_HOME.
    Real,
    /// A model path that does not exist: every request fails fast.
    Missing,
}

/// The real model's path, or `None` after saying why the test is skipped:
/// `$CARO_TEST_MODEL` (as CI sets it), `$CARO_MODEL`, else the model store
/// in `${XDG_CACHE_HOME:-~/.cache}/caro/models`.
fn real_model() -> Option<PathBuf> {
    let store = cache_home()
        .join("caro/models")
        .join(caro::settings::default_model_file());
    let candidates = [
        std::env::var_os("CARO_TEST_MODEL").map(PathBuf::from),
        std::env::var_os("CARO_MODEL").map(PathBuf::from),
        Some(store.clone()),
    ];
    if let Some(path) = candidates.into_iter().flatten().find(|p| p.is_file()) {
        return Some(path);
    }
    if std::env::var("CARO_REQUIRE_MODEL").as_deref() == Ok("1") {
        panic!(
            "CARO_REQUIRE_MODEL=1 but the model is missing ({})",
            store.display()
        );
    }
    eprintln!(
        "SKIPPED: model not found at {} (run `caro model pull`)",
        store.display()
    );
    None
}

fn cache_home() -> PathBuf {
    match std::env::var_os("XDG_CACHE_HOME") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache"),
    }
}

fn have(program: &str) -> bool {
    let ok = Command::new(program)
        .arg("-c")
        .arg("exit 0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("SKIPPED: {program} is not installed");
    }
    ok
}

fn have_tmux() -> bool {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("SKIPPED: tmux is not installed");
    }
    ok
}

/// A shell running in its own tmux server.
struct Term {
    sh: Sh,
    socket: String,
    /// Where tmux put the socket, removed on drop (kill-server leaves it).
    socket_path: Option<PathBuf>,
    dir: tempfile::TempDir,
    env: Vec<(OsString, OsString)>,
}

struct Setup {
    sh: Sh,
    model: Model,
    vi: bool,
}

impl Term {
    /// Starts the shell and waits for its first prompt; `None` (with a
    /// message) when tmux or the shell is missing.
    fn start(setup: Setup) -> Option<Term> {
        Self::start_with(setup, "")
    }

    /// [`Term::start`] with `config` as caro's config.toml (when not empty).
    fn start_with(setup: Setup, config: &str) -> Option<Term> {
        if !have_tmux() || !have(setup.sh.name()) {
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        for sub in ["home", "config", "data", "work", "runtime"] {
            fs::create_dir_all(d.join(sub)).expect("create dir");
        }
        if !config.is_empty() {
            fs::create_dir_all(d.join("config/caro")).expect("create config dir");
            fs::write(d.join("config/caro/config.toml"), config).expect("write config");
        }
        set_private(&d.join("runtime"));

        let caro = env!("CARGO_BIN_EXE_caro");
        let mut env: Vec<(OsString, OsString)> = vec![
            ("HOME".into(), d.join("home").into()),
            ("PATH".into(), std::env::var_os("PATH").unwrap_or_default()),
            ("TERM".into(), "screen".into()),
            ("LANG".into(), "C.UTF-8".into()),
            ("XDG_CONFIG_HOME".into(), d.join("config").into()),
            ("XDG_DATA_HOME".into(), d.join("data").into()),
            ("XDG_RUNTIME_DIR".into(), d.join("runtime").into()),
            ("XDG_CACHE_HOME".into(), cache_home().into()),
            ("ZDOTDIR".into(), d.join("home").into()),
            ("INPUTRC".into(), d.join("inputrc").into()),
        ];
        match setup.model {
            Model::Real => {
                if let Some(model) = real_model() {
                    env.push(("CARO_MODEL".into(), model.into()));
                }
            }
            Model::Missing => env.push(("CARO_MODEL".into(), "/nonexistent/model.gguf".into())),
        }
        fs::write(d.join("inputrc"), "").expect("write inputrc");

        let prose_ran = d.join("prose-ran");
        let command_ran = d.join("command-ran");
        let argv: Vec<OsString> = match setup.sh {
            Sh::Zsh => {
                let rc = format!(
                    "PS1={prompt}\n\
                     {vi}\
                     list() {{ : > {prose_ran}; }}\n\
                     preexec() {{ : > {command_ran}; }}\n\
                     eval \"$({caro} init zsh)\"\n",
                    prompt = sq(PROMPT),
                    vi = if setup.vi { "bindkey -v\n" } else { "" },
                    prose_ran = sq_path(&prose_ran),
                    command_ran = sq_path(&command_ran),
                    caro = sq(caro),
                );
                fs::write(d.join("home/.zshrc"), rc).expect("write .zshrc");
                vec!["zsh".into(), "-i".into()]
            }
            Sh::Bash => {
                let rc = format!(
                    "PS1={prompt}\n\
                     {vi}\
                     list() {{ : > {prose_ran}; }}\n\
                     PS0='$(: > '{command_ran}')'\n\
                     eval \"$({caro} init bash)\"\n",
                    prompt = sq(PROMPT),
                    vi = if setup.vi { "set -o vi\n" } else { "" },
                    prose_ran = sq_path(&prose_ran),
                    command_ran = sq_path(&command_ran),
                    caro = sq(caro),
                );
                let rc_path = d.join("home/.bashrc");
                fs::write(&rc_path, rc).expect("write .bashrc");
                vec![
                    "bash".into(),
                    "--noprofile".into(),
                    "--rcfile".into(),
                    rc_path.into(),
                    "-i".into(),
                ]
            }
            Sh::Fish => {
                let rc = format!(
                    "set -g fish_greeting\n\
                     set -g fish_autosuggestion_enabled 0\n\
                     function fish_prompt; printf '%s' {prompt}; end\n\
                     function fish_right_prompt; end\n\
                     function fish_mode_prompt; end\n\
                     {vi}\
                     function list; touch {prose_ran}; end\n\
                     function _mark --on-event fish_preexec; touch {command_ran}; end\n\
                     {caro} init fish | source\n",
                    prompt = sq(PROMPT),
                    vi = if setup.vi {
                        "fish_vi_key_bindings\n"
                    } else {
                        ""
                    },
                    prose_ran = sq_path(&prose_ran),
                    command_ran = sq_path(&command_ran),
                    caro = sq(caro),
                );
                fs::create_dir_all(d.join("config/fish")).expect("create fish config dir");
                fs::write(d.join("config/fish/config.fish"), rc).expect("write config.fish");
                vec!["fish".into(), "-i".into()]
            }
        };

        // remain-on-exit keeps a dead shell's pane around, so that a test
        // can tell "shell died" from "tmux went away".
        fs::write(d.join("tmux.conf"), "set -g remain-on-exit on\n").expect("write tmux.conf");
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let socket = format!("caro-test-{}-{}-{n}", std::process::id(), setup.sh.name());
        let mut term = Term {
            sh: setup.sh,
            socket,
            socket_path: None,
            dir,
            env,
        };

        let mut cmd = term.tmux();
        cmd.arg("-f")
            .arg(term.dir.path().join("tmux.conf"))
            .args([
                "new-session",
                "-d",
                "-s",
                "t",
                "-x",
                "120",
                "-y",
                "40",
                "-c",
            ])
            .arg(term.dir.path().join("work"))
            .arg("--")
            .arg("env")
            .arg("-i");
        for (k, v) in &term.env {
            let mut kv = k.clone();
            kv.push("=");
            kv.push(v);
            cmd.arg(kv);
        }
        cmd.args(&argv);
        let out = cmd.output().expect("run tmux");
        assert!(
            out.status.success(),
            "tmux new-session: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let path = term.tmux_ok(&["display-message", "-p", "#{socket_path}"]);
        term.socket_path = Some(PathBuf::from(path.trim_end()));
        term.wait_for("the first prompt", SHORT, |s| {
            s.trim_end()
                .lines()
                .last()
                .is_some_and(|l| l.starts_with(PROMPT.trim_end()))
        });
        Some(term)
    }

    fn tmux(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.arg("-L")
            .arg(&self.socket)
            .env_remove("TMUX")
            .env("LANG", "C.UTF-8")
            .stdin(Stdio::null());
        cmd
    }

    fn tmux_ok(&self, args: &[&str]) -> String {
        let out = self.tmux().args(args).output().expect("run tmux");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn type_text(&self, text: &str) {
        self.tmux_ok(&["send-keys", "-t", "t", "-l", "--", text]);
    }

    fn press(&self, key: &str) {
        self.tmux_ok(&["send-keys", "-t", "t", key]);
    }

    fn screen(&self) -> String {
        self.tmux_ok(&["capture-pane", "-p", "-J", "-t", "t"])
    }

    fn alive(&self) -> bool {
        self.tmux_ok(&["display-message", "-p", "-t", "t", "#{pane_dead}"])
            .trim()
            == "0"
    }

    /// Polls the screen until `done` holds; panics with the screen after
    /// `timeout`.
    fn wait_for(&self, what: &str, timeout: Duration, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let screen = self.screen();
            if done(&screen) {
                return screen;
            }
            if Instant::now() > deadline {
                panic!(
                    "{}: timed out after {timeout:?} waiting for {what}; shell alive: {}; screen:\n{screen}",
                    self.sh.name(),
                    self.alive()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Checks that the screen stays as `check` wants for `period`.
    fn stays(&self, what: &str, period: Duration, check: impl Fn(&str) -> bool) {
        let end = Instant::now() + period;
        while Instant::now() < end {
            let screen = self.screen();
            assert!(
                check(&screen),
                "{}: {what}; screen:\n{screen}",
                self.sh.name()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Types prose and waits until it shows on the prompt line.
    fn type_prose(&self, prose: &str) {
        self.type_text(prose);
        self.wait_for("the typed prose", SHORT, |s| edit_line(s) == prose);
    }

    /// Presses the key and waits for the request to finish: the line changed
    /// or a progress note came and went. Returns the line.
    fn press_key(&self, before: &str) -> String {
        self.press("C-g");
        self.wait_for("the request to start", SHORT, |s| {
            busy(s) || edit_line(s) != before
        });
        let deadline = Instant::now() + MODEL_TIMEOUT;
        loop {
            // bash blanks the prompt line while a key binding runs, so
            // "not busy" alone can be the moment before the redraw: wait for
            // the prompt at the bottom and for the line to hold still.
            let screen = self.wait_for("the request to finish", MODEL_TIMEOUT, |s| {
                !busy(s) && prompt_at_bottom(s)
            });
            std::thread::sleep(Duration::from_millis(200));
            let again = self.screen();
            if !busy(&again) && prompt_at_bottom(&again) && edit_line(&again) == edit_line(&screen)
            {
                return edit_line(&again);
            }
            assert!(
                Instant::now() < deadline,
                "{}: the line never settled",
                self.sh.name()
            );
        }
    }

    /// Presses the key and expects a command on the line instead of `before`.
    fn complete(&self, before: &str) -> String {
        let line = self.press_key(before);
        assert!(
            !line.is_empty() && line != before,
            "{}: no command replaced {before:?}; screen:\n{}",
            self.sh.name(),
            self.screen()
        );
        line
    }

    /// Clears the line with Ctrl-C, runs `echo ok-N` and waits for its output.
    /// Empties the line with Ctrl-C and waits for the fresh prompt: keys
    /// typed while the shell still handles the interrupt can be lost.
    fn clear_line(&self) {
        let screen = self.screen();
        if edit_line(&screen).is_empty() && prompt_at_bottom(&screen) {
            return;
        }
        let before = prompt_lines(&screen);
        self.press("C-c");
        self.wait_for("a fresh empty prompt", SHORT, |s| {
            prompt_lines(s) > before && edit_line(s).is_empty() && prompt_at_bottom(s)
        });
    }

    /// Runs `echo ok-N` and waits for its output.
    fn prompt_still_works(&self) {
        assert!(self.alive(), "{}: shell died", self.sh.name());
        self.clear_line();
        let word = format!("ok-{}", COUNTER.fetch_add(1, Ordering::Relaxed));
        self.type_text(&format!("echo {word}"));
        self.press("Enter");
        self.wait_for(&format!("`{word}` printed"), SHORT, |s| {
            s.lines().any(|l| l.trim_end() == word)
        });
    }

    /// Presses `key`, waits for its error message and checks that the line still
    /// reads `line` and stays so; returns the screen with the message.
    fn fails_keeping_line(&self, key: &str, line: &str) -> String {
        self.press(key);
        // fish prints the message first and redraws the prompt under it after.
        let screen = self.wait_for("an error message", SHORT, |s| {
            has_message(s) && !busy(s) && prompt_at_bottom(s)
        });
        assert_eq!(edit_line(&screen), line, "{}: line lost", self.sh.name());
        self.stays("the line stays", Duration::from_millis(300), |s| {
            edit_line(s) == line
        });
        screen
    }

    fn marker(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn assert_nothing_ran(&self) {
        for name in ["prose-ran", "command-ran"] {
            assert!(
                !self.marker(name).exists(),
                "{}: something was executed ({name} exists)",
                self.sh.name()
            );
        }
    }
}

impl Drop for Term {
    fn drop(&mut self) {
        // Best effort: stop a daemon the widget may have started, with the
        // same environment, then the tmux server.
        let daemon_stop = Command::new(env!("CARGO_BIN_EXE_caro"))
            .args(["daemon", "stop"])
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        if let Ok(mut child) = daemon_stop {
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = self
            .tmux()
            .arg("kill-server")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if let Some(path) = &self.socket_path {
            let _ = fs::remove_file(path);
        }
    }
}

fn set_private(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).expect("chmod runtime dir");
}

/// Single-quoted for sh, zsh, bash; fish reads it the same way as long as
/// there is no backslash or quote, which temp paths do not have.
fn sq(s: &str) -> String {
    assert!(!s.contains(['\'', '\\']), "unexpected quote in {s:?}");
    format!("'{s}'")
}

fn sq_path(p: &Path) -> String {
    sq(p.to_str().expect("temp paths are UTF-8"))
}

/// What is typed on the (last) prompt line. tmux drops trailing blanks, so
/// an empty prompt reads "PROMPT>".
fn edit_line(screen: &str) -> String {
    let mark = PROMPT.trim_end();
    let line = screen
        .lines()
        .rev()
        .find(|l| l.starts_with(mark))
        .unwrap_or_default();
    let rest = &line[line.len().min(mark.len())..];
    rest.strip_prefix(' ').unwrap_or(rest).trim_end().to_owned()
}

fn prompt_lines(screen: &str) -> usize {
    let mark = PROMPT.trim_end();
    screen.lines().filter(|l| l.starts_with(mark)).count()
}

/// Whether the prompt line is the last thing on screen, apart from a
/// message under it (zsh shows messages below the line).
fn prompt_at_bottom(screen: &str) -> bool {
    let mark = PROMPT.trim_end();
    screen
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty() && !l.starts_with("caro:"))
        .is_some_and(|l| l.starts_with(mark))
}

/// `ls` flags that list hidden files: -a, -la, -A, --all, --almost-all.
fn lists_hidden(line: &str) -> bool {
    line.split_whitespace().any(|w| {
        matches!(w, "--all" | "--almost-all")
            || (w.starts_with('-') && !w.starts_with("--") && w.contains(['a', 'A']))
    })
}

/// Whether a progress note (ours or the client's) is on screen.
fn busy(screen: &str) -> bool {
    screen.contains("caro: thinking") || screen.contains("caro: loading")
}

/// A `caro:` line other than a progress note.
fn has_message(screen: &str) -> bool {
    screen
        .lines()
        .any(|l| l.trim_start().starts_with("caro:") && !busy(l))
}

fn model_guard() -> std::sync::MutexGuard<'static, ()> {
    MODEL_LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

// --- the tests, each run for every shell -------------------------------------

/// Ctrl-G turns the prose into `ls -a...`, and neither the prose nor the
/// command runs.
fn check_real_model_replaces_line(sh: Sh) {
    let Some(_) = real_model() else { return };
    let _guard = model_guard();
    let Some(t) = Term::start(Setup {
        sh,
        model: Model::Real,
        vi: false,
    }) else {
        return;
    };
    t.type_prose(PROSE);
    let line = t.complete(PROSE);
    assert!(
        line.starts_with("ls") && lists_hidden(&line),
        "{sh:?}: {line:?}"
    );
    t.stays("nothing runs", Duration::from_millis(500), |s| {
        edit_line(s) == line
    });
    t.assert_nothing_ran();

    // The markers work: running the prose for real does create them.
    t.clear_line();
    t.type_text("list x");
    t.press("Enter");
    let deadline = Instant::now() + SHORT;
    while !(t.marker("prose-ran").exists() && t.marker("command-ran").exists()) {
        assert!(Instant::now() < deadline, "{sh:?}: markers never appeared");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// With no model, the prose stays, one message shows, the prompt works.
fn check_error_keeps_line(sh: Sh, vi: bool) {
    let Some(t) = Term::start(Setup {
        sh,
        model: Model::Missing,
        vi,
    }) else {
        return;
    };
    let prose = "show disk usage of this folder";
    t.type_prose(prose);
    let screen = t.fails_keeping_line("C-g", prose);
    let messages = screen.lines().filter(|l| l.starts_with("caro:")).count();
    assert_eq!(messages, 1, "{sh:?}: one message expected:\n{screen}");
    t.assert_nothing_ran();
    t.prompt_still_works();
}

/// Ctrl-C while the model loads cancels: prose stays, no message.
fn check_cancel_keeps_line(sh: Sh) {
    let Some(_) = real_model() else { return };
    let _guard = model_guard();
    let Some(t) = Term::start(Setup {
        sh,
        model: Model::Real,
        vi: false,
    }) else {
        return;
    };
    let prose = "find files larger than 10 megabytes";
    t.type_prose(prose);
    t.press("C-g");
    t.wait_for("the progress note", SHORT, busy);
    // The client switches the tty to raw mode right after it starts; a
    // Ctrl-C before that is ignored rather than lost, so give it a moment.
    std::thread::sleep(Duration::from_millis(400));
    t.press("C-c");
    let screen = t.wait_for("the prose back, not busy", SHORT, |s| {
        !busy(s) && edit_line(s) == prose
    });
    assert!(
        !has_message(&screen) || screen.contains("caro: cancelled"),
        "{sh:?}:\n{screen}"
    );
    t.stays("prose stays", Duration::from_secs(1), |s| {
        edit_line(s) == prose
    });
    t.assert_nothing_ran();
    t.prompt_still_works();
}

/// Undo brings the prose back; the key again gives another command.
fn check_undo_and_alternative(sh: Sh) {
    let Some(_) = real_model() else { return };
    let _guard = model_guard();
    let Some(t) = Term::start(Setup {
        sh,
        model: Model::Real,
        vi: false,
    }) else {
        return;
    };
    // A request with more than one good answer: for "list all files ..."
    // the model knows little besides `ls -a`.
    let prose = "show the 5 largest files in this directory";
    t.type_prose(prose);
    let first = t.complete(prose);

    t.press(sh.undo_key());
    t.wait_for("the prose after undo", SHORT, |s| edit_line(s) == prose);

    let again = t.complete(prose);
    let other = t.press_key(&again);
    assert!(
        !other.is_empty(),
        "{sh:?}: the alternative left an empty line"
    );
    assert_ne!(other, again, "{sh:?}: the alternative must differ");
    assert!(!first.is_empty());

    if sh != Sh::Zsh {
        // The saved original comes back even after alternatives.
        t.press(sh.undo_key());
        t.wait_for("the prose after undo", SHORT, |s| edit_line(s) == prose);
    }
    t.assert_nothing_ran();
}

/// The whole line is the request wherever the cursor is: moved back into
/// the middle (a typo fixed) or to the start, the key translates all of it.
fn check_cursor_anywhere_takes_the_whole_line(sh: Sh) {
    let Some(_) = real_model() else { return };
    let _guard = model_guard();
    let Some(t) = Term::start(Setup {
        sh,
        model: Model::Real,
        vi: false,
    }) else {
        return;
    };
    t.type_prose(PROSE);
    // Into "hidden": the words before the cursor alone would ask for less.
    for _ in 0..8 {
        t.press("Left");
    }
    let line = t.complete(PROSE);
    assert!(
        line.starts_with("ls") && lists_hidden(&line),
        "{sh:?} (cursor mid-line): {line:?}"
    );

    t.press(sh.undo_key());
    t.wait_for("the prose after undo", SHORT, |s| edit_line(s) == PROSE);
    t.press("C-a");
    let again = t.complete(PROSE);
    assert_eq!(
        again, line,
        "{sh:?}: the cursor at the start changes nothing"
    );
    t.assert_nothing_ran();
}

/// Ctrl-G on an empty line does what it did before: no caro, shell fine.
fn check_empty_line_keeps_old_meaning(sh: Sh) {
    let Some(t) = Term::start(Setup {
        sh,
        model: Model::Missing,
        vi: false,
    }) else {
        return;
    };
    t.press("C-g");
    t.stays("no caro message", Duration::from_millis(700), |s| {
        !has_message(s) && !busy(s)
    });
    t.prompt_still_works();
}

/// Vi insert mode: the key works there too (error path without a model,
/// success with it), and in zsh also in command mode.
fn check_vi_mode(sh: Sh) {
    check_error_keeps_line(sh, true);

    let Some(_) = real_model() else { return };
    let _guard = model_guard();
    let Some(t) = Term::start(Setup {
        sh,
        model: Model::Real,
        vi: true,
    }) else {
        return;
    };
    t.type_prose(PROSE);
    let line = t.complete(PROSE);
    assert!(line.starts_with("ls"), "{sh:?}: {line:?}");
    if sh == Sh::Zsh {
        // zsh's undo in vi mode is `u` in command mode; the key works there
        // as well.
        t.press("Escape");
        std::thread::sleep(Duration::from_millis(300));
        t.press("u");
        t.wait_for("the prose after undo", SHORT, |s| edit_line(s) == PROSE);
        let line = t.complete(PROSE);
        assert!(line.starts_with("ls"), "{sh:?} (vicmd): {line:?}");
    } else {
        t.press(sh.undo_key());
        t.wait_for("the prose after undo", SHORT, |s| edit_line(s) == PROSE);
    }
    t.assert_nothing_ran();
}

/// "# prose" is prose: the marker is dropped.
fn check_comment_marker_is_prose(sh: Sh) {
    let Some(_) = real_model() else { return };
    let _guard = model_guard();
    let Some(t) = Term::start(Setup {
        sh,
        model: Model::Real,
        vi: false,
    }) else {
        return;
    };
    let typed = format!("# {PROSE}");
    t.type_prose(&typed);
    let line = t.complete(&typed);
    assert!(line.starts_with("ls"), "{sh:?}: {line:?}");
}

/// On an empty line right after a failed command the key puts the command,
/// fixed, on the line; it then runs with exit 0. After a success the empty
/// line keeps the key's old meaning.
fn check_fix_after_failure(sh: Sh) {
    let Some((_guard, t)) = real_model_term(sh) else {
        return;
    };
    t.type_text("ls --nosuchflag");
    t.press("Enter");
    t.wait_for("ls to fail", SHORT, |s| {
        s.contains("unrecognized option") && edit_line(s).is_empty() && prompt_at_bottom(s)
    });
    let line = t.complete("");
    assert!(
        line.starts_with("ls") && !line.contains("nosuchflag"),
        "{sh:?}: not a fix of `ls --nosuchflag`: {line:?}"
    );
    t.press("Enter");
    let status = match sh {
        Sh::Fish => "echo rc=$status",
        Sh::Zsh | Sh::Bash => "echo rc=$?",
    };
    t.wait_for("the fixed command to run", SHORT, |s| {
        edit_line(s).is_empty() && prompt_at_bottom(s)
    });
    t.type_text(status);
    t.press("Enter");
    t.wait_for("its exit status", SHORT, |s| {
        s.lines().any(|l| l.trim_end() == "rc=0")
    });

    // Now the last command succeeded: an empty line is not a request.
    t.wait_for("a fresh prompt", SHORT, |s| {
        edit_line(s).is_empty() && prompt_at_bottom(s)
    });
    t.press("C-g");
    t.stays(
        "no request after a success",
        Duration::from_millis(500),
        |s| !busy(s) && !has_message(s) && edit_line(s).is_empty(),
    );
    t.prompt_still_works();
}

/// Standing instructions in instructions.md change the answer: "always use rg"
/// turns a text search into rg. Written after the shell started: the daemon reads
/// the file again before each request.
fn check_instructions_change_the_answer(sh: Sh) {
    let Some((_guard, t)) = real_model_term(sh) else {
        return;
    };
    let dir = t.dir.path().join("config/caro");
    fs::create_dir_all(&dir).expect("config dir");
    fs::write(
        dir.join("instructions.md"),
        "Always use rg (ripgrep) instead of grep.\n",
    )
    .expect("write instructions");
    let prose = "search for TODO in all rust files";
    t.type_prose(prose);
    let line = t.complete(prose);
    assert!(line.starts_with("rg "), "{sh:?}: not rg: {line:?}");
    t.assert_nothing_ran();
}

/// The explain key (Alt-I) shows what each option does and leaves the line as
/// typed; nothing on it runs and no model is asked (there is none).
fn check_explain_keeps_line(sh: Sh) {
    let Some(t) = Term::start(Setup {
        sh,
        model: Model::Missing,
        vi: false,
    }) else {
        return;
    };
    let typed = "tar -xzvf a.tgz -C /tmp";
    t.type_prose(typed);
    t.press("M-i");
    let screen = t.wait_for("the explanation", SHORT, |s| {
        s.contains("tar: Archiving utility.")
            && s.lines().any(|l| l.trim_start().starts_with("-C /tmp"))
    });
    for option in ["-x ", "-z ", "-v ", "-f a.tgz ", "-C /tmp "] {
        let gloss = screen
            .lines()
            .find(|l| l.trim_start().starts_with(option))
            .map(|l| l.trim_start()[option.len()..].trim().to_owned());
        assert!(
            gloss
                .as_deref()
                .is_some_and(|g| !g.is_empty() && g != "(not in its manual)"),
            "{sh:?}: no gloss for {option:?}:\n{screen}"
        );
    }
    let screen = t.wait_for("the prompt back", SHORT, |s| edit_line(s) == typed);
    assert!(
        !has_message(&screen),
        "{sh:?}: no error expected:\n{screen}"
    );
    t.stays("the line stays", Duration::from_millis(300), |s| {
        edit_line(s) == typed
    });
    assert!(!t.dir.path().join("home/a.tgz").exists());
    t.assert_nothing_ran();
    t.prompt_still_works();
}

/// A shell with the real model behind its widget, holding the model lock; `None`
/// (with a message) when the model, tmux or the shell is missing.
fn real_model_term(sh: Sh) -> Option<(std::sync::MutexGuard<'static, ()>, Term)> {
    real_model()?;
    let guard = model_guard();
    let setup = Setup {
        sh,
        model: Model::Real,
        vi: false,
    };
    Term::start(setup).map(|t| (guard, t))
}

/// More words typed after caro's answer refine it: "only the ones over 1 MB" adds a
/// size test to a `find`. Undo goes back to the line before the refinement.
fn check_refine_adds_to_the_answer(sh: Sh) {
    let Some((_guard, t)) = real_model_term(sh) else {
        return;
    };
    let prose = "find all log files under this directory";
    t.type_prose(prose);
    let first = t.complete(prose);
    assert!(first.starts_with("find "), "{sh:?}: {first:?}");
    assert!(!first.contains("-size"), "{sh:?}: {first:?}");
    let extra = " only the ones over 1 MB";
    t.type_text(extra);
    let typed = format!("{first}{extra}");
    t.wait_for("the extra words", SHORT, |s| edit_line(s) == typed);
    let refined = t.complete(&typed);
    assert!(
        refined.starts_with("find ") && refined.contains("-size +1M"),
        "{sh:?}: not refined with a size test: {refined:?}"
    );
    t.press(sh.undo_key());
    t.wait_for("the line before refining, after undo", SHORT, |s| {
        edit_line(s) == typed
    });
    t.assert_nothing_ran();
}

/// The pick key lists the answer and its alternatives, numbered, under the prompt;
/// a digit puts that one on the line, Esc leaves the line as it was.
fn check_pick_with_a_digit(sh: Sh) {
    let Some((_guard, t)) = real_model_term(sh) else {
        return;
    };
    let prose = "show the 5 largest files in this directory";
    t.type_prose(prose);
    let list = |t: &Term| {
        t.press("M-m");
        let screen = t.wait_for("the numbered answers", MODEL_TIMEOUT, |s| {
            s.contains("puts that one on the line")
        });
        let items: Vec<String> = screen
            .lines()
            .filter_map(|l| {
                let (n, rest) = l.split_once("  ")?;
                n.parse::<u32>().ok().map(|_| rest.to_owned())
            })
            .collect();
        assert!(
            items.len() >= 2,
            "{sh:?}: fewer than two answers:\n{screen}"
        );
        items
    };
    // Esc first: nothing changes.
    list(&t);
    t.press("Escape");
    t.wait_for("the list gone, the line kept", SHORT, |s| {
        !s.contains("puts that one on the line") && edit_line(s) == prose
    });
    let items = list(&t);
    t.type_text("2");
    let second = items[1].split("  (").next().unwrap_or_default().to_owned();
    t.wait_for("the second answer on the line", SHORT, |s| {
        !s.contains("puts that one on the line") && edit_line(s) == second
    });
    t.assert_nothing_ran();
    t.prompt_still_works();
}

/// With `history = 5` the last commands go with the request: "the file I just
/// created" is the one `touch` made. Without it, the model cannot know the name. The
/// words typed are kept in the shell's history (Up finds them) unless `keep_prose =
/// false`.
fn check_history_on_and_off(sh: Sh) {
    let Some(_) = real_model() else { return };
    let _guard = model_guard();
    for on in [true, false] {
        let config = if on {
            "history = 5\n"
        } else {
            "keep_prose = false\n"
        };
        let setup = Setup {
            sh,
            model: Model::Real,
            vi: false,
        };
        let Some(t) = Term::start_with(setup, config) else {
            return;
        };
        t.type_text("touch notes-7781.txt");
        t.press("Enter");
        t.wait_for("touch to run", SHORT, |s| {
            edit_line(s).is_empty() && prompt_at_bottom(s) && prompt_lines(s) >= 2
        });
        let prose = "count the lines of the file I just created";
        t.type_prose(prose);
        let line = t.complete(prose);
        assert_eq!(
            line.contains("notes-7781.txt"),
            on,
            "{sh:?}: history {}: {line:?}",
            if on { "on" } else { "off" }
        );
        t.clear_line();
        if sh == Sh::Fish && fish_major() < 4 {
            println!(
                "fish {}: no `history append`, the words are not kept",
                fish_major()
            );
            continue;
        }
        t.press("Up");
        let want = if on { prose } else { "touch notes-7781.txt" };
        t.wait_for("the last history entry", SHORT, |s| edit_line(s) == want);
        t.clear_line();
    }
}

/// With no model, the pick key and the fix key fail with one message each and leave
/// the line as it was: the prose, and the empty line after a failure.
fn check_pick_and_fix_errors_keep_the_line(sh: Sh) {
    let Some(t) = Term::start(Setup {
        sh,
        model: Model::Missing,
        vi: false,
    }) else {
        return;
    };
    let prose = "show disk usage of this folder";
    t.type_prose(prose);
    t.fails_keeping_line("M-m", prose);
    t.clear_line();

    t.type_text("ls --nosuchflag");
    t.press("Enter");
    t.wait_for("ls to fail", SHORT, |s| {
        s.contains("unrecognized option") && edit_line(s).is_empty() && prompt_at_bottom(s)
    });
    let before = t
        .screen()
        .lines()
        .filter(|l| l.starts_with("caro:"))
        .count();
    t.press("C-g");
    let screen = t.wait_for("an error message", SHORT, |s| {
        s.lines().filter(|l| l.starts_with("caro:")).count() > before
            && !busy(s)
            && prompt_at_bottom(s)
    });
    assert_eq!(edit_line(&screen), "", "{sh:?}: the empty line changed");
    assert!(!t.marker("prose-ran").exists(), "{sh:?}: the prose ran");
    t.prompt_still_works();
}

/// Cancelling a refinement (Ctrl-C while it runs) leaves the answer and the extra
/// words on the line as typed.
fn check_refine_cancel_keeps_the_line(sh: Sh) {
    let Some((_guard, t)) = real_model_term(sh) else {
        return;
    };
    let prose = "find all log files under this directory";
    t.type_prose(prose);
    let first = t.complete(prose);
    let typed = format!("{first} only the ones modified today");
    t.type_text(" only the ones modified today");
    t.wait_for("the extra words", SHORT, |s| edit_line(s) == typed);
    t.press("C-g");
    t.wait_for("the progress note", SHORT, busy);
    std::thread::sleep(Duration::from_millis(400));
    t.press("C-c");
    t.wait_for("the line back, not busy", SHORT, |s| {
        !busy(s) && edit_line(s) == typed
    });
    t.stays("the line stays", Duration::from_secs(1), |s| {
        edit_line(s) == typed
    });
    t.assert_nothing_ran();
}

/// fish's major version (0 when it cannot be read).
fn fish_major() -> u32 {
    Command::new("fish")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            let v = String::from_utf8_lossy(&o.stdout).into_owned();
            v.rsplit(' ').next()?.split('.').next()?.trim().parse().ok()
        })
        .unwrap_or(0)
}

/// A request whose answer is dangerous (`setenforce 0`): the widget prints its warning
/// line under the prompt, and `caro check` on the same line exits 10 (issue 15).
fn check_dangerous_answer_warns(sh: Sh) {
    let Some((_guard, t)) = real_model_term(sh) else {
        return;
    };
    let prose = "turn off selinux enforcement";
    t.type_prose(prose);
    let line = t.complete(prose);
    let screen = t.screen();
    assert!(
        screen
            .lines()
            .any(|l| l.trim_start().starts_with("caro: dangerous:")),
        "{sh:?}: no warning line for {line:?}:\n{screen}"
    );
    t.assert_nothing_ran();
    let status = Command::new(env!("CARGO_BIN_EXE_caro"))
        .args(["check", "--", &line])
        .stdout(Stdio::null())
        .status()
        .expect("run caro check");
    assert_eq!(status.code(), Some(10), "{sh:?}: caro check {line:?}");
}

macro_rules! per_shell {
    ($($name:ident => $body:expr;)*) => {
        mod zsh {
            use super::*;
            $(#[test] fn $name() { let f: fn(Sh) = $body; f(Sh::Zsh) })*
        }
        mod bash {
            use super::*;
            $(#[test] fn $name() { let f: fn(Sh) = $body; f(Sh::Bash) })*
        }
        mod fish {
            use super::*;
            $(#[test] fn $name() { let f: fn(Sh) = $body; f(Sh::Fish) })*
        }
    };
}

per_shell! {
    real_model_replaces_line => check_real_model_replaces_line;
    error_keeps_line => |sh| check_error_keeps_line(sh, false);
    cancel_keeps_line => check_cancel_keeps_line;
    undo_and_alternative => check_undo_and_alternative;
    empty_line_keeps_old_meaning => check_empty_line_keeps_old_meaning;
    cursor_anywhere_takes_the_whole_line => check_cursor_anywhere_takes_the_whole_line;
    vi_mode => check_vi_mode;
    comment_marker_is_prose => check_comment_marker_is_prose;
    explain_keeps_line => check_explain_keeps_line;
    fix_after_failure => check_fix_after_failure;
    instructions_change_the_answer => check_instructions_change_the_answer;
    dangerous_answer_warns => check_dangerous_answer_warns;
    refine_adds_to_the_answer => check_refine_adds_to_the_answer;
    pick_with_a_digit => check_pick_with_a_digit;
    history_on_and_off => check_history_on_and_off;
    pick_and_fix_errors_keep_the_line => check_pick_and_fix_errors_keep_the_line;
    refine_cancel_keeps_the_line => check_refine_cancel_keeps_the_line;
}
