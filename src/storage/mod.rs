//! Object storage: where sources and run folders live when they are not on
//! a local disk — S3 (and S3-compatible servers), GCS, Azure Blob Storage,
//! and read-only HTTPS — through `object_store`.
//!
//! Owns telling a URL from a local path, building a client from the cloud's
//! standard credential chain plus non-secret [`Settings`], listing, streaming
//! an object into a local writer while hashing it (one read), and uploads
//! (create-only where it matters). Everything here blocks: the async client
//! runs on the process's small tokio runtime (`runtime`).
//!
//! Credentials never pass through recon as text: object_store reads them
//! from the environment. Messages name a URL without user info or query,
//! and foreign error text is [`redact`]ed before it is shown.

use std::io::Write;
use std::path::Path as LocalPath;
use std::sync::Arc;

use futures::StreamExt;
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use crate::error::{Error, Result};
use crate::runtime::block_on;

mod redact;
mod settings;

pub use redact::{display_url, redact};
pub use settings::{duration, Retry, Settings};

/// URL schemes recon reads and writes through object storage (`file://` is
/// a local path and is not among them).
const SCHEMES: &[&str] = &[
    "s3", "s3a", "gs", "az", "adl", "azure", "abfs", "abfss", "http", "https",
];

/// Whether `text` is an object-storage URL (`s3://…`, `gs://…`, …).
pub fn is_url(text: &str) -> bool {
    scheme_of(text).is_some_and(|s| SCHEMES.contains(&s.as_str()))
}

fn scheme_of(text: &str) -> Option<String> {
    let (scheme, _) = text.split_once("://")?;
    let ok = !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-');
    ok.then(|| scheme.to_ascii_lowercase())
}

/// A local path given as `file://…`: the path, or `None` for other text.
pub fn file_url_path(text: &str) -> Option<std::path::PathBuf> {
    if scheme_of(text).as_deref() != Some("file") {
        return None;
    }
    url::Url::parse(text).ok()?.to_file_path().ok()
}

/// One object as a listing or a read saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// Its key in the store.
    pub key: String,
    /// Its full URL (`s3://bucket/key`).
    pub url: String,
    pub size: u64,
    pub etag: Option<String>,
    pub version: Option<String>,
}

/// What reading an object saw: its bytes' SHA-256 (hex), size, and the
/// store's ETag and version id at the time of the read.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub sha256: String,
    pub size: u64,
    pub etag: Option<String>,
    pub version: Option<String>,
    /// Microseconds spent hashing.
    pub hash_micros: u64,
}

/// Which version of an object a read or write saw (ETag and version id),
/// for compare-and-set replacement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub e_tag: Option<String>,
    pub version: Option<String>,
}

/// A client for one bucket (or container, or HTTP host).
#[derive(Debug, Clone)]
pub struct Store {
    inner: Arc<dyn ObjectStore>,
    /// `scheme://authority`, without user info.
    root: String,
}

/// A URL split into its store and the key (or key pattern) in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// `scheme://authority` as given (user info kept for HTTP basic auth).
    pub root: String,
    /// The key or key pattern, without a leading `/`.
    pub key: String,
}

impl Location {
    /// Splits `url` (`s3://bucket/dir/part-*.csv`). The key is kept as
    /// text, so glob characters survive (a URL parser would take `?` for a
    /// query).
    pub fn parse(url: &str) -> Result<Location> {
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err(storage_error(url, "is not a URL (expected scheme://bucket/key)", None));
        };
        let (authority, key) = rest.split_once('/').unwrap_or((rest, ""));
        if authority.is_empty() {
            return Err(storage_error(
                url,
                "names no bucket (expected scheme://bucket/key)",
                None,
            ));
        }
        Ok(Location {
            root: format!("{}://{authority}", scheme.to_ascii_lowercase()),
            key: key.to_string(),
        })
    }

    pub fn url(&self) -> String {
        display_url(&format!("{}/{}", self.root, self.key))
    }

    /// This location with `more` appended to its key (a `/` between).
    pub fn join(&self, more: &str) -> Location {
        let key = match (self.key.trim_end_matches('/'), more.trim_start_matches('/')) {
            ("", m) => m.to_string(),
            (k, "") => k.to_string(),
            (k, m) => format!("{k}/{m}"),
        };
        Location {
            root: self.root.clone(),
            key,
        }
    }
}

