//! Opaque cursors and sync tokens, and the small encodings they are built from.
//!
//! Ashby's cursors and tokens are opaque strings. The fake makes them opaque too (URL-safe
//! base64 of a short text payload) and signs each payload with a keyed FNV-1a hash, so that a
//! client that edits, truncates or invents one gets the documented error code instead of data.
//! The key comes from the seed and scale: a token issued by one server stays valid after a
//! restart with the same seed and scale (same data, same change sequence), and is rejected by
//! a server holding different data.

/// Where a paginated pass stands: everything a later page needs, so that a client may send the
/// cursor alone (filters are baked in, as ESTUARY-style clients expect) or with the filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CursorState {
    /// The endpoint the cursor belongs to, such as `candidate.list`.
    pub endpoint: String,
    /// The change sequence an incremental pass started from; `None` for a full pass.
    pub since: Option<u64>,
    /// The change sequence when the pass started; the final page's sync token carries it, so
    /// records changed during the pass are sent again by the next incremental pass.
    pub pass_seq: u64,
    /// How many records of the pass's list earlier pages already returned.
    pub offset: usize,
    /// The canonical JSON of the filters of the first request of the pass.
    pub filters: String,
}

/// Signs and checks cursors and sync tokens with one key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Signer {
    key: u64,
}

impl Signer {
    /// A signer whose key is derived from the data set's identity.
    pub(crate) fn new(seed: u64, candidates: usize) -> Self {
        let identity = format!("ashflow-fake-ashby|{seed}|{candidates}");
        Signer { key: fnv1a64(identity.as_bytes()) }
    }

    /// The opaque cursor for a pass state.
    pub(crate) fn encode_cursor(&self, state: &CursorState) -> String {
        let since = state.since.map_or_else(|| "-".to_string(), |seq| seq.to_string());
        let payload = format!(
            "c1|{}|{}|{}|{}|{}",
            state.endpoint, since, state.pass_seq, state.offset, state.filters
        );
        self.seal(&payload)
    }

    /// The pass state inside a cursor, or `None` when it was not issued by this signer.
    pub(crate) fn decode_cursor(&self, cursor: &str) -> Option<CursorState> {
        let payload = self.open(cursor)?;
        let mut parts = payload.splitn(6, '|');
        if parts.next()? != "c1" {
            return None;
        }
        let endpoint = parts.next()?.to_string();
        let since = match parts.next()? {
            "-" => None,
            number => Some(number.parse().ok()?),
        };
        let pass_seq = parts.next()?.parse().ok()?;
        let offset = parts.next()?.parse().ok()?;
        let filters = parts.next()?.to_string();
        Some(CursorState { endpoint, since, pass_seq, offset, filters })
    }

    /// The opaque sync token saying "everything of `endpoint` up to change `seq` was sent".
    pub(crate) fn encode_sync_token(&self, endpoint: &str, seq: u64) -> String {
        self.seal(&format!("s1|{endpoint}|{seq}"))
    }

    /// The endpoint and change sequence inside a sync token, or `None` when it is not one of
    /// this signer's tokens.
    pub(crate) fn decode_sync_token(&self, token: &str) -> Option<(String, u64)> {
        let payload = self.open(token)?;
        let mut parts = payload.splitn(3, '|');
        if parts.next()? != "s1" {
            return None;
        }
        let endpoint = parts.next()?.to_string();
        let seq = parts.next()?.parse().ok()?;
        Some((endpoint, seq))
    }

    fn seal(&self, payload: &str) -> String {
        let mac = self.mac(payload);
        base64_encode(format!("{payload}|{mac:016x}").as_bytes(), URL_SAFE, false)
    }

    fn open(&self, sealed: &str) -> Option<String> {
        let bytes = base64_decode(sealed, URL_SAFE)?;
        let text = String::from_utf8(bytes).ok()?;
        let (payload, mac) = text.rsplit_once('|')?;
        let expected = format!("{:016x}", self.mac(payload));
        (mac == expected).then(|| payload.to_string())
    }

    fn mac(&self, payload: &str) -> u64 {
        let mut keyed = self.key.to_le_bytes().to_vec();
        keyed.extend_from_slice(payload.as_bytes());
        fnv1a64(&keyed)
    }
}

/// FNV-1a, 64 bit: a stable hash (unlike `DefaultHasher`, fixed forever), used for record
/// order and token signatures. Not cryptographic; the fake only needs to notice tampering.
pub(crate) fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET_BASIS, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(PRIME))
}

/// The standard base64 alphabet (HTTP Basic credentials).
pub(crate) const STANDARD: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The URL-safe base64 alphabet (cursors and tokens survive being pasted into URLs and logs).
pub(crate) const URL_SAFE: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Encodes bytes as base64 with the given alphabet, with or without `=` padding.
pub(crate) fn base64_encode(bytes: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let symbols = chunk.len() + 1;
        for i in 0..4 {
            if i < symbols {
                out.push(char::from(alphabet[((n >> (18 - 6 * i)) & 63) as usize]));
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes base64 in the given alphabet; padding is optional. `None` on any foreign symbol or
/// impossible length.
pub(crate) fn base64_decode(text: &str, alphabet: &[u8; 64]) -> Option<Vec<u8>> {
    let trimmed = text.trim_end_matches('=');
    if trimmed.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(trimmed.len() * 3 / 4);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for symbol in trimmed.bytes() {
        let value = alphabet.iter().position(|candidate| *candidate == symbol)?;
        buffer = (buffer << 6) | value as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> CursorState {
        CursorState {
            endpoint: "job.list".into(),
            since: Some(12),
            pass_seq: 99,
            offset: 200,
            filters: r#"{"status":["Draft","Open"],"x":"a|b"}"#.into(),
        }
    }

    #[test]
    fn base64_round_trips_every_length_in_both_alphabets() {
        for len in 0..10 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 250) as u8).collect();
            for pad in [true, false] {
                let standard = base64_encode(&bytes, STANDARD, pad);
                assert_eq!(base64_decode(&standard, STANDARD), Some(bytes.clone()));
                let url = base64_encode(&bytes, URL_SAFE, pad);
                assert_eq!(base64_decode(&url, URL_SAFE), Some(bytes.clone()));
            }
        }
        assert_eq!(base64_encode(b"demo-key:", STANDARD, true), "ZGVtby1rZXk6");
        assert_eq!(base64_decode("a!b=", STANDARD), None);
    }

    #[test]
    fn cursors_round_trip_and_reject_tampering_and_foreign_signers() {
        let signer = Signer::new(42, 300);
        let cursor = signer.encode_cursor(&state());
        assert_eq!(signer.decode_cursor(&cursor), Some(state()));

        let mut tampered = cursor.clone().into_bytes();
        tampered[5] = if tampered[5] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).expect("ascii stays utf-8");
        assert_eq!(signer.decode_cursor(&tampered), None);
        assert_eq!(signer.decode_cursor("garbage"), None);
        assert_eq!(Signer::new(43, 300).decode_cursor(&cursor), None);
        assert_eq!(signer.decode_sync_token(&cursor), None);
    }

    #[test]
    fn sync_tokens_round_trip_and_are_not_cursors() {
        let signer = Signer::new(7, 50);
        let token = signer.encode_sync_token("candidate.list", 1234);
        assert_eq!(signer.decode_sync_token(&token), Some(("candidate.list".into(), 1234)));
        assert_eq!(signer.decode_cursor(&token), None);
        assert_eq!(Signer::new(7, 51).decode_sync_token(&token), None);
    }
}
