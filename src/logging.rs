//! Diagnostics on stderr through `tracing`; quiet unless `-v` or `CARO_LOG` asks.

use tracing_subscriber::EnvFilter;

pub fn init(verbose: bool) {
    let default = if verbose { "caro=debug" } else { "caro=warn" };
    let filter = EnvFilter::try_from_env("CARO_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    // A second call (tests, re-entry) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .try_init();
}
