//! Recursive-descent parser over the token stream from `lexer.rs`.
//!
//! It is deliberately forgiving: a command the shell would reject still gets parsed as far
//! as possible, because a half-typed or malformed suggestion must still be judged, and
//! judging it as if it ran is the cautious reading.

use super::ast::{Assign, Command, Part, Pipeline, Redir, RedirOp, Script, Simple, Word};

/// Nesting limit shared by the parser and the checker. Hostile input such as ten
/// thousand `$(` must not exhaust the stack; anything deeper is reported instead.
pub(crate) const MAX_DEPTH: usize = 32;
/// Each heredoc scans ahead for its body; capping them keeps pathological lines linear.
const MAX_HEREDOCS: usize = 64;

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
    /// `if`, `then`, `fi`, `while`, `done`, `!` …: flattened away.
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

pub(crate) struct Parsed {
    pub(crate) script: Script,
    pub(crate) too_deep: bool,
}

/// Parses `src`, counting `depth` levels of nesting as already used by the caller.
pub(crate) fn parse(src: &str, depth: usize) -> Parsed {
    let mut p = Parser::new(src, depth);
    let script = p.parse_list(Stop::default());
    Parsed {
        script,
        too_deep: p.too_deep,
    }
}

pub(super) struct Parser {
    pub(super) src: Vec<char>,
    pub(super) pos: usize,
    pub(super) depth: usize,
    pub(super) too_deep: bool,
    /// Position of the newline that ends a line carrying heredocs, and where the
    /// lexer resumes after their bodies.
    pub(super) heredoc_jump: Option<(usize, usize)>,
    peeked: Option<Tok>,
    heredocs_left: usize,
    bumps: usize,
}

