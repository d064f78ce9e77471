//! The warm daemon through the real binary and a real socket: lifecycle, security,
//! protocol limits, cancellation, concurrency and version handshake.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use caro::daemon::protocol::PROTOCOL_VERSION as V;
use common::{Sandbox, stderr, stdout};

fn pid_of(sb: &Sandbox) -> u32 {
    let o = sb.run(&["daemon", "status"]);
    assert!(o.status.success(), "status: {}", stderr(&o));
    stdout(&o)
        .lines()
        .find_map(|l| l.strip_prefix("pid"))
        .and_then(|v| v.trim().parse().ok())
        .expect("pid in status")
}

/// Running (a zombie waiting to be reaped by its parent counts as gone).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

fn raw_exchange(sb: &Sandbox, line: &[u8]) -> Vec<serde_json::Value> {
    let mut s = UnixStream::connect(sb.run_dir().join("daemon.sock")).expect("connect");
    s.write_all(line).expect("write");
    let mut out = Vec::new();
    for l in BufReader::new(s).lines() {
        let Ok(l) = l else { break };
        out.push(serde_json::from_str(&l).expect("event json"));
    }
    out
}

fn complete_line(sb: &Sandbox, buffer: &str) -> std::process::Output {
    sb.cmd()
        .args(["complete-line", "--shell", "bash", "--", buffer])
        .output()
        .expect("run")
}

#[test]
fn autostart_reuse_stop_and_restart() {
    let sb = Sandbox::tiny();
    let o = sb.run(&["daemon", "status"]);
    assert_eq!(o.status.code(), Some(7), "not running yet");
    // The first client starts it; the second reuses the same process.
    let _ = complete_line(&sb, "list files");
    let pid = pid_of(&sb);
    let _ = complete_line(&sb, "count lines");
    assert_eq!(pid_of(&sb), pid);
    // Runtime dir 0700, socket 0600.
    use std::os::unix::fs::PermissionsExt;
    let mode =
        |p: std::path::PathBuf| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode(sb.run_dir()), 0o700);
    assert_eq!(mode(sb.run_dir().join("daemon.sock")), 0o600);

    let o = sb.run(&["daemon", "restart"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let pid2 = pid_of(&sb);
    assert_ne!(pid, pid2);
    wait_until("old daemon exit", Duration::from_secs(5), || !alive(pid));
    let o = sb.run(&["daemon", "stop"]);
    assert!(o.status.success());
    assert!(!sb.run_dir().join("daemon.sock").exists());
    assert!(!sb.run_dir().join("daemon.pid").exists());
    wait_until("daemon exit", Duration::from_secs(5), || !alive(pid2));
}

#[test]
fn racing_clients_start_exactly_one_daemon() {
    let sb = Sandbox::tiny();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let mut c = sb.cmd();
            c.args(["daemon", "start"]);
            std::thread::spawn(move || c.output().expect("run"))
        })
        .collect();
    let outs: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().expect("join"))
        .collect();
    let pids: std::collections::HashSet<String> = outs
        .iter()
        .map(|o| {
            stdout(o)
                .trim()
                .rsplit_once("pid ")
                .map(|(_, p)| p.trim_end_matches(')').to_owned())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(pids.len(), 1, "{outs:?}");
}

#[test]
fn stale_socket_after_kill_9_is_recovered() {
    let sb = Sandbox::tiny();
    assert!(sb.run(&["daemon", "start"]).status.success());
    let pid = pid_of(&sb);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill");
    wait_until("killed", Duration::from_secs(5), || !alive(pid));
    assert!(
        sb.run_dir().join("daemon.sock").exists(),
        "kill -9 leaves the socket behind"
    );
    let o = sb.run(&["daemon", "start"]);
    assert!(
        o.status.success(),
        "{}\ndaemon log:\n{}",
        stderr(&o),
        std::fs::read_to_string(sb.run_dir().join("daemon.log")).unwrap_or_default()
    );
    assert_ne!(pid_of(&sb), pid);
}

#[test]
fn sigterm_cleans_up_and_exits_zero() {
    let sb = Sandbox::tiny();
    let mut child = sb
        .cmd()
        .arg("daemon")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    wait_until("socket", Duration::from_secs(60), || {
        sb.run_dir().join("daemon.sock").exists()
    });
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("term");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(0));
    assert!(!sb.run_dir().join("daemon.sock").exists());
    assert!(!sb.run_dir().join("daemon.pid").exists());
}

