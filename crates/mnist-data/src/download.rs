//! Verified downloads: each file is fetched from the first mirror that serves
//! it whole and with the expected SHA-256, streamed into a temporary file in
//! the target folder and only then renamed into place, so a crash or a bad
//! mirror never leaves a half file under the real name. [`load`](crate::load)
//! fetches the files a named dataset's folder lacks this way (`data.download`).

use std::io::{IsTerminal, Read, Write};
use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};

use crate::config::DataConfig;
use crate::datasets::NamedDataset;
use crate::error::{DataError, DownloadAttempt, Result};
use crate::files::{candidates, FILES};

/// Lower-case hex of a byte string.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The HTTP client: HTTPS with rustls, statuses handled here, generous but
/// finite timeouts so a dead mirror does not hang the run.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(20)))
        .timeout_per_read(Some(Duration::from_secs(60)))
        .user_agent(concat!("lstm-mnist/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// A progress bar on stderr when it is a terminal, hidden otherwise.
fn progress(len: Option<u64>, name: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = match len {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    };
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(name.to_owned());
    bar
}

/// Joins a mirror's base URL and a file name.
pub fn url_of(mirror: &str, name: &str) -> String {
    format!("{}/{}", mirror.trim_end_matches('/'), name)
}

/// What one download must be: its name, SHA-256 and size in bytes.
struct Expected<'a> {
    name: &'a str,
    sha256: &'a str,
    size: u64,
}

/// Tries one URL: streams the body into `out` while hashing it, stopping as
/// soon as it is longer than the expected size (an endless body never fills
/// the disk). Returns why it failed, in words, or `Ok` when the body is whole
/// and its SHA-256 is the expected one.
fn try_url(
    agent: &ureq::Agent,
    url: &str,
    expected: &Expected,
    out: &mut std::fs::File,
) -> std::result::Result<(), String> {
    let Expected { name, sha256, size } = *expected;
    let response = agent.get(url).call().map_err(|e| format!("request failed: {e}"))?;
    let status = response.status();
    if status != 200 {
        return Err(format!("HTTP {status}"));
    }
    let expected_len = response.body().content_length();
    if let Some(len) = expected_len.filter(|&len| len > size) {
        return Err(format!("announces {len} bytes but {name} has {size}"));
    }
    let mut reader = response.into_body().into_reader();
    let bar = progress(expected_len, name);
    let mut hasher = Sha256::new();
    let mut received: u64 = 0;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                bar.abandon();
                return Err(match expected_len {
                    Some(len) => format!("truncated body: received {received} of {len} bytes ({e})"),
                    None => format!("connection broken after {received} bytes ({e})"),
                });
            }
        };
        if received + n as u64 > size {
            bar.abandon();
            return Err(format!("body longer than the {size} bytes of {name}: stopped after {}", received + n as u64));
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(|e| format!("cannot write the temporary file: {e}"))?;
        received += n as u64;
        bar.set_position(received);
    }
    bar.finish_and_clear();
    if let Some(len) = expected_len {
        if received != len {
            return Err(format!("truncated body: received {received} of {len} bytes"));
        }
    }
    let got = hex(&hasher.finalize());
    if got != sha256 {
        return Err(format!("SHA-256 mismatch: got {got}, expected {sha256} ({received} bytes)"));
    }
    out.flush().and_then(|()| out.sync_all()).map_err(|e| format!("cannot write the temporary file: {e}"))
}

/// Downloads `name` from the first of `mirrors` that serves it with the given
/// SHA-256 and `size` in bytes (a longer body is cut off there and refused), into `dir/name`. The folder is created if needed. On failure the
/// error lists every URL tried and why it failed, and nothing is left under
/// `dir/name`.
///
/// ```no_run
/// let dir = std::path::Path::new("/tmp/mnist");
/// let f = mnist_data::datasets::MNIST.files[3];
/// mnist_data::download::fetch(dir, f.name, f.sha256, f.size, &["https://ossci-datasets.s3.amazonaws.com/mnist/"])?;
/// # Ok::<(), mnist_data::DataError>(())
/// ```
pub fn fetch(dir: &Path, name: &str, sha256: &str, size: u64, mirrors: &[impl AsRef<str>]) -> Result<()> {
    let expected = Expected { name, sha256, size };
    let dest = dir.join(name);
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| DataError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let agent = agent();
    let mut attempts = Vec::new();
    for mirror in mirrors {
        let url = url_of(mirror.as_ref(), name);
        tracing::info!(%url, dest = %dest.display(), "downloading");
        // A fresh temporary file per try, in the target folder (same file
        // system, so the rename is atomic); it is deleted if not persisted.
        let mut tmp =
            tempfile::Builder::new().prefix(&format!(".{name}.")).suffix(".part").tempfile_in(dir).map_err(io(dir))?;
        match try_url(&agent, &url, &expected, tmp.as_file_mut()) {
            Ok(()) => {
                tmp.persist(&dest).map_err(|e| DataError::Io { path: dest.clone(), source: e.error })?;
                tracing::info!(dest = %dest.display(), "downloaded and verified");
                return Ok(());
            }
            Err(reason) => {
                tracing::warn!(%url, %reason, "download failed");
                attempts.push(DownloadAttempt { url, reason });
            }
        }
    }
    if attempts.is_empty() {
        attempts.push(DownloadAttempt { url: "(none)".into(), reason: "`data.mirrors` is empty".into() });
    }
    Err(DataError::Download { path: dest, attempts })
}

