//! `caro model pull|list|path|verify|rm`, and the first-run download offer.

use std::io::{BufRead, IsTerminal, Write};

use clap::Subcommand;

use crate::error::{CaroError, exit};
use crate::settings::{DEFAULT_LOCATION, Settings};
use crate::store::{Catalog, CtrlC, ModelStore, ProgressMode, PullOptions, Variant};

#[derive(Debug, Clone, Subcommand)]
pub enum ModelAction {
    /// Download a model variant into the Hugging Face cache (resumable, checksummed)
    Pull {
        /// `q4_k_m` (default) or `q8_0`
        variant: Option<String>,
    },
    /// Show the variants, which are present, their sizes and which is active
    List,
    /// Print the path of the model caro will use
    Path,
    /// Re-hash a downloaded variant and check it against the catalogue
    Verify { variant: Option<String> },
    /// Delete a downloaded variant
    Rm { variant: String },
}

fn variant<'a>(catalog: &'a Catalog, name: Option<&str>) -> Result<&'a Variant, CaroError> {
    Ok(match name {
        Some(n) => catalog.get(n)?,
        None => catalog.default_variant()?,
    })
}

fn progress_mode() -> ProgressMode {
    if std::io::stderr().is_terminal() {
        ProgressMode::Bar
    } else {
        ProgressMode::Lines
    }
}

pub fn run(action: &ModelAction, s: &Settings) -> Result<i32, CaroError> {
    let catalog = Catalog::builtin();
    let store = ModelStore::from_env()?.with_models_dir(s.models_dir.clone());
    match action {
        ModelAction::Pull { variant: name } => {
            let v = variant(catalog, name.as_deref())?;
            let path = pull(&store, v)?;
            crate::outln!("{}", path.display());
        }
        ModelAction::List => {
            let active = s.model.file_name().and_then(|f| f.to_str()).and_then(|f| {
                catalog
                    .variants
                    .iter()
                    .find(|v| v.file == f)
                    .map(|v| v.name.clone())
            });
            let models = store.list(catalog, active.as_deref());
            for m in &models {
                let size = m.size.map_or_else(
                    || "size unknown".into(),
                    |b| format!("{:.1} GB", b as f64 / 1e9),
                );
                let state = match (&m.path, m.partial, &m.unverified) {
                    (Some(p), _, _) => format!("present  {}", p.display()),
                    (None, _, Some(p)) => format!(
                        "not the catalogue's file: {} (`caro model verify` says why)",
                        p.display()
                    ),
                    (None, Some(done), None) => {
                        format!("partial ({:.0} MB so far)", done as f64 / 1e6)
                    }
                    (None, None, None) => "not downloaded".into(),
                };
                let mark = if m.active { "*" } else { " " };
                crate::outln!("{mark} {:<8} {size:<13} {state}", m.name);
            }
            if !models.iter().any(|m| m.path.as_ref() == Some(&s.model)) {
                let present = if s.model.is_file() {
                    "present"
                } else {
                    "missing"
                };
                crate::outln!(
                    "active model: {} ({present}, {})",
                    s.model.display(),
                    s.model_source
                );
            }
        }
        ModelAction::Path => {
            if !s.model.is_file() {
                return Err(crate::model::ModelError::NotFound {
                    path: s.model.clone(),
                }
                .into());
            }
            crate::outln!("{}", s.model.display());
        }
        ModelAction::Verify { variant: name } => {
            let v = variant(catalog, name.as_deref())?;
            let ok = store.verify(v, progress_mode())?;
            crate::outln!("ok  {}  sha256 {}", ok.path.display(), ok.sha256);
        }
        ModelAction::Rm { variant: name } => {
            let v = catalog.get(name)?;
            let removed = store.remove(v)?;
            if removed.paths.is_empty() {
                crate::outln!("{} is not downloaded", v.name);
            } else {
                crate::outln!(
                    "removed {} ({:.1} GB freed)",
                    v.name,
                    removed.freed as f64 / 1e9
                );
            }
        }
    }
    Ok(exit::OK)
}

fn pull(store: &ModelStore, v: &Variant) -> Result<std::path::PathBuf, CaroError> {
    let ctrl_c = CtrlC::install().ok();
    let opts = PullOptions {
        progress: progress_mode(),
        cancel: ctrl_c.as_ref().map(|c| c.flag()),
        ..PullOptions::default()
    };
    Ok(store.pull(v, &opts)?.path)
}

/// On a terminal with the default model missing, offers to download it once. Returns
/// the downloaded path, or `None` when it was declined or cannot be asked.
pub fn offer_first_download(s: &Settings) -> Result<Option<std::path::PathBuf>, CaroError> {
    // A server answers: no model file is needed here.
    if s.backend == crate::settings::BackendKind::Openai
        || s.model.is_file()
        || s.model_source != DEFAULT_LOCATION
    {
        return Ok(None);
    }
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Ok(None);
    }
    let catalog = Catalog::builtin();
    let v = catalog.default_variant()?;
    let size = v
        .size
        .map_or_else(String::new, |b| format!(", {:.1} GB", b as f64 / 1e9));
    eprint!(
        "caro: download {} {}{size}? [Y/n] ",
        catalog.model,
        v.name.to_uppercase()
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CaroError::Other(e.to_string()))?;
    if !matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "" | "y" | "yes"
    ) {
        return Ok(None);
    }
    let store = ModelStore::from_env()?.with_models_dir(s.models_dir.clone());
    pull(&store, v).map(Some)
}
