//! `--copy`: the command onto the clipboard with the OSC 52 escape, written to the
//! terminal, so it works through ssh and tmux (with tmux's `set-clipboard on`).

use std::io::Write;

use base64::Engine;

/// The escape that asks the terminal to put `text` on the clipboard.
pub fn osc52(text: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(text);
    format!("\x1b]52;c;{encoded}\x07")
}

/// Writes [`osc52`] of `text` to the controlling terminal.
pub fn copy(text: &str) -> std::io::Result<()> {
    let mut tty = std::fs::OpenOptions::new().write(true).open("/dev/tty")?;
    tty.write_all(osc52(text).as_bytes())?;
    tty.flush()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_escape_carries_the_text_in_base64() {
        assert_eq!(super::osc52("ls -a"), "\x1b]52;c;bHMgLWE=\x07");
    }
}
