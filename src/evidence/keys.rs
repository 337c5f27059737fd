//! Ed25519 signing keys (ring) and their files.
//!
//! # Public key file (`recon.pub`): minisign's format
//!
//! ```text
//! untrusted comment: minisign public key <KEYID>
//! <base64 of "Ed" ‖ key_id (8 bytes) ‖ public key (32 bytes)>
//! ```
//!
//! `<KEYID>` is the 8 key-id bytes read as a little-endian `u64`, printed as 16
//! upper-case hex digits: exactly what `minisign` prints, so the file works
//! with `minisign -V -p recon.pub`.
//!
//! # Secret key file: recon's own format
//!
//! ```text
//! untrusted comment: recon secret key <KEYID>
//! <base64 of "RS" ‖ key_id (8 bytes) ‖ Ed25519 seed (32 bytes) ‖ public key (32 bytes)>
//! ```
//!
//! (74 bytes before base64, standard alphabet with padding, each line ending
//! in `\n`). The file is not encrypted; it is created with mode 0600 and
//! [`read_secret`] refuses it when group or others have any access. The comment
//! line is informative only; reading checks that the seed yields the stored
//! public key.

use std::fmt;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};

use super::EvidenceError;

/// File name of the public key written next to the secret key.
pub const PUBLIC_KEY_FILE: &str = "recon.pub";

const PK_ALG: &[u8; 2] = b"Ed";
const SK_ALG: &[u8; 2] = b"RS";
const PK_LEN: usize = 2 + 8 + 32;
const SK_LEN: usize = 2 + 8 + 32 + 32;

fn key_id_hex(key_id: &[u8; 8]) -> String {
    format!("{:016X}", u64::from_le_bytes(*key_id))
}

/// An Ed25519 signing key with its minisign key id.
pub struct SigningKey {
    key_id: [u8; 8],
    pair: Ed25519KeyPair,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("key_id", &self.key_id_hex())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A fresh key: 32 random seed bytes and 8 random key-id bytes from the
    /// system's secure random generator.
    pub fn generate() -> Result<SigningKey, EvidenceError> {
        Self::generate_with_seed().map(|(k, _)| k)
    }

    fn generate_with_seed() -> Result<(SigningKey, [u8; 32]), EvidenceError> {
        let rng = SystemRandom::new();
        let mut seed = [0u8; 32];
        let mut key_id = [0u8; 8];
        rng.fill(&mut seed).map_err(EvidenceError::Random)?;
        rng.fill(&mut key_id).map_err(EvidenceError::Random)?;
        let key = SigningKey::from_seed(key_id, &seed)?;
        Ok((key, seed))
    }

    /// The key for an RFC 8032 seed (the 32-byte "secret key") and a key id.
    pub fn from_seed(key_id: [u8; 8], seed: &[u8; 32]) -> Result<SigningKey, EvidenceError> {
        let pair = Ed25519KeyPair::from_seed_unchecked(seed).map_err(EvidenceError::SeedRejected)?;
        Ok(SigningKey { key_id, pair })
    }

    /// The raw key id bytes (as stored in minisign files).
    pub fn key_id(&self) -> [u8; 8] {
        self.key_id
    }

    /// The key id as minisign prints it: 16 upper-case hex digits.
    pub fn key_id_hex(&self) -> String {
        key_id_hex(&self.key_id)
    }

    pub fn public(&self) -> PublicKey {
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(self.pair.public_key().as_ref());
        PublicKey {
            key_id: self.key_id,
            bytes,
        }
    }

    /// Pure Ed25519 signature of `msg`.
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        let mut out = [0u8; 64];
        out.copy_from_slice(self.pair.sign(msg).as_ref());
        out
    }
}

/// An Ed25519 public key with its minisign key id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey {
    pub key_id: [u8; 8],
    pub bytes: [u8; 32],
}

impl PublicKey {
    /// The key id as minisign prints it: 16 upper-case hex digits.
    pub fn key_id_hex(&self) -> String {
        key_id_hex(&self.key_id)
    }

