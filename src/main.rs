use clap::Parser;

use caro::cli::style::Style;
use caro::cli::{self, Cli};

fn main() {
    let cli = Cli::parse();
    let code = match cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            let s = Style::for_stderr();
            eprintln!("{} {e}", s.red("caro: error:"));
            if let Some(hint) = e.hint() {
                eprintln!("  {} {hint}", s.dim("hint:"));
            }
            e.exit_code()
        }
    };
    std::process::exit(code);
}
