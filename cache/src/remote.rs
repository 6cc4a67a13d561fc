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

/// The largest action entry read from a remote: bounce's are a few
/// kilobytes (a file's loudness blocks the most).
const MAX_ENTRY_BYTES: u64 = 64 << 20;

/// Why an object could not be read.
enum Fetch {
    Store(object_store::Error),
    /// More bytes than the reader takes.
    TooLarge,
    /// The local side could not keep it.
    Local,
}
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
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
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

/// `text` with the `user:password@` and the query of every URL in it cut
/// out (a password may hold an unescaped `/`, so the login ends at the
/// URL's last `@`).
fn without_logins(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        let end = after.find(char::is_whitespace).unwrap_or(after.len());
        let url = &after[..end];
        let url = url.rsplit_once('@').map_or(url, |(_, host)| host);
        out.push_str(url.split(['?', '#']).next().unwrap_or(url));
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// A URL's authority and path: the authority ends at the first `/` after
/// its last `@`, since a password may hold an unescaped `/`.
fn split_authority(rest: &str) -> (&str, &str) {
    let host_from = rest.rfind('@').map_or(0, |at| at + 1);
    match rest[host_from..].find('/') {
        Some(slash) => (&rest[..host_from + slash], &rest[host_from + slash + 1..]),
        None => (rest, ""),
    }
}

/// `text` with each whole occurrence of `secret` starred out: one that
/// stands alone between characters no secret is made of, so a short
/// secret does not star out every letter it shares with the message.
fn redact(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        return text.to_string();
    }
    let is_word = |c: char| c.is_alphanumeric() || "+/=_-".contains(c);
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut before: Option<char> = None;
    while let Some(at) = rest.find(secret) {
        let after = rest[at + secret.len()..].chars().next();
        let prev = rest[..at].chars().next_back().or(before);
        out.push_str(&rest[..at]);
        if prev.is_some_and(is_word) || after.is_some_and(is_word) {
            out.push_str(secret);
        } else {
            out.push_str("***");
        }
        before = secret.chars().next_back();
        rest = &rest[at + secret.len()..];
    }
    out.push_str(rest);
    out
}

/// An endpoint URL as object_store takes it: http(s), a host, no spaces
/// (one without a scheme, or with a trailing space, would panic it).
fn check_endpoint(endpoint: &str, from: &str) -> Result<(), String> {
    let shown = without_logins(endpoint);
    if endpoint.chars().any(char::is_whitespace) {
        return Err(format!("{from} \"{shown}\" holds a space"));
    }
    let host = endpoint
        .strip_prefix("http://")
        .or_else(|| endpoint.strip_prefix("https://"));
    match host {
        Some(host) if !host.is_empty() && !host.starts_with('/') => Ok(()),
        Some(_) => Err(format!("{from} \"{shown}\" names no host")),
        None => Err(format!(
            "{from} \"{shown}\" is not an http:// or https:// URL"
        )),
    }
}

/// Whether the environment gives S3 credentials by a way bounce does not
/// read itself (a web identity, a container's role), which object_store
/// then uses.
fn other_aws_credentials() -> bool {
    [
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ]
    .iter()
    .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()))
}

/// Whether the user asked for this machine's instance role: the URL's
/// `?credentials=instance`, or AWS's own switch
/// `AWS_EC2_METADATA_DISABLED=false`.
fn instance_role_asked(options: &[(String, String)]) -> bool {
    options
        .iter()
        .any(|(k, v)| k == "credentials" && v == "instance")
        || std::env::var("AWS_EC2_METADATA_DISABLED").is_ok_and(|v| v.eq_ignore_ascii_case("false"))
}

