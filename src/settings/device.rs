//! Where the local engine runs: `device = "cpu" | "cuda[:N]" | "metal[:N]"`.

use serde::{Deserialize, Serialize};

/// A compute device for the local engine; the ordinal picks one of several GPUs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DeviceSetting {
    #[default]
    Cpu,
    Cuda(usize),
    Metal(usize),
}

impl DeviceSetting {
    pub fn is_cpu(self) -> bool {
        self == Self::Cpu
    }
}

impl std::str::FromStr for DeviceSetting {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        let (name, ordinal) = match s.split_once(':') {
            Some((name, n)) => {
                let n = n
                    .parse::<usize>()
                    .map_err(|_| format!("device {s:?}: {n:?} is not a device number"))?;
                (name, Some(n))
            }
            None => (s.as_str(), None),
        };
        match (name, ordinal) {
            ("cpu", None) => Ok(Self::Cpu),
            ("cuda", n) => Ok(Self::Cuda(n.unwrap_or(0))),
            ("metal", n) => Ok(Self::Metal(n.unwrap_or(0))),
            _ => Err(format!(
                "unknown device {s:?} (cpu, cuda, cuda:N, metal or metal:N)"
            )),
        }
    }
}

impl std::fmt::Display for DeviceSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Cpu => f.write_str("cpu"),
            Self::Cuda(n) => write!(f, "cuda:{n}"),
            Self::Metal(n) => write!(f, "metal:{n}"),
        }
    }
}

impl TryFrom<String> for DeviceSetting {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<DeviceSetting> for String {
    fn from(d: DeviceSetting) -> Self {
        d.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::DeviceSetting;

    #[test]
    fn names_parse_and_print_back() {
        for (text, want) in [
            ("cpu", DeviceSetting::Cpu),
            ("CUDA", DeviceSetting::Cuda(0)),
            ("cuda:1", DeviceSetting::Cuda(1)),
            ("metal", DeviceSetting::Metal(0)),
        ] {
            assert_eq!(text.parse::<DeviceSetting>(), Ok(want), "{text}");
            assert_eq!(want.to_string().parse::<DeviceSetting>(), Ok(want));
        }
    }

    #[test]
    fn bad_names_say_what_is_accepted() {
        for bad in ["gpu", "cuda:x", "cpu:1", "cuda:"] {
            let e = bad.parse::<DeviceSetting>().expect_err(bad);
            assert!(
                e.contains(bad.trim_end_matches(':')) || e.contains("device"),
                "{e}"
            );
        }
        assert!(
            "gpu"
                .parse::<DeviceSetting>()
                .unwrap_err()
                .contains("cuda:N")
        );
    }
}
