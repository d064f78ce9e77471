//! Prompt-lookup speculative decoding.
//!
//! A command copies much of its text from the prompt: file names, paths and flags
//! from the request, the context line or the examples. When the last few tokens
//! decoded also occur earlier in the prompt (or the reply), the tokens that followed
//! them there are a cheap guess at what comes next. Decoding one token streams every
//! weight from memory; our kernels read each weight row once for all the rows of a
//! pass, so the guessed tokens are checked together with the token just chosen in one
//! forward pass. That pays only while a guessed row costs well under a one-token pass
//! (see `settings::DEFAULT_SPECULATE` for where it stands). Guesses are bounded by
//! token counts only: at most the setting's number per pass, never past the reply's
//! token limit.
//!
//! Each checked row gives the logits after its token. The caller picks from them one
//! at a time, exactly as it would from a one-token pass: while its pick equals the
//! next guessed token, that token is already in the KV cache and the next row is the
//! logits after it; at the first pick that differs, the guessed tokens are dropped
//! from the cache and the pick is fed as usual. Every token is therefore chosen from
//! the logits of the same prefix as without speculation, and [`Session::forward_each`]
//! gives each row the bits of a one-token pass on the CPU, so greedy replies (and
//! seeded samples) are unchanged.

use std::collections::VecDeque;
use std::ops::Range;

use candle_core::Tensor;

use crate::model::Session;

/// Longest n-gram looked up; longer matches are rare in a one-line reply and the
/// shorter ones find them too.
pub const MAX_NGRAM: usize = 3;

/// Tokens guessed from a match outside the user's turn (the preamble's system text
/// and examples, or the reply itself): on the development set such a match is
/// followed by its next token about a third of the time and by the one after much
/// less often, so one row is what pays for itself there.
pub const ELSEWHERE: usize = 1;

/// The guess after `seq`: up to `max` tokens after a match whose n-gram starts inside
/// `user` (the user's turn: context and request, whose names, paths and flags a
/// command copies), else up to [`ELSEWHERE`] after one anywhere.
pub fn draft(seq: &[u32], user: Range<usize>, max: usize, stop: &dyn Fn(u32) -> bool) -> Vec<u32> {
    lookup(seq, user, max, stop)
        .or_else(|| lookup(seq, 0..seq.len(), max.min(ELSEWHERE), stop))
        .unwrap_or_default()
}

/// Up to `max` tokens that followed the latest earlier occurrence, starting within
/// `starts`, of the longest n-gram (at most [`MAX_NGRAM`] tokens) that ends `seq`;
/// `None` without one. A guess stops after a token `stop` accepts: what follows an
/// end of turn in the prompt is the next turn, never part of this reply.
pub fn lookup(
    seq: &[u32],
    starts: Range<usize>,
    max: usize,
    stop: &dyn Fn(u32) -> bool,
) -> Option<Vec<u32>> {
    let len = seq.len();
    if max == 0 {
        return None;
    }
    for n in (1..=MAX_NGRAM).rev() {
        if len <= n {
            continue;
        }
        let tail = &seq[len - n..];
        // Latest first: nearer text is likelier to be what the reply copies next.
        let last = (len - n).min(starts.end);
        let Some(start) = (starts.start..last).rev().find(|&s| &seq[s..s + n] == tail) else {
            continue;
        };
        let from = start + n;
        let to = (from + max).min(len);
        let mut guess = Vec::with_capacity(to - from);
        for &t in &seq[from..to] {
            guess.push(t);
            if stop(t) {
                break;
            }
        }
        return Some(guess);
    }
    None
}

/// Counts of one decode, for the statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Forward passes after the prompt's.
    pub passes: usize,
    /// Tokens guessed, and those of them the model went on to choose.
    pub drafted: usize,
    pub accepted: usize,
}

/// The logits to pick each next token from, computed one pass ahead with guesses.
pub struct Decoder {
    /// Tokens guessed per pass at most (0: one token per pass).
    draft: usize,
    /// Where the user's turn lies in the session.
    user: Range<usize>,
    /// Logits for the next picks: the front is for the next one.
    ready: VecDeque<Tensor>,
    /// Guessed tokens fed after the last pick, not yet confirmed by a pick.
    pending: VecDeque<u32>,
    counts: Counts,
}

impl Decoder {
    /// Starts from `logits`, those after the prompt; `user` is where the user's turn
    /// lies in the session, `draft` the most tokens guessed per pass (0: none).
    pub fn new(logits: Tensor, draft: usize, user: Range<usize>) -> Self {
        Self {
            draft,
            user,
            ready: VecDeque::from([logits]),
            pending: VecDeque::new(),
            counts: Counts::default(),
        }
    }

