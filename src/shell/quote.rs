//! Quoting values into the generated scripts.

use std::path::Path;

/// One word for zsh or bash: `'...'` for UTF-8 text, `$'...'` with `\xHH`
/// escapes for a path that is not UTF-8 (both shells read either form).
pub(crate) fn posix_path(path: &Path) -> String {
    match path.to_str() {
        Some(s) => posix(s),
        None => {
            let mut out = String::from("$'");
            for &b in path_bytes(path).iter() {
                match b {
                    b'\\' | b'\'' => {
                        out.push('\\');
                        out.push(char::from(b));
                    }
                    0x20..=0x7e => out.push(char::from(b)),
                    _ => out.push_str(&format!("\\x{b:02x}")),
                }
            }
            out.push('\'');
            out
        }
    }
}

/// One word for zsh or bash, in single quotes.
pub(crate) fn posix(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// One word for fish: `'...'` (where only `\` and `'` are special) for UTF-8
/// text, else every byte as an unquoted `\xHH` escape.
pub(crate) fn fish_path(path: &Path) -> String {
    match path.to_str() {
        Some(s) => fish(s),
        None => path_bytes(path)
            .iter()
            .map(|b| format!("\\x{b:02x}"))
            .collect(),
    }
}

/// One word for fish, in single quotes.
pub(crate) fn fish(s: &str) -> String {
    format!("'{}'", s.replace('\\', r"\\").replace('\'', r"\'"))
}

#[cfg(unix)]
fn path_bytes(path: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str().as_bytes().to_vec()
}

#[cfg(not(unix))]
fn path_bytes(path: &Path) -> Vec<u8> {
    path.to_string_lossy().into_owned().into_bytes()
}
