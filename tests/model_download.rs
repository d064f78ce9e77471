//! `caro::store` against a real HTTP server on 127.0.0.1 that answers the
//! way the Hugging Face hub does: HEAD/GET on `/{repo}/resolve/main/{file}`
//! give a 302 carrying X-Repo-Commit, X-Linked-Etag (the sha256) and
//! X-Linked-Size, and the redirect target serves the bytes with Range.

use std::error::Error;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use caro::store::{HubSettings, ModelStore, ProgressMode, PullOptions, StoreError, Variant};
use sha2::{Digest, Sha256};

type TestResult = Result<(), Box<dyn Error>>;

const REPO: &str = "test/tiny-GGUF";
const FILE: &str = "tiny-q4.gguf";
const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
const SIZE: usize = 300 * 1024;

// ---------------------------------------------------------------- server

struct Served {
    repo: String,
    file: String,
    body: Vec<u8>,
    /// What the server claims the sha256 is (normally the real one).
    advertised_sha: String,
}

type Hook = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct Knobs {
    /// One-shot: the next body GET sends this many bytes, then hangs up.
    drop_after: Option<usize>,
    /// One-shot: called after half the body is sent, then the rest follows
    /// after `pause`.
    on_half: Option<Hook>,
    pause: Duration,
    ignore_range: bool,
    /// Answer every resolve request with this status.
    status: Option<u16>,
    /// Requests for this repo get a relative 307 to the real one.
    renamed_from: Option<String>,
}

#[derive(Debug, Clone)]
struct Logged {
    method: String,
    path: String,
    range: Option<String>,
    auth: Option<String>,
}

struct State {
    files: Vec<Served>,
    knobs: Mutex<Knobs>,
    log: Mutex<Vec<Logged>>,
}

struct Hub {
    addr: SocketAddr,
    state: Arc<State>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Hub {
    fn start(files: Vec<Served>) -> std::io::Result<Hub> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            files,
            knobs: Mutex::new(Knobs::default()),
            log: Mutex::new(Vec::new()),
        });
        let shared = Arc::clone(&state);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = Arc::clone(&shared);
                thread::spawn(move || {
                    // A client that hangs up mid-answer is part of the tests.
                    let _ = serve(stream, addr, &state);
                });
            }
        });
        Ok(Hub { addr, state })
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn knobs(&self) -> MutexGuard<'_, Knobs> {
        lock(&self.state.knobs)
    }

    fn log(&self) -> Vec<Logged> {
        lock(&self.state.log).clone()
    }

    fn body_gets(&self) -> Vec<Logged> {
        self.log()
            .into_iter()
            .filter(|l| l.method == "GET" && l.path.starts_with("/cdn/"))
            .collect()
    }
}

fn serve(stream: TcpStream, me: SocketAddr, state: &State) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let (mut range, mut auth) = (None, None);
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            match name.trim().to_ascii_lowercase().as_str() {
                "range" => range = Some(value.trim().to_string()),
                "authorization" => auth = Some(value.trim().to_string()),
                _ => {}
            }
        }
    }
    lock(&state.log).push(Logged {
        method: method.clone(),
        path: path.clone(),
        range: range.clone(),
        auth,
    });
    let mut out = stream;
    let head_only = method == "HEAD";

    if let Some(index) = path.strip_prefix("/cdn/") {
        let Some(served) = index.parse::<usize>().ok().and_then(|i| state.files.get(i)) else {
            return respond(&mut out, "404 Not Found", &[], b"", head_only);
        };
        return send_body(&mut out, served, range.as_deref(), head_only, state);
    }

    let (status, renamed) = {
        let knobs = lock(&state.knobs);
        (knobs.status, knobs.renamed_from.clone())
    };
    if let Some(status) = status {
        let line = format!("{status} Forced");
        return respond(&mut out, &line, &[], b"", head_only);
    }
    if let Some(old) = renamed
        && let Some(rest) = path.strip_prefix(&format!("/{old}/"))
    {
        let location = format!("/{}/{rest}", state.files[0].repo);
        return respond(
            &mut out,
            "307 Temporary Redirect",
            &[("Location", location)],
            b"",
            head_only,
        );
    }
    for (i, served) in state.files.iter().enumerate() {
        if path == format!("/{}/resolve/main/{}", served.repo, served.file) {
            let headers = [
                ("Location", format!("http://{me}/cdn/{i}")),
                ("X-Repo-Commit", COMMIT.to_string()),
                ("X-Linked-Etag", format!("\"{}\"", served.advertised_sha)),
                ("X-Linked-Size", served.body.len().to_string()),
                (
                    "ETag",
                    "\"1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c\"".to_string(),
                ),
            ];
            return respond(&mut out, "302 Found", &headers, b"", head_only);
        }
    }
    respond(
        &mut out,
        "404 Not Found",
        &[("X-Error-Code", "EntryNotFound".to_string())],
        b"Entry not found",
        head_only,
    )
}