    /// The `(vocab,)` logits to pick the next token from.
    pub fn logits(&self) -> candle_core::Result<&Tensor> {
        self.ready
            .front()
            .ok_or_else(|| candle_core::Error::Msg("no logits to pick from".into()))
    }

    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// Takes `token`, picked from [`Decoder::logits`], into the sequence; `budget` is
    /// how many more tokens may be picked after it (at least 1), so no row is computed
    /// past the reply's limit. `stop` tells the tokens that end a reply.
    pub fn feed(
        &mut self,
        session: &mut Session,
        token: u32,
        budget: usize,
        stop: &dyn Fn(u32) -> bool,
    ) -> candle_core::Result<()> {
        let user = self.user.clone();
        self.feed_guessing(session, token, budget, |seq, max| {
            draft(seq, user, max, stop)
        })
    }

    /// [`Decoder::feed`] with the guess made by `guess(sequence, at most)`.
    fn feed_guessing(
        &mut self,
        session: &mut Session,
        token: u32,
        budget: usize,
        guess: impl FnOnce(&[u32], usize) -> Vec<u32>,
    ) -> candle_core::Result<()> {
        self.ready.pop_front();
        if self.pending.front() == Some(&token) {
            // Guessed right: the token is in the cache and its logits are next.
            self.pending.pop_front();
            self.counts.accepted += 1;
            return Ok(());
        }
        if !self.pending.is_empty() {
            session.truncate(session.len() - self.pending.len());
            self.pending.clear();
        }
        self.ready.clear();
        let guess = if self.draft > 0 && budget > 1 {
            let mut seq = Vec::with_capacity(session.len() + 1);
            seq.extend_from_slice(session.tokens());
            seq.push(token);
            let max = self.draft.min(budget - 1);
            let mut g = guess(&seq, max);
            g.truncate(max);
            g
        } else {
            Vec::new()
        };
        self.check(session, token, guess)
    }

    /// Feeds `token` and the guessed tokens after it in one pass, keeping each row's
    /// logits for the picks to come.
    fn check(
        &mut self,
        session: &mut Session,
        token: u32,
        guess: Vec<u32>,
    ) -> candle_core::Result<()> {
        self.counts.passes += 1;
        if guess.is_empty() {
            self.ready.push_back(session.forward(&[token])?);
            return Ok(());
        }
        let mut fed = Vec::with_capacity(guess.len() + 1);
        fed.push(token);
        fed.extend_from_slice(&guess);
        let rows = session.forward_each(&fed)?;
        for i in 0..fed.len() {
            self.ready.push_back(rows.get(i)?);
        }
        self.counts.drafted += guess.len();
        self.pending.extend(guess);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{self, tiny};
    use candle_core::Device;

    fn never(_: u32) -> bool {
        false
    }

    #[test]
    fn the_longest_latest_match_gives_the_tokens_that_followed_it() {
        let all = |seq: &[u32], max| lookup(seq, 0..seq.len(), max, &never);
        let seq = [5, 1, 2, 3, 9, 8, 2, 3, 7, 1, 2, 3];
        // "1 2 3" ends the sequence and occurs at 1: 9 8 2 3 7 followed it.
        assert_eq!(all(&seq, 4), Some(vec![9, 8, 2, 3]));
        assert_eq!(all(&seq, 2), Some(vec![9, 8]));
        // Without the 3-gram, "2 3" matches latest at 5: 7 5 2 3 followed.
        let seq2 = [4, 2, 3, 9, 6, 2, 3, 7, 5, 2, 3];
        assert_eq!(all(&seq2, 3), Some(vec![7, 5, 2]));
        // A guess never runs past the end of what is known.
        assert_eq!(all(&[1, 2, 1, 2], 8), Some(vec![1, 2]));
        // One token is enough to match.
        assert_eq!(all(&[1, 2, 3, 4, 3], 3), Some(vec![4, 3]));
    }

    #[test]
    fn nothing_matches_nothing() {
        for seq in [&[1, 2, 3][..], &[], &[7]] {
            assert_eq!(lookup(seq, 0..seq.len(), 3, &never), None);
            assert!(draft(seq, 0..seq.len(), 3, &never).is_empty());
        }
        assert_eq!(lookup(&[1, 1], 0..2, 0, &never), None);
    }

    #[test]
    fn the_user_turn_is_looked_up_first_and_guesses_more() {
        // Preamble 0..6 ("1 2 3 4 5 6"), user turn 6..10 ("8 2 7 9"), reply "2".
        let seq = [1, 2, 3, 4, 5, 6, 8, 2, 7, 9, 2];
        // "2" is in the preamble too, but the user turn's match wins.
        assert_eq!(draft(&seq, 6..10, 3, &never), vec![7, 9, 2]);
        // Without a match there, the latest one anywhere gives one token.
        assert_eq!(draft(&seq, 8..10, 3, &never), vec![7]);
        let seq = [1, 2, 3, 4, 5, 6, 8, 9, 7, 2];
        assert_eq!(draft(&seq, 6..9, 3, &never), vec![3]);
    }

    #[test]
    fn a_guess_ends_with_the_end_of_a_turn() {
        let end = |t: u32| t == 0;
        let seq = [1, 2, 3, 0, 4, 4, 1, 2];
        assert_eq!(lookup(&seq, 0..8, 5, &end), Some(vec![3, 0]));
    }

    fn tiny_model(seed: u64) -> (tempfile::TempDir, model::LoadedModel) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("tiny.gguf");
        tiny::write(&path, seed).expect("write tiny model");
        let m = model::load(&path, 1024, &Device::Cpu).expect("load tiny model");
        (dir, m)
    }

