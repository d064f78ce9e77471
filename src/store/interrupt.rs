//! Ctrl-C during a download: the first press asks the transfer to stop at
//! the next chunk (the partial file stays, and the next pull resumes it); a
//! second press exits at once, which also leaves a resumable prefix.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

static CTRL_C: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    if CTRL_C.swap(true, Ordering::SeqCst) {
        // SAFETY: _exit is async-signal-safe; 130 is the shell's code for SIGINT.
        unsafe { libc::_exit(130) }
    }
}

/// While alive, SIGINT sets [`CtrlC::flag`] instead of killing the process;
/// dropping it restores the previous handler.
pub struct CtrlC {
    previous: SigAction,
}

impl CtrlC {
    pub fn install() -> io::Result<Self> {
        CTRL_C.store(false, Ordering::SeqCst);
        // No SA_RESTART: a read blocked on a silent server returns EINTR, so
        // the flag is noticed without waiting for the read timeout.
        let action = SigAction::new(
            SigHandler::Handler(on_sigint),
            SaFlags::empty(),
            SigSet::empty(),
        );
        // SAFETY: the handler only touches an atomic and calls _exit.
        let previous = unsafe { sigaction(Signal::SIGINT, &action) }.map_err(io::Error::from)?;
        Ok(Self { previous })
    }

    /// Pass as `PullOptions::cancel`.
    pub fn flag(&self) -> &'static AtomicBool {
        &CTRL_C
    }
}

impl Drop for CtrlC {
    fn drop(&mut self) {
        // SAFETY: reinstates the disposition that was there before install.
        let _ = unsafe { sigaction(Signal::SIGINT, &self.previous) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_ctrl_c_only_sets_the_flag() -> io::Result<()> {
        let guard = CtrlC::install()?;
        assert!(!guard.flag().load(Ordering::SeqCst));
        // SAFETY: raising a signal whose handler is installed just above.
        let rc = unsafe { libc::raise(libc::SIGINT) };
        assert_eq!(rc, 0);
        assert!(guard.flag().load(Ordering::SeqCst));
        drop(guard);
        CTRL_C.store(false, Ordering::SeqCst);
        Ok(())
    }
}
