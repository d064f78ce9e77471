//! Character-level lexing: operators, quoting and expansions.
//!
//! Shell lexing depends on context (a `)` may close `$(`), so the lexer lives on the
//! parser and calls back into it for substitutions instead of producing a flat token list.

use super::ast::{Part, RedirOp, Span, Word};
use super::parse::{Op, Parser, Tok, is_name};
use super::parsed::Unfinished;

/// Collects a word's parts, merging neighbouring characters of the same quoting.
#[derive(Default)]
pub(super) struct WordBuf {
    parts: Vec<Part>,
    lit: String,
    quoted: bool,
}

impl WordBuf {
    fn push(&mut self, c: char, quoted: bool) {
        if !self.lit.is_empty() && self.quoted != quoted {
            self.flush();
        }
        self.quoted = quoted;
        self.lit.push(c);
    }

    fn push_str(&mut self, s: &str, quoted: bool) {
        for c in s.chars() {
            self.push(c, quoted);
        }
    }

    fn flush(&mut self) {
        if !self.lit.is_empty() {
            self.parts.push(Part::Lit {
                text: std::mem::take(&mut self.lit),
                quoted: self.quoted,
            });
        }
    }

    fn part(&mut self, part: Part) {
        self.flush();
        self.parts.push(part);
    }

    fn finish(mut self, span: Span) -> Word {
        self.flush();
        Word {
            parts: self.parts,
            span,
        }
    }

    /// True when everything so far is an unquoted `NAME=`, so what follows is an
    /// assignment value (where `~` expands and `(` opens an array).
    fn is_assignment_prefix(&self) -> bool {
        self.parts.is_empty()
            && !self.quoted
            && self
                .lit
                .strip_suffix('=')
                .is_some_and(|n| is_name(n.strip_suffix('+').unwrap_or(n)))
    }

    /// `@(`, `!(`, `+(`, `*(`, `?(` open an extended glob, not a subshell.
    fn ends_with_extglob_prefix(&self) -> bool {
        !self.quoted && self.lit.ends_with(['@', '!', '+', '*', '?'])
    }
}

const WORD_END: &[char] = &[' ', '\t', '\r', '\n', ';', '&', '|', ')'];

impl Parser {
    pub(super) fn cur(&self) -> Option<char> {
        self.src.get(self.pos).copied()
    }

    fn at(&self, offset: usize) -> Option<char> {
        self.src.get(self.pos.saturating_add(offset)).copied()
    }

    /// Skips blanks, line continuations and comments up to the next token.
    pub(super) fn skip_blanks(&mut self) {
        loop {
            match self.cur() {
                Some(' ' | '\t' | '\r') => self.pos += 1,
                Some('\\') if self.at(1) == Some('\n') => {
                    self.pos += 2;
                    self.continued_at_end();
                }
                Some('#') => {
                    let start = self.pos;
                    while self.cur().is_some_and(|c| c != '\n') {
                        self.pos += 1;
                    }
                    let span = self.bytes(start..self.pos);
                    self.comments.push(span);
                }
                _ => break,
            }
        }
    }

    /// After a `\` that ends a line: with nothing after it the shell waits for more.
    fn continued_at_end(&mut self) {
        if self.pos >= self.src.len() {
            self.unfinished(Unfinished::Backslash, self.pos.saturating_sub(2));
        }
    }

    /// The next token; blanks before it are already skipped.
    pub(super) fn lex_token(&mut self) -> Tok {
        let Some(c) = self.cur() else {
            return Tok::Eof;
        };
        match c {
            '\n' => {
                let here = self.pos;
                self.pos += 1;
                if let Some((newline, end)) = self.heredoc_jump
                    && newline == here
                {
                    self.pos = end.max(self.pos);
                    self.heredoc_jump = None;
                }
                Tok::Op(Op::Newline)
            }
            ';' => match (self.at(1), self.at(2)) {
                (Some(';'), Some('&')) => self.op(3, Op::CaseEnd),
                (Some(';' | '&'), _) => self.op(2, Op::CaseEnd),
                _ => self.op(1, Op::Semi),
            },
            '&' => match (self.at(1), self.at(2)) {
                (Some('&'), _) => self.op(2, Op::AndIf),
                (Some('>'), Some('>')) => self.redir(3, RedirOp::Append),
                (Some('>'), _) => self.redir(2, RedirOp::Write),
                _ => self.op(1, Op::Amp),
            },
            '|' => match self.at(1) {
                Some('|') => self.op(2, Op::OrIf),
                Some('&') => self.op(2, Op::PipeAmp),
                _ => self.op(1, Op::Pipe),
            },
            '(' => self.op(1, Op::LParen),
            ')' => self.op(1, Op::RParen),
            '<' | '>' if self.at(1) != Some('(') => self.lex_redir(),
            '0'..='9' if self.digits_then_redir() => {
                while self.cur().is_some_and(|c| c.is_ascii_digit()) {
                    self.pos += 1;
                }
                self.lex_redir()
            }
            _ => Tok::Word(self.lex_word()),
        }
    }

