//! Deterministic fixes of constructs the model learnt from old or BSD manuals that a
//! GNU userland rejects or reads differently. Only forms with one clear meaning are
//! rewritten; everything else is left exactly as the model wrote it.

/// Rewrites `find -perm +MODE` ("any of these bits", removed from GNU find in 2005)
/// to `-perm /MODE`. GNU find rejects `+111` outright and silently reads `+x` as the
/// exact mode `0111`, so the command would fail or match nothing. BSD find still
/// accepts `+MODE`, so this applies only to a GNU userland.
pub fn gnu_find_perm(command: &str) -> Option<String> {
    let words = word_spans(command);
    if !words.iter().any(|&(s, e)| &command[s..e] == "find") {
        return None;
    }
    let mut out = String::with_capacity(command.len() + 4);
    let mut last = 0;
    for pair in words.windows(2) {
        let (ps, pe) = pair[0];
        let (vs, ve) = pair[1];
        if &command[ps..pe] != "-perm" {
            continue;
        }
        let raw = &command[vs..ve];
        let (quote, inner) = match raw.chars().next() {
            Some(q @ ('\'' | '"')) if raw.len() >= 2 && raw.ends_with(q) => {
                (q.to_string(), &raw[1..raw.len() - 1])
            }
            _ => (String::new(), raw),
        };
        let Some(mode) = inner.strip_prefix('+') else {
            continue;
        };
        let Some(fixed) = any_bits(mode) else {
            continue;
        };
        out.push_str(&command[last..vs]);
        out.push_str(&format!("{quote}/{fixed}{quote}"));
        last = ve;
    }
    if last == 0 {
        return None;
    }
    out.push_str(&command[last..]);
    Some(out)
}

/// The `/MODE` operand meaning "any of the bits of MODE", or `None` when MODE is not a
/// mode at all.
fn any_bits(mode: &str) -> Option<String> {
    if mode.is_empty() {
        return None;
    }
    if mode.len() <= 4 && mode.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return Some(mode.to_owned());
    }
    let symbolic = |b: u8| b"ugoa+-=rwxXst,".contains(&b);
    if !mode.bytes().all(symbolic) {
        return None;
    }
    if mode.bytes().any(|b| b"+-=".contains(&b)) {
        // Already a full symbolic mode ("u=s", "g+w").
        Some(mode.to_owned())
    } else if mode.bytes().all(|b| b"rwxXst".contains(&b)) {
        // "+x": the leading plus was the operator; for everyone is what was meant.
        Some(format!("a+{mode}"))
    } else {
        None
    }
}

/// Byte spans of the whitespace-separated words of `s`, with quotes kept inside their
/// word (a quoted space does not split it).
fn word_spans(s: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = None;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\\') => {
                escaped = true;
                start.get_or_insert(i);
            }
            (None, '\'' | '"') => {
                quote = Some(c);
                start.get_or_insert(i);
            }
            (None, c) if c.is_whitespace() || c == ';' || c == '|' || c == '&' => {
                if let Some(st) = start.take() {
                    spans.push((st, i));
                }
            }
            (None, _) => {
                start.get_or_insert(i);
            }
        }
    }
    if let Some(st) = start {
        spans.push((st, s.len()));
    }
    spans
}

/// Applies every repair that fits the local userland.
pub fn repair(command: &str, gnu: bool) -> String {
    if gnu {
        if let Some(fixed) = gnu_find_perm(command) {
            return fixed;
        }
    }
    command.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octal_any_bits_become_slash() {
        assert_eq!(
            repair("find / -type f -perm +4000", true),
            "find / -type f -perm /4000"
        );
        assert_eq!(
            repair("find . -perm '+111' -ls", true),
            "find . -perm '/111' -ls"
        );
    }

    #[test]
    fn symbolic_forms_keep_their_meaning() {
        assert_eq!(repair("find . -perm +x", true), "find . -perm /a+x");
        assert_eq!(repair("find / -perm +u=s", true), "find / -perm /u=s");
        assert_eq!(
            repair("find . -perm \"+g+w\" | wc -l", true),
            "find . -perm \"/g+w\" | wc -l"
        );
    }

    #[test]
    fn every_occurrence_is_fixed() {
        assert_eq!(
            repair("find . -perm +4000 -o -perm +2000", true),
            "find . -perm /4000 -o -perm /2000"
        );
    }

    #[test]
    fn valid_and_foreign_forms_are_left_alone() {
        for c in [
            "find . -perm -4000",
            "find . -perm /u=s",
            "find . -perm 644",
            "find . -perm +bogus",
            "echo -perm +4000",
            "find . -name '-perm +4000'",
            "find . -perm",
        ] {
            assert_eq!(repair(c, true), c, "{c}");
        }
        // BSD find still means "any bits" by it.
        assert_eq!(repair("find . -perm +4000", false), "find . -perm +4000");
    }
}