    /// Whether `sig` is a valid pure Ed25519 signature of `msg` by this key.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        UnparsedPublicKey::new(&ED25519, &self.bytes[..])
            .verify(msg, sig)
            .is_ok()
    }

    /// The key as a minisign public key file.
    pub fn to_minisign_string(&self) -> String {
        format!(
            "untrusted comment: minisign public key {}\n{}\n",
            self.key_id_hex(),
            self.to_minisign_base64()
        )
    }

    /// The base64 line alone (what `minisign -P` takes).
    pub fn to_minisign_base64(&self) -> String {
        let mut raw = Vec::with_capacity(PK_LEN);
        raw.extend_from_slice(PK_ALG);
        raw.extend_from_slice(&self.key_id);
        raw.extend_from_slice(&self.bytes);
        STANDARD.encode(raw)
    }

    /// Parse a minisign public key: a whole `.pub` file (comment line, then the
    /// base64 line) or the bare base64 line.
    pub fn from_minisign_str(text: &str) -> Result<PublicKey, EvidenceError> {
        parse_public(text).map_err(|r| EvidenceError::key_format(Path::new("<public key>"), r))
    }

    /// Read a minisign public key file.
    pub fn read_file(path: &Path) -> Result<PublicKey, EvidenceError> {
        let text = fs::read_to_string(path).map_err(|e| EvidenceError::io(path, e))?;
        parse_public(&text).map_err(|r| EvidenceError::key_format(path, r))
    }
}

/// Why a file is not a usable key file (or a key path not a usable one).
#[derive(Debug, thiserror::Error)]
pub enum KeyFormatError {
    #[error("empty public key")]
    EmptyPublicKey,
    #[error("empty file")]
    EmptyFile,
    #[error("first line is not an \"untrusted comment:\" line")]
    NoComment,
    #[error("no base64 line after the untrusted comment")]
    NoBase64Line,
    #[error("unexpected lines after the key")]
    TrailingLines,
    #[error("public key is not valid base64: {0}")]
    PublicBase64(#[source] base64::DecodeError),
    #[error("key is not valid base64: {0}")]
    SecretBase64(#[source] base64::DecodeError),
    #[error("public key is {0} bytes, expected {PK_LEN}")]
    PublicLength(usize),
    #[error("key is {0} bytes, expected {SK_LEN}")]
    SecretLength(usize),
    #[error("not an Ed25519 minisign public key (algorithm is not \"Ed\")")]
    NotEd25519,
    #[error("not a recon secret key (prefix is not \"RS\"; minisign secret keys are not accepted)")]
    NotReconSecretKey,
    #[error(transparent)]
    Seed(Box<EvidenceError>),
    #[error("the seed does not produce the stored public key (corrupted key file)")]
    PublicKeyMismatch,
    #[error("secret key path has no file name")]
    NoFileName,
    #[error("the secret key must not be named {PUBLIC_KEY_FILE}")]
    NamedLikePublicKey,
    #[error("not a regular file")]
    NotARegularFile,
}

/// The lines of a key or signature file that carry something, `\r` stripped.
fn content_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim).filter(|l| !l.is_empty())
}

fn parse_public(text: &str) -> Result<PublicKey, KeyFormatError> {
    let mut lines = content_lines(text);
    let mut line = lines.next().ok_or(KeyFormatError::EmptyPublicKey)?;
    if line.starts_with("untrusted comment:") {
        line = lines.next().ok_or(KeyFormatError::NoBase64Line)?;
    }
    let raw = STANDARD.decode(line).map_err(KeyFormatError::PublicBase64)?;
    if raw.len() != PK_LEN {
        return Err(KeyFormatError::PublicLength(raw.len()));
    }
    if &raw[..2] != PK_ALG {
        return Err(KeyFormatError::NotEd25519);
    }
    let mut key_id = [0u8; 8];
    key_id.copy_from_slice(&raw[2..10]);
    let mut bytes = [0u8; 32];
    bytes.copy_from_slice(&raw[10..42]);
    Ok(PublicKey { key_id, bytes })
}

fn secret_file_text(key: &SigningKey, seed: &[u8; 32]) -> String {
    let mut raw = Vec::with_capacity(SK_LEN);
    raw.extend_from_slice(SK_ALG);
    raw.extend_from_slice(&key.key_id);
    raw.extend_from_slice(seed);
    raw.extend_from_slice(key.pair.public_key().as_ref());
    format!(
        "untrusted comment: recon secret key {}\n{}\n",
        key.key_id_hex(),
        STANDARD.encode(raw)
    )
}