#[test]
fn idle_timeout_exits_and_next_request_restarts() {
    let sb = Sandbox::tiny().env("CARO_IDLE_TIMEOUT", "1");
    assert!(sb.run(&["daemon", "start"]).status.success());
    let pid = pid_of(&sb);
    wait_until("idle exit", Duration::from_secs(15), || !alive(pid));
    assert!(!sb.run_dir().join("daemon.sock").exists());
    let _ = complete_line(&sb, "list files");
    assert_ne!(pid_of(&sb), pid);
}

#[test]
fn malformed_oversized_and_binary_requests_get_errors_and_the_daemon_survives() {
    let sb = Sandbox::tiny();
    assert!(sb.run(&["daemon", "start"]).status.success());
    let code = |events: &[serde_json::Value]| {
        events
            .last()
            .map(|e| e["code"].as_str().unwrap_or("").to_owned())
    };
    assert_eq!(
        code(&raw_exchange(&sb, b"{not json\n")).as_deref(),
        Some("bad_request")
    );
    assert_eq!(
        code(&raw_exchange(&sb, b"\xff\xfe\xfd\n")).as_deref(),
        Some("bad_request")
    );
    let mut big = vec![b'a'; 70 * 1024];
    big.push(b'\n');
    assert_eq!(code(&raw_exchange(&sb, &big)).as_deref(), Some("too_large"));
    let newer = format!(
        "{{\"op\":\"ping\",\"v\":{V},\"client\":\"{}\",\"from_the_future\":1}}\n",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(
        code(&raw_exchange(&sb, newer.as_bytes())).as_deref(),
        Some("bad_request")
    );
    // Still serving.
    let ping = format!(
        "{{\"op\":\"ping\",\"v\":{V},\"client\":\"{}\"}}\n",
        env!("CARGO_PKG_VERSION")
    );
    let ev = raw_exchange(&sb, ping.as_bytes());
    assert_eq!(ev[0]["event"], "pong");
}

#[test]
fn other_users_are_refused() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIPPED: needs root to connect as nobody");
        return;
    }
    let sb = Sandbox::tiny();
    assert!(sb.run(&["daemon", "start"]).status.success());
    // Let nobody reach the socket through the directories, as a misconfigured system might.
    use std::os::unix::fs::PermissionsExt;
    for d in [
        sb.dir.path().to_path_buf(),
        sb.dir.path().join("run"),
        sb.run_dir(),
    ] {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    }
    let sock = sb.run_dir().join("daemon.sock");
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let script = format!(
        "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.connect('{}')\ntry:\n  s.sendall(b'{{\"op\":\"ping\",\"v\":{V},\"client\":\"{}\"}}\\n')\nexcept OSError:\n  pass\nsys.stdout.write(s.recv(4096).decode())",
        sock.display(),
        env!("CARGO_PKG_VERSION")
    );
    let o = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "/usr/bin/python3",
            "-c",
            &script,
        ])
        .output()
        .expect("setpriv");
    let out = stdout(&o);
    assert!(
        out.contains("forbidden"),
        "stdout {out:?} stderr {:?}",
        stderr(&o)
    );
    for d in [sb.run_dir(), sb.dir.path().join("run")] {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    }
}

