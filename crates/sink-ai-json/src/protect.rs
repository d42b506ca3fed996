//! Redacting or hashing contact details inside a record, guided by the dataset's schema.
//!
//! The walk follows the record and the schema together, so a tagged field is found at any
//! depth, including inside arrays of objects. Under a tagged field every string and number leaf
//! is replaced while the shape stays as it was: nulls stay null, booleans stay as they are,
//! arrays keep their length and objects their keys. That keeps the JSON valid against the
//! dictionary and lets a reader still see, say, that a candidate has two e-mail addresses.
//!
//! The walk fails closed: when a record's value has a different shape than a schema that
//! declares contact details inside it (a string where an object with an e-mail was expected),
//! the value is treated as contact details, because guessing wrong would leak an address.
//! Fields the schema does not declare pass through untouched.
//!
//! Hashes are `sha256:` followed by the first 16 hex digits (64 bits) of SHA-256 over the
//! salt's length as 8 big-endian bytes, the salt, and the value trimmed of surrounding white
//! space and lowercased. Lowercasing makes `Ann@X.com` and `ann@x.com` one person, as e-mail
//! providers treat them; phone numbers are not reformatted, so `+1 555 0100` and `+15550100`
//! hash differently. Numbers are hashed as their JSON text. The length prefix keeps the salt
//! and the value apart, so no salt and value pair collides with another by concatenation.

use ashflow_core::{DataType, Field, Record, Schema};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::config::ContactDetailsPolicy;

/// The text that replaces a redacted value.
pub const REDACTION_MARKER: &str = "[redacted]";

/// The prefix of every hashed value.
pub const HASH_PREFIX: &str = "sha256:";

/// Applies a contact-details policy to records.
#[derive(Clone)]
pub(crate) struct ContactProtector {
    policy: ContactDetailsPolicy,
    salt: Vec<u8>,
}

impl std::fmt::Debug for ContactProtector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The salt is a secret: say only whether there is one.
        f.debug_struct("ContactProtector")
            .field("policy", &self.policy)
            .field("salted", &!self.salt.is_empty())
            .finish()
    }
}

impl ContactProtector {
    /// A protector for `policy`; `salt` matters only when hashing.
    pub(crate) fn new(policy: ContactDetailsPolicy, salt: Option<String>) -> Self {
        ContactProtector { policy, salt: salt.map(String::into_bytes).unwrap_or_default() }
    }

    /// True when records of `schema` must be rewritten before they are written.
    pub(crate) fn applies_to(&self, schema: &Schema) -> bool {
        self.policy != ContactDetailsPolicy::Keep
            && schema.fields.iter().any(Field::holds_contact_details)
    }

    /// Replaces the contact details in `record` as the policy says.
    pub(crate) fn protect(&self, schema: &Schema, record: &mut Record) {
        if self.policy == ContactDetailsPolicy::Keep {
            return;
        }
        self.protect_object(&schema.fields, record);
    }

    fn protect_object(&self, fields: &[Field], object: &mut serde_json::Map<String, Value>) {
        for (name, value) in object.iter_mut() {
            let Some(field) = fields.iter().find(|field| field.name == *name) else {
                continue;
            };
            if field.contact_details {
                self.mask(value);
            } else if field.holds_contact_details() {
                self.protect_value(&field.data_type, value);
            }
        }
    }

    /// Walks a value whose declared type holds contact details somewhere inside.
    fn protect_value(&self, data_type: &DataType, value: &mut Value) {
        match value {
            Value::Null | Value::Bool(_) => {}
            Value::Array(items) => {
                // An array where an object was declared is read as a list of such objects.
                let element = match data_type {
                    DataType::Array(element) => element.as_ref(),
                    other => other,
                };
                for item in items {
                    self.protect_value(element, item);
                }
            }
            Value::Object(object) => match object_fields(data_type) {
                Some(fields) => self.protect_object(fields, object),
                None => self.mask(value),
            },
            Value::String(_) | Value::Number(_) => self.mask(value),
        }
    }

