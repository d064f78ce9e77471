//! Classifies a path argument by what it would touch.
//!
//! The same verb is harmless or catastrophic depending on its target, so every rule
//! that deletes, overwrites or re-permissions asks this module first.

use super::args::{Arg, HOME, OPAQUE, UNKNOWN, show};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// `/` itself or everything directly under it.
    Root,
    /// Your own home directory.
    Home,
    /// Someone's home directory (`/home/bob`, `/root`'s siblings).
    UsersHome,
    /// A well-known system directory (`/usr`, `/etc`, `/var/log`, `/home`).
    SystemDir,
    /// Any other top-level directory (`/data`): unknown, but rarely scratch space.
    TopLevel,
    /// A file inside a directory the system needs (`/etc/passwd`, `/usr/bin/ls`).
    SystemFile,
    /// A disk or other raw device (`/dev/sda`, `/dev/nvme0n1`).
    Device,
    /// A harmless pseudo-device (`/dev/null`, `/dev/stderr`).
    Sink,
    History,
    /// `..` chains that climb out of the project (`..`, `../..`, `../../../x`).
    ParentEscape,
    /// The whole current directory (`.`, `*`, `./*`).
    Everything,
    Git,
    /// Keys and saved logins (`~/.ssh`, `~/.gnupg`, `~/.aws`, a private key file): they
    /// cannot be rebuilt, and exposing them hands over the accounts they open.
    Credentials,
    /// The system's logs as a whole (`/var/log`, `/var/log/*.log`, the journal) or its
    /// login audit trail (`auth.log`, `wtmp`): records nobody can recreate.
    Logs,
    /// Physical memory and I/O ports (`/dev/mem`, `/dev/port`, `/proc/kcore`): reading
    /// them exposes every secret in memory, writing them crashes the machine.
    KernelMemory,
    /// Held in a variable we cannot see.
    Variable,
    Ordinary,
}

impl Scope {
    /// Targets whose loss is catastrophic; used to decide whether an empty variable
    /// could turn an ordinary command into a disaster.
    pub(crate) fn grave(self) -> bool {
        matches!(
            self,
            Scope::Root
                | Scope::Home
                | Scope::UsersHome
                | Scope::SystemDir
                | Scope::SystemFile
                | Scope::Device
                | Scope::History
                | Scope::ParentEscape
                | Scope::Everything
                | Scope::Credentials
                | Scope::Logs
                | Scope::KernelMemory
        )
    }
}

/// The coarse classes of docs/safety.md that a path falls in; reasons and the wide
/// rules (rewrites, truncation) speak in these terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// `/`, the operating system's directories and files, other users' homes.
    System,
    /// Your home directory, or everything in it.
    Home,
    /// Keys and saved logins.
    Credentials,
    /// The system logs and audit trail.
    Logs,
    /// Disks, memory and kernel interfaces.
    Device,
    /// Scratch space: `/tmp`, `/var/tmp`.
    Temporary,
    /// Anything else: the project you are in, a file you named.
    Project,
}

#[derive(Debug, Clone)]
pub(crate) struct PathInfo {
    pub(crate) scope: Scope,
    /// The last component was a glob matching everything (`/*`, `~/.*`).
    pub(crate) glob: bool,
    /// The grave scope only arises when a variable expands to nothing.
    pub(crate) if_empty: bool,
    pub(crate) shown: String,
    pub(crate) var: Option<String>,
    /// Absolute, normalised form when known (for exact-file checks such as /etc/passwd).
    pub(crate) abs: Option<String>,
    /// The last component is a pattern (`*.conf`), so the path may name many files.
    pub(crate) pattern: bool,
    /// What kind of credential, for reasons ("your SSH keys").
    pub(crate) label: Option<&'static str>,
    /// The words a stand-in argument carries ("every file under / older than 1 day").
    pub(crate) about: Option<String>,
    /// Rebuilt or thrown away by design: build output, caches, litter, a project's own
    /// logs, scratch files. Deleting or emptying it is routine (see docs/safety.md, S1).
    pub(crate) disposable: bool,
}