fn send_body(
    out: &mut TcpStream,
    served: &Served,
    range: Option<&str>,
    head_only: bool,
    state: &State,
) -> std::io::Result<()> {
    let len = served.body.len();
    let (ignore_range, drop_after, on_half, pause) = {
        let mut knobs = lock(&state.knobs);
        let pause = knobs.pause;
        (
            knobs.ignore_range,
            if head_only {
                None
            } else {
                knobs.drop_after.take()
            },
            if head_only {
                None
            } else {
                knobs.on_half.take()
            },
            pause,
        )
    };
    let start = range
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.split('-').next())
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|_| !ignore_range);
    let (status, from) = match start {
        Some(s) if s >= len => {
            let headers = [("Content-Range", format!("bytes */{len}"))];
            return respond(out, "416 Range Not Satisfiable", &headers, b"", head_only);
        }
        Some(s) => ("206 Partial Content", s),
        None => ("200 OK", 0),
    };
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nAccept-Ranges: bytes\r\nConnection: close\r\n",
        len - from
    );
    if from > 0 || status.starts_with("206") {
        head.push_str(&format!(
            "Content-Range: bytes {from}-{}/{len}\r\n",
            len - 1
        ));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    if head_only {
        return Ok(());
    }
    let body = &served.body[from..];
    if let Some(n) = drop_after {
        out.write_all(&body[..n.min(body.len())])?;
        out.flush()?;
        return out.shutdown(Shutdown::Both);
    }
    if let Some(hook) = on_half {
        let half = body.len() / 2;
        out.write_all(&body[..half])?;
        out.flush()?;
        hook();
        thread::sleep(pause);
        out.write_all(&body[half..])?;
        return out.flush();
    }
    out.write_all(body)?;
    out.flush()
}

fn respond(
    out: &mut TcpStream,
    status: &str,
    headers: &[(&str, String)],
    body: &[u8],
    head_only: bool,
) -> std::io::Result<()> {
    let mut text = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    out.write_all(text.as_bytes())?;
    if !head_only {
        out.write_all(body)?;
    }
    out.flush()
}

// ---------------------------------------------------------------- helpers

fn content(seed: u32, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

fn sha_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn tiny(body: Vec<u8>) -> Served {
    let advertised_sha = sha_hex(&body);
    Served {
        repo: REPO.into(),
        file: FILE.into(),
        body,
        advertised_sha,
    }
}

/// The catalogue entry for a served file: pinned like q4_k_m, or left open
/// like q8_0 (then checked against the advertised sha).
fn variant(served: &Served, pinned: bool) -> Variant {
    Variant {
        name: "tiny".into(),
        description: "test file".into(),
        repo: served.repo.clone(),
        revision: "main".into(),
        file: served.file.clone(),
        size: pinned.then_some(served.body.len() as u64),
        sha256: pinned.then(|| sha_hex(&served.body)),
    }
}

fn store(hub_endpoint: &str, cache: &Path) -> ModelStore {
    let mut config = HubSettings::new(cache.to_path_buf()).with_endpoint(hub_endpoint);
    config.connect_timeout = Duration::from_secs(5);
    config.read_timeout = Duration::from_secs(5);
    ModelStore::new(config)
}

fn once() -> PullOptions<'static> {
    PullOptions {
        progress: ProgressMode::Silent,
        retries: 0,
        cancel: None,
    }
}

fn repo_dir(cache: &Path) -> PathBuf {
    cache.join("models--test--tiny-GGUF")
}

fn blob(cache: &Path, sha: &str) -> PathBuf {
    repo_dir(cache).join("blobs").join(sha)
}

fn part(cache: &Path, sha: &str) -> PathBuf {
    blob(cache, sha).with_extension("part")
}

fn snapshot(cache: &Path) -> PathBuf {
    repo_dir(cache).join("snapshots").join(COMMIT).join(FILE)
}

/// Nothing of the file is visible to a reader of the cache.
fn assert_not_published(cache: &Path, sha: &str) {
    assert!(!blob(cache, sha).exists(), "blob must not exist");
    assert!(
        std::fs::symlink_metadata(snapshot(cache)).is_err(),
        "snapshot link must not exist"
    );
}

fn in_tmpfs(options: &str) -> Result<Option<Mount>, Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    let status = Command::new("mount")
        .args(["-t", "tmpfs", "-o", options, "tmpfs"])
        .arg(dir.path())
        .stderr(std::process::Stdio::null())
        .status();
    match status {
        Ok(s) if s.success() => Ok(Some(Mount { dir })),
        other => {
            eprintln!("SKIPPED: cannot mount a tmpfs here ({other:?}); needs root");
            Ok(None)
        }
    }
}

