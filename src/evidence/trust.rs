//! Which public keys a verifier trusts, and for which runs: one key (`verify
//! --pubkey`), or a trusted-keys file listing every key a chain was signed
//! with and when each was in use, so a chain that spans a key rotation
//! verifies — and a run signed by a retired key after its retirement does not.
//!
//! ```toml
//! [[key]]
//! public_key = "RWS…"          # recon.pub's second line (or the whole file's text)
//! valid_from = 2025-01-01      # optional: runs started on or after this day (UTC)
//! valid_until = 2026-06-30     # optional: runs started on or before this day (UTC)
//! ```

use std::path::Path;

use chrono::NaiveDate;
use serde::Deserialize;

use super::keys::PublicKey;
use super::EvidenceError;

/// One trusted key and the days of the runs it may sign.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    pub key: PublicKey,
    pub valid_from: Option<NaiveDate>,
    pub valid_until: Option<NaiveDate>,
}

/// The keys a verification trusts.
#[derive(Debug, Clone)]
pub struct TrustedKeys {
    keys: Vec<TrustedKey>,
    /// From a trusted-keys file: a run must name one of them.
    listed: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    key: Vec<RawKey>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKey {
    public_key: String,
    #[serde(default)]
    valid_from: Option<toml::value::Datetime>,
    #[serde(default)]
    valid_until: Option<toml::value::Datetime>,
}

impl TrustedKeys {
    /// One key, for every run.
    pub fn single(key: PublicKey) -> TrustedKeys {
        TrustedKeys {
            keys: vec![TrustedKey {
                key,
                valid_from: None,
                valid_until: None,
            }],
            listed: false,
        }
    }

    /// Reads a trusted-keys file (see the module doc).
    pub fn read_file(path: &Path) -> Result<TrustedKeys, EvidenceError> {
        let bad = |reason: String| EvidenceError::TrustedKeys {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| EvidenceError::io(path, e))?;
        let raw: RawFile = toml::from_str(&text).map_err(|e| bad(e.message().to_string()))?;
        let date = |d: Option<toml::value::Datetime>| -> Result<Option<NaiveDate>, EvidenceError> {
            match d.and_then(|d| d.date) {
                None => Ok(None),
                Some(d) => NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))
                    .map(Some)
                    .ok_or_else(|| bad(format!("{d:?} is not a date"))),
            }
        };
        let mut keys = Vec::with_capacity(raw.key.len());
        for k in raw.key {
            keys.push(TrustedKey {
                key: PublicKey::from_minisign_str(&k.public_key)?,
                valid_from: date(k.valid_from)?,
                valid_until: date(k.valid_until)?,
            });
        }
        if keys.is_empty() {
            return Err(bad("it lists no [[key]]".into()));
        }
        Ok(TrustedKeys { keys, listed: true })
    }

    /// The ids of the trusted keys, for messages.
    pub fn ids(&self) -> Vec<String> {
        self.keys.iter().map(|k| k.key.key_id_hex()).collect()
    }

    /// Every trusted key (a checkpoint is checked against each).
    pub fn all(&self) -> impl Iterator<Item = &PublicKey> {
        self.keys.iter().map(|k| &k.key)
    }

    /// The key to verify a run with: the one its manifest names
    /// (`signing_key_id`) if listed and trusted for the day the run
    /// started; with the one key of `--pubkey`, that key whatever the
    /// manifest says (its checks then report a mismatch). `Err` explains why
    /// no trusted key applies.
    pub fn for_run(&self, key_id: Option<&str>, started_at: Option<&str>) -> Result<&PublicKey, String> {
        if let ([only], false) = (self.keys.as_slice(), self.listed) {
            return Ok(&only.key);
        }
        let id = key_id.unwrap_or("");
        let Some(k) = self.keys.iter().find(|k| k.key.key_id_hex().eq_ignore_ascii_case(id)) else {
            return Err(format!(
                "signed by key {}, which is not a trusted key (trusted: {})",
                if id.is_empty() { "(none named)" } else { id },
                self.ids().join(", ")
            ));
        };
        let day = started_at
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&chrono::Utc).date_naive());
        let Some(day) = day else {
            return Err(format!(
                "key {id} is trusted for some days only, and the run names no start time"
            ));
        };
        if k.valid_from.is_some_and(|f| day < f) || k.valid_until.is_some_and(|u| day > u) {
            return Err(format!(
                "signed by key {id} on {day}, outside the days it is trusted for ({} to {})",
                k.valid_from.map_or("any day".into(), |d| d.to_string()),
                k.valid_until.map_or("any day".into(), |d| d.to_string())
            ));
        }
        Ok(&k.key)
    }
}
