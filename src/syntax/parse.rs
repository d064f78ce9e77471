//! Recursive-descent parser over the token stream from `lexer.rs`.
//!
//! It is deliberately forgiving: a command the shell would reject still gets parsed as far
//! as possible, because a half-typed or malformed suggestion must still be judged, and
//! judging it as if it ran is the cautious reading. What the shell would have said about
//! it is kept beside the tree: whether it would wait for more input, and which syntax
//! errors it would report.

use std::ops::Range;

use super::ast::{Assign, Command, Part, Pipeline, Redir, RedirOp, Script, Simple, Span, Word};
use super::parsed::{Fault, Incomplete, Parsed, Problem, Unfinished};

/// Nesting limit shared by the parser and the checker. Hostile input such as ten
/// thousand `$(` must not exhaust the stack; anything deeper is reported instead.
pub const MAX_DEPTH: usize = 32;
/// Each heredoc scans ahead for its body; capping them keeps pathological lines linear.
const MAX_HEREDOCS: usize = 64;
/// Problems past the first few add nothing a caller could act on.
const MAX_PROBLEMS: usize = 16;

#[derive(Debug, Clone)]
pub(super) enum Tok {
    Word(Word),
    Op(Op),
    Redir(RedirOp),
    Eof,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Newline,
    Semi,
    Amp,
    AndIf,
    OrIf,
    Pipe,
    PipeAmp,
    LParen,
    RParen,
    CaseEnd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kw {
    LBrace,
    RBrace,
    Case,
    Esac,
    For,
    Select,
    Function,
    In,
    Do,
    DLBracket,
    DRBracket,
    /// `time` is a reserved word in bash: it prefixes a whole pipeline, even `{ …; }`.
    Time,
    /// `if`, `while`, `until`: flattened away, but the shell waits for their end.
    Open(&'static str),
    /// `fi`, `done`: flattened away once matched.
    Close(&'static str),
    /// `then`, `else`, `!` …: flattened away.
    Skip,
}

/// A cheap, copyable view of the next token so the grammar can branch without
/// borrowing the token itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Peek {
    Word(Option<Kw>),
    Op(Op),
    Redir(RedirOp),
    Eof,
}

/// Which closing tokens end the list being parsed.
#[derive(Debug, Clone, Copy, Default)]
struct Stop {
    paren: bool,
    brace: bool,
    case_arm: bool,
}

/// Parses `src`, counting `depth` levels of nesting as already used by the caller.
pub(crate) fn parse_nested(src: &str, depth: usize) -> Parsed {
    Parser::new(src, depth).run()
}

pub(super) struct Parser {
    pub(super) src: Vec<char>,
    /// Byte offset in the top-level text of each character of `src`, plus one entry for
    /// its end. Text re-parsed from backticks or a heredoc body maps back through it.
    offsets: Vec<usize>,
    pub(super) pos: usize,
    pub(super) depth: usize,
    pub(super) too_deep: bool,
    /// Position of the newline that ends a line carrying heredocs, and where the
    /// lexer resumes after their bodies.
    pub(super) heredoc_jump: Option<(usize, usize)>,
    peeked: Option<(Tok, Range<usize>)>,
    /// Character range of the token last taken.
    last: Range<usize>,
    heredocs_left: usize,
    bumps: usize,
    /// Open `if`/`for`/`while`… blocks, with where they start.
    blocks: Vec<(&'static str, usize)>,
    pub(super) incomplete: Option<Incomplete>,
    pub(super) problems: Vec<Problem>,
    pub(super) comments: Vec<Span>,
}

impl Parser {
    pub(super) fn new(src: &str, depth: usize) -> Self {
        let mut offsets: Vec<usize> = src.char_indices().map(|(i, _)| i).collect();
        offsets.push(src.len());
        Self::mapped(src.chars().collect(), offsets, depth)
    }

    /// A parser over text taken from the top-level text, `offsets` mapping it back.
    pub(super) fn mapped(src: Vec<char>, offsets: Vec<usize>, depth: usize) -> Self {
        Parser {
            src,
            offsets,
            pos: 0,
            depth,
            too_deep: false,
            heredoc_jump: None,
            peeked: None,
            last: 0..0,
            heredocs_left: MAX_HEREDOCS,
            bumps: 0,
            blocks: Vec::new(),
            incomplete: None,
            problems: Vec::new(),
            comments: Vec::new(),
        }
    }

    pub(super) fn run(mut self) -> Parsed {
        let script = self.parse_list(Stop::default());
        if let Some((name, at)) = self.blocks.first().copied() {
            self.unfinished(Unfinished::Open(name), at);
        }
        Parsed {
            script,
            too_deep: self.too_deep,
            incomplete: self.incomplete,
            problems: self.problems,
            comments: self.comments,
        }
    }

    /// Byte offset in the top-level text of character `i`.
    pub(super) fn byte(&self, i: usize) -> usize {
        match self.offsets.get(i) {
            Some(b) => *b,
            None => self.offsets.last().copied().unwrap_or_default(),
        }
    }

    pub(super) fn bytes(&self, chars: Range<usize>) -> Span {
        self.byte(chars.start)..self.byte(chars.end)
    }

    /// Records that the shell would wait for more input; the first reason is kept.
    pub(super) fn unfinished(&mut self, what: Unfinished, at: usize) {
        if self.incomplete.is_none() {
            let at = self.byte(at);
            self.incomplete = Some(Incomplete { what, at });
        }
    }

    fn problem(&mut self, what: Fault, at: usize) {
        if self.problems.len() < MAX_PROBLEMS {
            let at = self.byte(at);
            self.problems.push(Problem { what, at });
        }
    }

    /// Blocks opened since `mark` that a closing `)` or `}` cut short.
    fn cut_blocks(&mut self, mark: usize) {
        if let Some((name, at)) = self.blocks.get(mark).copied() {
            self.problem(Fault::Unclosed(name), at);
        }
        self.blocks.truncate(mark);
    }

    fn close_block(&mut self, closer: &'static str, at: usize) {
        let matches = |open: &str| match closer {
            "fi" => open == "if",
            _ => matches!(open, "for" | "select" | "while" | "until"),
        };
        match self.blocks.iter().rposition(|(open, _)| matches(open)) {
            Some(i) => {
                self.cut_blocks(i + 1);
                self.blocks.truncate(i);
            }
            None => self.problem(Fault::Unexpected(closer), at),
        }
    }

    /// Claims one nesting level; false (and remembered) when the limit is reached.
    pub(super) fn enter(&mut self) -> bool {
        if self.depth >= MAX_DEPTH {
            self.too_deep = true;
            return false;
        }
        self.depth += 1;
        true
    }

    pub(super) fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn next_token(&mut self) -> (Tok, Range<usize>) {
        self.skip_blanks();
        let start = self.pos;
        let tok = self.lex_token();
        (tok, start..self.pos)
    }

    fn peek(&mut self) -> Peek {
        if self.peeked.is_none() {
            let tok = self.next_token();
            self.peeked = Some(tok);
        }
        match &self.peeked {
            Some((Tok::Word(w), _)) => Peek::Word(keyword(w)),
            Some((Tok::Op(op), _)) => Peek::Op(*op),
            Some((Tok::Redir(op), _)) => Peek::Redir(*op),
            Some((Tok::Eof, _)) | None => Peek::Eof,
        }
    }

    fn bump(&mut self) -> Tok {
        self.bumps += 1;
        let (tok, range) = match self.peeked.take() {
            Some(peeked) => peeked,
            None => self.next_token(),
        };
        self.last = range;
        tok
    }

    /// The peeked token is a word such as `-p` (an option to `time`).
    fn peeked_is_option(&self) -> bool {
        matches!(&self.peeked, Some((Tok::Word(w), _)) if w.literal().is_some_and(|t| t.starts_with('-')))
    }

    fn take_word(&mut self) -> Word {
        match self.bump() {
            Tok::Word(w) => w,
            _ => Word::default(),
        }
    }

    fn skip_newlines(&mut self) {
        while self.peek() == Peek::Op(Op::Newline) {
            self.bump();
        }
    }

    /// Called by the lexer when `$(` or `<(` opens: parse up to the matching `)`.
    /// `opener` (`$(`, `<(`, `>(`) started at character `at`.
    pub(super) fn parse_sub(&mut self, opener: &'static str, at: usize) -> Script {
        if !self.enter() {
            self.skip_balanced(1, opener, at);
            return Script::default();
        }
        let mark = self.blocks.len();
        // The lexer only calls this between tokens, so nothing is peeked; whatever the
        // inner list stops on (its `)` or the end of input) is consumed here.
        let script = self.parse_list(Stop {
            paren: true,
            ..Stop::default()
        });
        if self.peek() == Peek::Eof {
            self.unfinished(Unfinished::Open(opener), at);
        } else {
            self.cut_blocks(mark);
        }
        self.peeked = None;
        self.leave();
        script
    }

    fn parse_list(&mut self, stop: Stop) -> Script {
        let mut script = Script::default();
        // An `&&`, `||` or `|` that still needs the command after it.
        let mut pending: Option<(&'static str, usize)> = None;
        // Nothing since the last separator, so a `;` or `&&` here has no command before it.
        let mut empty = true;
        loop {
            match self.peek() {
                Peek::Eof => break,
                Peek::Op(Op::Newline) => {
                    self.bump();
                    empty |= pending.is_none();
                }
                Peek::Op(op @ (Op::AndIf | Op::OrIf | Op::Pipe | Op::PipeAmp)) => {
                    self.bump();
                    let text = op_text(op);
                    // A `|` the pipeline did not take had no command before it.
                    if empty || pending.is_some() || matches!(op, Op::Pipe | Op::PipeAmp) {
                        self.problem(Fault::MissingCommand(text), self.last.start);
                    }
                    pending = Some((text, self.last.start));
                }
                Peek::Op(op @ (Op::Semi | Op::Amp)) => {
                    self.bump();
                    if let Some((text, at)) = pending.take() {
                        self.problem(Fault::MissingCommand(text), at);
                    } else if empty {
                        self.problem(Fault::MissingCommand(op_text(op)), self.last.start);
                    }
                    empty = true;
                    if op == Op::Amp
                        && let Some(last) = script.pipelines.last_mut()
                    {
                        last.background = true;
                    }
                }
                Peek::Op(Op::CaseEnd) => {
                    if stop.case_arm {
                        break;
                    }
                    self.bump();
                    self.problem(Fault::Unexpected(";;"), self.last.start);
                }
                Peek::Op(Op::RParen) => {
                    if stop.paren {
                        break;
                    }
                    self.bump();
                    self.problem(Fault::Unexpected(")"), self.last.start);
                }
                Peek::Word(Some(Kw::RBrace)) if stop.brace => break,
                Peek::Word(Some(Kw::Esac)) if stop.case_arm => break,
                Peek::Word(_) | Peek::Redir(_) | Peek::Op(Op::LParen) => {
                    let pipeline = self.parse_pipeline(stop);
                    script.pipelines.push(pipeline);
                    pending = None;
                    empty = false;
                }
            }
        }
        if let Some((text, at)) = pending {
            if self.peek() == Peek::Eof {
                self.unfinished(Unfinished::Operator(text), at);
            } else {
                self.problem(Fault::MissingCommand(text), at);
            }
        }
        script
    }

    fn starts_command(&mut self, stop: Stop) -> bool {
        match self.peek() {
            Peek::Word(Some(Kw::RBrace)) => !stop.brace,
            Peek::Word(Some(Kw::Esac)) => !stop.case_arm,
            Peek::Word(_) | Peek::Redir(_) | Peek::Op(Op::LParen) => true,
            _ => false,
        }
    }

    fn parse_pipeline(&mut self, stop: Stop) -> Pipeline {
        let mut pipeline = Pipeline::default();
        loop {
            let cmd = self.parse_command(stop);
            pipeline.stages.push(cmd);
            let op = match self.peek() {
                Peek::Op(op @ (Op::Pipe | Op::PipeAmp)) => op,
                _ => break,
            };
            self.bump();
            let at = self.last.start;
            self.skip_newlines();
            if !self.starts_command(stop) {
                match self.peek() {
                    Peek::Eof => self.unfinished(Unfinished::Operator(op_text(op)), at),
                    // The list reports a second `|` itself.
                    Peek::Op(Op::Pipe | Op::PipeAmp) => {}
                    _ => self.problem(Fault::MissingCommand(op_text(op)), at),
                }
                break;
            }
        }
        pipeline
    }

    fn parse_command(&mut self, stop: Stop) -> Command {
        loop {
            match self.peek() {
                Peek::Word(Some(kw)) => match kw {
                    Kw::LBrace => return self.parse_brace_group(stop),
                    Kw::Case => return self.parse_case(stop),
                    Kw::For | Kw::Select => return self.parse_for(),
                    Kw::Function => return self.parse_function_keyword(stop),
                    Kw::In | Kw::DLBracket | Kw::DRBracket => return self.parse_simple(stop),
                    Kw::Time => {
                        self.bump();
                        if self.peek() == Peek::Word(None) && self.peeked_is_option() {
                            self.bump();
                        }
                        if !self.starts_command(stop) {
                            return Command::Simple(Simple::default());
                        }
                    }
                    Kw::RBrace | Kw::Esac | Kw::Do | Kw::Skip | Kw::Open(_) | Kw::Close(_) => {
                        self.bump();
                        let at = self.last.start;
                        match kw {
                            Kw::RBrace => self.problem(Fault::Unexpected("}"), at),
                            Kw::Esac => self.problem(Fault::Unexpected("esac"), at),
                            Kw::Open(name) => self.blocks.push((name, at)),
                            Kw::Close(name) => self.close_block(name, at),
                            _ => {}
                        }
                        if !self.starts_command(stop) {
                            return Command::Simple(Simple::default());
                        }
                    }
                },
                Peek::Op(Op::LParen) => return self.parse_subshell(),
                _ => return self.parse_simple(stop),
            }
        }
    }

    fn parse_brace_group(&mut self, stop: Stop) -> Command {
        self.bump();
        let at = self.last.start;
        if !self.enter() {
            return Command::Simple(Simple::default());
        }
        let mark = self.blocks.len();
        let body = self.parse_list(Stop {
            brace: true,
            ..stop
        });
        self.leave();
        match self.peek() {
            Peek::Word(Some(Kw::RBrace)) => {
                self.bump();
                self.cut_blocks(mark);
            }
            Peek::Eof => self.unfinished(Unfinished::Open("{"), at),
            _ => self.problem(Fault::Unclosed("{"), at),
        }
        let redirs = self.parse_redirs();
        Command::Group { body, redirs }
    }

    fn parse_subshell(&mut self) -> Command {
        self.bump();
        let at = self.last.start;
        if self.cur() == Some('(') {
            // `(( … ))` is arithmetic, not a nested subshell.
            self.skip_balanced(1, "((", at);
            let redirs = self.parse_redirs();
            return Command::Group {
                body: Script::default(),
                redirs,
            };
        }
        if !self.enter() {
            self.skip_balanced(1, "(", at);
            return Command::Simple(Simple::default());
        }
        let mark = self.blocks.len();
        let body = self.parse_list(Stop {
            paren: true,
            ..Stop::default()
        });
        self.leave();
        if self.peek() == Peek::Op(Op::RParen) {
            self.bump();
            self.cut_blocks(mark);
        } else {
            self.unfinished(Unfinished::Open("("), at);
        }
        let redirs = self.parse_redirs();
        Command::Group { body, redirs }
    }

    fn parse_case(&mut self, stop: Stop) -> Command {
        let head = self.take_word();
        let at = self.last.start;
        if !self.enter() {
            return Command::Simple(Simple::default());
        }
        let mut body = Script::default();
        if matches!(self.peek(), Peek::Word(_)) {
            // The subject may hold a substitution that runs.
            let subject = self.take_word();
            let span = head.span.start..subject.span.end;
            body.pipelines.push(Pipeline {
                stages: vec![Command::Simple(Simple {
                    words: vec![head, subject],
                    span,
                    ..Simple::default()
                })],
                background: false,
            });
        }
        self.skip_newlines();
        if self.peek() == Peek::Word(Some(Kw::In)) {
            self.bump();
        }
        let arm_stop = Stop {
            case_arm: true,
            ..stop
        };
        loop {
            let before = self.bumps;
            while matches!(self.peek(), Peek::Op(Op::Newline | Op::Semi | Op::CaseEnd)) {
                self.bump();
            }
            match self.peek() {
                Peek::Eof => {
                    self.unfinished(Unfinished::Open("case"), at);
                    break;
                }
                Peek::Word(Some(Kw::Esac)) => {
                    self.bump();
                    break;
                }
                Peek::Op(Op::RParen) if stop.paren => {
                    self.problem(Fault::Unclosed("case"), at);
                    break;
                }
                Peek::Word(Some(Kw::RBrace)) if stop.brace => {
                    self.problem(Fault::Unclosed("case"), at);
                    break;
                }
                _ => {}
            }
            if self.peek() == Peek::Op(Op::LParen) {
                self.bump();
            }
            loop {
                match self.peek() {
                    Peek::Word(_) | Peek::Op(Op::Pipe) => {
                        self.bump();
                    }
                    Peek::Op(Op::RParen) => {
                        self.bump();
                        break;
                    }
                    _ => break,
                }
            }
            let arm = self.parse_list(arm_stop);
            body.pipelines.extend(arm.pipelines);
            if self.bumps == before {
                // Malformed input that nothing above consumed: drop one token so the
                // loop always advances.
                self.bump();
            }
        }
        self.leave();
        let redirs = self.parse_redirs();
        Command::Group { body, redirs }
    }

    /// `for x in words` / `select …`: kept as a plain command so substitutions in the
    /// word list are still checked; the body follows `do` and is parsed as usual.
    fn parse_for(&mut self) -> Command {
        let mut simple = Simple::default();
        let head = self.take_word();
        let at = self.last.start;
        let select = head.literal().as_deref() == Some("select");
        self.blocks
            .push((if select { "select" } else { "for" }, at));
        simple.words.push(head);
        if self.peek() == Peek::Op(Op::LParen) {
            self.bump();
            self.skip_balanced(1, "((", self.last.start);
        }
        while let Peek::Word(kw) = self.peek() {
            if kw == Some(Kw::Do) {
                break;
            }
            let w = self.take_word();
            simple.words.push(w);
        }
        simple.span = self.bytes(at..self.last.end);
        Command::Simple(simple)
    }

    fn parse_function_keyword(&mut self, stop: Stop) -> Command {
        self.bump();
        let name = match self.peek() {
            Peek::Word(_) => self.take_word().literal().unwrap_or_default(),
            _ => String::new(),
        };
        self.parse_function_body(name, stop)
    }

    fn parse_function_body(&mut self, name: String, stop: Stop) -> Command {
        if self.peek() == Peek::Op(Op::LParen) {
            self.bump();
            if self.peek() == Peek::Op(Op::RParen) {
                self.bump();
            }
        }
        self.skip_newlines();
        if !self.enter() {
            return Command::Simple(Simple::default());
        }
        let body = if self.starts_command(stop) {
            self.parse_command(stop)
        } else {
            if self.peek() == Peek::Eof {
                self.unfinished(Unfinished::Open("()"), self.last.start);
            }
            Command::Simple(Simple::default())
        };
        self.leave();
        Command::Function {
            name,
            body: Box::new(body),
        }
    }

    fn parse_simple(&mut self, stop: Stop) -> Command {
        let mut simple = Simple::default();
        let mut test_mode = false;
        let mut chars: Option<Range<usize>> = None;
        loop {
            match self.peek() {
                Peek::Word(kw) => {
                    if test_mode && kw == Some(Kw::DRBracket) {
                        test_mode = false;
                    }
                    let word = self.take_word();
                    let start = chars.as_ref().map_or(self.last.start, |c| c.start);
                    chars = Some(start..self.last.end);
                    if simple.words.is_empty() {
                        let word = match split_assignment(word) {
                            Ok(assign) => {
                                simple.assigns.push(assign);
                                continue;
                            }
                            Err(word) => word,
                        };
                        test_mode = kw == Some(Kw::DLBracket);
                        simple.words.push(word);
                        if simple.assigns.is_empty()
                            && !test_mode
                            && self.peek() == Peek::Op(Op::LParen)
                        {
                            let name = simple
                                .words
                                .pop()
                                .and_then(|w| w.literal())
                                .unwrap_or_default();
                            return self.parse_function_body(name, stop);
                        }
                    } else {
                        simple.words.push(word);
                    }
                }
                Peek::Redir(op) => {
                    self.bump();
                    let start = chars.as_ref().map_or(self.last.start, |c| c.start);
                    // Inside `[[ … ]]`, `<` and `>` compare strings; they redirect nothing.
                    if !test_mode {
                        let redir = self.parse_redir(op);
                        simple.redirs.push(redir);
                    }
                    chars = Some(start..self.last.end);
                }
                _ => break,
            }
        }
        if let Some(chars) = chars {
            simple.span = self.bytes(chars);
        }
        Command::Simple(simple)
    }

    fn parse_redirs(&mut self) -> Vec<Redir> {
        let mut redirs = Vec::new();
        while let Peek::Redir(op) = self.peek() {
            self.bump();
            redirs.push(self.parse_redir(op));
        }
        redirs
    }

    fn parse_redir(&mut self, op: RedirOp) -> Redir {
        let target = match self.peek() {
            Peek::Word(_) => self.take_word(),
            _ => Word::default(),
        };
        let heredoc = match op {
            RedirOp::HereDoc | RedirOp::HereDocStrip => {
                let (delim, quoted) = target.delimiter();
                let (body, offsets) = self.read_heredoc(delim, op == RedirOp::HereDocStrip);
                let expanded = if !quoted && (body.contains('$') || body.contains('`')) {
                    Some(self.expand_body(&body, offsets))
                } else {
                    None
                };
                Some(super::ast::HereDoc { body, expanded })
            }
            _ => None,
        };
        Redir {
            op,
            target,
            heredoc,
        }
    }

    /// Reads a heredoc body eagerly: it starts after the current line (or after the
    /// previous heredoc on this line) and the lexer is told to jump over it later.
    /// Returns the body and the top-level byte offset of each of its characters.
    fn read_heredoc(&mut self, delim: String, strip_tabs: bool) -> (String, Vec<usize>) {
        if self.heredocs_left == 0 {
            return Default::default();
        }
        self.heredocs_left -= 1;
        let at = self.last.start;
        let (newline, start) = match self.heredoc_jump {
            Some((nl, end)) if end > self.pos => (nl, end),
            _ => {
                let rest = self.src.get(self.pos..).unwrap_or(&[]);
                match rest.iter().position(|&c| c == '\n') {
                    Some(off) => (self.pos + off, self.pos + off + 1),
                    None => {
                        self.unfinished(Unfinished::HereDoc(delim), at);
                        return Default::default();
                    }
                }
            }
        };
        let delim_chars: Vec<char> = delim.chars().collect();
        let mut body = String::new();
        let mut offsets = Vec::new();
        let mut i = start;
        let end = loop {
            let rest = self.src.get(i..).unwrap_or(&[]);
            if rest.is_empty() {
                self.unfinished(Unfinished::HereDoc(delim), at);
                break self.src.len();
            }
            let len = rest.iter().position(|&c| c == '\n').unwrap_or(rest.len());
            let line = rest.get(..len).unwrap_or(&[]);
            let cmp = if strip_tabs {
                let tabs = line.iter().take_while(|&&c| c == '\t').count();
                line.get(tabs..).unwrap_or(&[])
            } else {
                line
            };
            if cmp == delim_chars.as_slice() {
                break (i + len + 1).min(self.src.len());
            }
            body.extend(line.iter());
            body.push('\n');
            offsets.extend((i..=i + len).map(|c| self.byte(c)));
            i += len + 1;
        };
        offsets.push(self.byte(i));
        self.heredoc_jump = Some((newline, end));
        (body, offsets)
    }

    fn expand_body(&mut self, body: &str, offsets: Vec<usize>) -> Word {
        if !self.enter() {
            return Word::default();
        }
        let mut sub = Parser::mapped(body.chars().collect(), offsets, self.depth);
        let word = sub.lex_dq_content();
        self.too_deep |= sub.too_deep;
        self.leave();
        word
    }
}

fn keyword(word: &Word) -> Option<Kw> {
    let [
        Part::Lit {
            text,
            quoted: false,
        },
    ] = word.parts.as_slice()
    else {
        return None;
    };
    Some(match text.as_str() {
        "{" => Kw::LBrace,
        "}" => Kw::RBrace,
        "case" => Kw::Case,
        "esac" => Kw::Esac,
        "for" => Kw::For,
        "select" => Kw::Select,
        "function" => Kw::Function,
        "in" => Kw::In,
        "do" => Kw::Do,
        "[[" => Kw::DLBracket,
        "time" => Kw::Time,
        "]]" => Kw::DRBracket,
        "if" => Kw::Open("if"),
        "while" => Kw::Open("while"),
        "until" => Kw::Open("until"),
        "fi" => Kw::Close("fi"),
        "done" => Kw::Close("done"),
        "then" | "elif" | "else" | "!" | "coproc" => Kw::Skip,
        _ => return None,
    })
}

fn op_text(op: Op) -> &'static str {
    match op {
        Op::Newline => "newline",
        Op::Semi => ";",
        Op::Amp => "&",
        Op::AndIf => "&&",
        Op::OrIf => "||",
        Op::Pipe => "|",
        Op::PipeAmp => "|&",
        Op::LParen => "(",
        Op::RParen => ")",
        Op::CaseEnd => ";;",
    }
}

/// A shell variable name.
pub fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// `NAME=value` (or `NAME+=value`) at the start of a command is an assignment, not a
/// command name.
fn split_assignment(word: Word) -> Result<Assign, Word> {
    let Some(Part::Lit {
        text,
        quoted: false,
    }) = word.parts.first()
    else {
        return Err(word);
    };
    let Some(eq) = text.find('=') else {
        return Err(word);
    };
    let name = text.get(..eq).unwrap_or_default();
    let name = name.strip_suffix('+').unwrap_or(name);
    if !is_name(name) {
        return Err(word);
    }
    let name = name.to_string();
    let rest = text.get(eq + 1..).unwrap_or_default().to_string();
    // The first part is unquoted text, written as it reads, so `=` sits at `eq`.
    let span = (word.span.start + eq + 1).min(word.span.end)..word.span.end;
    let mut parts = word.parts;
    if parts.is_empty() {
        return Err(Word {
            parts,
            span: word.span,
        });
    }
    parts.remove(0);
    if !rest.is_empty() {
        parts.insert(
            0,
            Part::Lit {
                text: rest,
                quoted: false,
            },
        );
    }
    Ok(Assign {
        name,
        value: Word { parts, span },
    })
}