/// Downloads the files of `named` that are missing from `dir`.
pub(crate) fn download_missing(dir: &Path, named: &NamedDataset, mirrors: &[String]) -> Result<()> {
    for ((stem, what, idx), remote) in FILES.into_iter().zip(named.files) {
        let present = candidates(stem, what, idx).iter().any(|name| dir.join(name).is_file());
        if !present {
            fetch(dir, remote.name, remote.sha256, remote.size, mirrors)?;
        }
    }
    Ok(())
}

/// Downloads the missing files of the named dataset `named` into `dir`
/// (`data.download`), from `data.mirrors` or the dataset's own mirrors.
pub(crate) fn download_named(config: &DataConfig, dir: &Path, named: Option<NamedDataset>) -> Result<()> {
    let Some(named) = named else {
        return Err(DataError::invalid_config(
            "data.download",
            "true",
            "downloading needs a named dataset: set `data.dataset` to \"mnist\" or \"fashion-mnist\"",
        ));
    };
    let mirrors: Vec<String> = match &config.mirrors {
        Some(m) => m.clone(),
        None => named.mirrors.iter().map(|m| (*m).to_owned()).collect(),
    };
    download_missing(dir, &named, &mirrors)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    /// What the test server answers for one path.
    #[derive(Clone)]
    pub(crate) enum Reply {
        /// 200 with the whole body.
        Ok(Vec<u8>),
        /// 200 announcing the whole length but sending only the first `n` bytes.
        Truncated(Vec<u8>, usize),
        /// 404 Not Found.
        NotFound,
        /// 200 without a length, then a body that never ends (until the client hangs up).
        Endless,
    }

    /// A small HTTP/1.1 server on 127.0.0.1 answering from a table; returns
    /// its base URL and the list of paths requested.
    pub(crate) fn serve(table: HashMap<String, Reply>) -> (String, Arc<Mutex<Vec<String>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let log = Arc::new(Mutex::new(Vec::new()));
        let log2 = Arc::clone(&log);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                }
                let path = request_line.split_whitespace().nth(1).unwrap_or("").to_owned();
                log2.lock().unwrap().push(path.clone());
                let reply = table.get(&path).cloned().unwrap_or(Reply::NotFound);
                if let Reply::Endless = reply {
                    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
                    let chunk = vec![0u8; 1 << 16];
                    while stream.write_all(&chunk).is_ok() {}
                    continue;
                }
                let (status, body, sent) = match reply {
                    Reply::Ok(b) => ("200 OK", b.clone(), b.len()),
                    Reply::Truncated(b, n) => ("200 OK", b, n),
                    Reply::NotFound | Reply::Endless => ("404 Not Found", b"not here".to_vec(), 8),
                };
                let head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body[..sent]);
                let _ = stream.flush();
                // Dropping the stream closes the connection.
            }
        });
        (base, log)
    }

    pub(crate) fn sha(bytes: &[u8]) -> String {
        hex(&Sha256::digest(bytes))
    }

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn good_download_is_verified_and_renamed_into_place() {
        let body: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let (base, _) = serve(HashMap::from([("/m/f.gz".to_owned(), Reply::Ok(body.clone()))]));
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("sub");
        fetch(&target, "f.gz", &sha(&body), body.len() as u64, &[format!("{base}/m/")]).unwrap();
        assert_eq!(std::fs::read(target.join("f.gz")).unwrap(), body);
        assert_eq!(leftovers(&target), vec!["f.gz"], "no temporary file left");
    }

    #[test]
    fn wrong_checksum_is_refused_and_leaves_nothing() {
        let (base, _) = serve(HashMap::from([("/f.gz".to_owned(), Reply::Ok(b"evil".to_vec()))]));
        let dir = tempfile::tempdir().unwrap();
        let err = fetch(dir.path(), "f.gz", &sha(b"good"), 4, &[base]).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, DataError::Download { .. }), "{msg}");
        assert!(msg.contains("SHA-256 mismatch") && msg.contains(&sha(b"good")) && msg.contains("f.gz"), "{msg}");
        assert!(leftovers(dir.path()).is_empty(), "{:?}", leftovers(dir.path()));
    }

    #[test]
    fn truncated_body_is_refused() {
        let body = vec![7u8; 5000];
        let (base, _) = serve(HashMap::from([("/f.gz".to_owned(), Reply::Truncated(body.clone(), 1000))]));
        let dir = tempfile::tempdir().unwrap();
        let msg = fetch(dir.path(), "f.gz", &sha(&body), body.len() as u64, &[base]).unwrap_err().to_string();
        assert!(msg.contains("truncated body") && msg.contains("of 5000 bytes"), "{msg}");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn an_endless_body_stops_at_the_expected_size() {
        let (base, _) = serve(HashMap::from([("/f.gz".to_owned(), Reply::Endless)]));
        let dir = tempfile::tempdir().unwrap();
        let msg = fetch(dir.path(), "f.gz", &sha(b"x"), 100_000, &[base]).unwrap_err().to_string();
        assert!(msg.contains("body longer than the 100000 bytes of f.gz"), "{msg}");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn a_body_announced_longer_than_expected_is_refused_at_once() {
        let body = vec![3u8; 5000];
        let (base, _) = serve(HashMap::from([("/f.gz".to_owned(), Reply::Ok(body.clone()))]));
        let dir = tempfile::tempdir().unwrap();
        let msg = fetch(dir.path(), "f.gz", &sha(&body), 4000, &[base]).unwrap_err().to_string();
        assert!(msg.contains("announces 5000 bytes but f.gz has 4000"), "{msg}");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn a_404_falls_through_to_the_next_mirror() {
        let body = b"labels".to_vec();
        let (base, log) = serve(HashMap::from([("/good/f.gz".to_owned(), Reply::Ok(body.clone()))]));
        let dir = tempfile::tempdir().unwrap();
        fetch(dir.path(), "f.gz", &sha(&body), body.len() as u64, &[format!("{base}/bad"), format!("{base}/good/")])
            .unwrap();
        assert_eq!(std::fs::read(dir.path().join("f.gz")).unwrap(), body);
        assert_eq!(*log.lock().unwrap(), vec!["/bad/f.gz", "/good/f.gz"]);
    }

    #[test]
    fn all_mirrors_failing_lists_each_mirror_and_why() {
        let body = vec![1u8; 300];
        let (base, _) = serve(HashMap::from([
            ("/a/f.gz".to_owned(), Reply::Ok(b"other".to_vec())),
            ("/c/f.gz".to_owned(), Reply::Truncated(body.clone(), 10)),
        ]));
        // A port nobody listens on: bind, read the port, close.
        let closed = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}", l.local_addr().unwrap())
        };
        let dir = tempfile::tempdir().unwrap();
        let mirrors = [format!("{base}/a"), format!("{base}/b"), format!("{base}/c"), closed.clone()];
        let err = fetch(dir.path(), "f.gz", &sha(&body), body.len() as u64, &mirrors).unwrap_err();
        let DataError::Download { path, attempts } = &err else { panic!("{err}") };
        assert_eq!(path, &dir.path().join("f.gz"));
        let reasons: Vec<(&str, &str)> = attempts.iter().map(|a| (a.url.as_str(), a.reason.as_str())).collect();
        assert_eq!(reasons.len(), 4, "{reasons:?}");
        assert!(reasons[0].0.ends_with("/a/f.gz") && reasons[0].1.contains("SHA-256 mismatch"), "{reasons:?}");
        assert!(reasons[1].0.ends_with("/b/f.gz") && reasons[1].1.contains("404"), "{reasons:?}");
        assert!(reasons[2].1.contains("truncated body"), "{reasons:?}");
        assert!(reasons[3].0.starts_with(&closed) && reasons[3].1.contains("request failed"), "{reasons:?}");
        let msg = err.to_string();
        for m in &mirrors {
            assert!(msg.contains(m.as_str()), "{msg}");
        }
        assert!(leftovers(dir.path()).is_empty());
    }
}
