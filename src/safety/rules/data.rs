//! Databases, containers and infrastructure tools that can drop data wholesale.

use crate::safety::Level::{Caution, Dangerous};
use crate::safety::engine::{Engine, Inv};
use crate::safety::opts::Opts;

/// SQL or Redis commands passed on the command line or on standard input.
fn statements(inv: &Inv<'_, '_>) -> String {
    let mut out = String::new();
    let opts = Opts::parse(
        inv.rest(),
        "ceqhpUuaCdn",
        &[
            "command", "execute", "query", "eval", "host", "port", "user", "dbname",
        ],
    );
    for key in ["c", "command", "e", "execute", "q", "query", "eval"] {
        if let Some(v) = opts.value(key) {
            out.push_str(&v);
            out.push('\n');
        }
    }
    match inv.name() {
        // `sqlite3 db.sqlite "DROP TABLE t"`, `redis-cli FLUSHALL`.
        "sqlite3" | "redis-cli" => {
            for operand in &opts.operands {
                out.push_str(&operand.text);
                out.push(' ');
            }
        }
        _ => {}
    }
    if let Some(text) = &inv.input.text {
        out.push_str(text);
    }
    out
}

pub(crate) fn database(eng: &mut Engine, inv: &Inv<'_, '_>) {
    if inv.name() == "dropdb" {
        eng.note(Dangerous, "deletes a whole database");
        return;
    }
    let sql = statements(inv)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_uppercase();
    if sql.contains("DROP DATABASE") || sql.contains("DROP SCHEMA") || sql.contains("DROPDATABASE(")
    {
        eng.note(Dangerous, "drops a whole database");
    } else if sql.contains("FLUSHALL") || sql.contains("FLUSHDB") {
        eng.note(Dangerous, "wipes every key in the Redis database");
    } else if sql.contains("DROP TABLE") || sql.contains("TRUNCATE") {
        eng.note(Caution, "drops or empties a table");
    } else if sql.contains("DELETE FROM") && !sql.contains("WHERE") {
        eng.note(Caution, "deletes every row of a table");
    } else if ["UPDATE ", "DELETE ", "INSERT ", "ALTER ", "DROP "]
        .iter()
        .any(|k| sql.contains(k))
    {
        eng.note(Caution, "changes data in the database");
    }
}

fn words<'a>(inv: &'a Inv<'_, '_>) -> Vec<&'a str> {
    inv.rest()
        .iter()
        .map(|a| a.text.as_str())
        .filter(|t| !t.starts_with('-'))
        .collect()
}

pub(crate) fn containers(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let words = words(inv);
    let destructive = match words.as_slice() {
        [
            "system" | "volume" | "image" | "container" | "network" | "builder",
            "prune" | "rm",
            ..,
        ] => true,
        ["rm" | "rmi" | "kill", ..] => true,
        ["compose", "down", ..] => inv.rest().iter().any(|a| a.is("-v") || a.is("--volumes")),
        _ => false,
    };
    if destructive {
        eng.note(Caution, "deletes containers, images or volumes");
    }
}

pub(crate) fn kubectl(eng: &mut Engine, inv: &Inv<'_, '_>) {
    let words = words(inv);
    match words.first() {
        Some(&"delete") => eng.note(Caution, "deletes cluster resources"),
        Some(
            &("apply" | "replace" | "patch" | "scale" | "drain" | "cordon" | "rollout" | "edit"),
        ) => {
            eng.note(Caution, "changes cluster resources");
        }
        _ => {}
    }
}

pub(crate) fn terraform(eng: &mut Engine, inv: &Inv<'_, '_>) {
    match words(inv).first() {
        Some(&"destroy") => eng.note(
            Caution,
            "destroys all infrastructure this configuration manages",
        ),
        Some(&("apply" | "import" | "taint" | "state")) => {
            eng.note(Caution, "changes real infrastructure")
        }
        _ => {}
    }
}