#[test]
fn refuses_a_runtime_dir_open_to_others() {
    let sb = Sandbox::tiny();
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(sb.run_dir()).expect("mkdir");
    std::fs::set_permissions(sb.run_dir(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let o = complete_line(&sb, "list files");
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    assert!(stderr(&o).contains("refusing"), "{}", stderr(&o));
    assert!(stdout(&o).is_empty());
}

const VERSION_MISMATCH: &[u8] =
    b"{\"event\":\"error\",\"code\":\"version_mismatch\",\"message\":\"daemon is version 0.0.1\"}\n";

/// A daemon of another build on the sandbox's socket: each request line gets
/// `answer(line)`; a shutdown gets `bye` and ends it. Returns the lines it saw.
fn fake_old_daemon(
    sb: &Sandbox,
    answer: fn(&str) -> &'static [u8],
) -> std::thread::JoinHandle<Vec<String>> {
    let sock = sb.run_dir().join("daemon.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).expect("bind");
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        loop {
            let (mut stream, _) = listener.accept().expect("accept");
            let mut line = String::new();
            BufReader::new(stream.try_clone().expect("clone"))
                .read_line(&mut line)
                .expect("read");
            seen.push(line.clone());
            if line.contains("shutdown") {
                // Stop listening before saying bye, as a real daemon is gone once it
                // has released its pid lock: a client that reconnects at once must not
                // land in a backlog that is about to be reset.
                let _ = std::fs::remove_file(&sock);
                drop(listener);
                let _ = stream.write_all(b"{\"event\":\"bye\"}\n");
                break;
            }
            let _ = stream.write_all(answer(&line));
        }
        seen
    })
}

/// A daemon from before a request field existed rejects the request as malformed;
/// the client asks it for its version, finds another one, and restarts it. This
/// daemon, given a field it does not know by a client of another version, answers
/// version_mismatch rather than bad_request.
#[test]
fn a_daemon_that_rejects_a_newer_request_is_restarted() {
    let sb = Sandbox::tiny();
    assert!(sb.run(&["daemon", "start"]).status.success());
    let ev = raw_exchange(
        &sb,
        b"{\"op\":\"generate\",\"v\":99,\"client\":\"9.9.9\",\"buffer\":\"ls\",\"shell\":\"zsh\",\"cwd\":\"/\",\"future\":1}\n",
    );
    assert_eq!(ev[0]["code"], "version_mismatch", "{ev:?}");
    assert!(sb.run(&["daemon", "stop"]).status.success());

    let old = fake_old_daemon(&sb, |line| {
        if line.contains("\"generate\"") {
            b"{\"event\":\"error\",\"code\":\"bad_request\",\"message\":\"malformed request: unknown field `candidates`\"}\n"
        } else {
            VERSION_MISMATCH
        }
    });
    let o = complete_line(&sb, "list files");
    let seen = old.join().expect("old daemon");
    assert!(
        seen.iter().any(|l| l.contains("\"ping\"")) && seen.iter().any(|l| l.contains("shutdown")),
        "client pinged the old daemon, then stopped it: {seen:?}"
    );
    assert!(
        o.status.code() == Some(0) || o.status.code() == Some(1),
        "{}",
        stderr(&o)
    );
}

#[test]
fn version_mismatch_restarts_the_daemon() {
    let sb = Sandbox::tiny();
    assert!(sb.run(&["daemon", "start"]).status.success());
    // A client of another version is told so.
    let ev = raw_exchange(
        &sb,
        format!("{{\"op\":\"status\",\"v\":{V},\"client\":\"0.0.0-other\"}}\n").as_bytes(),
    );
    assert_eq!(ev[0]["code"], "version_mismatch");
    assert!(sb.run(&["daemon", "stop"]).status.success());

    // An "old daemon" on the socket answers every request with version_mismatch and
    // exits on shutdown, as a daemon from another build does.
    let old = fake_old_daemon(&sb, |_| VERSION_MISMATCH);
    let o = complete_line(&sb, "list files");
    let seen = old.join().expect("old daemon");
    assert!(
        seen.iter().any(|l| l.contains("shutdown")),
        "client asked the old daemon to stop: {seen:?}"
    );
    // The client then started a daemon of its own version and got an answer from it.
    assert!(
        o.status.code() == Some(0) || o.status.code() == Some(1),
        "{}",
        stderr(&o)
    );
    let st = sb.run(&["daemon", "status"]);
    assert!(
        stdout(&st).contains(env!("CARGO_PKG_VERSION")),
        "{}",
        stdout(&st)
    );
}

#[test]
fn missing_model_fails_fast_with_one_line() {
    let sb = Sandbox::with_model(std::path::Path::new("/nonexistent/model.gguf"));
    let t = Instant::now();
    let o = complete_line(&sb, "list files");
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stdout(&o).is_empty());
    assert_eq!(stderr(&o).trim().lines().count(), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("caro model pull"));
    assert!(t.elapsed() < Duration::from_secs(10));
}