    fn op(&mut self, len: usize, op: Op) -> Tok {
        self.pos += len;
        Tok::Op(op)
    }

    fn redir(&mut self, len: usize, op: RedirOp) -> Tok {
        self.pos += len;
        Tok::Redir(op)
    }

    fn digits_then_redir(&self) -> bool {
        let rest = self.src.get(self.pos..).unwrap_or(&[]);
        let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
        matches!(rest.get(digits), Some('<' | '>')) && rest.get(digits + 1) != Some(&'(')
    }

    fn lex_redir(&mut self) -> Tok {
        match (self.cur(), self.at(1), self.at(2)) {
            (Some('<'), Some('<'), Some('<')) => self.redir(3, RedirOp::HereString),
            (Some('<'), Some('<'), Some('-')) => self.redir(3, RedirOp::HereDocStrip),
            (Some('<'), Some('<'), _) => self.redir(2, RedirOp::HereDoc),
            (Some('<'), Some('>'), _) => self.redir(2, RedirOp::ReadWrite),
            (Some('<'), Some('&'), _) => self.redir(2, RedirOp::DupRead),
            (Some('<'), _, _) => self.redir(1, RedirOp::Read),
            (Some('>'), Some('>'), _) => self.redir(2, RedirOp::Append),
            (Some('>'), Some('|'), _) => self.redir(2, RedirOp::Write),
            (Some('>'), Some('&'), _) => self.redir(2, RedirOp::DupWrite),
            _ => self.redir(1, RedirOp::Write),
        }
    }

    pub(super) fn lex_word(&mut self) -> Word {
        let start = self.pos;
        let mut b = WordBuf::default();
        let mut at_start = true;
        while let Some(c) = self.cur() {
            if WORD_END.contains(&c) {
                break;
            }
            let mut next_at_start = false;
            match c {
                '(' => {
                    if !(b.ends_with_extglob_prefix() || b.is_assignment_prefix()) {
                        break;
                    }
                    let raw = self.raw_balanced();
                    b.push_str(&raw, false);
                }
                '<' | '>' => {
                    if !(at_start && self.at(1) == Some('(')) {
                        break;
                    }
                    let at = self.pos;
                    self.pos += 2;
                    let sub = self.parse_sub(if c == '<' { "<(" } else { ">(" }, at);
                    b.part(Part::ProcSub(sub));
                }
                '\\' => match self.at(1) {
                    Some('\n') => {
                        self.pos += 2;
                        self.continued_at_end();
                    }
                    Some(n) => {
                        b.push(n, true);
                        self.pos += 2;
                    }
                    None => {
                        b.push('\\', true);
                        self.unfinished(Unfinished::Backslash, self.pos);
                        self.pos += 1;
                    }
                },
                '\'' => {
                    self.pos += 1;
                    self.lex_single(&mut b);
                }
                '"' => {
                    self.pos += 1;
                    self.lex_double(&mut b, Some('"'));
                }
                '$' => self.lex_dollar(&mut b, false),
                '`' => self.lex_backtick(&mut b),
                '~' if at_start => self.lex_tilde(&mut b),
                _ => {
                    next_at_start = c == '=' && b.is_assignment_prefix_before_eq();
                    b.push(c, false);
                    self.pos += 1;
                }
            }
            at_start = next_at_start;
        }
        let span = self.bytes(start..self.pos);
        b.finish(span)
    }

    /// After an opening `'`.
    fn lex_single(&mut self, b: &mut WordBuf) {
        let at = self.pos.saturating_sub(1);
        while let Some(c) = self.cur() {
            self.pos += 1;
            if c == '\'' {
                return;
            }
            b.push(c, true);
        }
        self.unfinished(Unfinished::Quote("'"), at);
    }

