//! `caro doctor`: checks the set-up and says what to fix, one line per check.

use std::path::Path;

use super::style::Style;
use crate::daemon::client::Client;
use crate::engine::{EngineError, openai};
use crate::error::{CaroError, exit};
use crate::settings::{BackendKind, OpenAiSettings, Settings};

/// Resident memory the daemon needs with the default model (measured, see README).
const NEEDED_MB: f64 = 2300.0;

enum Mark {
    Ok,
    Warn,
    Fail,
}

fn line(st: &Style, mark: Mark, what: &str, detail: &str) {
    let m = match mark {
        Mark::Ok => st.bold("ok  "),
        Mark::Warn => st.yellow("warn"),
        Mark::Fail => st.red("FAIL"),
    };
    crate::outln!("{m} {what:<18} {detail}");
}

pub fn run(s: &Settings) -> Result<i32, CaroError> {
    let st = Style::for_stdout();

    let failed = match s.backend {
        BackendKind::Local => !(model_file(&st, s) & device(&st, s)),
        BackendKind::Openai => !server(&st, &s.openai),
    };

    match Client::new().status() {
        Ok(Some(d)) => line(
            &st,
            Mark::Ok,
            "daemon",
            &format!(
                "running, pid {}, {} requests served, {:.0} MB",
                d.pid, d.requests_served, d.rss_mb
            ),
        ),
        Ok(None) => line(&st, Mark::Ok, "daemon", "not running (starts on first use)"),
        Err(e) => line(&st, Mark::Warn, "daemon", &CaroError::from(e).one_line()),
    }

    let home = std::env::home_dir().unwrap_or_default();
    let rc_files = [
        ("zsh", home.join(".zshrc")),
        ("bash", home.join(".bashrc")),
        (
            "fish",
            crate::settings::paths::config_dir()
                .parent()
                .map_or_else(|| home.join(".config"), Path::to_path_buf)
                .join("fish/config.fish"),
        ),
    ];
    let mut integrated = Vec::new();
    for (shell, rc) in &rc_files {
        let Ok(text) = std::fs::read_to_string(rc) else {
            continue;
        };
        if text.contains("caro init") {
            integrated.push(*shell);
        }
        if let Some(conflict) = ctrl_g_conflict(&text) {
            line(
                &st,
                Mark::Warn,
                "key",
                &format!(
                    "{} binds Ctrl-G elsewhere ({conflict}); use `caro init {shell} --key alt-g` or CARO_KEY",
                    rc.display()
                ),
            );
        }
    }
    if integrated.is_empty() {
        line(
            &st,
            Mark::Warn,
            "shell",
            "no rc file runs `caro init`; add eval \"$(caro init zsh)\" (see README) or run ./install.sh",
        );
    } else {
        line(
            &st,
            Mark::Ok,
            "shell",
            &format!("integrated in {}", integrated.join(", ")),
        );
    }

    line(
        &st,
        Mark::Ok,
        "threads",
        &format!(
            "{} (of {} cores)",
            s.threads,
            crate::settings::default_threads()
        ),
    );
    let features = cpu_features();
    if features.contains(&"avx2") {
        line(&st, Mark::Ok, "cpu", &features.join(" "));
    } else {
        line(
            &st,
            Mark::Warn,
            "cpu",
            "no AVX2: inference will be several times slower",
        );
    }
    match mem_available_mb() {
        Some(mb) if mb < NEEDED_MB => line(
            &st,
            Mark::Warn,
            "memory",
            &format!("{mb:.0} MB available; the model needs about {NEEDED_MB:.0} MB"),
        ),
        Some(mb) => line(&st, Mark::Ok, "memory", &format!("{mb:.0} MB available")),
        None => line(&st, Mark::Warn, "memory", "cannot read /proc/meminfo"),
    }
    line(
        &st,
        Mark::Ok,
        "config",
        &s.config_file.display().to_string(),
    );
    line(&st, Mark::Ok, "history", &history_line(s.history));
    Ok(if failed { exit::FAILURE } else { exit::OK })
}

/// Whether shell history goes with requests, in words.
fn history_line(n: usize) -> String {
    match n {
        0 => "off: no shell history is sent (history = N in config.toml turns it on)".into(),
        n => format!(
            "on: the last {n} commands go with each request, redacted, at most {} bytes \
             (new shells; `history = 0` turns it off)",
            crate::engine::context::HISTORY_BYTES
        ),
    }
}

