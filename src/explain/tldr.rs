//! One-line summaries of programs from the tldr pages (CC BY 4.0), derived by
//! `scripts/tldr-summaries.py` into `tldr-summaries.tsv`.

use std::sync::LazyLock;

static TSV: &str = include_str!("tldr-summaries.tsv");

/// (program, summary), sorted by program as the script writes them.
static PAGES: LazyLock<Vec<(&'static str, &'static str)>> = LazyLock::new(|| {
    TSV.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('\t'))
        .collect()
});

pub fn summary(program: &str) -> Option<&'static str> {
    let pages = &*PAGES;
    pages
        .binary_search_by(|(name, _)| (*name).cmp(program))
        .ok()
        .map(|i| pages[i].1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn summaries_are_sorted_and_found() {
        assert!(super::PAGES.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(super::summary("tar"), Some("Archiving utility."));
        assert_eq!(super::summary("no-such-program-here"), None);
    }
}
