//! `caro explain -- CMD`: what a command does, from the manuals on this machine.

use crate::error::exit;

pub fn run(command: &str, json: bool) -> i32 {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let e = crate::explain::explain(command, &path);
    if json {
        crate::outln!("{}", serde_json::to_string(&e).unwrap_or_default());
    } else {
        crate::out!("{}", crate::explain::render(&e));
    }
    exit::OK
}
