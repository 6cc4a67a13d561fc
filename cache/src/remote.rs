//! A cache shared across machines, on storage a studio already runs: an
//! S3 bucket, a WebDAV share, a web server (read only) or a folder on a
//! NAS, through `object_store`. It holds the same two maps as the local
//! cache, under a prefix: `ac/KEY` (a step's action entry, JSON) and
//! `cas/HASH` (a blob, named by its BLAKE3 hash). Objects are written
//! whole under content-addressed names, so two machines writing one key
//! write the same bytes.
//!
//! The remote is an optimisation: whatever goes wrong with it (down,
//! slow, refusing credentials, full) the build goes on locally, warned
//! once, unless the user asked for the remote to be required.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use object_store::path::Path as ObjectPath;
use object_store::{ClientOptions, ObjectStore, PutPayload, RetryConfig};

use crate::{ActionEntry, Cache, Hash};

/// What the build may do with the remote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteMode {
    Read,
    Write,
    ReadWrite,
}

impl RemoteMode {
    pub fn parse(text: &str) -> Option<RemoteMode> {
        match text {
            "read" => Some(RemoteMode::Read),
            "write" => Some(RemoteMode::Write),
            "read-write" => Some(RemoteMode::ReadWrite),
            _ => None,
        }
    }

    fn reads(self) -> bool {
        self != RemoteMode::Write
    }

    fn writes(self) -> bool {
        self != RemoteMode::Read
    }
}

/// How to reach the remote.
#[derive(Debug, Clone)]
pub struct RemoteSettings {
    pub url: String,
    pub mode: RemoteMode,
    /// Fail the build when the remote fails, instead of going on locally.
    pub required: bool,
    /// Per request.
    pub timeout: Duration,
    pub retries: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("remote cache {url}: {why}")]
    Url { url: String, why: String },
    #[error("remote cache {url}: {why}")]
    Failed { url: String, why: String },
}

/// What the remote did for one build.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteReport {
    pub hits: u64,
    pub downloaded: u64,
    pub uploaded: u64,
    /// The one warning a failing remote gives, if it failed.
    pub warning: Option<String>,
    /// Downloads whose hash was wrong: the key of each step.
    pub damaged: Vec<String>,
}

/// Uploads in flight at most at once.
const UPLOADS_IN_FLIGHT: usize = 4;
/// Tries again at making a WebDAV folder another machine is making.
const FOLDER_TRIES: usize = 5;

pub struct RemoteCache {
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
    /// The URL as shown: never with credentials in it.
    shown: String,
    mode: RemoteMode,
    required: bool,
    runtime: tokio::runtime::Runtime,
    uploads: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    slots: Arc<tokio::sync::Semaphore>,
    /// Set at the first failure: the build stops talking to the remote.
    down: Arc<AtomicBool>,
    failure: Arc<Mutex<Option<String>>>,
    hits: AtomicU64,
    downloaded: AtomicU64,
    uploaded: Arc<AtomicU64>,
    damaged: Mutex<Vec<String>>,
    /// A WebDAV share, whose folders are made before the first upload.
    webdav: bool,
    folders_made: Mutex<bool>,
}

impl std::fmt::Debug for RemoteCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RemoteCache({}, {:?})", self.shown, self.mode)
    }
}

/// The URL without user, password or query (where tokens hide).
fn shown_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    if scheme.is_empty() {
        rest.to_string()
    } else {
        format!("{scheme}://{rest}")
    }
}

/// The AWS command line's files: `~/.aws/credentials` (or
/// `AWS_SHARED_CREDENTIALS_FILE`) and `~/.aws/config` (or
/// `AWS_CONFIG_FILE`), read for the profile `AWS_PROFILE` names, else
/// `default`: what an engineer already set up with `aws configure`.
struct AwsFiles {
    credentials: Vec<(String, String)>,
    config: Vec<(String, String)>,
}

