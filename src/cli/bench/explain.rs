//! `caro bench --explain`: the explain key's latency. Each run is a fresh `caro explain`
//! process, as the widget starts one per key press; the commands have 1 to 6 options.

use std::process::{Command, Stdio};
use std::time::Instant;

use crate::error::{CaroError, exit};

const COMMANDS: &[&str] = &[
    "tar -xzvf a.tgz -C /tmp",
    "find . -name '*.log' -size +1M -mtime -7 -delete",
    "grep -rniw TODO src",
    "rsync -avz --delete --exclude .git src/ backup/",
    "ls -lahS",
    "du -sh * | sort -rh | head -n 5",
];

const RUNS: usize = 10;

pub fn run() -> Result<i32, CaroError> {
    let exe = std::env::current_exe().map_err(|e| CaroError::Other(e.to_string()))?;
    crate::outln!("caro bench --explain · {RUNS} fresh processes per command");
    for cmd in COMMANDS {
        let mut ms = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            let t = Instant::now();
            let status = Command::new(&exe)
                .args(["explain", "--", cmd])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map_err(|e| CaroError::Other(format!("cannot run caro explain: {e}")))?;
            ms.push(t.elapsed().as_secs_f64() * 1e3);
            if !status.success() {
                return Err(CaroError::Other(format!("caro explain failed on {cmd:?}")));
            }
        }
        ms.sort_by(f64::total_cmp);
        crate::outln!(
            "{:>7.1} ms median  {:>7.1} ms max   {cmd}",
            ms[RUNS / 2],
            ms[RUNS - 1]
        );
    }
    Ok(exit::OK)
}
