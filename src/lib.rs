//! caro: turn plain words into one shell command with a local model.
//!
//! Layout: [`model`] is the network and its weights, [`engine`] turns a request into a
//! command on top of a backend, [`cli`] is the command line; configuration (config.toml
//! and `CARO_*` variables) is read only in [`settings`], user-facing errors in [`error`];
//! [`syntax`] is the one shell parser, [`check`] finds mistakes in an answer without
//! running it, [`sandbox`] runs a command inside bubblewrap. The
//! quality harness is a program of its own (`src/bin/caro-eval`).

pub mod check;
pub mod cli;
pub mod daemon;
pub mod engine;
pub mod error;
pub mod explain;
pub mod logging;
pub mod model;
pub mod safety;
pub mod sandbox;
pub mod settings;
pub mod shell;
pub mod store;
pub mod syntax;
