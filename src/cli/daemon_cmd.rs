//! `caro daemon [start|stop|status|restart]`.

use super::DaemonAction;
use crate::daemon::client::Client;
use crate::daemon::server;
use crate::error::{CaroError, exit};
use crate::settings::Settings;

pub fn run(action: Option<DaemonAction>, s: &Settings) -> Result<i32, CaroError> {
    let client = Client::new();
    match action {
        None => Ok(server::run(s)?),
        Some(DaemonAction::Start) => start(&client),
        Some(DaemonAction::Stop) => {
            if client.stop()? {
                crate::outln!("caro daemon stopped");
            } else {
                crate::outln!("caro daemon is not running");
            }
            Ok(exit::OK)
        }
        Some(DaemonAction::Ping) => Ok(ping()),
        Some(DaemonAction::Restart) => {
            client.stop()?;
            start(&client)
        }
        Some(DaemonAction::Status) => match client.status()? {
            None => {
                crate::outln!(
                    "caro daemon is not running (socket {})",
                    client.rundir.socket().display()
                );
                Ok(exit::DAEMON)
            }
            Some(st) => {
                let ms =
                    |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.0} ms"));
                crate::outln!("pid              {}", st.pid);
                crate::outln!("version          {}", st.version);
                crate::outln!("uptime           {}", human_duration(st.uptime_secs));
                crate::outln!("model            {}", st.model);
                crate::outln!("threads          {}", st.threads);
                crate::outln!(
                    "workers          {} (queue {}, busy {})",
                    st.workers,
                    st.queue,
                    st.busy
                );
                crate::outln!("requests served  {}", st.requests_served);
                crate::outln!("cached prefix    {} tokens", st.cached_prefix_tokens);
                crate::outln!(
                    "latency          p50 {} · p95 {}",
                    ms(st.latency_p50_ms),
                    ms(st.latency_p95_ms)
                );
                crate::outln!(
                    "memory (RSS)     {:.0} MiB now · {:.0} MiB peak",
                    st.rss_mb,
                    st.peak_rss_mb
                );
                crate::outln!("idle timeout     {}", human_duration(st.idle_timeout_secs));
                crate::outln!("socket           {}", client.rundir.socket().display());
                Ok(exit::OK)
            }
        },
    }
}

fn start(client: &Client) -> Result<i32, CaroError> {
    eprintln!("caro: starting the daemon (loading model…)");
    let pid = client.start(&mut crate::daemon::client::Quiet)?;
    crate::outln!("caro daemon running (pid {pid})");
    Ok(exit::OK)
}

fn human_duration(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m {}s", s / 60, s % 60),
        s => format!("{}h {}m", s / 3600, (s % 3600) / 60),
    }
}

/// The thin client's whole round trip: connect, one request, one answer.
pub fn ping() -> i32 {
    use crate::daemon::protocol::{self, Event, PROTOCOL_VERSION, Request};
    let req = Request::Ping {
        v: PROTOCOL_VERSION,
        client: protocol::crate_version().into(),
    };
    match Client::new().request(&req) {
        Ok(Some(Event::Pong { pid, .. })) => {
            crate::outln!("pong from pid {pid}");
            exit::OK
        }
        Ok(_) => exit::DAEMON,
        Err(e) => {
            eprintln!("{}", CaroError::from(e).one_line());
            exit::DAEMON
        }
    }
}
