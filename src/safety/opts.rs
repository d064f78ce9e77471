//! GNU-style option splitting shared by the rules.
//!
//! Options may follow operands (`rm build -rf`), clusters combine (`-rf`), and some
//! options swallow the next word; getting this wrong would hide a `-r` or misread a
//! value as a target.

use super::args::Arg;

pub(crate) struct Opts<'s, 'w> {
    shorts: String,
    longs: Vec<&'s str>,
    values: Vec<(String, &'s Arg<'w>)>,
    pub(crate) operands: Vec<&'s Arg<'w>>,
}

impl<'s, 'w> Opts<'s, 'w> {
    /// `value_shorts`: letters that take a value; `value_longs`: long names that do.
    pub(crate) fn parse(args: &'s [Arg<'w>], value_shorts: &str, value_longs: &[&str]) -> Self {
        let mut opts = Opts {
            shorts: String::new(),
            longs: Vec::new(),
            values: Vec::new(),
            operands: Vec::new(),
        };
        let mut iter = args.iter();
        let mut ended = false;
        while let Some(arg) = iter.next() {
            let t = arg.text.as_str();
            if ended || t == "-" || !t.starts_with('-') {
                opts.operands.push(arg);
            } else if t == "--" {
                ended = true;
            } else if let Some(long) = t.strip_prefix("--") {
                match long.split_once('=') {
                    Some((name, _)) => {
                        opts.longs.push(name);
                        if value_longs.contains(&name) {
                            opts.values.push((name.to_string(), arg));
                        }
                    }
                    None => {
                        opts.longs.push(long);
                        if value_longs.contains(&long)
                            && let Some(value) = iter.next()
                        {
                            opts.values.push((long.to_string(), value));
                        }
                    }
                }
            } else {
                let cluster = t.get(1..).unwrap_or_default();
                for (i, c) in cluster.char_indices() {
                    opts.shorts.push(c);
                    if value_shorts.contains(c) {
                        let attached = cluster.get(i + c.len_utf8()..).unwrap_or_default();
                        if attached.is_empty() {
                            if let Some(value) = iter.next() {
                                opts.values.push((c.to_string(), value));
                            }
                        } else {
                            opts.values.push((c.to_string(), arg));
                        }
                        break;
                    }
                }
            }
        }
        opts
    }

    pub(crate) fn short(&self, c: char) -> bool {
        self.shorts.contains(c)
    }

    pub(crate) fn long(&self, name: &str) -> bool {
        self.longs.contains(&name)
    }

    pub(crate) fn longs_starting(&self, prefix: &str) -> bool {
        self.longs.iter().any(|l| l.starts_with(prefix))
    }

    pub(crate) fn flag(&self, c: char, name: &str) -> bool {
        self.short(c) || self.long(name)
    }

    /// The value of an option, by short letter or long name. Attached values
    /// (`-s0`, `--size=0`) are split off.
    pub(crate) fn value(&self, key: &str) -> Option<String> {
        self.values.iter().find(|(k, _)| k == key).map(|(k, arg)| {
            let t = arg.text.as_str();
            if let Some(v) = t.strip_prefix("--").and_then(|l| l.split_once('=')) {
                return v.1.to_string();
            }
            if k.chars().count() == 1
                && t.starts_with('-')
                && t.len() > 1
                && let Some(pos) = t.find(k.as_str())
            {
                return t.get(pos + k.len()..).unwrap_or_default().to_string();
            }
            t.to_string()
        })
    }
}