/// The options of a remote URL's query (`s3://b/p?credentials=instance`):
/// any other key is refused by name, its value never shown.
fn query_options(query: Option<&str>) -> Result<Vec<(String, String)>, String> {
    let mut options = Vec::new();
    for pair in query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter(|p| !p.is_empty())
    {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key != "credentials" || value != "instance" {
            return Err(format!(
                "its query option `{key}` is not one bounce knows (only `credentials=instance`, \
                 for S3); a WebDAV login goes in the URL as USER:PASSWORD@HOST, S3 keys in \
                 AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            ));
        }
        options.push((key.to_string(), value.to_string()));
    }
    Ok(options)
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
            text = redact(&text, &value);
        }
    }
    let files = AwsFiles::read();
    for secret in [
        "aws_secret_access_key",
        "aws_session_token",
        "aws_access_key_id",
    ] {
        if let Some(value) = files.credential(secret) {
            text = redact(&text, &value);
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

/// A store opened from a URL, where in it bounce keeps its objects, and
/// why it cannot be used (no credentials) if it cannot.
struct Opened {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    mode: RemoteMode,
    no_credentials: Option<String>,
}

type Bad<'a> = &'a dyn Fn(String) -> RemoteError;

/// `s3://BUCKET/PREFIX`: credentials, endpoint and region from the
/// environment, else from the AWS tools' own files.
fn s3_store(
    rest: &str,
    settings: &RemoteSettings,
    (client, retry): (ClientOptions, RetryConfig),
    options: &[(String, String)],
    bad: Bad,
) -> Result<Opened, RemoteError> {
    let mut no_credentials = None;
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
            check_endpoint(&endpoint, "the AWS config's endpoint_url").map_err(bad)?;
            builder = builder.with_endpoint(endpoint);
        }
    }
    let has_keys = std::env::var("AWS_ACCESS_KEY_ID").is_ok_and(|k| !k.is_empty())
        || files.credential("aws_access_key_id").is_some()
        || other_aws_credentials();
    // Without keys object_store would ask the instance metadata
    // service, a link-local address the user never named.
    if !has_keys && !instance_role_asked(options) {
        builder = builder.with_skip_signature(true);
        no_credentials = Some(
            "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or \
                 AWS_PROFILE), or add ?credentials=instance to the URL to use this \
                 machine's instance role; building without the shared cache"
                .to_string(),
        );
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
        check_endpoint(&endpoint, "AWS_ENDPOINT_URL").map_err(bad)?;
        builder = builder.with_endpoint(endpoint);
    }
    if !region_in_env && files.setting("region").is_none() {
        builder = builder.with_region("us-east-1");
    }
    let store = builder.build().map_err(|e| bad(describe(&e)))?;
    Ok(Opened {
        store: Arc::new(store),
        prefix: prefix.to_string(),
        mode: settings.mode,
        no_credentials,
    })
}

/// `webdav+http(s)://` (read and write) or `http(s)://` (read only).
fn http_store(
    scheme: &str,
    rest: &str,
    settings: &RemoteSettings,
    (client, retry): (ClientOptions, RetryConfig),
    bad: Bad,
) -> Result<Opened, RemoteError> {
    let transport = scheme.trim_start_matches("webdav+");
    // The server's root as the base and the path as the prefix:
    // a WebDAV client makes missing folders only below its base.
    let (authority, path) = split_authority(rest);
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
    Ok(Opened {
        store: Arc::new(store),
        prefix: path.to_string(),
        mode,
        no_credentials: None,
    })
}

/// `file://PATH`: a folder, made if missing.
fn file_store(rest: &str, settings: &RemoteSettings, bad: Bad) -> Result<Opened, RemoteError> {
    let root = std::path::Path::new(rest);
    std::fs::create_dir_all(root).map_err(|e| bad(format!("cannot create the folder: {e}")))?;
    let store = object_store::local::LocalFileSystem::new_with_prefix(root)
        .map_err(|e| bad(describe(&e)))?;
    Ok(Opened {
        store: Arc::new(store),
        prefix: String::new(),
        mode: settings.mode,
        no_credentials: None,
    })
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
        // A query never becomes part of an object's path.
        let (rest, query) = match rest.split_once('?') {
            Some((rest, query)) => (rest, Some(query.split('#').next().unwrap_or(query))),
            None => (rest.split('#').next().unwrap_or(rest), None),
        };
        let options = query_options(query).map_err(bad)?;
        let opened = match scheme {
            "s3" => s3_store(rest, settings, (client, retry), &options, &bad)?,
            "webdav+http" | "webdav+https" | "http" | "https" => {
                http_store(scheme, rest, settings, (client, retry), &bad)?
            }
            "file" => file_store(rest, settings, &bad)?,
            other => {
                return Err(bad(format!(
                    "`{other}://` is not a remote bounce knows: use s3://, webdav+http(s)://, http(s):// or file://"
                )))
            }
        };
        let Opened {
            store,
            prefix,
            mode,
            no_credentials,
        } = opened;
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
        if let Some(why) = no_credentials {
            mark_down(&remote.down, &remote.failure, &why);
        }
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

    /// The object at `path`, chunk by chunk into `sink`, waited for: at
    /// most `limit` bytes, whatever length the server declares (a
    /// `Content-Length` of 100 GB is refused, never allocated).
    fn get_into(
        &self,
        path: &ObjectPath,
        limit: u64,
        sink: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    ) -> Result<u64, Fetch> {
        use futures::StreamExt;
        self.runtime.block_on(async {
            let got = self.store.get(path).await.map_err(Fetch::Store)?;
            if got.meta.size > limit {
                return Err(Fetch::TooLarge);
            }
            let mut stream = got.into_stream();
            let mut read = 0u64;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(Fetch::Store)?;
                read += chunk.len() as u64;
                if read > limit {
                    return Err(Fetch::TooLarge);
                }
                sink(&chunk).map_err(|_| Fetch::Local)?;
            }
            Ok(read)
        })
    }

    /// The remote's entry for `key`, if it has one.
    pub fn action(&self, key: &Hash) -> Result<Option<ActionEntry>, RemoteError> {
        if !self.mode.reads() || !self.usable() {
            return Ok(None);
        }
        let path = self.action_path(key);
        let mut bytes = Vec::new();
        let got = self.get_into(&path, MAX_ENTRY_BYTES, &mut |chunk| {
            bytes.extend_from_slice(chunk);
            Ok(())
        });
        match got {
            Ok(_) => Ok(serde_json::from_slice(&bytes).ok()),
            Err(Fetch::Store(object_store::Error::NotFound { .. })) => Ok(None),
            // Not an entry bounce wrote: the step renders here.
            Err(Fetch::TooLarge | Fetch::Local) => {
                self.damaged
                    .lock()
                    .expect("damaged list")
                    .push(key.to_hex());
                Ok(None)
            }
            Err(Fetch::Store(e)) => {
                let error = self.fail("reading an action entry", &e);
                self.failed(error)
            }
        }
    }

    /// Downloads the blob `hash` into `cache`, checking its hash: `false`
    /// when the remote lacks it or holds other bytes under its name (the
    /// step then renders locally; `key` names it in the warning). The
    /// blob streams to a file: no more than the cache's free space is read.
    pub fn fetch_blob(&self, cache: &Cache, hash: &Hash, key: &Hash) -> Result<bool, RemoteError> {
        if !self.mode.reads() || !self.usable() {
            return Ok(false);
        }
        let path = self.blob_path(hash);
        let temp = cache.temp_file("remote");
        let Ok(mut file) = std::fs::File::create(temp.path()) else {
            return Ok(false);
        };
        let limit = cache.available_space().unwrap_or(0);
        let mut hasher = blake3::Hasher::new();
        let got = self.get_into(&path, limit, &mut |chunk| {
            use std::io::Write;
            hasher.update(chunk);
            file.write_all(chunk)
        });
        let size = match got {
            Ok(size) => size,
            Err(Fetch::Store(object_store::Error::NotFound { .. })) => return Ok(false),
            Err(Fetch::TooLarge) => {
                self.damaged
                    .lock()
                    .expect("damaged list")
                    .push(key.to_hex());
                return Ok(false);
            }
            Err(Fetch::Local) => return Ok(false),
            Err(Fetch::Store(e)) => {
                let error = self.fail("downloading a blob", &e);
                return self.failed(error).map(|_: Option<()>| false);
            }
        };
        drop(file);
        self.downloaded.fetch_add(size, Ordering::Relaxed);
        if Hash::from_blake3(hasher.finalize()) != *hash {
            self.damaged
                .lock()
                .expect("damaged list")
                .push(key.to_hex());
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
    fn a_password_with_a_slash_is_cut_whole() {
        let url = "webdav+https://alice:pa/ss@nas.local/bounce";
        assert_eq!(shown_url(url), "webdav+https://nas.local/bounce");
        assert_eq!(
            without_logins(&format!("error sending request for url ({url}/ac/x)")),
            "error sending request for url (webdav+https://nas.local/bounce/ac/x)"
        );
        let (authority, path) = split_authority("alice:pa/ss@nas.local/bounce");
        assert_eq!((authority, path), ("alice:pa/ss@nas.local", "bounce"));
        assert_eq!(split_authority("nas.local/a/b"), ("nas.local", "a/b"));
    }

    #[test]
    fn a_query_is_an_option_or_refused_without_its_value() {
        assert_eq!(query_options(None).unwrap(), vec![]);
        assert_eq!(
            query_options(Some("credentials=instance")).unwrap(),
            vec![("credentials".to_string(), "instance".to_string())]
        );
        let refused = query_options(Some("token=tok3nXYZ")).unwrap_err();
        assert!(
            refused.contains("`token`") && !refused.contains("tok3nXYZ"),
            "{refused}"
        );
        let settings = RemoteSettings {
            url: "webdav+http://127.0.0.1:9/team?token=tok3nXYZ".into(),
            mode: RemoteMode::ReadWrite,
            required: false,
            timeout: Duration::from_secs(1),
            retries: 0,
        };
        let error = RemoteCache::open(&settings).unwrap_err().to_string();
        assert!(!error.contains("tok3nXYZ"), "{error}");
    }

    #[test]
    fn a_short_secret_stars_out_only_itself() {
        assert_eq!(redact("key a refused", "a"), "key *** refused");
        assert_eq!(redact("a bad answer", "a"), "*** bad answer");
        assert_eq!(
            redact("signature for wJalrXUt was refused", "wJalrXUt"),
            "signature for *** was refused"
        );
        assert_eq!(redact("abc", ""), "abc");
    }

    #[test]
    fn endpoints_that_would_panic_the_client_are_named() {
        assert!(check_endpoint("http://127.0.0.1:9000", "AWS_ENDPOINT_URL").is_ok());
        for bad in [
            "127.0.0.1:9000",
            "http://127.0.0.1:9000 ",
            "https://",
            "ftp://x",
        ] {
            let why = check_endpoint(bad, "AWS_ENDPOINT_URL").unwrap_err();
            assert!(why.starts_with("AWS_ENDPOINT_URL"), "{why}");
        }
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
