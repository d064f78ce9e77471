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
                println!("caro daemon stopped");
            } else {
                println!("caro daemon is not running");
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
                println!(
                    "caro daemon is not running (socket {})",
                    client.rundir.socket().display()
                );
                Ok(exit::DAEMON)
            }
            Some(st) => {
                let ms =
                    |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.0} ms"));
                println!("pid              {}", st.pid);
                println!("version          {}", st.version);
                println!("uptime           {}", human_duration(st.uptime_secs));
                println!("model            {}", st.model);
                println!("threads          {}", st.threads);
                println!(
                    "workers          {} (queue {}, busy {})",
                    st.workers, st.queue, st.busy
                );
                println!("requests served  {}", st.requests_served);
                println!("cached prefix    {} tokens", st.cached_prefix_tokens);
                println!(
                    "latency          p50 {} · p95 {}",
                    ms(st.latency_p50_ms),
                    ms(st.latency_p95_ms)
                );
                println!("memory (RSS)     {:.0} MB", st.rss_mb);
                println!("idle timeout     {}", human_duration(st.idle_timeout_secs));
                println!("socket           {}", client.rundir.socket().display());
                Ok(exit::OK)
            }
        },
    }
}

fn start(client: &Client) -> Result<i32, CaroError> {
    eprintln!("caro: starting the daemon (loading model…)");
    let pid = client.start(&mut crate::daemon::client::Quiet)?;
    println!("caro daemon running (pid {pid})");
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
            println!("pong from pid {pid}");
            exit::OK
        }
        Ok(_) => exit::DAEMON,
        Err(e) => {
            eprintln!("{}", CaroError::from(e).one_line());
            exit::DAEMON
        }
    }
}
