//! Identifiers and secrets: random hex, record ids (`mid`s), and comparing
//! secrets in constant time.

use std::sync::atomic::{AtomicU64, Ordering};

use jiff::Timestamp;
use sha2::{Digest, Sha256};

fn random_bytes<const N: usize>() -> [u8; N] {
    static FALLBACK: AtomicU64 = AtomicU64::new(0);
    let mut buf = [0u8; N];
    if getrandom::fill(&mut buf).is_err() {
        // The OS source failing is next to impossible; stay unique anyway.
        let seed = format!(
            "{:?}{}",
            std::time::SystemTime::now(),
            FALLBACK.fetch_add(1, Ordering::Relaxed)
        );
        let digest = Sha256::digest(seed.as_bytes());
        for (i, b) in buf.iter_mut().enumerate() {
            *b = digest[i % digest.len()];
        }
    }
    buf
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// `N` random bytes as lower-case hex.
pub(crate) fn random_hex<const N: usize>() -> String {
    hex(&random_bytes::<N>())
}

/// A random token for temporary file names.
pub(crate) fn random_token() -> String {
    random_hex::<8>()
}

/// Whether `mid` has the shape of a record id: 24 lower-case hex characters.
pub(crate) fn is_valid_mid(mid: &str) -> bool {
    mid.len() == 24 && mid.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Compares two strings in time independent of where they differ.
pub(crate) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A new mid: like a MongoDB ObjectId (4 bytes of seconds, then random).
pub(crate) fn new_mid(now: Timestamp) -> String {
    let secs = now.as_second().clamp(0, i64::from(u32::MAX)) as u32;
    let mut out = hex(&secs.to_be_bytes());
    out.push_str(&random_hex::<8>());
    out
}