// --- real model -------------------------------------------------------------------

#[test]
fn real_model_answers_match_in_process_and_only_the_user_turn_is_prefilled() {
    let Some(model) = common::real_model() else {
        return;
    };
    let sb = Sandbox::with_model(&model);
    let req = "list all files including hidden ones";
    let direct = sb.run(&["--no-daemon", "--shell", "bash", req]);
    assert!(direct.status.success(), "{}", stderr(&direct));
    let json = |o: &std::process::Output| -> serde_json::Value {
        serde_json::from_str(stdout(o).trim()).expect("json")
    };
    let first = sb.run(&["--json", "--shell", "bash", req]);
    let second = sb.run(&["--json", "--shell", "bash", req]);
    let (a, b) = (json(&first), json(&second));
    assert_eq!(a["via"], "daemon");
    assert_eq!(a["command"].as_str(), Some(stdout(&direct).trim()));
    assert_eq!(b["command"], a["command"]);
    let st = &b["stats"];
    assert!(st["cached_tokens"].as_u64().unwrap_or(0) > 100, "{st}");
    assert_eq!(
        st["prefill_tokens"].as_u64().unwrap_or(0) + st["cached_tokens"].as_u64().unwrap_or(0),
        st["prompt_tokens"].as_u64().unwrap_or(0)
    );
    assert!(
        st["prefill_tokens"].as_u64().unwrap_or(999) < 80,
        "only the user turn: {st}"
    );
}

/// The first answer and alternatives 1 and 2 depend only on the request, its context
/// and the settings: the daemon (remembering earlier answers) and a fresh process
/// (remembering nothing, asked for alternative 2 straight away) agree.
#[test]
fn real_model_answers_and_alternatives_match_with_and_without_the_daemon() {
    let Some(model) = common::real_model() else {
        return;
    };
    let sb = Sandbox::with_model(&model);
    let command = |args: &[&str]| -> String {
        let o = sb.run(args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).expect("json");
        v["command"].as_str().expect("command").to_owned()
    };
    let answers = |req: &str, via: &[&str]| -> Vec<String> {
        ["0", "1", "2"]
            .iter()
            .map(|n| {
                let mut args = vec!["--json", "--shell", "bash", "--alternative", n];
                args.extend_from_slice(via);
                args.push(req);
                command(&args)
            })
            .collect()
    };
    // A request with several good answers, and one the model is sure of.
    for req in [
        "show the 5 largest files in this directory",
        "list all files including hidden ones",
    ] {
        let daemon = answers(req, &[]);
        let direct = answers(req, &["--no-daemon"]);
        assert_eq!(daemon, direct, "{req}");
        if req.contains("largest") {
            let (a, b, c) = (&daemon[0], &daemon[1], &daemon[2]);
            assert!(a != b && b != c && a != c, "{daemon:?}");
        }
    }
}

