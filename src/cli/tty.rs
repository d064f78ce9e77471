//! The controlling terminal while a widget waits: raw mode so Ctrl-C/Esc reach us as
//! bytes (and no SIGINT reaches the shell), and a one-line indicator under the prompt.
//! The terminal is restored when this is dropped, on every exit path.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd};

use nix::sys::termios::{self, LocalFlags, SetArg, SpecialCharacterIndices, Termios};

pub struct Tty {
    file: File,
    saved: Termios,
    shown: bool,
}

const CTRL_C: u8 = 0x03;
const ESC: u8 = 0x1b;

impl Tty {
    /// Opens `/dev/tty` in raw mode; `None` without a controlling terminal.
    pub fn open_raw() -> Option<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/tty")
            .ok()?;
        let saved = termios::tcgetattr(&file).ok()?;
        let mut raw = saved.clone();
        raw.local_flags
            .remove(LocalFlags::ICANON | LocalFlags::ECHO | LocalFlags::ISIG | LocalFlags::IEXTEN);
        raw.control_chars[SpecialCharacterIndices::VMIN as usize] = 0;
        raw.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
        termios::tcsetattr(&file, SetArg::TCSANOW, &raw).ok()?;
        Some(Self {
            file,
            saved,
            shown: false,
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }

    /// Reads pending keys; true when one of them is Ctrl-C or Esc.
    pub fn cancel_requested(&mut self) -> bool {
        let mut buf = [0u8; 64];
        match self.file.read(&mut buf) {
            Ok(n) => buf[..n].iter().any(|b| *b == CTRL_C || *b == ESC),
            Err(_) => false,
        }
    }

    /// Shows `msg` on the line below the cursor, leaving the cursor where it was.
    pub fn show(&mut self, msg: &str) {
        // IND + cursor-up makes sure a line exists below (scrolling if at the bottom)
        // without moving the cursor's column; then save, draw below, restore.
        let seq = format!("\x1bD\x1b[A\x1b7\x1b[B\r\x1b[2K{msg}\x1b8");
        let _ = self.file.write_all(seq.as_bytes());
        let _ = self.file.flush();
        self.shown = true;
    }

    pub fn clear(&mut self) {
        if self.shown {
            let _ = self.file.write_all(b"\x1b7\x1b[B\r\x1b[2K\x1b8");
            let _ = self.file.flush();
            self.shown = false;
        }
    }
}

impl Drop for Tty {
    fn drop(&mut self) {
        self.clear();
        let _ = termios::tcsetattr(&self.file, SetArg::TCSANOW, &self.saved);
    }
}
