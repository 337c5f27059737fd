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
            let Some(d) = d else { return Ok(None) };
            let Some(day) = d.date else {
                return Err(bad(format!(
                    "`{d}` is not a date (valid_from / valid_until take YYYY-MM-DD)"
                )));
            };
            NaiveDate::from_ymd_opt(i32::from(day.year), u32::from(day.month), u32::from(day.day))
                .map(Some)
                .ok_or_else(|| bad(format!("`{d}` is not a date")))
        };
        let mut keys = Vec::with_capacity(raw.key.len());
        for k in raw.key {
            keys.push(TrustedKey {
                key: PublicKey::from_minisign_str(&k.public_key)
                    .map_err(|e| bad(format!("a public_key is not a minisign public key: {e}")))?,
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
    pub fn for_run(&self, key_id: Option<&str>, started_at: Option<&str>) -> Result<&PublicKey, NotTrusted> {
        if let ([only], false) = (self.keys.as_slice(), self.listed) {
            return Ok(&only.key);
        }
        let id = key_id.unwrap_or("");
        let entries: Vec<&TrustedKey> = self
            .keys
            .iter()
            .filter(|k| k.key.key_id_hex().eq_ignore_ascii_case(id))
            .collect();
        if entries.is_empty() {
            return Err(NotTrusted(format!(
                "signed by key {}, which is not a trusted key (trusted: {})",
                if id.is_empty() { "(none named)" } else { id },
                self.ids().join(", ")
            )));
        }
        let day = started_at
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&chrono::Utc).date_naive());
        let Some(day) = day else {
            return Err(NotTrusted(format!(
                "key {id} is trusted for some days only, and the run names no start time"
            )));
        };
        // A key may be listed for several periods: any one that covers the day.
        let covers =
            |k: &&&TrustedKey| !(k.valid_from.is_some_and(|f| day < f) || k.valid_until.is_some_and(|u| day > u));
        match entries.iter().find(covers) {
            Some(k) => Ok(&k.key),
            None => Err(NotTrusted(format!(
                "signed by key {id} on {day}, outside the days it is trusted for ({})",
                entries
                    .iter()
                    .map(|k| format!(
                        "{} to {}",
                        k.valid_from.map_or("any day".into(), |d| d.to_string()),
                        k.valid_until.map_or("any day".into(), |d| d.to_string())
                    ))
                    .collect::<Vec<_>>()
                    .join("; ")
            ))),
        }
    }
}

/// Why no trusted key applies to a run or checkpoint (a verification
/// problem, reported in the words of this message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotTrusted(pub String);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::SigningKey;

    fn file(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trusted.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn a_key_is_trusted_on_the_days_of_any_of_its_periods() {
        let key = SigningKey::generate().unwrap();
        let pk = key.public().to_minisign_base64();
        let (_dir, path) = file(&format!(
            "[[key]]\npublic_key = \"{pk}\"\nvalid_until = 2025-06-30\n\
             [[key]]\npublic_key = \"{pk}\"\nvalid_from = 2026-01-01\nvalid_until = 2026-12-31\n"
        ));
        let keys = TrustedKeys::read_file(&path).unwrap();
        let id = key.key_id_hex();
        assert_eq!(keys.ids(), vec![id.clone(), id.clone()]);
        for day in ["2025-06-30T23:00:00Z", "2026-01-01T00:00:00Z", "2026-12-31T12:00:00Z"] {
            assert!(keys.for_run(Some(&id), Some(day)).is_ok(), "{day}");
        }
        for day in ["2025-07-01T00:00:00Z", "2027-01-01T00:00:00Z"] {
            let err = keys.for_run(Some(&id), Some(day)).unwrap_err();
            assert!(err.0.contains("outside the days it is trusted for"), "{day}: {err}");
        }
        let err = keys
            .for_run(Some("0000000000000000"), Some("2026-02-01T00:00:00Z"))
            .unwrap_err();
        assert!(
            err.0.contains(&format!("not a trusted key (trusted: {id}, {id})")),
            "{err}"
        );
        assert!(
            keys.for_run(Some(&id), None).is_err(),
            "a listed key needs the run's day"
        );
    }

    #[test]
    fn bad_trusted_keys_files_name_the_file() {
        for text in [
            "[[key]]\npublic_key = \"nope\"\n",
            "[[key]]\npublic_key = \"x\"\nvalid_until = 12:00:00\n",
            "key = []\n",
            "[[key]]\nwho = 1\n",
        ] {
            let (_dir, path) = file(text);
            let err = TrustedKeys::read_file(&path).unwrap_err();
            assert!(err.to_string().contains("trusted.toml"), "{text}: {err}");
        }
        let key = SigningKey::generate().unwrap();
        let (_dir, path) = file(&format!(
            "[[key]]\npublic_key = \"{}\"\nvalid_from = 12:00:00\n",
            key.public().to_minisign_base64()
        ));
        let err = TrustedKeys::read_file(&path).unwrap_err();
        assert!(err.to_string().contains("is not a date"), "{err}");
    }
}
