//! minisign signatures, compatible with `minisign -V` (minisign ≥ 0.8).
//!
//! A signature file has four lines:
//!
//! ```text
//! untrusted comment: <anything; not signed>
//! <base64 of "ED" ‖ key_id (8 bytes) ‖ Ed25519(BLAKE2b-512(message))>
//! trusted comment: <text>
//! <base64 of Ed25519(signature (64 bytes) ‖ text)>
//! ```
//!
//! We write the prehashed `"ED"` algorithm (minisign's default since 0.8) and
//! verify both `"ED"` and the legacy `"Ed"` (signature over the message
//! itself).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use blake2::{Blake2b512, Digest};

use super::keys::{PublicKey, SigningKey};

const ALG_PREHASHED: &[u8; 2] = b"ED";
const ALG_LEGACY: &[u8; 2] = b"Ed";
const UNTRUSTED_PREFIX: &str = "untrusted comment:";
const TRUSTED_PREFIX: &str = "trusted comment: ";

fn blake2b512(message: &[u8]) -> [u8; 64] {
    let mut out = [0u8; 64];
    out.copy_from_slice(&Blake2b512::digest(message));
    out
}

/// The trusted comment as it will be signed: a single line (`\r` and `\n`
/// are replaced by spaces, since the file format is line-based).
pub fn sanitize_trusted_comment(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

/// The text of a minisign signature file for `message`. Line breaks in
/// `trusted_comment` are replaced by spaces (see [`sanitize_trusted_comment`]).
pub fn sign(key: &SigningKey, message: &[u8], trusted_comment: &str) -> String {
    let comment = sanitize_trusted_comment(trusted_comment);
    let sig = key.sign(&blake2b512(message));
    let mut sig_line = Vec::with_capacity(74);
    sig_line.extend_from_slice(ALG_PREHASHED);
    sig_line.extend_from_slice(&key.key_id());
    sig_line.extend_from_slice(&sig);
    let mut global_msg = Vec::with_capacity(64 + comment.len());
    global_msg.extend_from_slice(&sig);
    global_msg.extend_from_slice(comment.as_bytes());
    let global = key.sign(&global_msg);
    format!(
        "{UNTRUSTED_PREFIX} signature from recon secret key\n{}\n{TRUSTED_PREFIX}{comment}\n{}\n",
        STANDARD.encode(sig_line),
        STANDARD.encode(global)
    )
}

/// Why a minisign signature file does not verify; the text follows the
/// file name in `recon verify`'s report.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    #[error("empty signature file")]
    Empty,
    #[error("first line is not an \"untrusted comment:\" line")]
    NoUntrustedComment,
    #[error("no signature line")]
    NoSignatureLine,
    #[error("signature line is not valid base64: {0}")]
    SignatureBase64(#[source] base64::DecodeError),
    #[error("signature is {0} bytes, expected 74")]
    SignatureLength(usize),
    #[error("unknown signature algorithm (expected \"ED\" or \"Ed\")")]
    UnknownAlgorithm,
    #[error("signed by key {signer:016X}, not by key {expected}")]
    OtherKey { signer: u64, expected: String },
    #[error("signature does not match the signed file")]
    Mismatch,
    #[error("no trusted comment line")]
    NoTrustedComment,
    #[error("third line is not a \"trusted comment: \" line")]
    BadTrustedComment,
    #[error("no trusted comment signature line")]
    NoGlobalSignature,
    #[error("trusted comment signature is not valid base64: {0}")]
    GlobalBase64(#[source] base64::DecodeError),
    #[error("trusted comment signature is {0} bytes, expected 64")]
    GlobalLength(usize),
    #[error("trusted comment signature does not verify (trusted comment altered)")]
    GlobalMismatch,
    #[error("unexpected lines after the trusted comment signature")]
    TrailingLines,
}

/// Verify a minisign signature file's text against `message` and `pk`.
/// Returns the (verified) trusted comment, or why the signature is not valid.
/// Strict about layout: lines are taken as they are (LF or CRLF endings),
/// without trimming, and nothing but empty lines may follow the fourth.
pub fn verify(pk: &PublicKey, message: &[u8], sig_file_text: &str) -> Result<String, SignatureError> {
    let mut lines = sig_file_text.lines().map(|l| l.trim_end_matches('\r'));
    let untrusted = lines.next().ok_or(SignatureError::Empty)?;
    if !untrusted.starts_with(UNTRUSTED_PREFIX) {
        return Err(SignatureError::NoUntrustedComment);
    }
    let sig_b64 = lines.next().ok_or(SignatureError::NoSignatureLine)?;
    let raw = STANDARD.decode(sig_b64).map_err(SignatureError::SignatureBase64)?;
    if raw.len() != 74 {
        return Err(SignatureError::SignatureLength(raw.len()));
    }
    let prehashed = match &raw[..2] {
        a if a == ALG_PREHASHED => true,
        a if a == ALG_LEGACY => false,
        _ => return Err(SignatureError::UnknownAlgorithm),
    };
    if raw[2..10] != pk.key_id {
        let mut id = [0u8; 8];
        id.copy_from_slice(&raw[2..10]);
        return Err(SignatureError::OtherKey {
            signer: u64::from_le_bytes(id),
            expected: pk.key_id_hex(),
        });
    }
    let sig = &raw[10..74];
    let ok = if prehashed {
        pk.verify(&blake2b512(message), sig)
    } else {
        pk.verify(message, sig)
    };
    if !ok {
        return Err(SignatureError::Mismatch);
    }
    let trusted_line = lines.next().ok_or(SignatureError::NoTrustedComment)?;
    let comment = trusted_line
        .strip_prefix(TRUSTED_PREFIX)
        .ok_or(SignatureError::BadTrustedComment)?;
    let global_b64 = lines.next().ok_or(SignatureError::NoGlobalSignature)?;
    let global = STANDARD.decode(global_b64).map_err(SignatureError::GlobalBase64)?;
    if global.len() != 64 {
        return Err(SignatureError::GlobalLength(global.len()));
    }
    let mut global_msg = Vec::with_capacity(64 + comment.len());
    global_msg.extend_from_slice(sig);
    global_msg.extend_from_slice(comment.as_bytes());
    if !pk.verify(&global_msg, &global) {
        return Err(SignatureError::GlobalMismatch);
    }
    if lines.any(|l| !l.is_empty()) {
        return Err(SignatureError::TrailingLines);
    }
    Ok(comment.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/evidence/minisign")
            .join(name)
    }

    #[test]
    fn sign_then_verify() {
        let key = SigningKey::generate().unwrap();
        let pk = key.public();
        let text = sign(&key, b"hello", "recon run r1 manifest sha256 ab");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0], "untrusted comment: signature from recon secret key");
        assert_eq!(lines[2], "trusted comment: recon run r1 manifest sha256 ab");
        let raw = STANDARD.decode(lines[1]).unwrap();
        assert_eq!(&raw[..2], b"ED");
        assert_eq!(&raw[2..10], &key.key_id());
        assert_eq!(verify(&pk, b"hello", &text).unwrap(), "recon run r1 manifest sha256 ab");
        assert!(verify(&pk, b"hellO", &text).is_err());
        // trusted comment changed
        let forged = text.replace("trusted comment: recon run r1", "trusted comment: recon run r2");
        let err = verify(&pk, b"hello", &forged).unwrap_err().to_string();
        assert!(err.contains("trusted comment"), "{err}");
        // the untrusted comment is not covered, by design
        let relabelled = text.replace("from recon secret key", "whatever");
        assert!(verify(&pk, b"hello", &relabelled).is_ok());
        // another key
        let other = SigningKey::generate().unwrap().public();
        let err = verify(&other, b"hello", &text).unwrap_err().to_string();
        assert!(err.contains("signed by key"), "{err}");
        // same key id, different key bytes
        let impostor = PublicKey {
            key_id: pk.key_id,
            bytes: other.bytes,
        };
        assert!(verify(&impostor, b"hello", &text).is_err());
        assert!(verify(&pk, b"hello", "").is_err());
        assert!(verify(&pk, b"hello", &lines[..2].join("\n")).is_err());
    }

    #[test]
    fn trusted_comment_newlines_are_replaced() {
        let key = SigningKey::generate().unwrap();
        let text = sign(&key, b"m", "a\nb\r\nc");
        assert_eq!(text.lines().count(), 4);
        assert_eq!(verify(&key.public(), b"m", &text).unwrap(), "a b  c");
    }

    #[test]
    fn legacy_ed_signatures_verify() {
        let key = SigningKey::generate().unwrap();
        let sig = key.sign(b"legacy message");
        let mut line = Vec::new();
        line.extend_from_slice(b"Ed");
        line.extend_from_slice(&key.key_id());
        line.extend_from_slice(&sig);
        let mut g = sig.to_vec();
        g.extend_from_slice(b"old");
        let text = format!(
            "untrusted comment: x\n{}\ntrusted comment: old\n{}\n",
            STANDARD.encode(line),
            STANDARD.encode(key.sign(&g))
        );
        assert_eq!(verify(&key.public(), b"legacy message", &text).unwrap(), "old");
        assert!(verify(&key.public(), b"legacy messagE", &text).is_err());
    }

    /// Fixture made with the real minisign 0.11:
    /// `minisign -G -W -p minisign.pub -s sec.key`,
    /// `minisign -S -s sec.key -m msg.txt -t "trusted comment text"`.
    #[test]
    fn verifies_a_signature_made_by_real_minisign() {
        let pk = PublicKey::read_file(&fixture("minisign.pub")).unwrap();
        assert_eq!(pk.key_id_hex(), "23D7BB5F793B742E");
        let msg = std::fs::read(fixture("msg.txt")).unwrap();
        let sig = std::fs::read_to_string(fixture("msg.txt.minisig")).unwrap();
        assert_eq!(verify(&pk, &msg, &sig).unwrap(), "trusted comment text");
        let mut tampered = msg.clone();
        tampered[0] ^= 1;
        assert!(verify(&pk, &tampered, &sig).is_err());
        let mut longer = msg.clone();
        longer.push(b'\n');
        assert!(verify(&pk, &longer, &sig).is_err());
        let forged = sig.replace("trusted comment text", "trusted comment texT");
        assert!(verify(&pk, &msg, &forged).is_err());
    }

    #[test]
    fn real_minisign_verifies_our_signature() {
        if !crate::evidence::testing::require_tool("minisign", "-v") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::generate().unwrap();
        let msg = b"{\n  \"a\": 1\n}\n";
        let file = dir.path().join("manifest.json");
        std::fs::write(&file, msg).unwrap();
        std::fs::write(
            dir.path().join("manifest.json.minisig"),
            sign(&key, msg, "recon run r manifest sha256 00"),
        )
        .unwrap();
        let pub_path = dir.path().join("recon.pub");
        std::fs::write(&pub_path, key.public().to_minisign_string()).unwrap();
        let out = Command::new("minisign")
            .arg("-Vm")
            .arg(&file)
            .arg("-p")
            .arg(&pub_path)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "minisign -V failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("recon run r manifest sha256 00"), "{stdout}");
        // and with the bare base64 key
        let out = Command::new("minisign")
            .arg("-Vm")
            .arg(&file)
            .arg("-P")
            .arg(key.public().to_minisign_base64())
            .output()
            .unwrap();
        assert!(out.status.success());
        // a modified file is rejected by minisign too
        std::fs::write(&file, b"{\n  \"a\": 2\n}\n").unwrap();
        let out = Command::new("minisign")
            .arg("-Vm")
            .arg(&file)
            .arg("-p")
            .arg(&pub_path)
            .output()
            .unwrap();
        assert!(!out.status.success());
    }
}