impl Store {
    /// A client for `location`'s store with `settings`; credentials from
    /// the cloud's environment and config chain.
    pub fn open(location: &Location, settings: &Settings) -> Result<Store> {
        use object_store::client::ClientOptions;
        use object_store::{BackoffConfig, RetryConfig};
        let url = url::Url::parse(&format!("{}/", location.root))
            .map_err(|e| storage_error(&location.root, format!("is not a valid URL: {e}"), None))?;
        let shown = display_url(&location.root);
        let retry = RetryConfig {
            backoff: BackoffConfig {
                init_backoff: settings.retry.init_backoff,
                max_backoff: settings.retry.max_backoff,
                base: 2.0,
            },
            max_retries: settings.retry.max_retries,
            retry_timeout: settings.retry.retry_timeout,
        };
        let unknown = |k: &str| {
            storage_error(
                &shown,
                format!("unknown storage setting `{k}` for a {} URL", url.scheme()),
                Some(
                    "rules/README.md, \"[storage]\", lists the settings; others are object_store's keys for that cloud"
                        .into(),
                ),
            )
        };
        // The settings, each checked against the cloud's own configuration keys.
        macro_rules! configured {
            ($builder:expr) => {{
                let mut b = $builder;
                for (k, v) in &settings.options {
                    b = b.with_config(k.parse().map_err(|_| unknown(k))?, v);
                }
                b
            }};
        }
        macro_rules! cloud {
            ($builder:ty) => {
                configured!(<$builder>::from_env().with_url(url.as_str()))
                    .with_retry(retry)
                    .build()
                    .map(|s| Arc::new(s) as _)
            };
        }
        let built: std::result::Result<Arc<dyn ObjectStore>, object_store::Error> = match url.scheme() {
            "s3" | "s3a" => cloud!(object_store::aws::AmazonS3Builder),
            "gs" => cloud!(object_store::gcp::GoogleCloudStorageBuilder),
            "az" | "adl" | "azure" | "abfs" | "abfss" => cloud!(object_store::azure::MicrosoftAzureBuilder),
            "http" | "https" => object_store::http::HttpBuilder::new()
                .with_url(url.as_str())
                .with_client_options(configured!(ClientOptions::new()))
                .with_retry(retry)
                .build()
                .map(|s| Arc::new(s) as _),
            other => {
                return Err(storage_error(
                    &shown,
                    format!("unsupported URL scheme `{other}`"),
                    Some("use s3://, gs://, az://, abfs:// or https://".into()),
                ))
            }
        };
        let inner = built.map_err(|e| from_store(&shown, e))?;
        Ok(Store { inner, root: shown })
    }

    /// `key` as the store names it: the key itself, never re-encoded (a key
    /// read from a listing is used as listed); one with an empty segment
    /// (`a//b`), a `.` or `..` segment or a control character is refused.
    fn key(&self, key: &str) -> Result<Key> {
        Key::parse(key).map_err(|e| storage_error(&self.url(key), format!("is not a valid object key: {e}"), None))
    }

    /// The URL of `key` in this store.
    pub fn url(&self, key: &str) -> String {
        format!("{}/{}", self.root, key.trim_start_matches('/'))
    }

    /// Every object whose key starts with `prefix` (a folder: `a/b`
    /// lists `a/b/…`), in key order.
    pub fn list(&self, prefix: &str) -> Result<Vec<Object>> {
        let prefix = prefix.trim_matches('/');
        let key = (!prefix.is_empty()).then(|| self.key(prefix)).transpose()?;
        let inner = self.inner.clone();
        let listed: Vec<object_store::ObjectMeta> = block_on(async move {
            let mut out = Vec::new();
            let mut stream = inner.list(key.as_ref());
            while let Some(meta) = stream.next().await {
                out.push(meta?);
            }
            Ok::<_, object_store::Error>(out)
        })?
        .map_err(|e| from_store(&self.url(prefix), e))?;
        let mut objects: Vec<Object> = listed.into_iter().map(|m| self.object(m)).collect();
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(objects)
    }