    /// Replaces every string and number leaf of `value`, keeping its shape.
    fn mask(&self, value: &mut Value) {
        match value {
            Value::Null | Value::Bool(_) => {}
            Value::String(text) => *value = self.replacement(text),
            Value::Number(number) => *value = self.replacement(&number.to_string()),
            Value::Array(items) => items.iter_mut().for_each(|item| self.mask(item)),
            Value::Object(object) => object.values_mut().for_each(|item| self.mask(item)),
        }
    }

    fn replacement(&self, text: &str) -> Value {
        match self.policy {
            ContactDetailsPolicy::Redact => Value::String(REDACTION_MARKER.to_string()),
            ContactDetailsPolicy::Hash => Value::String(self.hash(text)),
            ContactDetailsPolicy::Keep => Value::String(text.to_string()),
        }
    }

    /// The stable hash of one value, as described in the module documentation.
    pub(crate) fn hash(&self, text: &str) -> String {
        let normalized = text.trim().to_lowercase();
        let salt_length = u64::try_from(self.salt.len()).unwrap_or(u64::MAX);

        let mut hasher = Sha256::new();
        hasher.update(salt_length.to_be_bytes());
        hasher.update(&self.salt);
        hasher.update(normalized.as_bytes());
        let digest = hasher.finalize();

        let mut hashed = String::with_capacity(HASH_PREFIX.len() + 16);
        hashed.push_str(HASH_PREFIX);
        for byte in &digest[..8] {
            hashed.push_str(&format!("{byte:02x}"));
        }
        hashed
    }
}