impl Parser {
    pub(super) fn new(src: &str, depth: usize) -> Self {
        Parser {
            src: src.chars().collect(),
            pos: 0,
            depth,
            too_deep: false,
            heredoc_jump: None,
            peeked: None,
            heredocs_left: MAX_HEREDOCS,
            bumps: 0,
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

    fn peek(&mut self) -> Peek {
        if self.peeked.is_none() {
            let tok = self.lex_token();
            self.peeked = Some(tok);
        }
        match &self.peeked {
            Some(Tok::Word(w)) => Peek::Word(keyword(w)),
            Some(Tok::Op(op)) => Peek::Op(*op),
            Some(Tok::Redir(op)) => Peek::Redir(*op),
            Some(Tok::Eof) | None => Peek::Eof,
        }
    }

    fn bump(&mut self) -> Tok {
        self.bumps += 1;
        match self.peeked.take() {
            Some(tok) => tok,
            None => self.lex_token(),
        }
    }

    /// The peeked token is a word such as `-p` (an option to `time`).
    fn peeked_is_option(&self) -> bool {
        matches!(&self.peeked, Some(Tok::Word(w)) if w.literal().is_some_and(|t| t.starts_with('-')))
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
    pub(super) fn parse_sub(&mut self) -> Script {
        if !self.enter() {
            self.skip_balanced(1);
            return Script::default();
        }
        // The lexer only calls this between tokens, so nothing is peeked; whatever the
        // inner list stops on (its `)` or the end of input) is consumed here.
        let script = self.parse_list(Stop {
            paren: true,
            ..Stop::default()
        });
        self.peeked = None;
        self.leave();
        script
    }

    fn parse_list(&mut self, stop: Stop) -> Script {
        let mut script = Script::default();
        loop {
            match self.peek() {
                Peek::Eof => break,
                Peek::Op(
                    Op::Newline | Op::Semi | Op::AndIf | Op::OrIf | Op::Pipe | Op::PipeAmp,
                ) => {
                    self.bump();
                }
                Peek::Op(Op::Amp) => {
                    self.bump();
                    if let Some(last) = script.pipelines.last_mut() {
                        last.background = true;
                    }
                }
                Peek::Op(Op::CaseEnd) => {
                    if stop.case_arm {
                        break;
                    }
                    self.bump();
                }
                Peek::Op(Op::RParen) => {
                    if stop.paren {
                        break;
                    }
                    self.bump();
                }
                Peek::Word(Some(Kw::RBrace)) if stop.brace => break,
                Peek::Word(Some(Kw::Esac)) if stop.case_arm => break,
                Peek::Word(_) | Peek::Redir(_) | Peek::Op(Op::LParen) => {
                    let pipeline = self.parse_pipeline(stop);
                    script.pipelines.push(pipeline);
                }
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
            if !matches!(self.peek(), Peek::Op(Op::Pipe | Op::PipeAmp)) {
                break;
            }
            self.bump();
            self.skip_newlines();
            if !self.starts_command(stop) {
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
                    Kw::RBrace | Kw::Esac | Kw::Do | Kw::Skip => {
                        self.bump();
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
        if !self.enter() {
            return Command::Simple(Simple::default());
        }
        let body = self.parse_list(Stop {
            brace: true,
            ..stop
        });
        self.leave();
        if self.peek() == Peek::Word(Some(Kw::RBrace)) {
            self.bump();
        }
        let redirs = self.parse_redirs();
        Command::Group { body, redirs }
    }

    fn parse_subshell(&mut self) -> Command {
        self.bump();
        if self.cur() == Some('(') {
            // `(( … ))` is arithmetic, not a nested subshell.
            self.skip_balanced(1);
            let redirs = self.parse_redirs();
            return Command::Group {
                body: Script::default(),
                redirs,
            };
        }
        if !self.enter() {
            self.skip_balanced(1);
            return Command::Simple(Simple::default());
        }
        let body = self.parse_list(Stop {
            paren: true,
            ..Stop::default()
        });
        self.leave();
        if self.peek() == Peek::Op(Op::RParen) {
            self.bump();
        }
        let redirs = self.parse_redirs();
        Command::Group { body, redirs }
    }

    fn parse_case(&mut self, stop: Stop) -> Command {
        let head = self.take_word();
        if !self.enter() {
            return Command::Simple(Simple::default());
        }
        let mut body = Script::default();
        if matches!(self.peek(), Peek::Word(_)) {
            // The subject may hold a substitution that runs.
            let subject = self.take_word();
            body.pipelines.push(Pipeline {
                stages: vec![Command::Simple(Simple {
                    words: vec![head, subject],
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
                Peek::Eof => break,
                Peek::Word(Some(Kw::Esac)) => {
                    self.bump();
                    break;
                }
                Peek::Op(Op::RParen) if stop.paren => break,
                Peek::Word(Some(Kw::RBrace)) if stop.brace => break,
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
        simple.words.push(self.take_word());
        if self.peek() == Peek::Op(Op::LParen) {
            self.bump();
            self.skip_balanced(1);
        }
        while let Peek::Word(kw) = self.peek() {
            if kw == Some(Kw::Do) {
                break;
            }
            let w = self.take_word();
            simple.words.push(w);
        }
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
        loop {
            match self.peek() {
                Peek::Word(kw) => {
                    if test_mode && kw == Some(Kw::DRBracket) {
                        test_mode = false;
                    }
                    let word = self.take_word();
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
                    // Inside `[[ … ]]`, `<` and `>` compare strings; they redirect nothing.
                    if !test_mode {
                        let redir = self.parse_redir(op);
                        simple.redirs.push(redir);
                    }
                }
                _ => break,
            }
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
                let body = self.read_heredoc(&delim, op == RedirOp::HereDocStrip);
                let expanded = if !quoted && (body.contains('$') || body.contains('`')) {
                    Some(self.expand_body(&body))
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
    fn read_heredoc(&mut self, delim: &str, strip_tabs: bool) -> String {
        if self.heredocs_left == 0 {
            return String::new();
        }
        self.heredocs_left -= 1;
        let (newline, start) = match self.heredoc_jump {
            Some((nl, end)) if end > self.pos => (nl, end),
            _ => {
                let rest = self.src.get(self.pos..).unwrap_or(&[]);
                match rest.iter().position(|&c| c == '\n') {
                    Some(off) => (self.pos + off, self.pos + off + 1),
                    None => return String::new(),
                }
            }
        };
        let delim: Vec<char> = delim.chars().collect();
        let mut body = String::new();
        let mut i = start;
        let end = loop {
            let rest = self.src.get(i..).unwrap_or(&[]);
            if rest.is_empty() {
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
            if cmp == delim.as_slice() {
                break (i + len + 1).min(self.src.len());
            }
            body.extend(line.iter());
            body.push('\n');
            i += len + 1;
        };
        self.heredoc_jump = Some((newline, end));
        body
    }

    fn expand_body(&mut self, body: &str) -> Word {
        if !self.enter() {
            return Word::default();
        }
        let mut sub = Parser::new(body, self.depth);
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
        "if" | "then" | "elif" | "else" | "fi" | "while" | "until" | "done" | "!" | "coproc" => {
            Kw::Skip
        }
        _ => return None,
    })
}

pub(super) fn is_name(s: &str) -> bool {
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
    let mut parts = word.parts;
    if parts.is_empty() {
        return Err(Word { parts });
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
        value: Word { parts },
    })
}
