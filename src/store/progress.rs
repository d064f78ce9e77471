use std::time::{Duration, Instant};

use indicatif::{HumanBytes, HumanDuration, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How a long operation reports progress on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// An animated bar with bytes, rate and ETA; for terminals.
    Bar,
    /// A plain line every tenth of the way; for logs and pipes.
    Lines,
    /// Nothing at all.
    Silent,
}

pub(crate) struct Reporter {
    kind: Kind,
}

enum Kind {
    Bar(ProgressBar),
    Lines(LineState),
    Silent,
}

struct LineState {
    label: String,
    total: u64,
    next_tenth: u64,
    started: Instant,
    start_pos: u64,
}

const BAR_TEMPLATE: &str =
    "{msg} [{elapsed_precise}] [{wide_bar}] {bytes}/{total_bytes} {binary_bytes_per_sec} ({eta})";

impl Reporter {
    pub(crate) fn new(mode: ProgressMode) -> Self {
        let kind = match mode {
            ProgressMode::Silent => Kind::Silent,
            ProgressMode::Lines => Kind::Lines(LineState {
                label: String::new(),
                total: 0,
                next_tenth: 1,
                started: Instant::now(),
                start_pos: 0,
            }),
            ProgressMode::Bar => Kind::Bar(ProgressBar::hidden()),
        };
        Self { kind }
    }

    /// A one-off line such as "resuming at 40 MiB".
    pub(crate) fn note(&self, text: &str) {
        match &self.kind {
            Kind::Silent => {}
            Kind::Lines(_) => eprintln!("{text}"),
            Kind::Bar(bar) => bar.suspend(|| eprintln!("{text}")),
        }
    }

    /// Starts (or restarts, after a retry) a phase of `total` bytes of which
    /// `pos` are already done.
    pub(crate) fn start(&mut self, label: &str, total: u64, pos: u64) {
        match &mut self.kind {
            Kind::Silent => {}
            Kind::Lines(state) => {
                state.label = label.to_string();
                state.total = total;
                state.started = Instant::now();
                state.start_pos = pos;
                state.next_tenth = tenth(pos, total) + 1;
            }
            Kind::Bar(bar) => {
                bar.finish_and_clear();
                let new = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
                // The template is a constant; if it ever failed to parse, the
                // default style still shows the bar.
                if let Ok(style) = ProgressStyle::with_template(BAR_TEMPLATE) {
                    new.set_style(style.progress_chars("=> "));
                }
                new.set_message(label.to_string());
                new.set_position(pos);
                // Bytes that were already on disk must not inflate the rate.
                new.reset_eta();
                new.enable_steady_tick(Duration::from_millis(200));
                *bar = new;
            }
        }
    }

    pub(crate) fn set(&mut self, pos: u64) {
        match &mut self.kind {
            Kind::Silent => {}
            Kind::Bar(bar) => bar.set_position(pos),
            Kind::Lines(state) => {
                if state.total == 0 || tenth(pos, state.total) < state.next_tenth {
                    return;
                }
                state.next_tenth = tenth(pos, state.total) + 1;
                let elapsed = state.started.elapsed();
                let moved = pos.saturating_sub(state.start_pos);
                let rate = if elapsed.as_secs_f64() > 0.0 {
                    moved as f64 / elapsed.as_secs_f64()
                } else {
                    0.0
                };
                let eta = if rate > 0.0 && pos < state.total {
                    let left = state.total.saturating_sub(pos) as f64 / rate;
                    format!(", {} left", HumanDuration(Duration::from_secs_f64(left)))
                } else {
                    String::new()
                };
                eprintln!(
                    "{}: {:>3}% {} of {}, {}/s{}",
                    state.label,
                    pos.saturating_mul(100) / state.total,
                    HumanBytes(pos),
                    HumanBytes(state.total),
                    HumanBytes(rate as u64),
                    eta
                );
            }
        }
    }

    /// Ends the phase; the bar disappears so the next line starts clean.
    pub(crate) fn finish(&mut self) {
        if let Kind::Bar(bar) = &self.kind {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        // An error path must not leave a half-drawn bar on the terminal.
        self.finish();
    }
}

fn tenth(pos: u64, total: u64) -> u64 {
    // An empty phase counts as done.
    pos.saturating_mul(10).checked_div(total).unwrap_or(10)
}
