//! The words sent to the model. The system turn is constant (its KV cache is reused
//! across requests); everything that varies goes into the user turn.

use super::ChatPrompt;
use super::context::Context;

/// Byte-identical across requests and processes: changing it invalidates every cache.
pub const SYSTEM_PROMPT: &str = "\
You write exactly one shell command for the user's request.
Reply with the command alone: no explanation, no markdown, no code fences.
- Use the shell and OS named in the context; GNU tools unless it says BSD.
- Work in the current directory (.) unless the request names another path; keep the paths and names it gives.
- Files or directories anywhere below a directory (by name, size, age, type, permissions): use find, not ls. \"files/directories\" or \"files\" alone: no -type; \"regular files\": -type f; directories: -type d. A long listing of what find found: -ls.
- Give files to a program as arguments, not through cat. Combine tools with pipes or xargs.
- Do not delete, overwrite or kill anything unless the request asks for it.
- The request may be in any language. If it is already a shell command, repeat it unchanged.
Examples:
request: list all files including hidden ones
ls -a
request: find regular files bigger than 10 MB under /var/log
find /var/log -type f -size +10M
request: show files/directories changed in the last 2 days in this folder
find . -mtime -2
request: long listing of the files bigger than 1 MB under the current directory
find . -size +1M -ls
request: print all directories below the current one
find . -type d
request: search for a file named notes.md in this tree
find . -name notes.md
request: count the lines of every python file here and below
find . -name '*.py' | xargs wc -l
request: remove empty directories in this tree
find . -type d -empty -delete
request: print only the names of the .txt files under docs, without paths
find docs -name '*.txt' -printf '%f\\n'
request: show the 5 biggest files in /data
find /data -type f -printf '%s %p\\n' | sort -rn | head -n 5
request: count the lines in README.md
wc -l README.md
request: replace foo with bar in config.txt
sed -i 's/foo/bar/g' config.txt
request: search for TODO in all .js files recursively
grep -rn TODO --include='*.js' .
request: search for the word error in every file under logs
grep -rn error logs
request: pack the logs folder into logs.tar.gz
tar -czf logs.tar.gz logs
request: zeige den freien Arbeitsspeicher an
free -h
request: du -sh /tmp
du -sh /tmp";

/// Builds the prompt for `request` in `ctx`.
pub fn build(request: &str, ctx: &Context) -> ChatPrompt {
    ChatPrompt {
        system: SYSTEM_PROMPT.to_owned(),
        user: user_turn(request, ctx),
    }
}

/// The user turn: one short context line, then the request. Every token here is
/// evaluated on each request (only the system turn is cached), so it stays compact.
pub fn user_turn(request: &str, ctx: &Context) -> String {
    format!("{}\nrequest: {}", ctx.summary(), request.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_turn_does_not_depend_on_the_request_or_context() {
        let a = build("list files", &Context::for_tests("zsh", "/tmp"));
        let b = build("count lines", &Context::for_tests("fish", "/home/x"));
        assert_eq!(a.system, b.system);
        assert!(a.user.contains("list files") && a.user.contains("zsh"));
        assert!(b.user.contains("/home/x"));
    }
}
