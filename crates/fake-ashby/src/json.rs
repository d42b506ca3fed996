//! A small writer of JSON text, for the high-volume records.
//!
//! Building `serde_json::Value` trees and serialising them costs several seconds for a
//! 20,000-candidate account in a debug build (every key is an allocated, hashed string, and
//! embedded users and stages are deep-cloned thousands of times). Writing the text directly,
//! with embedded objects pasted in as pre-serialised text, is several times faster and keeps
//! the record order of fields exactly as written. Keys are trusted static identifiers; string
//! values are escaped per RFC 8259.

use std::fmt::Write as _;

/// An object being written; fields appear in call order.
pub(crate) struct Obj {
    text: String,
    empty: bool,
}

impl Obj {
    /// Starts an object with room for about `capacity` bytes.
    pub(crate) fn with_capacity(capacity: usize) -> Obj {
        let mut text = String::with_capacity(capacity);
        text.push('{');
        Obj { text, empty: true }
    }

    fn key(&mut self, key: &str) -> &mut String {
        if !self.empty {
            self.text.push(',');
        }
        self.empty = false;
        self.text.push('"');
        self.text.push_str(key);
        self.text.push_str("\":");
        &mut self.text
    }

    /// A string field.
    pub(crate) fn str(&mut self, key: &str, value: &str) -> &mut Obj {
        let text = self.key(key);
        push_quoted(text, value);
        self
    }

    /// A string field, or null.
    pub(crate) fn opt_str(&mut self, key: &str, value: Option<&str>) -> &mut Obj {
        match value {
            Some(value) => self.str(key, value),
            None => self.null(key),
        }
    }

    /// A field whose value is already JSON text.
    pub(crate) fn raw(&mut self, key: &str, json: &str) -> &mut Obj {
        self.key(key).push_str(json);
        self
    }

    /// A boolean field.
    pub(crate) fn bool(&mut self, key: &str, value: bool) -> &mut Obj {
        self.key(key).push_str(if value { "true" } else { "false" });
        self
    }

    /// An integer field.
    pub(crate) fn int(&mut self, key: &str, value: i64) -> &mut Obj {
        let text = self.key(key);
        let _ = write!(text, "{value}");
        self
    }

    /// A floating-point field, written the way serde_json writes it.
    pub(crate) fn float(&mut self, key: &str, value: f64) -> &mut Obj {
        let json = serde_json::Value::from(value).to_string();
        self.key(key).push_str(&json);
        self
    }

    /// A null field.
    pub(crate) fn null(&mut self, key: &str) -> &mut Obj {
        self.key(key).push_str("null");
        self
    }

    /// The finished object.
    pub(crate) fn finish(&mut self) -> String {
        self.text.push('}');
        std::mem::take(&mut self.text)
    }
}

/// An array being written.
pub(crate) struct Arr {
    text: String,
    empty: bool,
}

impl Arr {
    /// Starts an empty array.
    pub(crate) fn new() -> Arr {
        Arr::with_capacity(64)
    }

    /// Starts an empty array with room for about `capacity` bytes.
    pub(crate) fn with_capacity(capacity: usize) -> Arr {
        let mut text = String::with_capacity(capacity);
        text.push('[');
        Arr { text, empty: true }
    }

    fn separator(&mut self) -> &mut String {
        if !self.empty {
            self.text.push(',');
        }
        self.empty = false;
        &mut self.text
    }

    /// Appends an element that is already JSON text.
    pub(crate) fn raw(&mut self, json: &str) -> &mut Arr {
        self.separator().push_str(json);
        self
    }

    /// Appends a string element.
    pub(crate) fn str(&mut self, value: &str) -> &mut Arr {
        let text = self.separator();
        push_quoted(text, value);
        self
    }

    /// The finished array.
    pub(crate) fn finish(&mut self) -> String {
        self.text.push(']');
        std::mem::take(&mut self.text)
    }
}

/// A JSON string literal of `value`.
pub(crate) fn quoted(value: &str) -> String {
    let mut text = String::with_capacity(value.len() + 2);
    push_quoted(&mut text, value);
    text
}

/// Appends `value` as a JSON string literal: quotes, backslashes and control characters are
/// escaped; everything else (including emoji and right-to-left text) is written as is.
fn push_quoted(text: &mut String, value: &str) {
    text.push('"');
    if needs_escaping(value.as_bytes()) {
        push_escaped(text, value);
    } else {
        text.push_str(value);
    }
    text.push('"');
}

/// True when any byte is a quote, a backslash or a control character. Checks eight bytes per
/// step (SWAR), because almost no value needs escaping and a byte loop is slow in debug builds.
fn needs_escaping(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |word: u64| word.wrapping_sub(ONES) & !word & HIGH != 0;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0_u8; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_le_bytes(word);
        let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGH != 0;
        if below_space
            || has_zero(word ^ (ONES * u64::from(b'"')))
            || has_zero(word ^ (ONES * u64::from(b'\\')))
        {
            return true;
        }
    }
    chunks.remainder().iter().any(|byte| *byte < 0x20 || *byte == b'"' || *byte == b'\\')
}

fn push_escaped(text: &mut String, value: &str) {
    let mut clean_from = 0;
    for (at, byte) in value.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        text.push_str(&value[clean_from..at]);
        if escape.is_empty() {
            let _ = write!(text, "\\u{byte:04x}");
        } else {
            text.push_str(escape);
        }
        clean_from = at + 1;
    }
    text.push_str(&value[clean_from..]);
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn written_objects_parse_back_to_the_same_values() {
        let awkward = "Zoë \"Q\" \\ 🚀\n\tنور\u{1}";
        let mut tags = Arr::new();
        tags.str(awkward).raw(r#"{"a":1}"#);
        let text = Obj::with_capacity(64)
            .str("name", awkward)
            .opt_str("none", None)
            .bool("yes", true)
            .int("count", -42)
            .float("ratio", 1500.5)
            .raw("tags", &tags.finish())
            .finish();
        let parsed: Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(
            parsed,
            json!({
                "name": awkward, "none": null, "yes": true, "count": -42, "ratio": 1500.5,
                "tags": [awkward, { "a": 1 }],
            })
        );
        assert_eq!(Obj::with_capacity(2).finish(), "{}");
        assert_eq!(Arr::new().finish(), "[]");
        assert_eq!(quoted("a\"b"), r#""a\"b""#);
    }

    #[test]
    fn the_fast_escape_check_finds_every_special_byte_at_every_position() {
        for special in [b'"', b'\\', b'\n', 0x01, 0x1f] {
            for position in 0..20 {
                let mut bytes = vec![b'a'; 20];
                bytes[position] = special;
                assert!(needs_escaping(&bytes), "byte {special} at {position}");
            }
        }
        assert!(!needs_escaping(
            "plain ascii text, with (punctuation) & ~ 0x7f \u{7f} é 🚀 نور".as_bytes()
        ));
        assert!(!needs_escaping(&[0x20, 0x21, 0x23, 0x5b, 0x5d, 0xff, 0x80, 0xa2, 0xdc]));
    }
}
