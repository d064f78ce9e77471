//! Per-program option tables: where they come from (the man page, else `--help` of a
//! well-known system tool) and the cache that keeps them.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use super::process;
use super::roff::{self, Mentions};

/// The options a program's documentation mentions.
#[derive(Debug, Default)]
pub struct Table {
    mentions: Mentions,
    /// Read from `--help`, which may leave rarer options out (find's does).
    pub from_help: bool,
}

impl Table {
    pub fn new(mentions: Mentions) -> Self {
        Self {
            mentions,
            from_help: false,
        }
    }

    fn from_help(mentions: Mentions) -> Self {
        Self {
            mentions,
            from_help: true,
        }
    }

    /// Whether the option word `t` (starts with `-`) is one the documentation knows.
    /// `whole_words`: the program takes single-dash long names (`find -name`), never
    /// clusters of letters.
    pub fn knows(&self, t: &str, whole_words: bool) -> bool {
        let names = &self.mentions.names;
        let base = t.split_once('=').map_or(t, |(name, _)| name);
        if names.contains(base) {
            return true;
        }
        if let Some(long) = base.strip_prefix("--") {
            // getopt_long takes any abbreviation of a long option.
            return long.is_empty() || names.iter().any(|n| n.starts_with(base));
        }
        let Some(first) = base.chars().nth(1) else {
            return true;
        };
        if !first.is_ascii_alphanumeric() {
            return true;
        }
        // Single-dash long names with a variable tail (`-newerXY`, `-Wno-…`, `-O3`).
        let long_prefix = names.iter().any(|n| {
            !n.starts_with("--")
                && n.len() > 2
                && (base.starts_with(n.as_str()) || n.starts_with(base))
        });
        // A documented option with a number glued on (`find -O3`, `gcc -O2`).
        let cut = base.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        let numbered = cut >= 2
            && cut < base.len()
            && base.get(..cut).is_some_and(|stem| names.contains(stem));
        if long_prefix || numbered {
            return true;
        }
        // A cluster: only its first letter is surely an option; later ones may be the
        // first one's value (`-n5`, `-d,`).
        !whole_words && names.contains(&format!("-{first}"))
    }

    /// Whether the documentation shows `t` followed by a separate value, so the next
    /// word is that value rather than an option.
    pub fn takes_value(&self, t: &str) -> bool {
        if t.contains('=') {
            return false;
        }
        let valued = &self.mentions.valued;
        if valued.contains(t) {
            return true;
        }
        if t.starts_with("--") {
            return false;
        }
        match t.chars().last() {
            Some(c) if t.len() > 2 => valued.contains(&format!("-{c}")),
            _ => false,
        }
    }
}

/// Well-known tools whose `--help` may be run when they have no man page: all print
/// their usage and exit, touching nothing.
const HELP_ALLOWED: &[&str] = &[
    "ls",
    "cp",
    "mv",
    "rm",
    "mkdir",
    "rmdir",
    "ln",
    "cat",
    "tac",
    "head",
    "tail",
    "wc",
    "sort",
    "uniq",
    "cut",
    "paste",
    "join",
    "tr",
    "tee",
    "touch",
    "chmod",
    "chown",
    "chgrp",
    "stat",
    "date",
    "du",
    "df",
    "dd",
    "echo",
    "printf",
    "basename",
    "dirname",
    "readlink",
    "realpath",
    "mktemp",
    "split",
    "csplit",
    "nl",
    "od",
    "fold",
    "fmt",
    "expand",
    "unexpand",
    "comm",
    "seq",
    "shuf",
    "md5sum",
    "sha1sum",
    "sha256sum",
    "sha512sum",
    "base64",
    "env",
    "nproc",
    "uname",
    "id",
    "whoami",
    "groups",
    "install",
    "truncate",
    "timeout",
    "nice",
    "nohup",
    "stdbuf",
    "sleep",
    "yes",
    "tsort",
    "numfmt",
    "factor",
    "pr",
    "ptx",
    "shred",
    "sync",
    "test",
    "find",
    "xargs",
    "locate",
    "grep",
    "egrep",
    "fgrep",
    "sed",
    "awk",
    "gawk",
    "mawk",
    "tar",
    "gzip",
    "gunzip",
    "zcat",
    "bzip2",
    "xz",
    "unxz",
    "zstd",
    "curl",
    "wget",
    "git",
    "ps",
    "kill",
    "pkill",
    "pgrep",
    "top",
    "free",
    "uptime",
    "ssh",
    "scp",
    "rsync",
    "zip",
    "unzip",
    "docker",
    "systemctl",
    "journalctl",
    "ip",
    "ss",
    "lsof",
    "file",
    "which",
    "diff",
    "patch",
    "less",
    "more",
    "jq",
    "make",
    "netstat",
    "ping",
    "lsblk",
    "mount",
    "umount",
    "hostname",
    "tree",
];

/// Directories whose programs may be asked for `--help`: system ones only, never the
/// working directory, a home or a temporary directory.
const HELP_DIRS: &[&str] = &["/usr/bin", "/bin", "/usr/sbin", "/sbin"];

/// More cached tables than any real mix of programs and subcommands needs.
const MAX_TABLES: usize = 4096;

type Key = (PathBuf, u64, i128, Option<String>);

/// Cache of tables, keyed by the resolved program, its size and modification time
/// (so an upgraded program gets a fresh table) and the subcommand.
pub struct Tables {
    cache: Mutex<HashMap<Key, Option<Arc<Table>>>>,
    /// Off in tests of the `--help` path, which is otherwise reached only by programs
    /// without a man page.
    man: bool,
}