/// The fields of the object a type describes, looking through arrays.
fn object_fields(data_type: &DataType) -> Option<&[Field]> {
    match data_type {
        DataType::Object(fields) => Some(fields),
        DataType::Array(element) => object_fields(element),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Schema {
        let email = DataType::Object(vec![
            Field::new("value", DataType::String, "Address.").contact(),
            Field::new("type", DataType::String, "Kind."),
            Field::new("isPrimary", DataType::Boolean, "Primary."),
        ]);
        Schema::new(vec![
            Field::new("id", DataType::String, "Id."),
            Field::new("name", DataType::String, "Name."),
            Field::new("primaryEmailAddress", email.clone(), "Primary e-mail."),
            Field::new("emailAddresses", DataType::Array(Box::new(email)), "All e-mails."),
            Field::new("phone", DataType::Json, "Phone, any shape.").contact(),
            Field::new(
                "candidate",
                DataType::Object(vec![
                    Field::new(
                        "socialLinks",
                        DataType::Array(Box::new(DataType::String)),
                        "Links.",
                    )
                    .contact(),
                ]),
                "Candidate.",
            ),
        ])
    }

    fn record(value: Value) -> Record {
        value.as_object().cloned().unwrap()
    }

    fn protected(policy: ContactDetailsPolicy, salt: Option<&str>, value: Value) -> Value {
        let protector = ContactProtector::new(policy, salt.map(str::to_string));
        let mut record = record(value);
        protector.protect(&schema(), &mut record);
        Value::Object(record)
    }

    #[test]
    fn redaction_reaches_nested_objects_and_arrays_and_keeps_their_shape() {
        let output = protected(
            ContactDetailsPolicy::Redact,
            None,
            json!({
                "id": "c1",
                "name": "Ann",
                "primaryEmailAddress": {"value": "ann@x.com", "type": "Personal"},
                "emailAddresses": [
                    {"value": "ann@x.com", "type": "Personal", "isPrimary": true},
                    {"value": null, "type": "Work", "isPrimary": false}
                ],
                "phone": {"number": 5550100, "label": "mobile", "verified": true, "ext": null},
                "candidate": {"socialLinks": ["https://a", "https://b", null]},
                "undeclared": "ann@x.com"
            }),
        );

        assert_eq!(
            output,
            json!({
                "id": "c1",
                "name": "Ann",
                "primaryEmailAddress": {"value": "[redacted]", "type": "Personal"},
                "emailAddresses": [
                    {"value": "[redacted]", "type": "Personal", "isPrimary": true},
                    {"value": null, "type": "Work", "isPrimary": false}
                ],
                "phone": {
                    "number": "[redacted]", "label": "[redacted]", "verified": true, "ext": null
                },
                "candidate": {"socialLinks": ["[redacted]", "[redacted]", null]},
                "undeclared": "ann@x.com"
            })
        );
    }

    #[test]
    fn hashing_normalizes_case_and_space_and_depends_on_the_salt() {
        let protector = ContactProtector::new(ContactDetailsPolicy::Hash, Some("s1".into()));
        let other_salt = ContactProtector::new(ContactDetailsPolicy::Hash, Some("s2".into()));
        let unsalted = ContactProtector::new(ContactDetailsPolicy::Hash, None);

        let hash = protector.hash("ann@x.com");
        assert!(hash.starts_with("sha256:"), "{hash}");
        assert_eq!(hash.len(), "sha256:".len() + 16);
        assert!(hash["sha256:".len()..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(protector.hash("  Ann@X.com "), hash);
        assert_ne!(protector.hash("bob@x.com"), hash);
        assert_ne!(other_salt.hash("ann@x.com"), hash);
        assert_ne!(unsalted.hash("ann@x.com"), hash);
    }

    #[test]
    fn the_unsalted_hash_is_sha256_of_a_zero_length_prefix_and_the_value() {
        // Pins the documented construction: 8 zero bytes (the salt's length), then "abc".
        let protector = ContactProtector::new(ContactDetailsPolicy::Hash, None);
        let expected = Sha256::digest(b"\0\0\0\0\0\0\0\0abc");
        let expected_hex: String = expected[..8].iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(protector.hash("ABC"), format!("sha256:{expected_hex}"));
    }

    #[test]
    fn hashing_replaces_numbers_by_the_hash_of_their_text() {
        let protector = ContactProtector::new(ContactDetailsPolicy::Hash, Some("s".into()));
        let output = protected(
            ContactDetailsPolicy::Hash,
            Some("s"),
            json!({"phone": 5550100, "emailAddresses": [{"value": "Ann@x.com "}]}),
        );
        assert_eq!(
            output,
            json!({
                "phone": protector.hash("5550100"),
                "emailAddresses": [{"value": protector.hash("ann@x.com")}]
            })
        );
    }

    #[test]
    fn keep_leaves_records_untouched() {
        let input = json!({"emailAddresses": [{"value": "ann@x.com"}], "phone": "555"});
        assert_eq!(protected(ContactDetailsPolicy::Keep, None, input.clone()), input);
        let keep = ContactProtector::new(ContactDetailsPolicy::Keep, None);
        assert!(!keep.applies_to(&schema()));
    }

    #[test]
    fn a_value_shaped_unlike_its_schema_is_masked_rather_than_leaked() {
        let output = protected(
            ContactDetailsPolicy::Redact,
            None,
            json!({
                "primaryEmailAddress": "ann@x.com",
                "emailAddresses": {"value": "ann@x.com", "type": "Personal"},
                "candidate": [{"socialLinks": "https://a"}]
            }),
        );
        assert_eq!(
            output,
            json!({
                "primaryEmailAddress": "[redacted]",
                "emailAddresses": {"value": "[redacted]", "type": "Personal"},
                "candidate": [{"socialLinks": "[redacted]"}]
            })
        );
    }

    #[test]
    fn schemas_without_contact_details_need_no_rewriting() {
        let protector = ContactProtector::new(ContactDetailsPolicy::Redact, None);
        let plain = Schema::new(vec![Field::new("id", DataType::String, "Id.")]);
        assert!(!protector.applies_to(&plain));
        assert!(protector.applies_to(&schema()));
    }

    #[test]
    fn debug_output_hides_the_salt() {
        let protector = ContactProtector::new(ContactDetailsPolicy::Hash, Some("pepper".into()));
        let debug = format!("{protector:?}");
        assert!(!debug.contains("pepper"), "{debug}");
        assert!(debug.contains("salted: true"), "{debug}");
    }
}