/// Generate a key pair; write the secret key to `secret_path` (mode 0600,
/// atomically, never overwriting) and the public key to `recon.pub` in the
/// same directory. Refuses ([`EvidenceError::KeyExists`]) if either file
/// exists. Returns the key and the public key's path.
pub fn write_keypair(secret_path: &Path) -> Result<(SigningKey, PathBuf), EvidenceError> {
    if secret_path.file_name().is_none() {
        return Err(EvidenceError::key_format(secret_path, KeyFormatError::NoFileName));
    }
    let dir = match secret_path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let pub_path = dir.join(PUBLIC_KEY_FILE);
    if secret_path.file_name() == Some(std::ffi::OsStr::new(PUBLIC_KEY_FILE)) {
        return Err(EvidenceError::key_format(
            secret_path,
            KeyFormatError::NamedLikePublicKey,
        ));
    }
    for p in [secret_path, pub_path.as_path()] {
        if fs::symlink_metadata(p).is_ok() {
            return Err(EvidenceError::KeyExists { path: p.to_path_buf() });
        }
    }
    fs::create_dir_all(&dir).map_err(|e| EvidenceError::io(&dir, e))?;

    let (key, seed) = SigningKey::generate_with_seed()?;
    super::write_atomic_new(secret_path, secret_file_text(&key, &seed).as_bytes(), 0o600)?;
    super::write_atomic_new(&pub_path, key.public().to_minisign_string().as_bytes(), 0o644)?;
    super::fsync_dir(&dir)?;
    Ok((key, pub_path))
}

