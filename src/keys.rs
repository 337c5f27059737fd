//! Where recon's keys live and how a run gets them: the Ed25519 signing key
//! (`--key`, `RECON_SIGNING_KEY_FILE` — or its older name
//! `RECON_SIGNING_KEY` —, else `~/.config/recon/recon.key`) and the HMAC
//! token key for personal data (`RECON_TOKEN_KEY` holding the key itself,
//! `RECON_TOKEN_KEY_FILE`, else `~/.config/recon/token.key`). A missing key
//! is an error naming it: keys are created by `recon keygen`, or by a run
//! told so (`--create-keys`, `RECON_CREATE_KEYS=1`), never silently — in a
//! container a silently new key would change the trust anchor and every
//! personal-data token each night. Neither key is ever written into a run
//! folder.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use crate::error::{Error, Result};
use crate::evidence::{self, SigningKey};
use crate::pii::Tokenizer;

pub struct KeyRing {
    signing_path: PathBuf,
    /// False when the path is the default one, which may be created.
    explicit: bool,
    token_file: PathBuf,
    /// Missing default keys are created (`--create-keys`), not an error.
    create: bool,
    tokenizer: OnceLock<Tokenizer>,
    notes: Mutex<Vec<String>>,
}

/// How to create the keys, for messages.
const CREATE_HINT: &str = "create them once with `recon keygen` (signing key, recon.pub and token key) and keep them: \
    a new signing key changes what auditors trust and a new token key every personal-data token. \
    In a container mount them and name them with RECON_SIGNING_KEY_FILE and RECON_TOKEN_KEY_FILE; \
    for a first try on your machine, `recon run --create-keys` creates what is missing";

/// `$RECON_HOME`, else `$HOME/.config/recon`.
pub fn config_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("RECON_HOME") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".config").join("recon")
}

pub fn default_signing_key() -> PathBuf {
    config_dir().join("recon.key")
}

/// The signing key named by the environment: `$RECON_SIGNING_KEY_FILE`,
/// else `$RECON_SIGNING_KEY` (a path too: its older name).
fn named_signing_key() -> Option<PathBuf> {
    std::env::var_os("RECON_SIGNING_KEY_FILE")
        .or_else(|| std::env::var_os("RECON_SIGNING_KEY"))
        .map(PathBuf::from)
}

/// The signing key a command uses when none is named on its command line:
/// the environment's ([`named_signing_key`]), else the default path.
pub fn configured_signing_key() -> PathBuf {
    named_signing_key().unwrap_or_else(default_signing_key)
}

/// The token key file: `$RECON_TOKEN_KEY_FILE`, else the default path.
pub fn configured_token_key() -> PathBuf {
    std::env::var_os("RECON_TOKEN_KEY_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| config_dir().join("token.key"))
}

/// Writes a new random token key (64 hex characters, mode 0600) to `path`.
pub fn write_token_key(path: &Path) -> Result<()> {
    let mut key = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key).map_err(Error::Random)?;
    write_private(path, format!("{}\n", hex::encode(key)).as_bytes())
}

/// The public key `verify` and `apply` trust: `--pubkey`, else the
/// `recon.pub` beside the configured signing key.
pub fn trusted_public_key(arg: Option<&Path>) -> Result<(evidence::PublicKey, PathBuf)> {
    let path = arg
        .map(Path::to_path_buf)
        .unwrap_or_else(|| configured_signing_key().with_file_name(evidence::keys::PUBLIC_KEY_FILE));
    if !path.exists() {
        return Err(Error::usage(
            format!("public key {} does not exist", path.display()),
            Some("pass the trusted key with --pubkey recon.pub".into()),
        ));
    }
    Ok((evidence::PublicKey::read_file(&path)?, path))
}

impl KeyRing {
    pub fn new(key_arg: Option<PathBuf>) -> KeyRing {
        let (signing_path, explicit) = match key_arg.or_else(named_signing_key) {
            Some(p) => (p, true),
            None => (default_signing_key(), false),
        };
        KeyRing {
            signing_path,
            explicit,
            token_file: configured_token_key(),
            create: std::env::var("RECON_CREATE_KEYS").is_ok_and(|v| v == "1" || v == "true"),
            tokenizer: OnceLock::new(),
            notes: Mutex::new(Vec::new()),
        }
    }

    /// A key ring whose token key is `key` (tests: no file, no environment).
    #[cfg(test)]
    pub(crate) fn with_token_key(key: &[u8]) -> KeyRing {
        let ring = KeyRing::new(None);
        let _ = ring
            .tokenizer
            .set(Tokenizer::new(key).expect("a test token key of 16 bytes or more"));
        ring
    }

    /// Missing default keys are created rather than an error (`--create-keys`).
    pub fn creating(mut self, create: bool) -> KeyRing {
        self.create |= create;
        self
    }

    /// Messages for the user about keys created on first use.
    pub fn notes(&self) -> Vec<String> {
        self.notes.lock().map(|n| n.clone()).unwrap_or_default()
    }

