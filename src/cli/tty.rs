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
    /// Lines drawn under the cursor, to be erased.
    shown: usize,
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
            shown: 0,
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
        self.show_lines(&[msg]);
    }

    /// Shows `lines` under the cursor (replacing what was shown), leaving the cursor
    /// where it was.
    pub fn show_lines<S: AsRef<str>>(&mut self, lines: &[S]) {
        self.clear();
        let n = lines.len();
        if n == 0 {
            return;
        }
        // IND n times then cursor-up makes sure n lines exist below (scrolling if at
        // the bottom) without moving the cursor's column; then save, draw, restore.
        let mut seq = "\x1bD".repeat(n);
        seq.push_str(&format!("\x1b[{n}A\x1b7"));
        for l in lines {
            seq.push_str("\x1b[B\r\x1b[2K");
            seq.push_str(l.as_ref());
        }
        seq.push_str("\x1b8");
        let _ = self.file.write_all(seq.as_bytes());
        let _ = self.file.flush();
        self.shown = n;
    }

    pub fn clear(&mut self) {
        if self.shown > 0 {
            let mut seq = String::from("\x1b7");
            seq.push_str(&"\x1b[B\r\x1b[2K".repeat(self.shown));
            seq.push_str("\x1b8");
            let _ = self.file.write_all(seq.as_bytes());
            let _ = self.file.flush();
            self.shown = 0;
        }
    }

    /// Waits for a key and returns its first byte; `None` when the terminal is gone.
    pub fn read_key(&mut self) -> Option<u8> {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        loop {
            let hangup = {
                let mut fds = [PollFd::new(self.file.as_fd(), PollFlags::POLLIN)];
                match poll(&mut fds, PollTimeout::NONE) {
                    Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                    Err(_) => return None,
                }
                fds[0]
                    .revents()
                    .is_some_and(|r| r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR))
            };
            let mut buf = [0u8; 16];
            match self.file.read(&mut buf) {
                Ok(0) if hangup => return None,
                Ok(0) => {}
                Ok(_) => return Some(buf[0]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        }
    }

    /// The terminal's width in columns (80 when it cannot be read).
    pub fn columns(&self) -> usize {
        let mut ws = libc::winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCGWINSZ writes one `winsize` into the struct we pass, on a
        // descriptor this struct owns.
        let rc = unsafe {
            libc::ioctl(
                std::os::fd::AsRawFd::as_raw_fd(&self.file),
                libc::TIOCGWINSZ,
                &mut ws,
            )
        };
        if rc == 0 && ws.ws_col > 0 {
            usize::from(ws.ws_col)
        } else {
            80
        }
    }
}

impl Drop for Tty {
    fn drop(&mut self) {
        self.clear();
        let _ = termios::tcsetattr(&self.file, SetArg::TCSANOW, &self.saved);
    }
}