    /// The folders directly under `prefix` (their keys, with no trailing `/`).
    pub fn folders(&self, prefix: &str) -> Result<Vec<String>> {
        let prefix = prefix.trim_matches('/');
        let key = (!prefix.is_empty()).then(|| self.key(prefix)).transpose()?;
        let inner = self.inner.clone();
        let listed = block_on(async move { inner.list_with_delimiter(key.as_ref()).await })?
            .map_err(|e| from_store(&self.url(prefix), e))?;
        let mut folders: Vec<String> = listed.common_prefixes.iter().map(|p| p.to_string()).collect();
        folders.sort();
        Ok(folders)
    }

    /// The object at `key`, or `None` when there is none.
    pub fn head(&self, key: &str) -> Result<Option<Object>> {
        let inner = self.inner.clone();
        let path = self.key(key)?;
        match block_on(async move { inner.head(&path).await })? {
            Ok(meta) => Ok(Some(self.object(meta))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(from_store(&self.url(key), e)),
        }
    }

    /// Streams the object at `key` into `sink`, hashing its bytes on the
    /// way (the object is read once).
    pub fn download(&self, key: &str, sink: &mut dyn Write) -> Result<Fetched> {
        let url = self.url(key);
        let inner = self.inner.clone();
        let path = self.key(key)?;
        let mut hashing = ring::digest::Context::new(&ring::digest::SHA256);
        let mut size = 0u64;
        let mut micros = 0u64;
        let mut write_error: Option<std::io::Error> = None;
        let meta = block_on(async {
            let got = inner.get(&path).await?;
            let meta = got.meta.clone();
            let mut stream = got.into_stream();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk?;
                let start = std::time::Instant::now();
                hashing.update(&chunk);
                micros += start.elapsed().as_micros() as u64;
                size += chunk.len() as u64;
                if let Err(e) = sink.write_all(&chunk) {
                    write_error = Some(e);
                    break;
                }
            }
            Ok::<_, object_store::Error>(meta)
        })?
        .map_err(|e| from_store(&url, e))?;
        if let Some(e) = write_error {
            return Err(storage_error(
                &url,
                format!("cannot write the downloaded bytes: {e}"),
                None,
            ));
        }
        sink.flush()
            .map_err(|e| storage_error(&url, format!("cannot write the downloaded bytes: {e}"), None))?;
        Ok(Fetched {
            sha256: hex::encode(hashing.finish()),
            size,
            etag: meta.e_tag,
            version: meta.version,
            hash_micros: micros,
        })
    }