impl PathInfo {
    /// The target in words, for reasons.
    pub(crate) fn describe(&self) -> String {
        if let Some(about) = &self.about {
            return about.clone();
        }
        match self.scope {
            Scope::Root => "the entire filesystem".into(),
            Scope::Home if self.glob => "everything in your home directory".into(),
            Scope::Home => "your home directory".into(),
            Scope::UsersHome => format!("the home directory {}", self.shown),
            Scope::SystemDir => format!("system directory {}", self.shown),
            Scope::TopLevel => format!("top-level directory {}", self.shown),
            Scope::SystemFile => format!("system file {}", self.shown),
            Scope::Device => format!("device {}", self.shown),
            Scope::History => "your shell history".into(),
            Scope::ParentEscape => format!("parent directories ({})", self.shown),
            Scope::Everything => "everything in the current directory".into(),
            Scope::Git => "the repository's git history".into(),
            Scope::Credentials => {
                format!("{} ({})", self.label.unwrap_or("your keys"), self.shown)
            }
            Scope::Logs if self.glob || self.pattern || self.is_abs("/var/log") => {
                format!("the system logs ({})", self.shown)
            }
            Scope::Logs => format!("the system log {}", self.shown),
            Scope::KernelMemory => format!("kernel memory ({})", self.shown),
            Scope::Variable => match self.var.as_deref() {
                Some(var) if var != self.shown => self.shown.clone(),
                var => format!("whatever {} points to", var.unwrap_or("the variable")),
            },
            Scope::Sink | Scope::Ordinary => self.shown.clone(),
        }
    }

    /// Appends "if $X is empty" when the danger depends on an unset variable.
    pub(crate) fn qualify(&self, reason: String) -> String {
        if self.if_empty {
            format!(
                "{reason} if {} is empty",
                self.var.as_deref().unwrap_or("a variable")
            )
        } else {
            reason
        }
    }

    /// The class of docs/safety.md this path falls in.
    pub(crate) fn class(&self) -> Class {
        let under = |dir: &str| {
            self.abs
                .as_deref()
                .is_some_and(|a| a == dir || a.starts_with(&format!("{dir}/")))
        };
        match self.scope {
            Scope::Credentials => Class::Credentials,
            Scope::Logs => Class::Logs,
            Scope::Device | Scope::KernelMemory => Class::Device,
            Scope::Home | Scope::History => Class::Home,
            _ if under("/tmp") || under("/var/tmp") => Class::Temporary,
            Scope::Root
            | Scope::UsersHome
            | Scope::SystemDir
            | Scope::SystemFile
            | Scope::TopLevel => Class::System,
            _ if under(&format!("/home/{HOME}")) => Class::Home,
            _ => Class::Project,
        }
    }

    /// S2 of docs/safety.md: in the project you are in (or a subdirectory of your home)
    /// or in a scratch directory, where copying, moving, writing and editing files is
    /// routine. A variable's value counts when what is known of the path is ordinary.
    pub(crate) fn routine_place(&self) -> bool {
        if self.class() == Class::Temporary {
            return !self.glob;
        }
        let ordinary = matches!(
            self.scope,
            Scope::Ordinary | Scope::Everything | Scope::Sink | Scope::Variable
        ) && !self.if_empty;
        // Yours: relative to where you are (not climbing out), or under your home.
        let home = format!("/home/{HOME}/");
        let yours = match self.abs.as_deref() {
            Some(abs) if abs.starts_with('/') && !abs.starts_with(&home) => {
                self.scope == Scope::Sink
            }
            _ => !self.shown.starts_with(".."),
        };
        ordinary && yours
    }

    /// Many files at once: a glob, a pattern, or a stand-in for what `find` matched.
    pub(crate) fn many(&self) -> bool {
        self.glob || self.pattern || self.about.is_some()
    }

    pub(crate) fn is_abs(&self, path: &str) -> bool {
        self.abs.as_deref() == Some(path)
    }

    /// A config drop-in (`/etc/apt/sources.list.d/x.list`): adding one is routine,
    /// unlike overwriting a main system file.
    pub(crate) fn is_dropin(&self) -> bool {
        let Some(abs) = &self.abs else { return false };
        let mut comps = abs.rsplit('/');
        comps.next();
        comps.next().is_some_and(|parent| parent.ends_with(".d"))
    }

    /// Files whose loss or replacement locks everyone out of the machine.
    pub(crate) fn is_vital(&self) -> bool {
        const VITAL: &[&str] = &[
            "/etc/passwd",
            "/etc/shadow",
            "/etc/group",
            "/etc/gshadow",
            "/etc/sudoers",
            "/etc/fstab",
        ];
        VITAL.iter().any(|v| self.is_abs(v))
    }
}

const HISTORY_FILES: &[&str] = &[
    ".bash_history",
    ".zsh_history",
    ".zhistory",
    ".history",
    ".sh_history",
    ".ksh_history",
    "fish_history",
    ".histfile",
];

