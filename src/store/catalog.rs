use std::collections::HashSet;
use std::sync::OnceLock;

use serde::Deserialize;

use super::error::StoreError;

const BUILTIN: &str = include_str!("../../models/catalog.toml");

/// The models caro knows how to download (models/catalog.toml).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// Human name of the model family.
    pub model: String,
    pub license: String,
    /// Name of the variant used when none is asked for.
    pub default: String,
    #[serde(rename = "variant")]
    pub variants: Vec<Variant>,
}

/// One downloadable file of the model.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// Short name users type, e.g. `q4_k_m`.
    pub name: String,
    pub description: String,
    /// Hub repository, `owner/name`.
    pub repo: String,
    #[serde(default = "main_revision")]
    pub revision: String,
    /// File name inside the repository.
    pub file: String,
    /// Exact size in bytes, when pinned.
    pub size: Option<u64>,
    /// Lower-case hex SHA-256 of the file, when pinned.
    pub sha256: Option<String>,
}

fn main_revision() -> String {
    "main".to_string()
}

impl Catalog {
    /// The catalogue compiled into caro.
    pub fn builtin() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        // The text is part of the binary and checked by a unit test, so a
        // parse failure here is a build defect, not a user or OS condition.
        CATALOG.get_or_init(|| Catalog::parse(BUILTIN).expect("models/catalog.toml is valid"))
    }

    pub fn parse(text: &str) -> Result<Catalog, StoreError> {
        let catalog: Catalog =
            toml::from_str(text).map_err(|e| StoreError::Catalog(e.message().to_string()))?;
        catalog.check()?;
        Ok(catalog)
    }

    fn check(&self) -> Result<(), StoreError> {
        let mut seen = HashSet::new();
        for v in &self.variants {
            if !seen.insert(v.name.as_str()) {
                return Err(StoreError::Catalog(format!(
                    "variant {} listed twice",
                    v.name
                )));
            }
            if let Some(sha) = &v.sha256
                && !is_sha256_hex(sha)
            {
                return Err(StoreError::Catalog(format!(
                    "variant {}: sha256 must be 64 lower-case hex digits",
                    v.name
                )));
            }
            // These end up as path components in the cache.
            if v.file.is_empty() || v.file.contains("..") || v.repo.split('/').count() != 2 {
                return Err(StoreError::Catalog(format!(
                    "variant {}: bad repo or file name",
                    v.name
                )));
            }
        }
        if !seen.contains(self.default.as_str()) {
            return Err(StoreError::Catalog(format!(
                "default variant {} is not listed",
                self.default
            )));
        }
        Ok(())
    }

    pub fn get(&self, name: &str) -> Result<&Variant, StoreError> {
        self.variants
            .iter()
            .find(|v| v.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| StoreError::UnknownVariant {
                name: name.to_string(),
                known: self.names().join(", "),
            })
    }

    pub fn default_variant(&self) -> Result<&Variant, StoreError> {
        self.get(&self.default)
    }

    pub fn names(&self) -> Vec<&str> {
        self.variants.iter().map(|v| v.name.as_str()).collect()
    }
}

pub(crate) fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalogue_parses() {
        let c = Catalog::builtin();
        assert_eq!(
            c.default_variant().map(|v| v.name.as_str()).ok(),
            Some("q4_k_m")
        );
        let q4 = c.get("q4_k_m").expect("q4_k_m listed");
        assert_eq!(q4.size, Some(1_117_320_768));
        assert_eq!(
            q4.sha256.as_deref(),
            Some("cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046")
        );
        let q8 = c.get("Q8_0").expect("lookup ignores case");
        assert_eq!(q8.file, "qwen2.5-coder-1.5b-instruct-q8_0.gguf");
        assert_eq!(q8.repo, "Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF");
        assert_eq!(q8.revision, "main");
        assert!(matches!(
            c.get("q2"),
            Err(StoreError::UnknownVariant { .. })
        ));
    }

    #[test]
    fn bad_catalogues_are_rejected() {
        let missing_default = r#"
            model = "m"
            license = "x"
            default = "b"
            [[variant]]
            name = "a"
            description = ""
            repo = "o/r"
            file = "f"
        "#;
        assert!(Catalog::parse(missing_default).is_err());
        let bad_sha = missing_default
            .replace("default = \"b\"", "default = \"a\"")
            .replace("file = \"f\"", "file = \"f\"\nsha256 = \"ABC\"");
        assert!(Catalog::parse(&bad_sha).is_err());
    }
}
