//! The HTTP side: asking the hub what a file is, and fetching its bytes.
//!
//! hf-hub 0.5's sync API does both internally, but it sets no timeouts,
//! cannot be cancelled, appends a non-206 answer to a partial file and moves
//! the file into the cache before anyone could check it. So the requests are
//! made here, with the same ureq (and TLS: rustls + webpki roots) that hf-hub
//! uses, following the hub protocol that hf-hub and huggingface_hub follow.

use std::time::Duration;

use ureq::config::RedirectAuthHeaders;
use ureq::http::Response;
use ureq::typestate::WithoutBody;
use ureq::{Agent, Body, BodyReader, RequestBuilder};

use super::catalog::Variant;
use super::error::{StoreError, host_of};
use super::hub::HubSettings;

/// What the hub says about a file before any of it is downloaded.
#[derive(Debug, Clone)]
pub(crate) struct RemoteFile {
    /// The URL to GET (after following repository renames).
    pub url: String,
    pub commit: String,
    /// Names the blob in the cache; for LFS files it is the SHA-256.
    pub etag: String,
    pub size: Option<u64>,
}

pub(crate) enum Opened {
    /// The body starts at this offset of the file.
    From(u64, BodyReader<'static>),
    /// The server says the requested offset is past the end of the file.
    RangeNotSatisfiable,
}

pub(crate) struct Remote {
    follow: Agent,
    probe: Agent,
    endpoint: String,
    token: Option<String>,
}

impl Remote {
    pub(crate) fn new(hub: &HubSettings) -> Self {
        Self {
            follow: agent(hub, 10),
            probe: agent(hub, 0),
            endpoint: hub.endpoint.clone(),
            token: hub.token.clone(),
        }
    }

    pub(crate) fn resolve_url(&self, v: &Variant) -> String {
        format!(
            "{}/{}/resolve/{}/{}",
            self.endpoint,
            v.repo,
            v.revision.replace('/', "%2F"),
            v.file
        )
    }

    fn authorized(&self, request: RequestBuilder<WithoutBody>) -> RequestBuilder<WithoutBody> {
        match &self.token {
            Some(token) => request.header("Authorization", format!("Bearer {token}")),
            None => request,
        }
    }

    /// HEAD on the resolve URL, like huggingface_hub: relative redirects
    /// (renamed repositories) are followed, the one to the CDN is not,
    /// because the hub puts the commit, the LFS sha256 and the size on it.
    pub(crate) fn metadata(&self, v: &Variant) -> Result<RemoteFile, StoreError> {
        let mut url = self.resolve_url(v);
        let mut hops = 0;
        let response = loop {
            let response = self
                .authorized(self.probe.head(&url))
                .header("Accept-Encoding", "identity")
                .call()
                .map_err(|e| StoreError::request(e, &url))?;
            if response.status().is_redirection()
                && hops < 5
                && let Some(location) = header(&response, "location")
                && location.starts_with('/')
                && !location.starts_with("//")
            {
                url = format!("{}{}", origin(&url), location);
                hops += 1;
                continue;
            }
            break response;
        };

        let status = response.status();
        if !(status.is_success() || status.is_redirection()) {
            return Err(StoreError::status(status.as_u16(), &url, &v.file));
        }
        let bad = |detail: &str| StoreError::BadResponse {
            url: url.clone(),
            detail: detail.to_string(),
        };
        let commit = header(&response, "x-repo-commit")
            .ok_or_else(|| bad("no X-Repo-Commit header"))?
            .trim()
            .to_string();
        if !is_path_safe(&commit) {
            return Err(bad("malformed X-Repo-Commit header"));
        }
        let etag = header(&response, "x-linked-etag")
            .or_else(|| header(&response, "etag"))
            .map(normalize_etag)
            .ok_or_else(|| bad("no ETag header"))?;
        if !is_path_safe(&etag) {
            return Err(bad("malformed ETag header"));
        }
        // A redirect's Content-Length is that of the redirect page.
        let size = header(&response, "x-linked-size")
            .or_else(|| {
                status
                    .is_success()
                    .then(|| header(&response, "content-length"))
                    .flatten()
            })
            .map(|s| s.trim().parse::<u64>())
            .transpose()
            .map_err(|_| bad("malformed size header"))?;
        Ok(RemoteFile {
            url,
            commit,
            etag,
            size,
        })
    }

    /// GET the file from `offset` on.
    pub(crate) fn open(&self, url: &str, file: &str, offset: u64) -> Result<Opened, StoreError> {
        let mut request = self
            .authorized(self.follow.get(url))
            .header("Accept-Encoding", "identity");
        if offset > 0 {
            request = request.header("Range", format!("bytes={offset}-"));
        }
        let response = request.call().map_err(|e| StoreError::request(e, url))?;
        match response.status().as_u16() {
            200 => Ok(Opened::From(0, into_reader(response))),
            206 => {
                let start = header(&response, "content-range")
                    .and_then(range_start)
                    .ok_or_else(|| StoreError::BadResponse {
                        url: url.to_string(),
                        detail: "206 without a usable Content-Range".into(),
                    })?;
                if start != offset {
                    return Err(StoreError::BadResponse {
                        url: url.to_string(),
                        detail: format!("asked for bytes from {offset}, got them from {start}"),
                    });
                }
                Ok(Opened::From(start, into_reader(response)))
            }
            416 => Ok(Opened::RangeNotSatisfiable),
            status => Err(StoreError::status(status, url, file)),
        }
    }

    pub(crate) fn host(&self) -> String {
        host_of(&self.endpoint)
    }
}

fn agent(hub: &HubSettings, max_redirects: u32) -> Agent {
    Agent::config_builder()
        // Statuses are mapped to StoreError by the callers, which know
        // whether a 416 or a 302 is expected.
        .http_status_as_error(false)
        .max_redirects(max_redirects)
        // The hub's CDN URLs are pre-signed; the token must not leak there.
        .redirect_auth_headers(RedirectAuthHeaders::SameHost)
        .user_agent(format!("caro/{}", env!("CARGO_PKG_VERSION")))
        .timeout_resolve(Some(hub.connect_timeout))
        .timeout_connect(Some(hub.connect_timeout))
        .timeout_recv_response(Some(hub.read_timeout.max(Duration::from_secs(1))))
        .timeout_per_read(Some(hub.read_timeout))
        .build()
        .into()
}

fn into_reader(response: Response<Body>) -> BodyReader<'static> {
    response.into_body().into_reader()
}

fn header<'a>(response: &'a Response<Body>, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

/// `W/"abc"` and `"abc"` both name the blob `abc`, as in hf-hub.
fn normalize_etag(raw: &str) -> String {
    raw.trim().trim_start_matches("W/").replace('"', "")
}

/// The etag and the commit become directory and file names in the cache.
fn is_path_safe(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => &url[..after_scheme + i],
        None => url,
    }
}

/// `bytes 100-199/1000` -> 100.
fn range_start(content_range: &str) -> Option<u64> {
    let spec = content_range.trim().strip_prefix("bytes")?.trim_start();
    let (start, _) = spec.split_once('-')?;
    start.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_parsing() {
        assert_eq!(range_start("bytes 100-199/1000"), Some(100));
        assert_eq!(range_start("bytes */1000"), None);
        assert_eq!(normalize_etag("W/\"abc\""), "abc");
        assert_eq!(origin("http://127.0.0.1:9/a/b"), "http://127.0.0.1:9");
        assert!(is_path_safe("cc324af070c2"));
        assert!(!is_path_safe("../x"));
        assert!(!is_path_safe(""));
    }
}