const KNOWN_TOP: &[&str] = &[
    "bin",
    "boot",
    "dev",
    "efi",
    "etc",
    "home",
    "lib",
    "lib32",
    "lib64",
    "libx32",
    "media",
    "mnt",
    "nix",
    "opt",
    "proc",
    "root",
    "run",
    "sbin",
    "snap",
    "srv",
    "sys",
    "tmp",
    "usr",
    "var",
    "Applications",
    "Library",
    "System",
    "Users",
    "Volumes",
    "private",
    "cores",
];

/// Everything inside these belongs to the operating system.
const CRITICAL_TOP: &[&str] = &[
    "etc", "boot", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "System",
];

const USR_LOCAL_DIRS: &[&str] = &["bin", "sbin", "lib", "lib64", "share", "include", "etc"];

const SINKS: &[&str] = &[
    "null",
    "zero",
    "full",
    "random",
    "urandom",
    "stdin",
    "stdout",
    "stderr",
    "tty",
    "console",
    "ptmx",
    "fd",
    "pts",
    "shm",
    "mqueue",
    "hugepages",
    "kmsg",
    "log",
];

pub(crate) fn classify(arg: &Arg<'_>, cwd: Option<&str>) -> PathInfo {
    let text = arg.text.as_str();
    let var = arg.var.clone();
    if text.contains(UNKNOWN) {
        let empty: String = text.chars().filter(|&c| c != UNKNOWN).collect();
        if !empty.is_empty() {
            let info = classify_known(&empty, cwd, var.clone());
            if info.scope.grave() {
                return PathInfo {
                    if_empty: true,
                    ..info
                };
            }
        }
    }
    let filled = text.replace([UNKNOWN, OPAQUE], "x");
    let mut info = classify_known(&filled, cwd, var);
    info.about.clone_from(&arg.about);
    if filled != text {
        info.shown = arg.shown();
        if info.scope == Scope::Ordinary {
            info.scope = Scope::Variable;
        }
    }
    info.disposable = info.scope == Scope::Ordinary
        && (arg.disposable || (arg.about.is_none() && disposable_path(&info)));
    info
}

/// Implements S1 of docs/safety.md for a path as typed: in a scratch directory, in your
/// cache, or named as build output, a cache, litter, or a log of the project.
fn disposable_path(info: &PathInfo) -> bool {
    let abs = info.abs.as_deref().unwrap_or_default();
    let cache = format!("/home/{HOME}/.cache/");
    if info.class() == Class::Temporary {
        // Everything in a scratch directory is other programs' sockets and locks too.
        return !info.glob;
    }
    if abs.starts_with(&cache) {
        return true;
    }
    // `dist/*` is as disposable as `dist`.
    let shown = info.shown.trim_end_matches('/');
    let shown = if info.glob {
        shown.rsplit_once('/').map_or("", |(dir, _)| dir)
    } else {
        shown
    };
    let last = shown.rsplit('/').next().unwrap_or_default();
    // Build output and logs count in the project you are in (or under your home), not
    // in a parent's or in the system's directories.
    let inside = !shown.starts_with("..")
        && (!shown.starts_with('/') || abs.starts_with(&format!("/home/{HOME}/")));
    is_junk(last)
        || (inside
            && matches!(info.class(), Class::Project | Class::Home)
            && (is_build_output(last) || is_log_name(last)))
}

/// Names of files that are rebuilt or thrown away routinely: caches, editor and OS
/// litter, core dumps. `find -name` patterns (`*.pyc`) and plain names (`a.pyc`) alike.
pub(crate) fn is_junk(name: &str) -> bool {
    const NAMES: &[&str] = &[
        ".DS_Store",
        "Thumbs.db",
        "desktop.ini",
        "core",
        "__pycache__",
        "node_modules",
        ".pytest_cache",
        ".mypy_cache",
        ".ruff_cache",
        ".cache",
        "*~",
        ".#*",
    ];
    const EXTENSIONS: &[&str] = &[
        "pyc",
        "pyo",
        "o",
        "obj",
        "class",
        "tmp",
        "temp",
        "bak",
        "old",
        "swp",
        "swo",
        "orig",
        "rej",
        "part",
        "crdownload",
        "cache",
        "dSYM",
    ];
    NAMES.contains(&name)
        || name.starts_with("core.")
        || name.starts_with("tmp")
        || (name.len() > 1 && name.ends_with('~'))
        || name
            .rsplit_once('.')
            .is_some_and(|(stem, ext)| !stem.is_empty() && EXTENSIONS.contains(&ext))
}

/// A project's build output, rebuilt by its build: only inside the project.
fn is_build_output(name: &str) -> bool {
    const NAMES: &[&str] = &[
        "build",
        "dist",
        "target",
        "out",
        "_build",
        ".next",
        ".nuxt",
        ".parcel-cache",
        ".gradle",
        ".tox",
        ".nox",
        "coverage",
        "htmlcov",
        ".coverage",
        ".eggs",
        ".terraform",
        "obj",
    ];
    NAMES.contains(&name) || name.ends_with(".egg-info") || name.starts_with("cmake-build-")
}

