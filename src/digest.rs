//! SHA-256 and HMAC-SHA256 of short messages, for the hot paths that hash
//! millions of cells (the change state's cell hashes, personal-data MACs).
//!
//! The messages are laid out once, padded here and fed to the SHA-256
//! compression function of the `sha2` crate (SHA-NI where the CPU has it).
//! For a cell of a few dozen bytes, ring's general `digest` and `hmac`
//! calls cost as much again as the compression itself (context set-up,
//! buffering, output formatting); HMAC here starts from the key's inner and
//! outer states, computed once per key. The results are plain SHA-256 and
//! HMAC-SHA256 (RFC 6234, RFC 2104); the tests check them against ring over
//! every message length up to several blocks and keys of every kind.

use sha2::block_api::compress256;

/// SHA-256's initial state (FIPS 180-4, 5.3.3).
const IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

const BLOCK: usize = 64;

/// Compresses the whole 64-byte blocks of `bytes` into `state`; returns
/// the remainder.
fn absorb<'b>(state: &mut [u32; 8], bytes: &'b [u8]) -> &'b [u8] {
    let full = bytes.len() / BLOCK * BLOCK;
    for chunk in bytes[..full].chunks_exact(BLOCK) {
        if let Ok(block) = <&[u8; BLOCK]>::try_from(chunk) {
            compress256(state, std::slice::from_ref(block));
        }
    }
    &bytes[full..]
}

/// Finishes a hash whose `state` has absorbed `done` bytes (a multiple of
/// 64) before `msg`: the rest of `msg`, the padding and the bit length.
fn finish(mut state: [u32; 8], done: u64, msg: &[u8]) -> [u8; 32] {
    let rest = absorb(&mut state, msg);
    let mut tail = [0u8; 2 * BLOCK];
    tail[..rest.len()].copy_from_slice(rest);
    tail[rest.len()] = 0x80;
    let end = if rest.len() < BLOCK - 8 { BLOCK } else { 2 * BLOCK };
    let bits = (done + msg.len() as u64) * 8;
    tail[end - 8..end].copy_from_slice(&bits.to_be_bytes());
    absorb(&mut state, &tail[..end]);
    let mut out = [0u8; 32];
    for (o, word) in out.chunks_exact_mut(4).zip(state) {
        o.copy_from_slice(&word.to_be_bytes());
    }
    out
}

/// SHA-256 of `msg`.
pub fn sha256(msg: &[u8]) -> [u8; 32] {
    finish(IV, 0, msg)
}

/// SHA-256 over an unambiguous encoding of `parts`: each is preceded by
/// its length as a big-endian u64. `bytes` is scratch for the encoding.
pub fn sha256_parts(parts: &[&[u8]], bytes: &mut Vec<u8>) -> [u8; 32] {
    bytes.clear();
    for p in parts {
        bytes.extend_from_slice(&(p.len() as u64).to_be_bytes());
        bytes.extend_from_slice(p);
    }
    sha256(bytes)
}

/// An HMAC-SHA256 key as the states after its inner and outer padded
/// blocks, so a MAC costs the message's blocks and one more. `Debug`
/// never prints them (they stand for the key).
#[derive(Clone)]
pub struct HmacKey {
    inner: [u32; 8],
    outer: [u32; 8],
}

impl std::fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HmacKey { <redacted> }")
    }
}

impl HmacKey {
    /// The key of RFC 2104: longer than a block, it is hashed first.
    pub fn new(key: &[u8]) -> HmacKey {
        let mut k = [0u8; BLOCK];
        if key.len() > BLOCK {
            k[..32].copy_from_slice(&sha256(key));
        } else {
            k[..key.len()].copy_from_slice(key);
        }
        let pad = |byte: u8| {
            let mut state = IV;
            absorb(&mut state, &k.map(|b| b ^ byte));
            state
        };
        HmacKey {
            inner: pad(0x36),
            outer: pad(0x5c),
        }
    }

    /// HMAC-SHA256 of `msg`.
    pub fn mac(&self, msg: &[u8]) -> [u8; 32] {
        let inner = finish(self.inner, BLOCK as u64, msg);
        finish(self.outer, BLOCK as u64, &inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::{digest, hmac};

    /// Deterministic bytes of every value (a simple LCG).
    fn bytes(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (x >> 56) as u8
            })
            .collect()
    }

    #[test]
    fn sha256_equals_ring_at_every_length_across_block_edges() {
        for n in 0..=300 {
            let msg = bytes(n, n as u64);
            let want = digest::digest(&digest::SHA256, &msg);
            assert_eq!(sha256(&msg).as_slice(), want.as_ref(), "length {n}");
        }
    }

    #[test]
    fn sha256_known_answers() {
        // FIPS 180-4 examples.
        assert_eq!(
            hex::encode(sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex::encode(sha256(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex::encode(sha256(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
    }

    #[test]
    fn sha256_parts_is_the_length_prefixed_encoding() {
        let mut scratch = Vec::new();
        let got = sha256_parts(&[b"str", "客户1".as_bytes(), b""], &mut scratch);
        let mut enc = Vec::new();
        for p in [&b"str"[..], "客户1".as_bytes(), b""] {
            enc.extend_from_slice(&(p.len() as u64).to_be_bytes());
            enc.extend_from_slice(p);
        }
        assert_eq!(got, sha256(&enc));
        // Moving a byte between parts changes the hash.
        assert_ne!(
            sha256_parts(&[b"ab", b"c"], &mut scratch),
            sha256_parts(&[b"a", b"bc"], &mut scratch)
        );
    }

    #[test]
    fn hmac_equals_ring_for_short_block_and_long_keys() {
        for key_len in [0, 1, 16, 32, 63, 64, 65, 100, 200] {
            let key = bytes(key_len, 1000 + key_len as u64);
            let ours = HmacKey::new(&key);
            let theirs = hmac::Key::new(hmac::HMAC_SHA256, &key);
            for n in [0, 1, 31, 55, 56, 63, 64, 65, 119, 120, 128, 200, 1000] {
                let msg = bytes(n, n as u64);
                let want = hmac::sign(&theirs, &msg);
                assert_eq!(ours.mac(&msg).as_slice(), want.as_ref(), "key {key_len}, message {n}");
            }
        }
    }

    #[test]
    fn hmac_known_answer() {
        // RFC 4231, test case 2.
        let key = HmacKey::new(b"Jefe");
        assert_eq!(
            hex::encode(key.mac(b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn debug_hides_the_key_states() {
        let text = format!("{:?}", HmacKey::new(b"0123456789abcdef"));
        assert_eq!(text, "HmacKey { <redacted> }");
    }
}