    fn note(&self, text: String) {
        if let Ok(mut n) = self.notes.lock() {
            n.push(text);
        }
    }

    pub fn signing_path(&self) -> &Path {
        &self.signing_path
    }

    /// Reads the signing key; creates the default one only when told.
    pub fn signing_key(&self) -> Result<SigningKey> {
        if !self.signing_path.exists() {
            if !self.explicit && !self.create {
                return Err(Error::usage(
                    format!("no signing key: {} does not exist", self.signing_path.display()),
                    Some(CREATE_HINT.into()),
                ));
            }
            if self.explicit {
                return Err(Error::usage(
                    format!("signing key {} does not exist", self.signing_path.display()),
                    Some(format!(
                        "create one with `recon keygen --out {}`",
                        self.signing_path.display()
                    )),
                ));
            }
            let (key, public) = evidence::write_keypair(&self.signing_path)?;
            self.note(format!(
                "created signing key {} (public key {}, key id {})",
                self.signing_path.display(),
                public.display(),
                key.key_id_hex()
            ));
            return Ok(key);
        }
        Ok(evidence::read_secret(&self.signing_path)?)
    }

    /// Loads (or creates on first use) the token key. Call before any `token`.
    pub fn prepare_tokens(&self) -> Result<()> {
        if self.tokenizer.get().is_some() {
            return Ok(());
        }
        let key = match std::env::var("RECON_TOKEN_KEY") {
            Ok(hexkey) => hex::decode(hexkey.trim()).map_err(|_| {
                Error::usage(
                    "RECON_TOKEN_KEY is not hex",
                    Some("generate one with `openssl rand -hex 32`".into()),
                )
            })?,
            Err(_) => self.token_key_file()?,
        };
        let t = Tokenizer::new(&key).map_err(|m| {
            Error::usage(
                format!("token key: {m}"),
                Some("use at least 32 random bytes, e.g. `openssl rand -hex 32`".into()),
            )
        })?;
        let _ = self.tokenizer.set(t);
        Ok(())
    }

    fn token_key_file(&self) -> Result<Vec<u8>> {
        let path = &self.token_file;
        if !path.exists() && std::env::var_os("RECON_TOKEN_KEY_FILE").is_some() {
            // A key file the user named must exist: a new key would silently change every token.
            return Err(Error::usage(
                format!(
                    "token key file {} (RECON_TOKEN_KEY_FILE) does not exist",
                    path.display()
                ),
                Some(format!(
                    "create one with `umask 077; openssl rand -hex 32 > {}`",
                    path.display()
                )),
            ));
        }
        if path.exists() {
            check_private(path)?;
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
            return hex::decode(text.trim()).map_err(|_| {
                Error::input(path, "token key file is not hex").with_hint("it must hold 64 hex characters")
            });
        }
        if !self.create {
            return Err(Error::usage(
                format!("no token key: {} does not exist", path.display()),
                Some(CREATE_HINT.into()),
            ));
        }
        write_token_key(path)?;
        self.note(format!(
            "created token key {} (keep it: tokens in reports depend on it)",
            path.display()
        ));
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        hex::decode(text.trim()).map_err(|_| Error::input(path, "token key file is not hex"))
    }

    /// An id of the token key (16 hex digits of a keyed hash, revealing
    /// nothing of the key), once [`KeyRing::prepare_tokens`] has loaded it:
    /// summary.json records it, so a changed token key is noticed.
    pub fn token_key_id(&self) -> Option<String> {
        self.tokenizer
            .get()
            .map(|t| t.mac_hex("recon.token-key-id", "")[..16].to_string())
    }

    /// Keyed HMAC token of a personal value; `domain` separates uses.
    pub fn token(&self, domain: &str, value: &str) -> String {
        match self.tokenizer.get() {
            Some(t) => t.token(domain, value),
            // Never reached in a run (prepare_tokens runs first); never leak the value.
            None => "tok_unavailable".to_string(),
        }
    }

    /// [`KeyRing::mac`] of the parts' concatenation as bytes; None before
    /// the token key is prepared.
    pub fn mac_parts(&self, domain: &str, parts: &[&[u8]]) -> Option<[u8; 32]> {
        self.tokenizer.get().map(|t| t.mac_parts(domain, parts))
    }

    pub fn mac(&self, domain: &str, value: &str) -> String {
        match self.tokenizer.get() {
            Some(t) => t.mac_hex(domain, value),
            None => "mac_unavailable".to_string(),
        }
    }
}

fn check_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(
            Error::input(path, format!("key file is readable by others (mode {mode:o})"))
                .with_hint(format!("chmod 600 {}", path.display())),
        );
    }
    Ok(())
}

/// Creates a new file readable only by its owner, atomically.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| Error::io(&tmp, e))?;
    f.write_all(bytes).map_err(|e| Error::io(&tmp, e))?;
    f.sync_all().map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}