/// A log file (`app.log`, `*.log`, `debug.log.1`): a project's own logs are written
/// again as it runs. The system's logs are `Scope::Logs`, never this.
pub(crate) fn is_log_name(name: &str) -> bool {
    name.ends_with(".log") || name.contains(".log.")
}

fn classify_known(text: &str, cwd: Option<&str>, var: Option<String>) -> PathInfo {
    let joined;
    let text = match cwd {
        Some(cwd) if !text.starts_with(['/', HOME]) => {
            joined = format!("{cwd}/{text}");
            joined.as_str()
        }
        _ => text,
    };
    if let Some(rest) = text.strip_prefix(HOME) {
        classify_abs(&format!("/home/{HOME}{rest}"), var)
    } else if text.starts_with('/') {
        classify_abs(text, var)
    } else {
        classify_relative(text, var)
    }
}

fn is_wipe_glob(comp: &str) -> bool {
    comp.contains('*') && comp.chars().all(|c| "*.?[]!^{},".contains(c))
}

fn info(
    scope: Scope,
    glob: bool,
    shown: String,
    var: Option<String>,
    abs: Option<String>,
) -> PathInfo {
    PathInfo {
        scope,
        glob,
        if_empty: false,
        shown,
        var,
        abs,
        pattern: false,
        label: None,
        about: None,
        disposable: false,
    }
}

fn has_glob(comp: &str) -> bool {
    comp.contains(['*', '?', '['])
}

fn classify_relative(text: &str, var: Option<String>) -> PathInfo {
    let mut stack: Vec<&str> = Vec::new();
    for comp in text.split('/').filter(|c| !c.is_empty() && *c != ".") {
        if comp == ".." && stack.last().is_some_and(|l| *l != "..") {
            stack.pop();
        } else {
            stack.push(comp);
        }
    }
    let shown = show(text, var.as_deref());
    let (dir, glob) = match stack.split_last() {
        Some((last, dir)) if is_wipe_glob(last) => (dir, true),
        _ => (stack.as_slice(), false),
    };
    let ups = dir.iter().take_while(|c| **c == "..").count();
    let scope = if stack.last().is_some_and(|l| is_private_key(l)) {
        Scope::Credentials
    } else if dir.is_empty() {
        Scope::Everything
    } else if ups == dir.len() || ups >= 3 {
        Scope::ParentEscape
    } else {
        match stack.last() {
            Some(last) if HISTORY_FILES.contains(last) => Scope::History,
            Some(&".git") => Scope::Git,
            _ => Scope::Ordinary,
        }
    };
    let mut found = info(scope, glob, shown, var, None);
    found.pattern = stack.last().is_some_and(|l| has_glob(l));
    if scope == Scope::Credentials {
        found.label = Some("a private key");
    }
    found
}

fn classify_abs(abs: &str, var: Option<String>) -> PathInfo {
    let mut comps: Vec<&str> = Vec::new();
    for comp in abs.split('/').filter(|c| !c.is_empty() && *c != ".") {
        if comp == ".." {
            comps.pop();
        } else {
            comps.push(comp);
        }
    }
    let normal = format!("/{}", comps.join("/"));
    let home_prefix = format!("/home/{HOME}");
    let shown = match normal.strip_prefix(&home_prefix) {
        Some(rest) => format!("~{rest}"),
        None => normal.clone(),
    };
    let (dir, glob) = match comps.split_last() {
        Some((last, dir)) if is_wipe_glob(last) => (dir, true),
        _ => (comps.as_slice(), false),
    };
    // macOS keeps /etc and /var under /private.
    let dir = match dir {
        ["private", rest @ ..] if !rest.is_empty() => rest,
        _ => dir,
    };
    let is_history = !glob && comps.last().is_some_and(|l| HISTORY_FILES.contains(l));
    let special = special_scope(&comps);
    let scope = if is_history {
        Scope::History
    } else if let Some((scope, _)) = special {
        scope
    } else {
        abs_scope(dir, glob)
    };
    let mut found = info(scope, glob, shown, var, Some(normal));
    found.pattern = comps.last().is_some_and(|l| has_glob(l));
    found.label = special.and_then(|(_, label)| label);
    found
}

/// Login audit files: wiping one erases who logged in and when.
const AUDIT_LOGS: &[&str] = &[
    "auth.log",
    "secure",
    "wtmp",
    "btmp",
    "lastlog",
    "faillog",
    "audit.log",
];