/// Device: the CPU always; a GPU only when this build supports it and the GPU answers.
fn device(st: &Style, s: &Settings) -> bool {
    if s.device.is_cpu() {
        line(st, Mark::Ok, "device", "cpu");
        return true;
    }
    match crate::engine::candle::open_device(s.device) {
        Ok(_) => {
            line(st, Mark::Ok, "device", &s.device.to_string());
            true
        }
        Err(e) => {
            line(st, Mark::Fail, "device", &CaroError::from(e).one_line());
            false
        }
    }
}

/// Model: present and the size the catalogue expects (`caro model verify` re-hashes).
fn model_file(st: &Style, s: &Settings) -> bool {
    let mut ok = true;
    match std::fs::metadata(&s.model) {
        Ok(m) => {
            let expected = crate::store::Catalog::builtin()
                .variants
                .iter()
                .find(|v| Some(v.file.as_str()) == s.model.file_name().and_then(|f| f.to_str()))
                .and_then(|v| v.size);
            match expected {
                Some(size) if size != m.len() => {
                    ok = false;
                    line(
                        st,
                        Mark::Fail,
                        "model",
                        &format!(
                            "{} has {} bytes, expected {size}; run `caro model pull`",
                            s.model.display(),
                            m.len()
                        ),
                    );
                }
                _ => line(
                    st,
                    Mark::Ok,
                    "model",
                    &format!(
                        "{} ({:.2} GB, {})",
                        s.model.display(),
                        m.len() as f64 / 1e9,
                        s.model_source
                    ),
                ),
            }
        }
        Err(_) => {
            ok = false;
            line(
                st,
                Mark::Fail,
                "model",
                &format!(
                    "missing at {}; run `caro model pull` or set CARO_MODEL",
                    s.model.display()
                ),
            );
        }
    }

    ok
}

/// The server of `backend = "openai"`: it answers `GET /models`, lists the model, and
/// the key variable is set when one is configured (the key is never printed).
fn server(st: &Style, o: &OpenAiSettings) -> bool {
    if let Some(var) = &o.api_key_env {
        match o.api_key() {
            Ok(_) => line(st, Mark::Ok, "api key", &format!("{var} is set")),
            Err(_) => {
                line(
                    st,
                    Mark::Fail,
                    "api key",
                    &format!("{var} is not set; export it"),
                );
                return false;
            }
        }
    }
    match openai::models::list(o) {
        Ok(names) if names.contains(&o.model) => {
            line(st, Mark::Ok, "server", &format!("{} answers", o.url));
            line(st, Mark::Ok, "model", &format!("{} is listed", o.model));
            true
        }
        Ok(names) => {
            line(st, Mark::Ok, "server", &format!("{} answers", o.url));
            // llama.cpp's server answers under any name; others refuse unknown ones.
            line(
                st,
                Mark::Warn,
                "model",
                &format!(
                    "{:?} is not listed (listed: {}); set [openai] model or CARO_OPENAI_MODEL",
                    o.model,
                    names.join(", ")
                ),
            );
            true
        }
        Err(e) => {
            line(
                st,
                Mark::Fail,
                "server",
                &CaroError::from(EngineError::from(e)).one_line(),
            );
            false
        }
    }
}

/// A Ctrl-G binding in an rc file that is not caro's own.
fn ctrl_g_conflict(rc: &str) -> Option<String> {
    rc.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.contains("caro"))
        .find(|l| {
            (l.starts_with("bindkey") && l.contains("^G"))
                || (l.starts_with("bind ")
                    && (l.contains("\\C-g") || l.contains("\\cg") || l.contains("ctrl-g")))
        })
        .map(str::to_owned)
}

fn cpu_features() -> Vec<&'static str> {
    let mut f = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            f.push("avx2");
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            f.push("avx512f");
        }
        if std::arch::is_x86_feature_detected!("avx512vnni") {
            f.push("avx512-vnni");
        }
    }
    #[cfg(target_arch = "aarch64")]
    f.push("neon");
    f
}

fn mem_available_mb() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/meminfo").ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::{ctrl_g_conflict, history_line};

    #[test]
    fn history_is_said_to_be_on_or_off() {
        assert!(history_line(0).starts_with("off"));
        assert!(history_line(5).starts_with("on: the last 5 commands"));
    }

    #[test]
    fn finds_foreign_ctrl_g_bindings_only() {
        assert!(ctrl_g_conflict("bindkey '^G' my-widget\n").is_some());
        assert!(ctrl_g_conflict("bind -x '\"\\C-g\": foo'\n").is_some());
        assert!(ctrl_g_conflict("eval \"$(caro init zsh)\"\n# bindkey '^G' x\n").is_none());
    }
}
