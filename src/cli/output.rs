//! Standard output for every subcommand. A reader that stops early (`caro … | head`)
//! has all it wanted, so a closed pipe ends the program quietly with success instead
//! of the panic `println!` gives.

use std::io::Write;

/// Writes `args` to stdout and flushes. A closed pipe exits 0 at once; any other
/// failure (a full disk behind a redirection) is reported in one line and exits 1.
pub fn write(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        let _ = writeln!(
            std::io::stderr(),
            "caro: error: cannot write to standard output: {e}"
        );
        std::process::exit(1);
    }
}

/// `println!` that survives a closed pipe (see [`write`]).
#[macro_export]
macro_rules! outln {
    () => { $crate::cli::output::write(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::cli::output::write(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `print!` that survives a closed pipe (see [`write`]).
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::output::write(format_args!($($arg)*)) };
}