    /// The object at `key` whole, in memory (small objects: a summary, a manifest).
    pub fn read(&self, key: &str) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        self.download(key, &mut bytes)?;
        Ok(bytes)
    }

    /// Uploads `bytes` to `key`; with `create_only`, fails with
    /// [`Error::Storage`] (hint: already exists) rather than replace an
    /// object that is there — decided by the server, so a concurrent
    /// writer cannot slip in between a check and the write.
    pub fn put(&self, key: &str, bytes: Vec<u8>, create_only: bool) -> Result<()> {
        let url = self.url(key);
        let inner = self.inner.clone();
        let path = self.key(key)?;
        let opts = PutOptions {
            mode: if create_only {
                PutMode::Create
            } else {
                PutMode::Overwrite
            },
            ..Default::default()
        };
        match block_on(async move { inner.put_opts(&path, PutPayload::from(bytes), opts).await })? {
            Ok(_) => Ok(()),
            Err(object_store::Error::AlreadyExists { .. }) => Err(storage_error(
                &url,
                "already exists; recon never replaces an object of a run",
                Some("choose another --run-id, or remove the incomplete run first".into()),
            )),
            Err(e) => Err(from_store(&url, e)),
        }
    }

    /// Creates `key` with `bytes` unless an object is there: its tag, or
    /// `None` when one exists (the server decides, atomically).
    pub fn try_create(&self, key: &str, bytes: Vec<u8>) -> Result<Option<Tag>> {
        self.put_if(key, bytes, PutMode::Create)
    }

    /// Replaces `key` with `bytes` if it is still the version `tag` names:
    /// the new tag, or `None` when it changed meanwhile (compare-and-set).
    pub fn try_replace(&self, key: &str, bytes: Vec<u8>, tag: &Tag) -> Result<Option<Tag>> {
        let version = object_store::UpdateVersion {
            e_tag: tag.e_tag.clone(),
            version: tag.version.clone(),
        };
        self.put_if(key, bytes, PutMode::Update(version))
    }

    fn put_if(&self, key: &str, bytes: Vec<u8>, mode: PutMode) -> Result<Option<Tag>> {
        let url = self.url(key);
        let inner = self.inner.clone();
        let path = self.key(key)?;
        let opts = PutOptions {
            mode,
            ..Default::default()
        };
        match block_on(async move { inner.put_opts(&path, PutPayload::from(bytes), opts).await })? {
            Ok(r) => Ok(Some(Tag {
                e_tag: r.e_tag,
                version: r.version,
            })),
            Err(object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }) => Ok(None),
            Err(e) => Err(from_store(&url, e)),
        }
    }

    /// The object at `key` and its tag, or `None` when there is none.
    pub fn read_tagged(&self, key: &str) -> Result<Option<(Vec<u8>, Tag)>> {
        let mut bytes = Vec::new();
        match self.download(key, &mut bytes) {
            Ok(f) => Ok(Some((
                bytes,
                Tag {
                    e_tag: f.etag,
                    version: f.version,
                },
            ))),
            Err(Error::Storage { source: Some(e), .. }) if matches!(*e, object_store::Error::NotFound { .. }) => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Removes the object at `key` (none there is not an error).
    pub fn delete(&self, key: &str) -> Result<()> {
        let inner = self.inner.clone();
        let path = self.key(key)?;
        match block_on(async move { inner.delete(&path).await })? {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(from_store(&self.url(key), e)),
        }
    }

    /// Uploads the local file `from` to `key`. Files up to
    /// [`SINGLE_PUT_LIMIT`] go in one create-only put; larger ones in
    /// parts of [`PART_SIZE`] (multipart uploads cannot be create-only:
    /// callers claim the run's prefix with a create-only put first).
    pub fn upload(&self, from: &LocalPath, key: &str) -> Result<()> {
        let url = self.url(key);
        let size = std::fs::metadata(from).map_err(|e| Error::io(from, e))?.len();
        if size <= SINGLE_PUT_LIMIT {
            let bytes = std::fs::read(from).map_err(|e| Error::io(from, e))?;
            return self.put(key, bytes, true);
        }
        let inner = self.inner.clone();
        let path = self.key(key)?;
        let mut file = std::fs::File::open(from).map_err(|e| Error::io(from, e))?;
        let mut read_error: Option<std::io::Error> = None;
        block_on(async {
            let upload = inner.put_multipart(&path).await?;
            let mut writer = object_store::WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
            let mut buf = vec![0u8; PART_SIZE];
            loop {
                let n = match std::io::Read::read(&mut file, &mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) => {
                        read_error = Some(e);
                        writer.abort().await?;
                        return Ok(());
                    }
                };
                writer.wait_for_capacity(4).await?;
                writer.write(&buf[..n]);
            }
            writer.finish().await.map(|_| ())
        })?
        .map_err(|e| from_store(&url, e))?;
        match read_error {
            Some(e) => Err(Error::io(from, e)),
            None => Ok(()),
        }
    }

    fn object(&self, meta: object_store::ObjectMeta) -> Object {
        let key = meta.location.to_string();
        Object {
            url: self.url(&key),
            key,
            size: meta.size,
            etag: meta.e_tag,
            version: meta.version,
        }
    }
}

/// Objects up to this size are uploaded in one request.
pub const SINGLE_PUT_LIMIT: u64 = 64 << 20;
/// The part size of larger uploads.
pub const PART_SIZE: usize = 16 << 20;

/// An error about `url` with a message that holds no secret.
pub fn storage_error(url: &str, message: impl Into<String>, hint: Option<String>) -> Error {
    Error::Storage {
        url: display_url(url),
        message: redact(&message.into()),
        hint,
        source: None,
    }
}

