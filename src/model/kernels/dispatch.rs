//! Which kernel family runs: the best the CPU offers, or the one `CARO_KERNELS`
//! names (`avx512-vnni`, `avx512`, `avx2`, `portable`) so every path can be tested
//! on one machine.

use std::sync::OnceLock;

/// Environment variable that forces a kernel path.
pub const ENV: &str = "CARO_KERNELS";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Path {
    Portable,
    Avx2,
    Avx512,
    Avx512Vnni,
}

impl Path {
    pub const ALL: [Path; 4] = [Path::Portable, Path::Avx2, Path::Avx512, Path::Avx512Vnni];

    pub fn name(self) -> &'static str {
        match self {
            Path::Portable => "portable",
            Path::Avx2 => "avx2",
            Path::Avx512 => "avx512",
            Path::Avx512Vnni => "avx512-vnni",
        }
    }

    fn parse(s: &str) -> Option<Path> {
        Path::ALL.into_iter().find(|p| p.name() == s.trim())
    }

    /// Whether this CPU can run the path.
    pub fn supported(self) -> bool {
        self <= detected()
    }
}

/// The best path this CPU runs.
pub fn detected() -> Path {
    #[cfg(target_arch = "x86_64")]
    {
        let avx512 = is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512vl")
            && is_x86_feature_detected!("avx512dq");
        let avx2 = is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("fma")
            && is_x86_feature_detected!("f16c");
        if avx2 && avx512 && is_x86_feature_detected!("avx512vnni") {
            return Path::Avx512Vnni;
        }
        if avx2 && avx512 {
            return Path::Avx512;
        }
        if avx2 {
            return Path::Avx2;
        }
    }
    Path::Portable
}

/// The path in use: `CARO_KERNELS` if set to a path this CPU runs, else the best one.
/// Read once: it must not change between the matmuls of one run.
pub fn active() -> Path {
    static ACTIVE: OnceLock<Path> = OnceLock::new();
    *ACTIVE.get_or_init(|| {
        let best = detected();
        match std::env::var(ENV) {
            Ok(v) => match Path::parse(&v) {
                Some(p) if p.supported() => p,
                Some(p) => {
                    tracing::warn!(
                        "{ENV}={} is not supported by this CPU; using {}",
                        p.name(),
                        best.name()
                    );
                    best
                }
                None => {
                    tracing::warn!("{ENV}={v:?} is not a kernel path; using {}", best.name());
                    best
                }
            },
            Err(_) => best,
        }
    })
}

/// The CPU features the dispatch looks at, those present, for reports.
pub fn cpu_features() -> Vec<&'static str> {
    #[allow(unused_mut)]
    let mut out = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        let all = [
            ("avx2", is_x86_feature_detected!("avx2")),
            ("fma", is_x86_feature_detected!("fma")),
            ("f16c", is_x86_feature_detected!("f16c")),
            ("avx512f", is_x86_feature_detected!("avx512f")),
            ("avx512bw", is_x86_feature_detected!("avx512bw")),
            ("avx512vl", is_x86_feature_detected!("avx512vl")),
            ("avx512dq", is_x86_feature_detected!("avx512dq")),
            ("avx512vnni", is_x86_feature_detected!("avx512vnni")),
        ];
        out.extend(all.into_iter().filter(|(_, on)| *on).map(|(n, _)| n));
    }
    #[cfg(target_arch = "aarch64")]
    out.push("neon");
    out
}

#[cfg(test)]
mod tests {
    use super::Path;

    #[test]
    fn every_path_name_parses_back_and_others_do_not() {
        for p in Path::ALL {
            assert_eq!(Path::parse(p.name()), Some(p));
        }
        assert_eq!(Path::parse(" avx2\n"), Some(Path::Avx2));
        assert_eq!(Path::parse("sse2"), None);
    }
}