impl AwsFiles {
    fn read() -> AwsFiles {
        let profile = std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".into());
        let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
        let path = |variable: &str, name: &str| {
            std::env::var_os(variable)
                .map(std::path::PathBuf::from)
                .or_else(|| home.as_ref().map(|h| h.join(".aws").join(name)))
        };
        let section = |path: Option<std::path::PathBuf>, header: &str| {
            path.and_then(|p| std::fs::read_to_string(p).ok())
                .map(|text| ini_section(&text, header))
                .unwrap_or_default()
        };
        // The config file heads a profile `[profile NAME]`, except `[default]`.
        let config_header = if profile == "default" {
            profile.clone()
        } else {
            format!("profile {profile}")
        };
        AwsFiles {
            credentials: section(path("AWS_SHARED_CREDENTIALS_FILE", "credentials"), &profile),
            config: section(path("AWS_CONFIG_FILE", "config"), &config_header),
        }
    }

    /// A key from the credentials file, else the config file.
    fn credential(&self, key: &str) -> Option<String> {
        find(&self.credentials, key).or_else(|| find(&self.config, key))
    }

    fn setting(&self, key: &str) -> Option<String> {
        find(&self.config, key)
    }
}

fn find(pairs: &[(String, String)], key: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .filter(|v| !v.is_empty())
}

/// The `key = value` lines of INI section `[header]`.
fn ini_section(text: &str, header: &str) -> Vec<(String, String)> {
    let mut inside = false;
    let mut pairs = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = name.trim() == header;
            continue;
        }
        if inside {
            if let Some((key, value)) = line.split_once('=') {
                pairs.push((key.trim().to_string(), value.trim().to_string()));
            }
        }
    }
    pairs
}

/// `text` with the `user:password@` of every URL in it cut out.
fn without_logins(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        let end = after
            .find(|c: char| c == '/' || c.is_whitespace())
            .unwrap_or(after.len());
        let authority = &after[..end];
        out.push_str(
            authority
                .rsplit_once('@')
                .map_or(authority, |(_, host)| host),
        );
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// The `Authorization` header for `user:password` (RFC 7617), percent
/// escapes in the URL undone.
fn basic_auth(login: &str) -> Result<http::HeaderMap, RemoteError> {
    use base64::Engine;
    let decoded = percent_decode(login);
    let value = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(decoded)
    );
    let mut header = http::HeaderValue::from_str(&value).map_err(|_| RemoteError::Url {
        url: "(a URL with a login)".into(),
        why: "its user or password holds characters a header cannot".into(),
    })?;
    header.set_sensitive(true);
    let mut headers = http::HeaderMap::new();
    headers.insert(http::header::AUTHORIZATION, header);
    Ok(headers)
}

/// `%40` and the like back to their bytes.
fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    out
}

/// An error in words with no secret in them: the credentials the
/// environment holds are cut out wherever a library quoted them.
fn describe(error: &object_store::Error) -> String {
    let mut text = match error {
        object_store::Error::NotFound { .. } => "not found".to_string(),
        other => other.to_string(),
    };
    for secret in [
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_ACCESS_KEY_ID",
    ] {
        if let Ok(value) = std::env::var(secret) {
            if !value.is_empty() {
                text = text.replace(&value, "***");
            }
        }
    }
    let files = AwsFiles::read();
    for secret in [
        "aws_secret_access_key",
        "aws_session_token",
        "aws_access_key_id",
    ] {
        if let Some(value) = files.credential(secret) {
            text = text.replace(&value, "***");
        }
    }
    // Any login a URL in the message carries.
    text = without_logins(&text);
    // One line: the transport's chain of causes can run long.
    let line = text.lines().next().unwrap_or("").to_string();
    if line.chars().count() > 300 {
        line.chars().take(300).collect::<String>() + "…"
    } else {
        line
    }
}