struct Mount {
    dir: tempfile::TempDir,
}

impl Mount {
    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

// ---------------------------------------------------------------- tests

#[test]
fn fresh_download_is_verified_and_shared_with_hf_hub() -> TestResult {
    let served = tiny(content(1, SIZE));
    let body = served.body.clone();
    let sha = served.advertised_sha.clone();
    let v = variant(&served, true);
    let hub = Hub::start(vec![served])?;
    let cache = tempfile::tempdir()?;
    let store = store(&hub.endpoint(), cache.path());

    assert_eq!(store.find_cached(&v), None);
    assert!(matches!(
        store.path(&v),
        Err(StoreError::NotDownloaded { .. })
    ));

    let options = PullOptions {
        progress: ProgressMode::Lines,
        ..once()
    };
    let pulled = store.pull(&v, &options)?;
    assert!(pulled.downloaded);
    assert_eq!(pulled.path, snapshot(cache.path()));
    assert_eq!(pulled.size, SIZE as u64);
    assert_eq!(pulled.sha256, sha);
    assert_eq!(std::fs::read(&pulled.path)?, body);
    // hf-hub's layout, so hf-hub (and huggingface_hub) find the same file.
    assert_eq!(
        std::fs::read_link(&pulled.path)?,
        Path::new("../../blobs").join(&sha)
    );
    assert_eq!(
        std::fs::read_to_string(repo_dir(cache.path()).join("refs/main"))?,
        COMMIT
    );
    let hf = hf_hub::Cache::new(cache.path().to_path_buf())
        .repo(hf_hub::Repo::model(REPO.to_string()))
        .get(FILE);
    assert_eq!(hf.as_ref(), Some(&pulled.path));
    assert!(!part(cache.path(), &sha).exists());

    assert_eq!(store.find_cached(&v), Some(pulled.path.clone()));
    assert_eq!(store.path(&v)?, pulled.path);
    let verified = store.verify(&v, ProgressMode::Silent)?;
    assert_eq!(verified.sha256, sha);

    // Present and intact: re-verified locally, the server is not asked.
    let requests = hub.log().len();
    let again = store.pull(&v, &once())?;
    assert!(!again.downloaded);
    assert_eq!(hub.log().len(), requests);

    let removed = store.remove(&v)?;
    assert_eq!(removed.freed, SIZE as u64);
    assert_eq!(store.find_cached(&v), None);
    assert_not_published(cache.path(), &sha);
    assert_eq!(store.remove(&v)?.freed, 0);
    Ok(())
}

#[test]
fn unpinned_variant_is_checked_against_the_hub_sha() -> TestResult {
    let served = tiny(content(2, SIZE));
    let v = variant(&served, false);
    let sha = served.advertised_sha.clone();
    let hub = Hub::start(vec![served])?;
    let cache = tempfile::tempdir()?;
    let store = store(&hub.endpoint(), cache.path());

    let options = PullOptions {
        progress: ProgressMode::Bar,
        ..once()
    };
    let pulled = store.pull(&v, &options)?;
    assert_eq!(pulled.sha256, sha);
    // Offline later: the blob's name carries the sha to verify against.
    assert_eq!(store.verify(&v, ProgressMode::Silent)?.sha256, sha);
    Ok(())
}

#[test]
fn resumes_after_the_server_drops_the_connection() -> TestResult {
    let served = tiny(content(3, SIZE));
    let (v, sha, body) = (
        variant(&served, true),
        served.advertised_sha.clone(),
        served.body.clone(),
    );
    let hub = Hub::start(vec![served])?;
    let cache = tempfile::tempdir()?;
    let store = store(&hub.endpoint(), cache.path());

    let half = SIZE / 2;
    hub.knobs().drop_after = Some(half);
    let err = store
        .pull(&v, &once())
        .err()
        .ok_or("first pull must fail")?;
    match &err {
        StoreError::Interrupted {
            done,
            total,
            cancelled,
            ..
        } => {
            assert_eq!(*done, half as u64);
            assert_eq!(*total, SIZE as u64);
            assert!(!cancelled);
        }
        other => return Err(format!("expected Interrupted, got {other:?}").into()),
    }
    assert!(err.hint().is_some());
    assert_eq!(
        std::fs::metadata(part(cache.path(), &sha))?.len(),
        half as u64
    );
    assert_not_published(cache.path(), &sha);
    assert_eq!(store.find_cached(&v), None);

    let pulled = store.pull(&v, &once())?;
    assert_eq!(std::fs::read(&pulled.path)?, body);
    let gets = hub.body_gets();
    assert_eq!(gets.len(), 2);
    assert_eq!(gets[0].range, None);
    assert_eq!(
        gets[1].range.as_deref(),
        Some(format!("bytes={half}-").as_str())
    );
    assert!(!part(cache.path(), &sha).exists());
    Ok(())
}

#[test]
fn retries_resume_within_one_pull() -> TestResult {
    let served = tiny(content(4, SIZE));
    let v = variant(&served, true);
    let hub = Hub::start(vec![served])?;
    let cache = tempfile::tempdir()?;
    let store = store(&hub.endpoint(), cache.path());

    hub.knobs().drop_after = Some(SIZE / 3);
    let options = PullOptions {
        retries: 1,
        ..once()
    };
    let pulled = store.pull(&v, &options)?;
    assert!(pulled.downloaded);
    let gets = hub.body_gets();
    assert_eq!(gets.len(), 2);
    assert_eq!(
        gets[1].range.as_deref(),
        Some(format!("bytes={}-", SIZE / 3).as_str())
    );
    Ok(())
}

#[test]
fn a_server_that_ignores_range_gets_a_clean_restart() -> TestResult {
    let served = tiny(content(5, SIZE));
    let (v, sha, body) = (
        variant(&served, true),
        served.advertised_sha.clone(),
        served.body.clone(),
    );
    let hub = Hub::start(vec![served])?;
    let cache = tempfile::tempdir()?;
    let store = store(&hub.endpoint(), cache.path());

    hub.knobs().drop_after = Some(1000);
    assert!(store.pull(&v, &once()).is_err());
    hub.knobs().ignore_range = true;
    let pulled = store.pull(&v, &once())?;
    assert_eq!(std::fs::read(&pulled.path)?, body);
    assert!(!part(cache.path(), &sha).exists());
    Ok(())
}

#[test]
fn an_oversized_partial_file_is_discarded() -> TestResult {
    let served = tiny(content(6, SIZE));
    let (v, sha) = (variant(&served, true), served.advertised_sha.clone());
    let hub = Hub::start(vec![served])?;
    let cache = tempfile::tempdir()?;
    let store = store(&hub.endpoint(), cache.path());

    std::fs::create_dir_all(repo_dir(cache.path()).join("blobs"))?;
    std::fs::write(part(cache.path(), &sha), vec![7u8; SIZE + 10])?;
    let pulled = store.pull(&v, &once())?;
    assert_eq!(pulled.sha256, sha);
    assert_eq!(hub.body_gets()[0].range, None);
    Ok(())
}

#[test]
fn checksum_mismatch_is_rejected_and_removed() -> TestResult {
    let mut served = tiny(content(7, SIZE));
    // The hub announces one sha256 and sends other bytes.
    served.advertised_sha = sha_hex(&content(8, SIZE));
    let sha = served.advertised_sha.clone();
    let v = variant(&served, false);
    let hub = Hub::start(vec![served])?;
    let cache = tempfile::tempdir()?;
    let store = store(&hub.endpoint(), cache.path());

    let err = store.pull(&v, &once()).err().ok_or("must fail")?;
    assert!(
        matches!(&err, StoreError::ChecksumMismatch { expected, .. } if *expected == sha),
        "{err:?}"
    );
    assert!(!err.to_string().contains('\n'));
    assert!(err.hint().is_some());
    assert_not_published(cache.path(), &sha);
    assert!(
        !part(cache.path(), &sha).exists(),
        "bad bytes must be removed"
    );
    assert_eq!(store.find_cached(&v), None);
    Ok(())
}

#[test]
fn a_hub_file_that_differs_from_the_pin_is_not_downloaded() -> TestResult {
    let served = tiny(content(9, SIZE));
    let mut v = variant(&served, true);
    v.sha256 = Some(sha_hex(b"something else"));
    let hub = Hub::start(vec![served])?;
    let cache = tempfile::tempdir()?;
    let store = store(&hub.endpoint(), cache.path());

    let err = store.pull(&v, &once()).err().ok_or("must fail")?;
    assert!(matches!(err, StoreError::RemoteChanged { .. }), "{err:?}");
    assert!(hub.body_gets().is_empty());

    let mut v = variant(&hub.state.files[0], true);
    v.size = Some(SIZE as u64 + 1);
    let err = store.pull(&v, &once()).err().ok_or("must fail")?;
    assert!(matches!(err, StoreError::SizeMismatch { .. }), "{err:?}");
    assert!(hub.body_gets().is_empty());
    Ok(())
}

#[test]
fn verify_removes_a_corrupted_file() -> TestResult {
    let served = tiny(content(10, SIZE));
    let (v, sha) = (variant(&served, true), served.advertised_sha.clone());
    let hub = Hub::start(vec![served])?;
    let cache = tempfile::tempdir()?;
    let store = store(&hub.endpoint(), cache.path());
    store.pull(&v, &once())?;

    let mut bytes = std::fs::read(blob(cache.path(), &sha))?;
    bytes[SIZE / 2] ^= 0xff;
    std::fs::write(blob(cache.path(), &sha), bytes)?;
    let err = store
        .verify(&v, ProgressMode::Silent)
        .err()
        .ok_or("must fail")?;
    assert!(
        matches!(err, StoreError::ChecksumMismatch { .. }),
        "{err:?}"
    );
    assert_eq!(store.find_cached(&v), None);
    assert_not_published(cache.path(), &sha);

    // The next pull fetches it again.
    assert!(store.pull(&v, &once())?.downloaded);
    Ok(())
}

#[test]
fn server_down_is_connection_refused() -> TestResult {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let endpoint = format!("http://{}", listener.local_addr()?);
    drop(listener);
    let cache = tempfile::tempdir()?;
    let v = variant(&tiny(content(11, 10)), true);
    let err = store(&endpoint, cache.path())
        .pull(&v, &once())
        .err()
        .ok_or("must fail")?;
    assert!(
        matches!(err, StoreError::ConnectionRefused { .. }),
        "{err:?}"
    );
    assert!(err.hint().is_some());
    Ok(())
}

#[test]
fn unknown_host_is_offline() -> TestResult {
    let cache = tempfile::tempdir()?;
    let v = variant(&tiny(content(12, 10)), true);
    // .invalid never resolves (RFC 2606).
    let err = store("http://caro-test.invalid", cache.path())
        .pull(&v, &once())
        .err()
        .ok_or("must fail")?;
    assert!(matches!(err, StoreError::Offline { .. }), "{err:?}");
    Ok(())
}

#[test]
fn missing_file_is_not_found() -> TestResult {
    let served = tiny(content(13, SIZE));
    let mut v = variant(&served, true);
    v.file = "no-such-file.gguf".into();
    let hub = Hub::start(vec![served])?;
    let cache = tempfile::tempdir()?;
    let err = store(&hub.endpoint(), cache.path())
        .pull(&v, &once())
        .err()
        .ok_or("must fail")?;
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("404"));
    Ok(())
}