/// Read a secret key file written by [`write_keypair`]. Refuses files that
/// group or others can access ([`EvidenceError::KeyPermissions`]).
pub fn read_secret(path: &Path) -> Result<SigningKey, EvidenceError> {
    let file = fs::File::open(path).map_err(|e| EvidenceError::io(path, e))?;
    let meta = file.metadata().map_err(|e| EvidenceError::io(path, e))?;
    if !meta.is_file() {
        return Err(EvidenceError::key_format(path, KeyFormatError::NotARegularFile));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(EvidenceError::KeyPermissions {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    let mut text = String::new();
    file.take(64 * 1024)
        .read_to_string(&mut text)
        .map_err(|e| EvidenceError::io(path, e))?;
    parse_secret(&text).map_err(|r| EvidenceError::key_format(path, r))
}

fn parse_secret(text: &str) -> Result<SigningKey, KeyFormatError> {
    let mut lines = content_lines(text);
    let comment = lines.next().ok_or(KeyFormatError::EmptyFile)?;
    if !comment.starts_with("untrusted comment:") {
        return Err(KeyFormatError::NoComment);
    }
    let line = lines.next().ok_or(KeyFormatError::NoBase64Line)?;
    if lines.next().is_some() {
        return Err(KeyFormatError::TrailingLines);
    }
    let raw = STANDARD.decode(line).map_err(KeyFormatError::SecretBase64)?;
    if raw.len() != SK_LEN {
        return Err(KeyFormatError::SecretLength(raw.len()));
    }
    if &raw[..2] != SK_ALG {
        return Err(KeyFormatError::NotReconSecretKey);
    }
    let mut key_id = [0u8; 8];
    key_id.copy_from_slice(&raw[2..10]);
    let mut seed = [0u8; 32];
    seed.copy_from_slice(&raw[10..42]);
    let key = SigningKey::from_seed(key_id, &seed).map_err(|e| KeyFormatError::Seed(Box::new(e)))?;
    if key.pair.public_key().as_ref() != &raw[42..74] {
        return Err(KeyFormatError::PublicKeyMismatch);
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arr32(h: &str) -> [u8; 32] {
        hex::decode(h).unwrap().try_into().unwrap()
    }

    #[test]
    fn rfc8032_test_1_and_2() {
        let cases = [
            (
                "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
                "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
                "",
                "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
            ),
            (
                "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
                "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
                "72",
                "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
            ),
        ];
        for (sk, pk, msg, sig) in cases {
            let key = SigningKey::from_seed([1; 8], &arr32(sk)).unwrap();
            let public = key.public();
            assert_eq!(hex::encode(public.bytes), pk);
            let msg = hex::decode(msg).unwrap();
            let s = key.sign(&msg);
            assert_eq!(hex::encode(s), sig);
            assert!(public.verify(&msg, &s));
            assert!(!public.verify(b"other", &s));
            let mut bad = s;
            bad[10] ^= 1;
            assert!(!public.verify(&msg, &bad));
        }
    }

    #[test]
    fn key_id_hex_is_little_endian_like_minisign() {
        // From a key generated by minisign 0.11: bytes 2e743b795fbbd723 are
        // printed as "23D7BB5F793B742E".
        let pk = PublicKey::from_minisign_str(
            "untrusted comment: minisign public key 23D7BB5F793B742E\n\
             RWQudDt5X7vXI7Q4vdaV0LehHcSLUDoEyzlnydHC1T5ycgZ2V1pwFojL\n",
        )
        .unwrap();
        assert_eq!(pk.key_id, hex::decode("2e743b795fbbd723").unwrap()[..]);
        assert_eq!(pk.key_id_hex(), "23D7BB5F793B742E");
        assert_eq!(
            pk.to_minisign_string(),
            "untrusted comment: minisign public key 23D7BB5F793B742E\n\
             RWQudDt5X7vXI7Q4vdaV0LehHcSLUDoEyzlnydHC1T5ycgZ2V1pwFojL\n"
        );
    }

    #[test]
    fn public_key_roundtrip_and_bare_line() {
        let key = SigningKey::generate().unwrap();
        let pk = key.public();
        assert_eq!(pk.key_id_hex().len(), 16);
        assert_eq!(pk.key_id_hex(), pk.key_id_hex().to_uppercase());
        let text = pk.to_minisign_string();
        assert!(text.starts_with("untrusted comment: minisign public key "));
        assert!(text.ends_with('\n'));
        assert_eq!(PublicKey::from_minisign_str(&text).unwrap(), pk);
        assert_eq!(PublicKey::from_minisign_str(&pk.to_minisign_base64()).unwrap(), pk);
        assert_eq!(PublicKey::from_minisign_str(&text.replace('\n', "\r\n")).unwrap(), pk);
        for bad in ["", "untrusted comment: x\n", "not base64!", "RWQ=", "AAAA"] {
            assert!(matches!(
                PublicKey::from_minisign_str(bad),
                Err(EvidenceError::KeyFormat { .. })
            ));
        }
    }

    #[cfg(unix)]
    #[test]
    fn write_and_read_keypair() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let sk_path = dir.path().join("keys/sub/recon.key");
        let (key, pub_path) = write_keypair(&sk_path).unwrap();
        assert_eq!(pub_path, dir.path().join("keys/sub/recon.pub"));
        let mode = fs::metadata(&sk_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let text = fs::read_to_string(&sk_path).unwrap();
        assert!(text.starts_with(&format!("untrusted comment: recon secret key {}\n", key.key_id_hex())));
        let back = read_secret(&sk_path).unwrap();
        assert_eq!(back.public(), key.public());
        assert_eq!(PublicKey::read_file(&pub_path).unwrap(), key.public());
        let sig = back.sign(b"m");
        assert!(key.public().verify(b"m", &sig));

        // never overwrite
        let err = write_keypair(&sk_path).unwrap_err();
        assert!(matches!(err, EvidenceError::KeyExists { .. }), "{err}");
        assert_eq!(fs::read_to_string(&sk_path).unwrap(), text);
        // nor an existing recon.pub
        let other = dir.path().join("keys/sub/other.key");
        let err = write_keypair(&other).unwrap_err();
        assert!(
            matches!(&err, EvidenceError::KeyExists { path } if path == &pub_path),
            "{err}"
        );
        assert!(!other.exists());

        // permissions
        fs::set_permissions(&sk_path, fs::Permissions::from_mode(0o640)).unwrap();
        let err = read_secret(&sk_path).unwrap_err();
        assert!(matches!(err, EvidenceError::KeyPermissions { .. }));
        assert!(err.to_string().contains("chmod 600"));
    }

    #[cfg(unix)]
    #[test]
    fn corrupt_secret_files_are_rejected() {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (key, seed) = SigningKey::generate_with_seed().unwrap();
        let good = secret_file_text(&key, &seed);
        let mut wrong_seed = seed;
        wrong_seed[0] ^= 1;
        let mut mismatched = secret_file_text(&key, &wrong_seed);
        // keep the original public key but the modified seed
        let mut raw = STANDARD.decode(mismatched.lines().nth(1).unwrap()).unwrap();
        raw[42..].copy_from_slice(key.pair.public_key().as_ref());
        mismatched = format!("untrusted comment: x\n{}\n", STANDARD.encode(raw));
        let cases = [
            ("empty", String::new()),
            ("nocomment", good.lines().nth(1).unwrap().to_string()),
            ("short", "untrusted comment: x\nUlM=\n".to_string()),
            ("mismatch", mismatched),
            ("pubkey", key.public().to_minisign_string()),
        ];
        for (name, text) in cases {
            let p = dir.path().join(name);
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&p)
                .unwrap();
            f.write_all(text.as_bytes()).unwrap();
            let err = read_secret(&p).unwrap_err();
            assert!(matches!(err, EvidenceError::KeyFormat { .. }), "{name}: {err}");
            assert!(err.to_string().contains(name), "{err}");
        }
    }
}