impl Default for Tables {
    fn default() -> Self {
        Self {
            cache: Mutex::default(),
            man: true,
        }
    }
}

impl Tables {
    /// The table of `name` (resolved to `path`), or of its subcommand `sub`.
    pub fn get(&self, name: &str, path: &Path, sub: Option<&str>) -> Option<Arc<Table>> {
        let meta = std::fs::metadata(path).ok()?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as i128);
        let key = (
            path.to_path_buf(),
            meta.len(),
            mtime,
            sub.map(str::to_owned),
        );
        if let Ok(cache) = self.cache.lock()
            && let Some(hit) = cache.get(&key)
        {
            return hit.clone();
        }
        // Built without holding the lock: a slow `man` must not stall other threads.
        let table = match sub {
            None => self.load(name, path),
            Some(sub) if self.man => load_sub(name, sub, path),
            Some(_) => None,
        }
        .map(Arc::new);
        if let Ok(mut cache) = self.cache.lock() {
            // Subcommand names come from generated text, so the keys are not bounded
            // by what is installed: start over rather than grow without end.
            if cache.len() >= MAX_TABLES {
                cache.clear();
            }
            cache.insert(key, table.clone());
        }
        table
    }

    #[cfg(test)]
    pub fn without_man() -> Self {
        Self {
            man: false,
            ..Self::default()
        }
    }

    fn load(&self, name: &str, path: &Path) -> Option<Table> {
        // perl(1) is an overview; its options are documented in perlrun(1).
        let page_name = if name == "perl" { "perlrun" } else { name };
        if self.man
            && let Some(page) = man_page(page_name, path)
        {
            return Some(Table::new(roff::man(&page)));
        }
        help(name, path).map(|text| Table::from_help(roff::help(&text)))
    }
}

fn load_sub(name: &str, sub: &str, path: &Path) -> Option<Table> {
    if !sub
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return None;
    }
    man_page(&format!("{name}-{sub}"), path).map(|page| Table::new(roff::man(&page)))
}

/// The roff source of `name`'s man page: first where the usual layout puts it next to
/// the program (cheap), else wherever `man -w` says.
pub fn man_page(name: &str, program: &Path) -> Option<String> {
    let file = near(name, program).or_else(|| man_w(name))?;
    let text = read_page(&file)?;
    // A page that is only `.so man1/other.1` includes another page.
    if let Some(target) = text.trim().strip_prefix(".so ")
        && !text.trim().contains('\n')
    {
        let root = file.parent()?.parent()?;
        let target = root.join(target.trim());
        return [
            target.clone(),
            PathBuf::from(format!("{}.gz", target.display())),
        ]
        .iter()
        .find_map(|p| read_page(p));
    }
    Some(text)
}

fn near(name: &str, program: &Path) -> Option<PathBuf> {
    let prefix = program.parent()?.parent()?;
    let roots = [
        prefix.join("share/man"),
        prefix.join("man"),
        PathBuf::from("/usr/share/man"),
        PathBuf::from("/usr/local/share/man"),
    ];
    for root in &roots {
        for section in ["1", "8", "6"] {
            for ext in [".gz", ""] {
                let p = root.join(format!("man{section}/{name}.{section}{ext}"));
                if p.is_file() {
                    return Some(p);
                }
            }
        }
    }
    None
}

fn man_w(name: &str) -> Option<PathBuf> {
    if name.starts_with('-') || name.contains('/') {
        return None;
    }
    let man = super::path::system_helper(&std::env::var_os("PATH").unwrap_or_default(), "man")?;
    let mut cmd = Command::new(man);
    cmd.arg("-w").arg(name).current_dir("/");
    let out = process::run(cmd, Duration::from_secs(2))?;
    if out.code != Some(0) {
        return None;
    }
    let line = out.stdout.lines().next()?.trim();
    let p = PathBuf::from(line);
    (p.is_absolute() && p.is_file()).then_some(p)
}

fn read_page(p: &Path) -> Option<String> {
    let file = std::fs::File::open(p).ok()?;
    // Man pages are small; the cap guards against a wrong file.
    let limit = 8 << 20;
    let mut bytes = Vec::new();
    if p.extension().is_some_and(|e| e == "gz") {
        flate2::read::GzDecoder::new(file)
            .take(limit)
            .read_to_end(&mut bytes)
            .ok()?;
    } else {
        file.take(limit).read_to_end(&mut bytes).ok()?;
    }
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// `--help` output of a well-known system tool. Only a program installed in a
/// system directory is run: never one from the working directory, a home or /tmp,
/// whatever its name.
pub fn help(name: &str, path: &Path) -> Option<String> {
    if !HELP_ALLOWED.contains(&name) {
        return None;
    }
    let real = super::path::inside(path, HELP_DIRS)?;
    let mut text = run_help(name, &real, &["--help"])?;
    // curl and ps print only a summary unless asked for all of it; asking is safe
    // only where the summary itself offers it.
    if text.contains("--help all") || text.contains("|all>") {
        text = run_help(name, &real, &["--help", "all"]).unwrap_or(text);
    }
    // Fewer than a few options read means it did not print usage.
    (roff::help(&text).names.len() >= 2).then_some(text)
}

fn run_help(name: &str, real: &Path, args: &[&str]) -> Option<String> {
    let mut cmd = Command::new(real);
    // Multi-call programs tell what they are from the name they were started as.
    std::os::unix::process::CommandExt::arg0(&mut cmd, name);
    cmd.args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("LC_ALL", "C")
        .current_dir("/");
    let out = process::run(cmd, Duration::from_secs(1))?;
    Some(format!("{}\n{}", out.stdout, out.stderr))
}