    /// Double-quoted text; with `end == None` this lexes an unquoted heredoc body.
    fn lex_double(&mut self, b: &mut WordBuf, end: Option<char>) {
        let at = self.pos.saturating_sub(1);
        while let Some(c) = self.cur() {
            if Some(c) == end {
                self.pos += 1;
                return;
            }
            match c {
                '\\' => match self.at(1) {
                    Some(n @ ('$' | '`' | '"' | '\\')) => {
                        b.push(n, true);
                        self.pos += 2;
                    }
                    Some('\n') => self.pos += 2,
                    _ => {
                        b.push('\\', true);
                        self.pos += 1;
                    }
                },
                '$' => self.lex_dollar(b, true),
                '`' => self.lex_backtick(b),
                _ => {
                    b.push(c, true);
                    self.pos += 1;
                }
            }
        }
        if end.is_some() {
            self.unfinished(Unfinished::Quote("\""), at);
        }
    }

    pub(super) fn lex_dq_content(&mut self) -> Word {
        let mut b = WordBuf::default();
        self.lex_double(&mut b, None);
        let span = self.bytes(0..self.pos);
        b.finish(span)
    }

    fn lex_dollar(&mut self, b: &mut WordBuf, in_quotes: bool) {
        let at = self.pos;
        match self.at(1) {
            Some('(') if self.at(2) == Some('(') => {
                self.pos += 3;
                self.skip_balanced(2, "$((", at);
                b.part(Part::Arith);
            }
            Some('(') => {
                self.pos += 2;
                let sub = self.parse_sub("$(", at);
                b.part(Part::Sub(sub));
            }
            Some('{') => {
                self.pos += 2;
                self.lex_braced_param(b);
                if self.src.get(self.pos.wrapping_sub(1)) != Some(&'}') {
                    self.unfinished(Unfinished::Open("${"), at);
                }
            }
            Some('\'') if !in_quotes => {
                self.pos += 2;
                self.lex_ansi(b);
            }
            // `$"…"` is a translatable string: the same as "…".
            Some('"') if !in_quotes => self.pos += 1,
            Some(c) if c == '_' || c.is_ascii_alphabetic() => {
                self.pos += 1;
                let mut name = String::new();
                while let Some(c) = self
                    .cur()
                    .filter(|c| *c == '_' || c.is_ascii_alphanumeric())
                {
                    name.push(c);
                    self.pos += 1;
                }
                b.part(param(name, false, None));
            }
            Some(c) if c.is_ascii_digit() || "@*#?$!-".contains(c) => {
                self.pos += 2;
                b.part(param(c.to_string(), false, None));
            }
            _ => {
                b.push('$', in_quotes);
                self.pos += 1;
            }
        }
    }

    fn lex_braced_param(&mut self, b: &mut WordBuf) {
        let mut guarded = false;
        if self.cur() == Some('#') && self.at(1) != Some('}') {
            // `${#x}` is a length: a number, never empty.
            guarded = true;
            self.pos += 1;
        } else if self.cur() == Some('!') && self.at(1) != Some('}') {
            self.pos += 1;
        }
        let mut name = String::new();
        while let Some(c) = self
            .cur()
            .filter(|c| *c == '_' || c.is_ascii_alphanumeric())
        {
            name.push(c);
            self.pos += 1;
        }
        if name.is_empty()
            && let Some(c) = self.cur().filter(|c| "@*#?$!-".contains(*c))
        {
            name.push(c);
            self.pos += 1;
        }
        if self.cur() == Some('[') {
            while let Some(c) = self.cur() {
                self.pos += 1;
                if c == ']' {
                    break;
                }
            }
        }
        let mut op = String::new();
        while let Some(c) = self.cur().filter(|c| ":-=?+#%/^,@".contains(*c)) {
            if op.len() >= 2 {
                break;
            }
            op.push(c);
            self.pos += 1;
        }
        let inner = if self.cur() == Some('}') {
            None
        } else {
            Some(self.lex_param_word())
        };
        if self.cur() == Some('}') {
            self.pos += 1;
        }
        let has_default = inner.as_ref().is_some_and(|w| !w.parts.is_empty());
        guarded |= matches!(op.as_str(), ":?" | "?")
            || (matches!(op.as_str(), ":-" | "-" | ":=" | "=") && has_default);
        b.part(param(name, guarded, inner));
    }

