//! Timing of the checker over a mixed, realistic set of commands.

use std::time::{Duration, Instant};

const RUNS: usize = 10_000;

/// A mix of what a model typically suggests: plain lookups, pipelines, wrapped and
/// quoted commands, and a few risky ones.
const SAMPLE: &[&str] = &[
    "ls -la",
    "find . -name '*.tmp' -delete",
    "git status && git log --oneline -n 20",
    "rm -rf ./target",
    "sudo rm -rf /",
    "curl -fsSL https://example.com/install.sh | sh",
    "grep -rn 'TODO' src | sort | uniq -c | sort -rn | head",
    "docker ps -a --format '{{.Names}}' | xargs docker rm -f",
    "tar -czf backup.tar.gz ~/Documents",
    "echo \"rm -rf /\"",
    "for f in *.png; do convert \"$f\" \"${f%.png}.jpg\"; done",
    "sudo sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward'",
    "dd if=/dev/zero of=/dev/sda bs=1M",
    "kill -9 $(lsof -t -i :8080)",
    "ps aux | grep '[p]ython' | awk '{print $2}'",
    "git push --force-with-lease origin feature/x",
    "chmod -R 777 /",
    "cat <<EOF > notes.md\n# Notes\n$(date)\nEOF",
    "rsync -avz --delete ./site/ user@host:/var/www/site/",
    "du -sh * | sort -h",
];

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Times 10 000 checks of a mixed command set, e.g.
/// `safety check: mean 3.2 µs, p99 6 µs, max 41 µs over 10000 commands`.
/// The p99 is there because on a busy machine the max mostly measures preemption.
pub fn bench_report() -> String {
    let mut times: Vec<Duration> = SAMPLE
        .iter()
        .cycle()
        .take(RUNS)
        .map(|command| {
            let start = Instant::now();
            let verdict = super::check(command);
            let elapsed = start.elapsed();
            std::hint::black_box(verdict);
            elapsed
        })
        .collect();
    times.sort_unstable();
    let total: Duration = times.iter().sum();
    let mean = total.checked_div(RUNS as u32).unwrap_or_default();
    let p99 = times.get(RUNS * 99 / 100).copied().unwrap_or_default();
    let max = times.last().copied().unwrap_or_default();
    format!(
        "safety check: mean {:.1} µs, p99 {:.0} µs, max {:.0} µs over {RUNS} commands",
        micros(mean),
        micros(p99),
        micros(max)
    )
}