impl RemoteCache {
    pub fn open(settings: &RemoteSettings) -> Result<RemoteCache, RemoteError> {
        let shown = shown_url(&settings.url);
        let bad = |why: String| RemoteError::Url {
            url: shown.clone(),
            why,
        };
        let retry = RetryConfig {
            max_retries: settings.retries,
            retry_timeout: settings.timeout * (settings.retries as u32 + 1),
            ..RetryConfig::default()
        };
        let client = ClientOptions::new()
            .with_timeout(settings.timeout)
            .with_connect_timeout(settings.timeout)
            .with_allow_http(true);
        let (scheme, rest) = settings.url.split_once("://").ok_or_else(|| {
            bad("not a URL: use s3://, webdav+http(s)://, http(s):// or file://".into())
        })?;
        let (store, prefix, mode): (Arc<dyn ObjectStore>, String, RemoteMode) = match scheme {
            "s3" => {
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                if bucket.is_empty() {
                    return Err(bad("names no bucket: s3://BUCKET/PREFIX".into()));
                }
                let mut builder = object_store::aws::AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .with_client_options(client)
                    .with_retry(retry);
                // The AWS tools' own files, where the environment says nothing.
                let files = AwsFiles::read();
                if std::env::var("AWS_ACCESS_KEY_ID").is_err() {
                    if let (Some(key), Some(secret)) = (
                        files.credential("aws_access_key_id"),
                        files.credential("aws_secret_access_key"),
                    ) {
                        builder = builder
                            .with_access_key_id(key)
                            .with_secret_access_key(secret);
                        if let Some(token) = files.credential("aws_session_token") {
                            builder = builder.with_token(token);
                        }
                    }
                }
                if std::env::var("AWS_ENDPOINT_URL").is_err() {
                    if let Some(endpoint) = files.setting("endpoint_url") {
                        builder = builder.with_endpoint(endpoint);
                    }
                }
                let region_in_env =
                    std::env::var("AWS_REGION").is_ok() || std::env::var("AWS_DEFAULT_REGION").is_ok();
                if !region_in_env {
                    if let Some(region) = files.setting("region") {
                        builder = builder.with_region(region);
                    }
                }
                // AWS_ENDPOINT_URL is the AWS tools' name for a non-AWS
                // endpoint (MinIO, Garage, R2, a local server).
                if let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL") {
                    builder = builder.with_endpoint(endpoint);
                }
                if !region_in_env && files.setting("region").is_none() {
                    builder = builder.with_region("us-east-1");
                }
                let store = builder.build().map_err(|e| bad(describe(&e)))?;
                (Arc::new(store), prefix.to_string(), settings.mode)
            }
            "webdav+http" | "webdav+https" | "http" | "https" => {
                let transport = scheme.trim_start_matches("webdav+");
                // The server's root as the base and the path as the prefix:
                // a WebDAV client makes missing folders only below its base.
                let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
                // A share's user and password (`user:password@host`) go in
                // a Basic Authorization header on every request, never in
                // a URL a message could quote.
                let (login, host) = match authority.rsplit_once('@') {
                    Some((login, host)) => (Some(login), host),
                    None => (None, authority),
                };
                let client = match login {
                    Some(login) => client.with_default_headers(basic_auth(login)?),
                    None => client,
                };
                let store = object_store::http::HttpBuilder::new()
                    .with_url(format!("{transport}://{host}"))
                    .with_client_options(client)
                    .with_retry(retry)
                    .build()
                    .map_err(|e| bad(describe(&e)))?;
                // A plain web server serves files: it is read only.
                let mode = if scheme.starts_with("webdav+") {
                    settings.mode
                } else {
                    RemoteMode::Read
                };
                (Arc::new(store), path.to_string(), mode)
            }
            "file" => {
                let root = std::path::Path::new(rest);
                std::fs::create_dir_all(root)
                    .map_err(|e| bad(format!("cannot create the folder: {e}")))?;
                let store = object_store::local::LocalFileSystem::new_with_prefix(root)
                    .map_err(|e| bad(describe(&e)))?;
                (Arc::new(store), String::new(), settings.mode)
            }
            other => {
                return Err(bad(format!(
                    "`{other}://` is not a remote bounce knows: use s3://, webdav+http(s)://, http(s):// or file://"
                )))
            }
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| bad(format!("cannot start its I/O threads: {e}")))?;
        let remote = RemoteCache {
            store,
            prefix: ObjectPath::from(prefix.trim_matches('/')),
            shown,
            mode,
            required: settings.required,
            runtime,
            uploads: Mutex::new(Vec::new()),
            slots: Arc::new(tokio::sync::Semaphore::new(UPLOADS_IN_FLIGHT)),
            down: Arc::new(AtomicBool::new(false)),
            failure: Arc::new(Mutex::new(None)),
            hits: AtomicU64::new(0),
            downloaded: AtomicU64::new(0),
            uploaded: Arc::new(AtomicU64::new(0)),
            damaged: Mutex::new(Vec::new()),
            webdav: scheme.starts_with("webdav+"),
            folders_made: Mutex::new(false),
        };
        Ok(remote)
    }

    /// Makes the two folders on a WebDAV share before the first upload:
    /// uploads making one missing folder at once would collide. Another
    /// machine making them at the same moment makes the server refuse
    /// (locked, or already there) for a moment: tried again a little later.
    fn make_folders(&self) {
        let mut made = self.folders_made.lock().expect("folders lock");
        if *made || !self.webdav {
            return;
        }
        for folder in ["ac", "cas"] {
            let marker = self.prefix.child(folder).child(".bounce");
            let mut tries = 0;
            loop {
                let put = self.runtime.block_on(
                    self.store
                        .put(&marker, PutPayload::from_static(b"bounce cache\n")),
                );
                match put {
                    Ok(_) => break,
                    Err(_) if tries < FOLDER_TRIES => {
                        tries += 1;
                        std::thread::sleep(Duration::from_millis(100 * tries as u64));
                    }
                    Err(e) => {
                        self.fail("making its folders", &e);
                        return;
                    }
                }
            }
        }
        *made = true;
    }

    pub fn url(&self) -> &str {
        &self.shown
    }

    fn action_path(&self, key: &Hash) -> ObjectPath {
        self.prefix.child("ac").child(key.to_hex())
    }

    fn blob_path(&self, hash: &Hash) -> ObjectPath {
        self.prefix.child("cas").child(hash.to_hex())
    }

    /// Records the first failure; after it the remote is left alone.
    fn fail(&self, what: &str, error: &object_store::Error) -> RemoteError {
        let why = format!("{what}: {}", describe(error));
        mark_down(&self.down, &self.failure, &why);
        RemoteError::Failed {
            url: self.shown.clone(),
            why,
        }
    }

    /// An error only when the remote is required; otherwise `None`.
    fn failed<T>(&self, error: RemoteError) -> Result<Option<T>, RemoteError> {
        if self.required {
            Err(error)
        } else {
            Ok(None)
        }
    }

    fn usable(&self) -> bool {
        !self.down.load(Ordering::Relaxed)
    }

    /// The whole object at `path`, waited for.
    fn get(&self, path: &ObjectPath) -> Result<bytes::Bytes, object_store::Error> {
        self.runtime
            .block_on(async { self.store.get(path).await?.bytes().await })
    }

    /// The remote's entry for `key`, if it has one.
    pub fn action(&self, key: &Hash) -> Result<Option<ActionEntry>, RemoteError> {
        if !self.mode.reads() || !self.usable() {
            return Ok(None);
        }
        let path = self.action_path(key);
        let got = self.get(&path);
        match got {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => {
                let error = self.fail("reading an action entry", &e);
                self.failed(error)
            }
        }
    }

    /// Downloads the blob `hash` into `cache`, checking its hash: `false`
    /// when the remote lacks it or holds other bytes under its name (the
    /// step then renders locally; `key` names it in the warning).
    pub fn fetch_blob(&self, cache: &Cache, hash: &Hash, key: &Hash) -> Result<bool, RemoteError> {
        if !self.mode.reads() || !self.usable() {
            return Ok(false);
        }
        let path = self.blob_path(hash);
        let got = self.get(&path);
        let bytes = match got {
            Ok(bytes) => bytes,
            Err(object_store::Error::NotFound { .. }) => return Ok(false),
            Err(e) => {
                let error = self.fail("downloading a blob", &e);
                return self.failed(error).map(|_: Option<()>| false);
            }
        };
        self.downloaded
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        if Hash::of_bytes(&bytes) != *hash {
            self.damaged
                .lock()
                .expect("damaged list")
                .push(key.to_hex());
            return Ok(false);
        }
        let temp = cache.temp_file("remote");
        if std::fs::write(temp.path(), &bytes).is_err() {
            return Ok(false);
        }
        Ok(cache.commit_blob(temp).is_ok_and(|stored| stored == *hash))
    }

    /// Whether the remote holds the blob `hash` (for a dry run).
    pub fn has_blob(&self, hash: &Hash) -> bool {
        if !self.mode.reads() || !self.usable() {
            return false;
        }
        let path = self.blob_path(hash);
        self.runtime.block_on(self.store.head(&path)).is_ok()
    }

    /// Counts a step found on the remote.
    pub fn hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
    }

    /// Uploads a step's entry, after its blobs (so an entry never names a
    /// blob the remote lacks), in the background: [`RemoteCache::finish`]
    /// waits for it.
    pub fn upload(&self, cache: &Cache, key: &Hash, entry: &ActionEntry) {
        if !self.mode.writes() || !self.usable() {
            return;
        }
        self.make_folders();
        if !self.usable() {
            return;
        }
        let blobs: Vec<_> = entry
            .blob
            .then_some(&entry.output)
            .into_iter()
            .chain(&entry.also)
            .map(|hash| (self.blob_path(hash), cache.blob_path(hash)))
            .collect();
        let action = (
            self.action_path(key),
            serde_json::to_vec(entry).expect("an action entry serialises"),
        );
        let store = self.store.clone();
        let slots = self.slots.clone();
        let (down, failure, uploaded) = (
            self.down.clone(),
            self.failure.clone(),
            self.uploaded.clone(),
        );
        let handle = self.runtime.spawn(async move {
            let _slot = slots.acquire().await.expect("the semaphore stays open");
            if down.load(Ordering::Relaxed) {
                return;
            }
            for (remote, local) in blobs {
                // Content-addressed: a blob already there is these bytes.
                if store.head(&remote).await.is_err() {
                    let Ok(bytes) = tokio::fs::read(&local).await else {
                        return;
                    };
                    let size = bytes.len() as u64;
                    if let Err(e) = put_same_bytes(store.as_ref(), &remote, bytes).await {
                        mark_down(
                            &down,
                            &failure,
                            &format!("uploading a blob: {}", describe(&e)),
                        );
                        return;
                    }
                    uploaded.fetch_add(size, Ordering::Relaxed);
                }
            }
            let (path, bytes) = action;
            let size = bytes.len() as u64;
            match put_same_bytes(store.as_ref(), &path, bytes).await {
                Ok(_) => {
                    uploaded.fetch_add(size, Ordering::Relaxed);
                }
                Err(e) => mark_down(
                    &down,
                    &failure,
                    &format!("uploading an action entry: {}", describe(&e)),
                ),
            }
        });
        self.uploads.lock().expect("uploads").push(handle);
    }

    /// Waits for every upload; what the remote did, and its one warning.
    pub fn finish(&self) -> Result<RemoteReport, RemoteError> {
        let uploads = std::mem::take(&mut *self.uploads.lock().expect("uploads"));
        self.runtime.block_on(async {
            for upload in uploads {
                let _ = upload.await;
            }
        });
        let failure = self.failure.lock().expect("failure").clone();
        if let (true, Some(why)) = (self.required, &failure) {
            return Err(RemoteError::Failed {
                url: self.shown.clone(),
                why: why.clone(),
            });
        }
        Ok(RemoteReport {
            hits: self.hits.load(Ordering::Relaxed),
            downloaded: self.downloaded.load(Ordering::Relaxed),
            uploaded: self.uploaded.load(Ordering::Relaxed),
            warning: failure.map(|why| {
                format!(
                    "remote cache {} is not usable ({why}): this build went on with the local cache only",
                    self.shown
                )
            }),
            damaged: self.damaged.lock().expect("damaged list").clone(),
        })
    }
}