    fn argmax(t: &Tensor) -> u32 {
        let v = t.to_vec1::<f32>().expect("logits");
        // Ties to the lower id, as candle's argmax.
        let mut best = 0;
        for (i, &x) in v.iter().enumerate() {
            if x > v[best] {
                best = i;
            }
        }
        best as u32
    }

    /// `n` greedy tokens after `prompt`, fed through a [`Decoder`] whose guess for the
    /// pass after each pick is `guess(picks so far)`; returns the picks, the logits each
    /// came from, and the counts. The session must hold the prompt and every pick fed,
    /// plus only the guesses not yet decided, as one-token decoding would.
    fn decode_with(
        m: &model::LoadedModel,
        prompt: &[u32],
        n: usize,
        guess: &dyn Fn(&[u32]) -> Vec<u32>,
    ) -> (Vec<u32>, Vec<Vec<f32>>, Counts) {
        let mut s = Session::new(m.weights.clone());
        let first = s.forward(prompt).expect("prompt");
        let mut d = Decoder::new(first, 8, 0..prompt.len());
        let mut picks = Vec::new();
        let mut rows = Vec::new();
        loop {
            let logits = d.logits().expect("logits");
            let t = argmax(logits);
            rows.push(logits.to_vec1::<f32>().expect("row"));
            picks.push(t);
            if picks.len() == n {
                break;
            }
            let budget = n - picks.len();
            d.feed_guessing(&mut s, t, budget, |seq, _| {
                assert_eq!(seq[..prompt.len()], *prompt);
                assert_eq!(seq[prompt.len()..], picks[..]);
                guess(&picks)
            })
            .expect("feed");
            let mut held = prompt.to_vec();
            held.extend_from_slice(&picks);
            held.extend(d.pending.iter().copied());
            assert_eq!(s.tokens(), held.as_slice());
        }
        (picks, rows, d.counts())
    }

    #[test]
    fn any_guesses_give_the_tokens_and_logits_of_one_token_decoding() {
        let (_dir, m) = tiny_model(5);
        let prompt = m
            .tokenizer
            .encode("<|im_start|>user\nfind big files in ~/src<|im_end|>\n")
            .expect("encode");
        let n = 16;
        let (want, want_rows, plain) = decode_with(&m, &prompt, n, &|_| Vec::new());
        assert_eq!(plain.passes, n - 1);
        assert_eq!(plain.drafted, 0);

        // Right guesses: every guessed token is taken, in fewer passes.
        let right = |picks: &[u32]| want[picks.len()..].iter().take(3).copied().collect();
        let (got, rows, c) = decode_with(&m, &prompt, n, &right);
        assert_eq!(got, want);
        assert_eq!(rows, want_rows, "row logits are bit-identical");
        assert_eq!(c.accepted, c.drafted);
        assert!(c.passes <= n.div_ceil(4), "{c:?}");

        // Wrong guesses: all dropped, the cache rolled back, one token per pass.
        let wrong = |picks: &[u32]| {
            want[picks.len()..]
                .iter()
                .take(3)
                .map(|t| (t + 1) % 256)
                .collect()
        };
        let (got, rows, c) = decode_with(&m, &prompt, n, &wrong);
        assert_eq!(got, want);
        assert_eq!(rows, want_rows);
        assert_eq!((c.accepted, c.passes), (0, n - 1));

        // Right, then wrong after the first token: one of each kept per pass.
        let half = |picks: &[u32]| {
            let mut g: Vec<u32> = want[picks.len()..].iter().take(3).copied().collect();
            if g.len() > 1 {
                g[1] = (g[1] + 1) % 256;
            }
            g
        };
        let (got, rows, c) = decode_with(&m, &prompt, n, &half);
        assert_eq!(got, want);
        assert_eq!(rows, want_rows);
        assert!(c.accepted > 0 && c.accepted < c.drafted, "{c:?}");
    }
}