#[test]
fn token_is_sent_and_401_explains_itself() -> TestResult {
    let served = tiny(content(14, SIZE));
    let v = variant(&served, true);
    let hub = Hub::start(vec![served])?;
    let cache = tempfile::tempdir()?;
    let config = HubSettings::new(cache.path().to_path_buf())
        .with_endpoint(&hub.endpoint())
        .with_token(Some("hf_secret".into()));
    let store = ModelStore::new(config);

    store.pull(&v, &once())?;
    let head = &hub.log()[0];
    assert_eq!(head.method, "HEAD");
    assert_eq!(head.auth.as_deref(), Some("Bearer hf_secret"));

    store.remove(&v)?;
    hub.knobs().status = Some(401);
    let err = store.pull(&v, &once()).err().ok_or("must fail")?;
    assert!(matches!(err, StoreError::Unauthorized { .. }), "{err:?}");
    assert!(err.hint().is_some_and(|h| h.contains("HF_TOKEN")));
    hub.knobs().status = Some(503);
    let err = store.pull(&v, &once()).err().ok_or("must fail")?;
    assert!(
        matches!(err, StoreError::Http { status: 503, .. }),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn renamed_repo_redirect_is_followed() -> TestResult {
    let served = tiny(content(15, SIZE));
    let mut v = variant(&served, true);
    v.repo = "old/tiny".into();
    let hub = Hub::start(vec![served])?;
    hub.knobs().renamed_from = Some("old/tiny".into());
    let cache = tempfile::tempdir()?;
    let pulled = store(&hub.endpoint(), cache.path()).pull(&v, &once())?;
    assert!(
        pulled
            .path
            .starts_with(cache.path().join("models--old--tiny"))
    );
    Ok(())
}

#[test]
fn offline_mode_never_touches_the_network() -> TestResult {
    let served = tiny(content(16, SIZE));
    let v = variant(&served, true);
    let hub = Hub::start(vec![served])?;
    let cache = tempfile::tempdir()?;
    let mut config = HubSettings::new(cache.path().to_path_buf()).with_endpoint(&hub.endpoint());
    config.offline = true;
    let err = ModelStore::new(config)
        .pull(&v, &once())
        .err()
        .ok_or("must fail")?;
    assert!(matches!(err, StoreError::OfflineMode { .. }), "{err:?}");
    assert!(hub.log().is_empty());
    Ok(())
}

#[test]
fn cancel_keeps_a_resumable_partial_file() -> TestResult {
    let served = tiny(content(17, SIZE));
    let (v, sha, body) = (
        variant(&served, true),
        served.advertised_sha.clone(),
        served.body.clone(),
    );
    let hub = Hub::start(vec![served])?;
    let cache = tempfile::tempdir()?;
    let store = store(&hub.endpoint(), cache.path());

    let cancel = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancel);
    {
        let mut knobs = hub.knobs();
        // Ctrl-C arrives while the client waits for the second half.
        knobs.on_half = Some(Box::new(move || {
            thread::sleep(Duration::from_millis(200));
            flag.store(true, Ordering::SeqCst);
        }));
    }
    let options = PullOptions {
        cancel: Some(&cancel),
        retries: 3,
        ..once()
    };
    let err = store.pull(&v, &options).err().ok_or("must be cancelled")?;
    assert!(
        matches!(
            err,
            StoreError::Interrupted {
                cancelled: true,
                ..
            }
        ),
        "{err:?}"
    );
    let kept = std::fs::metadata(part(cache.path(), &sha))?.len();
    assert!(kept > 0 && kept <= SIZE as u64, "kept {kept}");
    assert_not_published(cache.path(), &sha);

    let pulled = store.pull(&v, &once())?;
    assert_eq!(std::fs::read(&pulled.path)?, body);
    Ok(())
}

#[test]
fn a_running_download_holds_the_lock() -> TestResult {
    use std::os::fd::AsRawFd;
    let served = tiny(content(18, SIZE));
    let (v, sha) = (variant(&served, true), served.advertised_sha.clone());
    let hub = Hub::start(vec![served])?;
    let cache = tempfile::tempdir()?;
    std::fs::create_dir_all(repo_dir(cache.path()).join("blobs"))?;
    let held = std::fs::File::create(blob(cache.path(), &sha).with_extension("lock"))?;
    // SAFETY: flock on a descriptor this test owns.
    assert_eq!(unsafe { libc::flock(held.as_raw_fd(), libc::LOCK_EX) }, 0);

    let err = store(&hub.endpoint(), cache.path())
        .pull(&v, &once())
        .err()
        .ok_or("must fail")?;
    assert!(matches!(err, StoreError::Busy { .. }), "{err:?}");
    Ok(())
}

#[test]
fn too_little_space_is_refused_up_front() -> TestResult {
    let Some(mount) = in_tmpfs("size=64k")? else {
        return Ok(());
    };
    let served = tiny(content(19, SIZE));
    let (v, sha) = (variant(&served, true), served.advertised_sha.clone());
    let hub = Hub::start(vec![served])?;
    let err = store(&hub.endpoint(), mount.path())
        .pull(&v, &once())
        .err()
        .ok_or("must fail")?;
    assert!(
        matches!(
            err,
            StoreError::DiskFull {
                needed: Some(_),
                available: Some(_),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!part(mount.path(), &sha).exists());
    assert_not_published(mount.path(), &sha);
    assert!(hub.body_gets().is_empty());
    Ok(())
}

#[test]
fn disk_full_mid_download_keeps_what_fits_and_resumes() -> TestResult {
    let Some(mount) = in_tmpfs("size=1m")? else {
        return Ok(());
    };
    let served = tiny(content(20, SIZE));
    let (v, sha, body) = (
        variant(&served, true),
        served.advertised_sha.clone(),
        served.body.clone(),
    );
    let hub = Hub::start(vec![served])?;
    let filler = mount.path().join("filler");
    let fill = filler.clone();
    {
        let mut knobs = hub.knobs();
        // Halfway through, something else takes all the remaining space.
        knobs.on_half = Some(Box::new(move || {
            if let Ok(mut f) = std::fs::File::create(&fill) {
                let chunk = vec![0u8; 16 * 1024];
                while f.write_all(&chunk).is_ok() {}
            }
        }));
        knobs.pause = Duration::from_millis(200);
    }
    let store = store(&hub.endpoint(), mount.path());
    let err = store.pull(&v, &once()).err().ok_or("must fail")?;
    assert!(matches!(err, StoreError::DiskFull { .. }), "{err:?}");
    assert!(err.hint().is_some());
    assert_not_published(mount.path(), &sha);
    let kept = std::fs::metadata(part(mount.path(), &sha))?.len();
    assert!(kept < SIZE as u64);

    std::fs::remove_file(&filler)?;
    let pulled = store.pull(&v, &once())?;
    assert_eq!(std::fs::read(&pulled.path)?, body);
    if kept > 0 {
        let gets = hub.body_gets();
        assert_eq!(
            gets.last().and_then(|g| g.range.clone()),
            Some(format!("bytes={kept}-"))
        );
    }
    Ok(())
}

#[test]
fn enospc_on_write_is_disk_full() -> TestResult {
    // /dev/full fails every write with ENOSPC, no privileges needed.
    if !Path::new("/dev/full").exists() {
        eprintln!("SKIPPED: no /dev/full");
        return Ok(());
    }
    let served = tiny(content(21, SIZE));
    let (v, sha) = (variant(&served, true), served.advertised_sha.clone());
    let hub = Hub::start(vec![served])?;
    let cache = tempfile::tempdir()?;
    std::fs::create_dir_all(repo_dir(cache.path()).join("blobs"))?;
    std::os::unix::fs::symlink("/dev/full", part(cache.path(), &sha))?;
    let err = store(&hub.endpoint(), cache.path())
        .pull(&v, &once())
        .err()
        .ok_or("must fail")?;
    assert!(matches!(err, StoreError::DiskFull { .. }), "{err:?}");
    assert_not_published(cache.path(), &sha);
    Ok(())
}

#[test]
fn unwritable_cache_is_permission_denied() -> TestResult {
    let served = tiny(content(22, SIZE));
    let v = variant(&served, true);
    let hub = Hub::start(vec![served])?;

    // Root ignores file modes, so there a read-only mount stands in.
    let (_mount, _dir, cache) = if nix::unistd::geteuid().is_root() {
        let Some(mount) = in_tmpfs("ro,size=64k")? else {
            return Ok(());
        };
        let path = mount.path().to_path_buf();
        (Some(mount), None, path)
    } else {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir()?;
        let cache = dir.path().join("hub");
        std::fs::create_dir(&cache)?;
        std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o555))?;
        (None, Some(dir), cache)
    };
    let err = store(&hub.endpoint(), &cache)
        .pull(&v, &once())
        .err()
        .ok_or("must fail")?;
    assert!(
        matches!(err, StoreError::PermissionDenied { .. }),
        "{err:?}"
    );
    assert!(err.hint().is_some());
    Ok(())
}

#[test]
fn list_reports_presence_partial_and_active() -> TestResult {
    let served = tiny(content(23, SIZE));
    let v = variant(&served, true);
    let hub = Hub::start(vec![served])?;
    let cache = tempfile::tempdir()?;
    let store = store(&hub.endpoint(), cache.path());

    let mut catalog = caro::store::Catalog::builtin().clone();
    catalog.variants.push(v.clone());
    let before = store.list(&catalog, Some("tiny"));
    let row = before.iter().find(|m| m.name == "tiny").ok_or("listed")?;
    assert!(row.path.is_none() && row.active && !row.default);
    assert_eq!(row.size, Some(SIZE as u64));
    assert!(
        before
            .iter()
            .any(|m| m.name == "q4_k_m" && m.default && !m.active)
    );

    hub.knobs().drop_after = Some(1000);
    assert!(store.pull(&v, &once()).is_err());
    let during = store.list(&catalog, None);
    let row = during.iter().find(|m| m.name == "tiny").ok_or("listed")?;
    assert_eq!(row.partial, Some(1000));

    store.pull(&v, &once())?;
    let after = store.list(&catalog, None);
    let row = after.iter().find(|m| m.name == "tiny").ok_or("listed")?;
    assert_eq!(row.path.as_ref(), Some(&snapshot(cache.path())));
    assert_eq!(row.partial, None);
    Ok(())
}

// ------------------------------------------- a file in caro's models directory

/// A store whose models directory already holds `bytes` under the variant's name.
fn with_placed(
    endpoint: &str,
    cache: &Path,
    models: &Path,
    v: &Variant,
    bytes: &[u8],
) -> Result<(ModelStore, PathBuf), Box<dyn Error>> {
    let placed = models.join(&v.file);
    std::fs::write(&placed, bytes)?;
    Ok((
        store(endpoint, cache).with_models_dir(models.to_path_buf()),
        placed,
    ))
}

#[test]
fn a_verified_file_in_the_models_dir_is_downloaded_already() -> TestResult {
    let served = tiny(content(31, SIZE));
    let v = variant(&served, true);
    let body = served.body.clone();
    let hub = Hub::start(vec![served])?;
    let (cache, models) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let (placed_store, placed) =
        with_placed(&hub.endpoint(), cache.path(), models.path(), &v, &body)?;

    let mut catalog = caro::store::Catalog::builtin().clone();
    catalog.variants.push(v.clone());
    let rows = placed_store.list(&catalog, Some("tiny"));
    let row = rows.iter().find(|m| m.name == "tiny").ok_or("listed")?;
    assert_eq!(row.path.as_ref(), Some(&placed));
    assert_eq!(row.unverified, None);
    assert_eq!(placed_store.path(&v)?, placed);
    assert_eq!(placed_store.verify(&v, ProgressMode::Silent)?.path, placed);

    let pulled = placed_store.pull(&v, &once())?;
    assert_eq!(pulled.path, placed);
    assert!(!pulled.downloaded);
    assert!(hub.log().is_empty(), "no request at all: {:?}", hub.log());
    assert!(!repo_dir(cache.path()).exists(), "no second copy");

    // Offline, and with nothing listening at the endpoint, it is the same answer.
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let dead = format!("http://{}", listener.local_addr()?);
    drop(listener);
    let mut hub_settings = HubSettings::new(cache.path().to_path_buf()).with_endpoint(&dead);
    hub_settings.offline = true;
    let offline = ModelStore::new(hub_settings).with_models_dir(models.path().to_path_buf());
    assert_eq!(offline.pull(&v, &once())?.path, placed);
    let unreachable = store(&dead, cache.path()).with_models_dir(models.path().to_path_buf());
    assert_eq!(unreachable.pull(&v, &once())?.path, placed);
    assert!(!repo_dir(cache.path()).exists(), "no second copy");
    Ok(())
}

#[test]
fn a_corrupted_file_in_the_models_dir_is_not_verified() -> TestResult {
    let served = tiny(content(32, SIZE));
    let v = variant(&served, true);
    let mut bad = served.body.clone();
    bad[SIZE / 2] ^= 0xff;
    let hub = Hub::start(vec![served])?;
    let (cache, models) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let (store, placed) = with_placed(&hub.endpoint(), cache.path(), models.path(), &v, &bad)?;

    let mut catalog = caro::store::Catalog::builtin().clone();
    catalog.variants.push(v.clone());
    for _ in 0..2 {
        // The second look reads the remembered hash; it must say the same.
        let rows = store.list(&catalog, None);
        let row = rows.iter().find(|m| m.name == "tiny").ok_or("listed")?;
        assert_eq!(row.path, None);
        assert_eq!(row.unverified.as_ref(), Some(&placed));
    }
    assert!(matches!(
        store.path(&v),
        Err(StoreError::NotDownloaded { .. })
    ));
    let err = store
        .verify(&v, ProgressMode::Silent)
        .err()
        .ok_or("must fail")?;
    assert!(
        matches!(err, StoreError::ChecksumMismatch { .. }),
        "{err:?}"
    );
    assert!(
        !placed.exists(),
        "a file that is not the catalogue's is removed"
    );

    // Pulled again: one good copy, in the hub cache.
    std::fs::write(&placed, &bad)?;
    let pulled = store.pull(&v, &once())?;
    assert!(pulled.downloaded);
    assert_eq!(pulled.path, snapshot(cache.path()));
    assert!(!placed.exists());
    Ok(())
}

/// The README's first run: the real model already at caro's default path, no network.
/// `model list`, `verify`, `path` and `pull` all find it; nothing is copied.
#[test]
fn the_real_model_at_the_default_path_needs_no_download() -> TestResult {
    let Some(model) = std::env::var_os("CARO_TEST_MODEL").map(PathBuf::from) else {
        eprintln!("skipped: set CARO_TEST_MODEL to the q4_k_m file to run this");
        return Ok(());
    };
    let home = tempfile::tempdir()?;
    let models = home.path().join("cache/caro/models");
    std::fs::create_dir_all(&models)?;
    let placed = models.join(caro::settings::default_model_file());
    std::os::unix::fs::symlink(&model, &placed)?;
    let caro = |args: &[&str]| -> Result<(i32, String, String), Box<dyn Error>> {
        let mut c = Command::new(env!("CARGO_BIN_EXE_caro"));
        for (k, _) in std::env::vars() {
            if k.starts_with("CARO_") || k.starts_with("XDG_") || k.starts_with("HF_") {
                c.env_remove(k);
            }
        }
        let out = c
            .args(args)
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .env("XDG_CACHE_HOME", home.path().join("cache"))
            .env("HF_HUB_OFFLINE", "1")
            .env("HF_ENDPOINT", "http://caro-test.invalid")
            .output()?;
        Ok((
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ))
    };
    let (code, out, err) = caro(&["model", "list"])?;
    assert_eq!(code, 0, "{err}");
    let q4 = out
        .lines()
        .find(|l| l.contains("q4_k_m"))
        .ok_or(out.clone())?;
    assert!(q4.starts_with('*') && q4.contains("present"), "{out}");
    assert!(q4.contains(&placed.display().to_string()), "{out}");
    assert!(!out.contains("active model:"), "said once: {out}");
    for args in [
        &["model", "verify"][..],
        &["model", "path"],
        &["model", "pull"],
    ] {
        let (code, out, err) = caro(args)?;
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(
            out.contains(&placed.display().to_string()),
            "{args:?}: {out}"
        );
    }
    assert!(
        !home.path().join("cache/huggingface").exists(),
        "no second copy"
    );
    Ok(())
}
