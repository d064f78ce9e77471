//! Diagnostics on stderr through `tracing`; quiet unless `-v` or `CARO_LOG` asks.

use tracing_subscriber::EnvFilter;

pub fn init(verbose: bool) {
    let default = if verbose { "caro=debug" } else { "caro=warn" };
    let filter = crate::settings::env::log_filter()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(default));
    // A second call (tests, re-entry) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .try_init();
}