#[test]
fn real_model_cancel_mid_generation_frees_the_worker() {
    let Some(model) = common::real_model() else {
        return;
    };
    let sb = Sandbox::with_model(&model).env("CARO_MAX_TOKENS", "400");
    assert!(sb.run(&["daemon", "start"]).status.success());
    let mut s = UnixStream::connect(sb.run_dir().join("daemon.sock")).expect("connect");
    let req = format!(
        "{{\"op\":\"generate\",\"v\":{V},\"client\":\"{}\",\"buffer\":\"write a long bash script with comments that backs up every config file in /etc\",\"shell\":\"bash\",\"cwd\":\"/tmp\",\"max_tokens\":400}}\n",
        env!("CARGO_PKG_VERSION")
    );
    s.write_all(req.as_bytes()).expect("write");
    let mut reader = BufReader::new(s.try_clone().expect("clone"));
    let mut tokens = 0;
    let mut line = String::new();
    while tokens < 3 {
        line.clear();
        reader.read_line(&mut line).expect("read");
        if line.contains("\"token\"") {
            tokens += 1;
        }
    }
    let t = Instant::now();
    s.write_all(format!("{{\"op\":\"cancel\",\"v\":{V}}}\n").as_bytes())
        .expect("cancel");
    let mut last = String::new();
    for l in reader.lines() {
        let Ok(l) = l else { break };
        last = l;
    }
    assert!(last.contains("cancelled"), "{last}");
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "stopped within a token step"
    );
    // The single worker is free again and still holds the system prompt.
    let o = sb.run(&["--json", "list files"]);
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).expect("json");
    assert!(v["stats"]["cached_tokens"].as_u64().unwrap_or(0) > 100);
}

#[test]
fn real_model_eight_concurrent_clients_all_get_correct_answers() {
    let Some(model) = common::real_model() else {
        return;
    };
    let sb = Sandbox::with_model(&model);
    assert!(sb.run(&["daemon", "start"]).status.success());
    let reqs = [
        ("list all files including hidden ones", "ls"),
        ("count lines in main.rs", "wc"),
    ];
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let (req, prog) = reqs[i % 2];
            let mut c = sb.cmd();
            c.args(["complete-line", "--shell", "bash", "--", req]);
            std::thread::spawn(move || (prog, c.output().expect("run")))
        })
        .collect();
    for h in handles {
        let (prog, o) = h.join().expect("join");
        assert!(o.status.success(), "{}", stderr(&o));
        let words: Vec<String> = shell_words::split(stdout(&o).trim()).unwrap_or_default();
        assert!(words.iter().any(|w| w == prog), "{} → {}", prog, stdout(&o));
    }
}

#[test]
fn real_model_requests_beyond_workers_and_queue_get_busy_at_once() {
    let Some(model) = common::real_model() else {
        return;
    };
    let sb = Sandbox::with_model(&model);
    let cfg = sb.dir.path().join("config/caro");
    std::fs::create_dir_all(&cfg).expect("mkdir");
    std::fs::write(
        cfg.join("config.toml"),
        "[daemon]\nworkers = 1\nqueue = 0\n",
    )
    .expect("config");
    assert!(sb.run(&["daemon", "start"]).status.success());
    // Occupy the only worker with a long generation.
    let mut s = UnixStream::connect(sb.run_dir().join("daemon.sock")).expect("connect");
    let req = format!(
        "{{\"op\":\"generate\",\"v\":{V},\"client\":\"{}\",\"buffer\":\"write a long bash script with comments that backs up every config file in /etc\",\"shell\":\"bash\",\"cwd\":\"/tmp\",\"max_tokens\":300}}\n",
        env!("CARGO_PKG_VERSION")
    );
    s.write_all(req.as_bytes()).expect("write");
    let mut reader = BufReader::new(s.try_clone().expect("clone"));
    let mut line = String::new();
    while !line.contains("\"token\"") {
        line.clear();
        reader.read_line(&mut line).expect("read");
    }
    let t = Instant::now();
    let o = complete_line(&sb, "list files");
    assert!(t.elapsed() < Duration::from_secs(2), "busy is immediate");
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("busy"), "{}", stderr(&o));
    assert!(stdout(&o).is_empty());
    drop(reader);
    drop(s);
}

#[test]
fn missing_model_through_the_daemon_path_fails_fast_without_prompting() {
    // stdin is not a terminal here, so caro must not offer a download.
    let sb = Sandbox::with_model(std::path::Path::new("/nonexistent/model.gguf"));
    let o = sb
        .cmd()
        .stdin(std::process::Stdio::null())
        .arg("list files")
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("caro model pull"), "{}", stderr(&o));
}
