//! Storage settings: the non-secret options of an object-store client
//! (endpoint, region, `allow_http`, timeouts, ...) and its retry policy, as
//! the spec's `[storage]` table and a source's `storage = { ... }` give them.
//!
//! Credentials are refused here by name: they come only from each cloud's
//! standard environment and configuration chain, so a spec (which is copied
//! into evidence and code review) never holds one.

use std::collections::BTreeMap;
use std::time::Duration;

/// How transient failures (timeouts, 5xx, throttling) are retried:
/// exponential backoff from `init_backoff` up to `max_backoff`, at most
/// `max_retries` times and never past `retry_timeout` from the first try.
#[derive(Debug, Clone, PartialEq)]
pub struct Retry {
    pub max_retries: usize,
    pub retry_timeout: Duration,
    pub init_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for Retry {
    /// object_store's own defaults: 10 retries within 3 minutes, backoff
    /// from 100 ms to 15 s.
    fn default() -> Retry {
        Retry {
            max_retries: 10,
            retry_timeout: Duration::from_secs(180),
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(15),
        }
    }
}

/// Options for one source's (or one run folder's) object store.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    /// object_store configuration keys and values, as its builders read
    /// them (`endpoint`, `region`, `allow_http`, `timeout`, ...); checked
    /// against the URL's cloud when a client is built.
    pub options: BTreeMap<String, String>,
    pub retry: Retry,
}

/// Setting names that would carry a credential.
const SECRET_WORDS: &[&str] = &[
    "secret",
    "token",
    "password",
    "access_key",
    "account_key",
    "sas",
    "service_account",
    "credential",
    "client_secret",
    "private_key",
    "master_key",
    "customer_key",
];

/// A storage setting recon refuses or cannot read; the message names the
/// key and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidSetting(pub String);

impl Settings {
    /// Sets `key` (case-insensitive) to `value`. Refuses a credential and a
    /// retry setting that does not parse; other keys are checked when the
    /// client is built, against the cloud the URL names.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), InvalidSetting> {
        let key = key.trim().to_ascii_lowercase();
        if SECRET_WORDS.iter().any(|w| key.contains(w)) {
            return Err(InvalidSetting(format!(
                "`{key}` is a credential: recon reads credentials only from the cloud's environment \
                 (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, GOOGLE_APPLICATION_CREDENTIALS, \
                 AZURE_STORAGE_ACCOUNT_KEY, ...) and its config files, never from the spec"
            )));
        }
        if key.contains("proxy") && value.contains('@') {
            return Err(InvalidSetting(format!(
                "`{key}` holds credentials (user@host): recon reads credentials only from the environment"
            )));
        }
        match key.as_str() {
            "max_retries" => {
                self.retry.max_retries = value
                    .trim()
                    .parse()
                    .map_err(|_| InvalidSetting(format!("`max_retries` must be a whole number, not `{value}`")))?
            }
            "retry_timeout" => self.retry.retry_timeout = duration(&key, value)?,
            "init_backoff" => self.retry.init_backoff = duration(&key, value)?,
            "max_backoff" => self.retry.max_backoff = duration(&key, value)?,
            _ => {
                self.options.insert(key, value.trim().to_string());
            }
        }
        Ok(())
    }

    /// The retry settings the environment gives (`RECON_STORAGE_MAX_RETRIES`,
    /// `RECON_STORAGE_RETRY_TIMEOUT`, `RECON_STORAGE_INIT_BACKOFF`,
    /// `RECON_STORAGE_MAX_BACKOFF`) over object_store's defaults: the base
    /// under `[storage]`, and all there is for `verify URL` and `apply URL`.
    pub fn from_env() -> Result<Settings, InvalidSetting> {
        let mut settings = Settings::default();
        for key in ["max_retries", "retry_timeout", "init_backoff", "max_backoff"] {
            let var = format!("RECON_STORAGE_{}", key.to_ascii_uppercase());
            if let Ok(value) = std::env::var(&var) {
                settings
                    .set(key, &value)
                    .map_err(|e| InvalidSetting(format!("{var}: {e}")))?;
            }
        }
        Ok(settings)
    }

    /// These settings with `over`'s on top (a source's own over `[storage]`).
    pub fn merged(&self, over: &[(String, String)]) -> Result<Settings, InvalidSetting> {
        let mut merged = self.clone();
        for (k, v) in over {
            merged.set(k, v)?;
        }
        Ok(merged)
    }
}

/// `250ms`, `30s`, `3m`, `1h`, or a plain number of seconds.
pub fn duration(key: &str, text: &str) -> Result<Duration, InvalidSetting> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: f64 = number.parse().map_err(|_| {
        InvalidSetting(format!(
            "`{key}` must be a duration like `30s`, `500ms` or `3m`, not `{text}`"
        ))
    })?;
    let seconds = match unit.trim() {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        other => {
            return Err(InvalidSetting(format!(
                "`{key}`: unknown unit `{other}` (use ms, s, m or h)"
            )))
        }
    };
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(InvalidSetting(format!(
            "`{key}` must be a duration of zero or more, not `{text}`"
        )));
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_refused_whatever_their_spelling() {
        for key in [
            "aws_secret_access_key",
            "SECRET_ACCESS_KEY",
            "access_key_id",
            "aws_session_token",
            "azure_storage_account_key",
            "sas_key",
            "google_service_account_key",
            "client_secret",
            "azure_storage_master_key",
            "aws_sse_customer_key_base64",
        ] {
            let err = Settings::default().set(key, "x").unwrap_err();
            assert!(err.0.contains("credential"), "{key}: {err}");
        }
    }

    #[test]
    fn retry_settings_parse_and_other_keys_pass_through() {
        let mut s = Settings::default();
        s.set("max_retries", "3").unwrap();
        s.set("retry_timeout", "30s").unwrap();
        s.set("init_backoff", "50ms").unwrap();
        s.set("max_backoff", "2").unwrap();
        s.set("Endpoint", " http://127.0.0.1:9000 ").unwrap();
        assert_eq!(s.retry.max_retries, 3);
        assert_eq!(s.retry.retry_timeout, Duration::from_secs(30));
        assert_eq!(s.retry.init_backoff, Duration::from_millis(50));
        assert_eq!(s.retry.max_backoff, Duration::from_secs(2));
        assert_eq!(s.options["endpoint"], "http://127.0.0.1:9000");
        assert!(s.set("max_retries", "many").is_err());
        assert!(s.set("retry_timeout", "5 fortnights").is_err());
        assert!(s.set("retry_timeout", "-1s").is_err());
    }

    #[test]
    fn a_source_overrides_the_storage_table() {
        let mut base = Settings::default();
        base.set("region", "eu-west-1").unwrap();
        base.set("max_retries", "2").unwrap();
        let merged = base.merged(&[("region".into(), "us-east-1".into())]).unwrap();
        assert_eq!(merged.options["region"], "us-east-1");
        assert_eq!(merged.retry.max_retries, 2);
        assert!(base.merged(&[("aws_secret_access_key".into(), "x".into())]).is_err());
    }
}