    /// The word after a `${x:-…}`-style operator, up to the closing brace.
    fn lex_param_word(&mut self) -> Word {
        let start = self.pos;
        if !self.enter() {
            while self.cur().is_some_and(|c| c != '}') {
                self.pos += 1;
            }
            return Word::default();
        }
        let mut b = WordBuf::default();
        while let Some(c) = self.cur() {
            match c {
                '}' => break,
                '\\' => {
                    if let Some(n) = self.at(1) {
                        b.push(n, true);
                    }
                    self.pos += 2;
                }
                '\'' => {
                    self.pos += 1;
                    self.lex_single(&mut b);
                }
                '"' => {
                    self.pos += 1;
                    self.lex_double(&mut b, Some('"'));
                }
                '$' => self.lex_dollar(&mut b, false),
                '`' => self.lex_backtick(&mut b),
                _ => {
                    b.push(c, false);
                    self.pos += 1;
                }
            }
        }
        self.pos = self.pos.min(self.src.len());
        self.leave();
        let span = self.bytes(start..self.pos);
        b.finish(span)
    }

    /// `$'…'`: C-style escapes; the result is plain quoted text.
    fn lex_ansi(&mut self, b: &mut WordBuf) {
        let at = self.pos.saturating_sub(2);
        while let Some(c) = self.cur() {
            self.pos += 1;
            match c {
                '\'' => return,
                '\\' => {
                    let Some(n) = self.cur() else { return };
                    self.pos += 1;
                    let out = match n {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        'e' | 'E' => '\u{1b}',
                        other => other,
                    };
                    b.push(out, true);
                }
                _ => b.push(c, true),
            }
        }
        self.unfinished(Unfinished::Quote("$'"), at);
    }

    fn lex_backtick(&mut self, b: &mut WordBuf) {
        let at = self.pos;
        self.pos += 1;
        // The text between the backticks, unescaped, and where each character of it
        // came from, so words inside keep positions in the text being parsed.
        let mut raw = Vec::new();
        let mut offsets = Vec::new();
        let mut closed = false;
        while let Some(c) = self.cur() {
            let from = self.byte(self.pos);
            self.pos += 1;
            match c {
                '`' => {
                    closed = true;
                    break;
                }
                '\\' => match self.cur() {
                    Some(n @ ('`' | '\\' | '$')) => {
                        raw.push(n);
                        self.pos += 1;
                    }
                    _ => raw.push('\\'),
                },
                _ => raw.push(c),
            }
            offsets.push(from);
        }
        if closed {
            offsets.push(self.byte(self.pos - 1));
        } else {
            offsets.push(self.byte(self.pos));
            self.unfinished(Unfinished::Quote("`"), at);
        }
        if !self.enter() {
            b.part(Part::Sub(Default::default()));
            return;
        }
        let parsed = Parser::mapped(raw, offsets, self.depth).run();
        self.too_deep |= parsed.too_deep;
        self.leave();
        b.part(Part::Sub(parsed.script));
    }

    fn lex_tilde(&mut self, b: &mut WordBuf) {
        self.pos += 1;
        let mut user = String::new();
        while let Some(c) = self.cur() {
            if c == '/' || c == ':' || WORD_END.contains(&c) || "<>()'\"$`\\".contains(c) {
                break;
            }
            user.push(c);
            self.pos += 1;
        }
        b.part(Part::Tilde(user));
    }

    /// After an opening `(` that is part of a word (array or extglob), returns the
    /// text through the matching `)`.
    fn raw_balanced(&mut self) -> String {
        let start = self.pos;
        self.pos += 1;
        self.skip_balanced(1, "(", start);
        self.src
            .get(start..self.pos)
            .map(|s| s.iter().collect())
            .unwrap_or_default()
    }

    /// Skips text until `open` unmatched `(` are closed, without recursion, so it is
    /// also the fallback once the nesting limit is reached. `opener`, at character
    /// `at`, is what stays unfinished if the text ends first.
    pub(super) fn skip_balanced(&mut self, open: usize, opener: &'static str, at: usize) {
        let mut depth = open;
        while let Some(c) = self.cur() {
            self.pos += 1;
            match c {
                '\\' => self.pos = (self.pos + 1).min(self.src.len()),
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        return;
                    }
                }
                _ => {}
            }
        }
        self.unfinished(Unfinished::Open(opener), at);
    }
}

impl WordBuf {
    /// Like `is_assignment_prefix`, but checked just before the `=` is pushed.
    fn is_assignment_prefix_before_eq(&self) -> bool {
        self.parts.is_empty()
            && !self.quoted
            && is_name(self.lit.strip_suffix('+').unwrap_or(&self.lit))
    }
}

fn param(name: String, guarded: bool, inner: Option<Word>) -> Part {
    Part::Param {
        name,
        guarded,
        inner: inner.map(Box::new),
    }
}