/// Credentials, logs and kernel memory, which the directory layout alone misses.
fn special_scope(comps: &[&str]) -> Option<(Scope, Option<&'static str>)> {
    let home_rest = match comps {
        ["home" | "Users", _, rest @ ..] | ["root", rest @ ..] => Some(rest),
        _ => None,
    };
    if let Some(label) = home_rest.and_then(credential_in_home) {
        return Some((Scope::Credentials, Some(label)));
    }
    if comps.last().is_some_and(|l| is_private_key(l)) {
        return Some((Scope::Credentials, Some("a private key")));
    }
    let found = match comps {
        ["etc", "ssl", "private", ..] => (Scope::Credentials, Some("the machine's TLS keys")),
        ["etc", "ssh", name] if name.starts_with("ssh_host_") && !name.ends_with(".pub") => {
            (Scope::Credentials, Some("the machine's SSH host keys"))
        }
        ["var", "log"] | ["var", "log", "journal" | "audit", ..] => (Scope::Logs, None),
        ["var", "log", last] if has_glob(last) => (Scope::Logs, None),
        ["var", "log", .., last] if AUDIT_LOGS.contains(last) => (Scope::Logs, None),
        ["dev", "mem" | "kmem" | "port"] | ["proc", "kcore"] => (Scope::KernelMemory, None),
        _ => return None,
    };
    Some(found)
}

/// `id_rsa`, `id_ed25519`, `id_ecdsa_sk`, `server.key`, but not the public halves
/// (`id_rsa.pub`).
fn is_private_key(name: &str) -> bool {
    // A backup copy (`id_rsa.bak`) is not the key in use.
    if [".bak", ".old", ".orig", "~"]
        .iter()
        .any(|s| name.ends_with(s))
    {
        return false;
    }
    if name.ends_with(".key") {
        return true;
    }
    let Some(kind) = name.strip_prefix("id_") else {
        return false;
    };
    ["rsa", "dsa", "ecdsa", "ed25519"]
        .iter()
        .any(|k| kind.starts_with(k))
        && !name.contains(".pub")
}

/// Which credential a path inside a home directory holds, if any.
fn credential_in_home(rest: &[&str]) -> Option<&'static str> {
    Some(match rest {
        [".ssh"] => "your SSH keys",
        [".ssh", name]
            if name.starts_with("authorized_keys")
                || (has_glob(name) && !name.ends_with(".pub")) =>
        {
            "your SSH keys"
        }
        [".gnupg", ..] => "your GPG keys",
        [".aws", ..] => "your AWS credentials",
        [".azure", ..] => "your Azure credentials",
        [".kube"] | [".kube", "config"] => "your Kubernetes credentials",
        [".config", "gcloud", ..] => "your Google Cloud credentials",
        [".docker", "config.json"] => "your Docker registry logins",
        [".password-store", ..] => "your password store",
        [".netrc" | ".pgpass" | ".git-credentials"] => "your saved passwords",
        _ => return None,
    })
}

fn abs_scope(dir: &[&str], glob: bool) -> Scope {
    match dir {
        [] => Scope::Root,
        ["dev"] => Scope::SystemDir,
        ["dev", name, ..] => {
            if SINKS.contains(name) || name.starts_with("tty") {
                Scope::Sink
            } else {
                Scope::Device
            }
        }
        ["proc", "sysrq-trigger"] => Scope::Device,
        ["tmp"] if glob => Scope::Ordinary,
        [top] if KNOWN_TOP.contains(top) => Scope::SystemDir,
        [_] => Scope::TopLevel,
        ["home" | "Users", user] => {
            if user.contains(HOME) {
                Scope::Home
            } else {
                Scope::UsersHome
            }
        }
        ["usr", "local"] => Scope::SystemDir,
        ["usr", "local", sub] if USR_LOCAL_DIRS.contains(sub) => Scope::SystemDir,
        ["usr", "local", ..] => Scope::Ordinary,
        ["usr", _] => Scope::SystemDir,
        ["usr", ..] => Scope::SystemFile,
        ["var", "lib" | "db"] => Scope::SystemDir,
        ["var", "lib" | "db", ..] => Scope::SystemFile,
        // `/var/log/*` is routine log cleanup; `/var/log` itself is not.
        ["var", _] if glob => Scope::Ordinary,
        ["var", _] => Scope::SystemDir,
        [top, ..] if CRITICAL_TOP.contains(top) => Scope::SystemFile,
        _ => Scope::Ordinary,
    }
}

/// Name of the file a path points to, for matching downloads with later executions.
pub(crate) fn basename(text: &str) -> &str {
    text.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(text)
}