/// Writes an object whose name fixes its bytes. A WebDAV server locks an
/// object while someone writes it (423 Locked): another machine is then
/// writing these same bytes, so a short wait and a try again do, and if
/// the lock outlasts them the object is as good as written.
async fn put_same_bytes(
    store: &dyn ObjectStore,
    path: &ObjectPath,
    bytes: Vec<u8>,
) -> Result<(), object_store::Error> {
    let payload = PutPayload::from(bytes);
    for attempt in 1..=FOLDER_TRIES {
        match store.put(path, payload.clone()).await {
            Ok(_) => return Ok(()),
            Err(e) if e.to_string().contains("423 Locked") => {
                tokio::time::sleep(Duration::from_millis(50 * attempt as u64)).await;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn mark_down(down: &AtomicBool, failure: &Mutex<Option<String>>, why: &str) {
    down.store(true, Ordering::Relaxed);
    failure
        .lock()
        .expect("failure")
        .get_or_insert_with(|| why.to_string());
}

#[cfg(test)]
mod tests {
    #[test]
    fn logins_are_cut_from_messages_and_sent_as_a_header() {
        assert_eq!(
            without_logins("GET http://u:p%40ss@host:8/x failed; see https://h/y"),
            "GET http://host:8/x failed; see https://h/y"
        );
        let headers = basic_auth("Aladdin:open%20sesame").unwrap();
        // RFC 7617's example.
        assert_eq!(
            headers[http::header::AUTHORIZATION],
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert!(headers[http::header::AUTHORIZATION].is_sensitive());
    }

    #[test]
    fn aws_files_are_read_by_profile() {
        let text = "# made by aws configure\n[default]\naws_access_key_id = AKDEFAULT\n\n[team]\naws_access_key_id=AKTEAM\n aws_secret_access_key = s3cr3t = with equals\n[other]\nregion = eu-west-1\n";
        let team = ini_section(text, "team");
        assert_eq!(find(&team, "aws_access_key_id").as_deref(), Some("AKTEAM"));
        assert_eq!(
            find(&team, "aws_secret_access_key").as_deref(),
            Some("s3cr3t = with equals")
        );
        assert_eq!(find(&team, "region"), None);
        assert_eq!(
            find(&ini_section(text, "default"), "aws_access_key_id").as_deref(),
            Some("AKDEFAULT")
        );
        assert!(ini_section(text, "missing").is_empty());
    }

    use super::*;

    #[test]
    fn shown_urls_carry_no_credentials() {
        assert_eq!(
            shown_url("webdav+https://alice:s3cret@nas.local/bounce?token=abc"),
            "webdav+https://nas.local/bounce"
        );
        assert_eq!(shown_url("s3://bucket/prefix"), "s3://bucket/prefix");
    }

    #[test]
    fn a_folder_remote_round_trips_entries_and_checks_blobs() {
        let dir = tempfile::tempdir().unwrap();
        let local = Cache::open(&dir.path().join("local")).unwrap();
        let settings = RemoteSettings {
            url: format!("file://{}", dir.path().join("remote").display()),
            mode: RemoteMode::ReadWrite,
            required: true,
            timeout: Duration::from_secs(5),
            retries: 1,
        };
        let remote = RemoteCache::open(&settings).unwrap();
        let temp = local.temp_file("x");
        std::fs::write(temp.path(), b"some audio").unwrap();
        let hash = local.commit_blob(temp).unwrap();
        let key = Hash::of_bytes(b"a step");
        let entry = ActionEntry {
            output: hash,
            meta: serde_json::json!({"frames": 1}),
            blob: true,
            also: Vec::new(),
        };
        remote.upload(&local, &key, &entry);
        let report = remote.finish().unwrap();
        assert!(report.uploaded > 10, "{report:?}");
        assert_eq!(remote.action(&key).unwrap(), Some(entry));

        let other = Cache::open(&dir.path().join("other")).unwrap();
        assert!(remote.fetch_blob(&other, &hash, &key).unwrap());
        assert_eq!(
            std::fs::read(other.blob_path(&hash)).unwrap(),
            b"some audio"
        );

        // Damaged on the remote: refused, and named by its key.
        let stored = dir.path().join("remote/cas").join(hash.to_hex());
        std::fs::write(&stored, b"other bytes").unwrap();
        let third = Cache::open(&dir.path().join("third")).unwrap();
        assert!(!remote.fetch_blob(&third, &hash, &key).unwrap());
        assert!(!third.has_blob(&hash));
        assert_eq!(remote.finish().unwrap().damaged, vec![key.to_hex()]);
    }
}
