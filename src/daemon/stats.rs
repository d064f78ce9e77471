//! Request counters and recent latencies for `caro daemon status`.

use std::collections::VecDeque;
use std::sync::Mutex;

const WINDOW: usize = 200;

#[derive(Default)]
pub struct Latencies(Mutex<VecDeque<f64>>);

impl Latencies {
    pub fn record(&self, ms: f64) {
        let mut q = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if q.len() == WINDOW {
            q.pop_front();
        }
        q.push_back(ms);
    }

    /// The `p`-th percentile (0–100) of the recent window, nearest-rank.
    pub fn percentile(&self, p: f64) -> Option<f64> {
        let q = self.0.lock().unwrap_or_else(|e| e.into_inner());
        percentile(q.iter().copied().collect(), p)
    }
}

pub fn percentile(mut v: Vec<f64>, p: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v.get(rank.clamp(1, v.len()) - 1).copied()
}

/// Resident memory of this process now (VmRSS), in MiB.
pub fn rss_mb() -> f64 {
    proc_status_kb("VmRSS:").map_or(0.0, |kb| kb / 1024.0)
}

/// Peak resident memory of this process (VmHWM), in MiB.
pub fn peak_rss_mb() -> f64 {
    proc_status_kb("VmHWM:").map_or(0.0, |kb| kb / 1024.0)
}

pub fn proc_status_kb(key: &str) -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(v.clone(), 50.0), Some(50.0));
        assert_eq!(percentile(v, 95.0), Some(95.0));
        assert_eq!(percentile(vec![], 50.0), None);
        assert_eq!(percentile(vec![7.0], 95.0), Some(7.0));
    }
}