/// object_store's error, made safe to show and given a hint where the
/// cause is common.
fn from_store(url: &str, e: object_store::Error) -> Error {
    let text = redact(&e.to_string());
    let (message, hint) = match &e {
        object_store::Error::NotFound { .. } => (
            "not found".to_string(),
            Some("check the bucket, the key and the endpoint (AWS_ENDPOINT or [storage] endpoint)".to_string()),
        ),
        object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. } => (
            format!("access denied: {text}"),
            Some(
                "credentials come from the cloud's environment and config files \
                 (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, GOOGLE_APPLICATION_CREDENTIALS, \
                 AZURE_STORAGE_ACCOUNT_KEY, ...)"
                    .to_string(),
            ),
        ),
        _ if text.contains("InvalidAccessKeyId") || text.contains("SignatureDoesNotMatch") => (
            format!("access denied: {text}"),
            Some("check the credentials in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)".to_string()),
        ),
        _ if text.contains("NoSuchBucket") => (
            format!("no such bucket: {text}"),
            Some("check the bucket name and the endpoint".to_string()),
        ),
        _ if text.contains("error sending request") || text.contains("onnect") => (
            format!("cannot reach the store: {text}"),
            Some(
                "check the endpoint (AWS_ENDPOINT or [storage] endpoint) and the network; transient failures \
                 are retried as [storage] max_retries and retry_timeout say"
                    .to_string(),
            ),
        ),
        _ => (text, None),
    };
    Error::Storage {
        url: display_url(url),
        message,
        hint,
        source: Some(Box::new(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_told_from_paths() {
        for url in [
            "s3://b/k.csv",
            "S3://b/k",
            "gs://b/x",
            "az://c/x",
            "abfss://c@a.dfs/x",
            "https://h/x.csv",
        ] {
            assert!(is_url(url), "{url}");
        }
        for path in [
            "data/x.csv",
            "/abs/x.csv",
            "file:///abs/x.csv",
            "C:\\x.csv",
            "weird:/x",
            "ftp://h/x",
        ] {
            assert!(!is_url(path), "{path}");
        }
        assert_eq!(
            file_url_path("file:///tmp/a%20b.csv"),
            Some(std::path::PathBuf::from("/tmp/a b.csv"))
        );
        assert_eq!(file_url_path("s3://b/k"), None);
    }

    #[test]
    fn locations_keep_glob_characters_and_join_keys() {
        let l = Location::parse("s3://bucket/exports/dt=*/part-?.csv.gz").unwrap();
        assert_eq!(l.root, "s3://bucket");
        assert_eq!(l.key, "exports/dt=*/part-?.csv.gz");
        let base = Location::parse("s3://bucket/reports/").unwrap();
        assert_eq!(base.join("run1/summary.json").key, "reports/run1/summary.json");
        assert_eq!(Location::parse("s3://bucket").unwrap().join("x").key, "x");
        assert!(Location::parse("s3:///key").is_err());
        assert!(Location::parse("no-scheme").is_err());
    }

    #[test]
    fn unknown_settings_and_schemes_are_named() {
        let mut s = Settings::default();
        s.set("no_such_option", "1").unwrap();
        let err = Store::open(&Location::parse("s3://bucket/x").unwrap(), &s).unwrap_err();
        assert!(err.to_string().contains("no_such_option"), "{err}");
        let err = Store::open(&Location::parse("ftp://host/x").unwrap(), &Settings::default()).unwrap_err();
        assert!(err.to_string().contains("unsupported URL scheme"), "{err}");
    }

    #[test]
    fn gcs_and_azure_urls_build_clients_from_settings_without_contacting_anyone() {
        // GCS: a bucket URL and a non-secret setting build a client (the
        // credentials are looked up on first use, from the environment).
        let mut s = Settings::default();
        s.set("timeout", "30s").unwrap();
        let store = Store::open(&Location::parse("gs://bucket/exports/x.csv").unwrap(), &s).unwrap();
        assert_eq!(store.url("exports/x.csv"), "gs://bucket/exports/x.csv");
        // Azure needs an account: named in a setting, the client builds.
        let mut s = Settings::default();
        s.set("account_name", "recontest").unwrap();
        s.set("use_emulator", "true").unwrap();
        let store = Store::open(&Location::parse("az://container/dir").unwrap(), &s).unwrap();
        assert_eq!(store.url("dir/a.csv"), "az://container/dir/a.csv");
        // A setting of another cloud is named, not ignored.
        let mut s = Settings::default();
        s.set("virtual_hosted_style_request", "true").unwrap();
        let err = Store::open(&Location::parse("gs://bucket/x").unwrap(), &s).unwrap_err();
        assert!(err.to_string().contains("virtual_hosted_style_request"), "{err}");
    }
}
