//! Finding programs: shell builtins and keywords, and executables on a `PATH`.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// Builtins and keywords of bash, zsh and fish: a command named so never needs a
/// program on `PATH`.
const BUILTINS: &[&str] = &[
    ".",
    ":",
    "[",
    "[[",
    "]]",
    "!",
    "{",
    "}",
    "(",
    ")",
    "alias",
    "bg",
    "bind",
    "break",
    "builtin",
    "caller",
    "case",
    "cd",
    "command",
    "compgen",
    "complete",
    "compopt",
    "continue",
    "coproc",
    "declare",
    "dirs",
    "disown",
    "do",
    "done",
    "echo",
    "elif",
    "else",
    "enable",
    "esac",
    "eval",
    "exec",
    "exit",
    "export",
    "false",
    "fc",
    "fg",
    "fi",
    "for",
    "function",
    "getopts",
    "hash",
    "help",
    "history",
    "if",
    "in",
    "jobs",
    "kill",
    "let",
    "local",
    "logout",
    "mapfile",
    "popd",
    "printf",
    "pushd",
    "pwd",
    "read",
    "readarray",
    "readonly",
    "return",
    "select",
    "set",
    "shift",
    "shopt",
    "source",
    "suspend",
    "test",
    "then",
    "time",
    "times",
    "trap",
    "true",
    "type",
    "typeset",
    "ulimit",
    "umask",
    "unalias",
    "unset",
    "until",
    "wait",
    "while",
    // zsh
    "autoload",
    "bindkey",
    "compdef",
    "emulate",
    "functions",
    "integer",
    "float",
    "noglob",
    "print",
    "pushln",
    "rehash",
    "repeat",
    "setopt",
    "unsetopt",
    "unfunction",
    "vared",
    "whence",
    "where",
    "which",
    "zle",
    "zmodload",
    "zstyle",
    "zparseopts",
    "nocorrect",
    "foreach",
    "end",
    // fish
    "abbr",
    "and",
    "argparse",
    "begin",
    "block",
    "commandline",
    "contains",
    "count",
    "emit",
    "fish_add_path",
    "funced",
    "funcsave",
    "isatty",
    "math",
    "not",
    "or",
    "path",
    "random",
    "realpath",
    "set_color",
    "status",
    "string",
    "switch",
    "vared",
    "fish_config",
    "psub",
    "fish_opt",
    "prompt_pwd",
    "dirh",
    "cdh",
    "nextd",
    "prevd",
    "funcs",
    "history",
    "type",
];

pub fn is_builtin(name: &str) -> bool {
    BUILTINS.contains(&name)
}

/// The executable `name` resolves to on `path`. Empty and relative entries (the
/// working directory) are left out: what lies there is not an installed program.
pub fn resolve(path: &OsStr, name: &str) -> Option<PathBuf> {
    std::env::split_paths(path)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

/// An existing regular file with an execute bit.
pub fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Where helpers we run (`man`, `fish`, `zsh`) may live: system directories and the
/// usual package-manager prefixes, never the working directory, a home or /tmp.
const SYSTEM_DIRS: &[&str] = &[
    "/usr/bin",
    "/bin",
    "/usr/sbin",
    "/sbin",
    "/usr/local/bin",
    "/opt/homebrew/bin",
];

/// `p` with links resolved, when that lies in one of `dirs`.
pub fn inside(p: &Path, dirs: &[&str]) -> Option<PathBuf> {
    let real = std::fs::canonicalize(p).ok()?;
    let dir = real.parent()?;
    dirs.iter().any(|d| dir == Path::new(d)).then_some(real)
}

/// The helper program `name` as installed in a system directory: the one on `path`
/// when that is a system one, else the first system directory holding it.
pub fn system_helper(path: &OsStr, name: &str) -> Option<PathBuf> {
    let on_path = resolve(path, name).and_then(|p| inside(&p, SYSTEM_DIRS));
    on_path.or_else(|| {
        SYSTEM_DIRS
            .iter()
            .map(|d| Path::new(d).join(name))
            .filter(|p| is_executable(p))
            .find_map(|p| inside(&p, SYSTEM_DIRS))
    })
}
