//! Custom field values (ashby-api.md §6.3) for candidates, applications, jobs and offers.
//!
//! Each record gets about two thirds of its object type's active fields, chosen by record
//! number so that every field type appears at any scale; values include codes with leading
//! zeros, formula-looking text, nulls and, on a few early candidates, notes longer than any
//! spreadsheet cell allows.

use crate::catalog::{Catalog, CustomFieldDef};
use crate::generator::{DAY_MS, Dice, midnight};
use crate::json::{Arr, Obj, quoted};
use crate::pools::{FORMULA_LIKE, NOTES, long_note};

/// Long notes go only on early candidates, so that a 20,000-candidate account holds a couple
/// of dozen 50 KB notes rather than a thousand.
const LONG_NOTE_CANDIDATE_LIMIT: usize = 400;

/// The custom field values (a JSON array) of one record of `object_type`: about two thirds
/// of the object's active fields, chosen by index so every field type appears at any scale.
pub(crate) fn custom_fields(
    dice: &mut Dice,
    catalog: &Catalog,
    object_type: &str,
    number: usize,
    created: i64,
) -> String {
    let mut entries = Arr::with_capacity(1024);
    let definitions = catalog.custom_fields.iter().filter(|def| def.object_type == object_type);
    for (position, definition) in definitions.enumerate() {
        let long_note = definition.field_type == "LongText"
            && object_type == "Candidate"
            && number % 17 == 6
            && number < LONG_NOTE_CANDIDATE_LIMIT;
        let wanted = if definition.archived {
            number.is_multiple_of(4)
        } else {
            long_note || !(number + position).is_multiple_of(3)
        };
        if wanted {
            entries.raw(&custom_field_entry(dice, definition, number, created, long_note));
        }
    }
    entries.finish()
}

fn custom_field_entry(
    dice: &mut Dice,
    definition: &CustomFieldDef,
    number: usize,
    created: i64,
    is_long_note: bool,
) -> String {
    let mut entry = Obj::with_capacity(160);
    entry.str("id", &definition.id);
    if definition.private || number.is_multiple_of(2) {
        entry.bool("isPrivate", definition.private);
    }
    entry.str("title", definition.title);
    let (value, label) = if is_long_note {
        (quoted(&long_note(number)), None)
    } else if number % 23 == 9 && definition.field_type == "Date" {
        ("null".to_string(), None)
    } else {
        custom_field_value(dice, definition, number, created)
    };
    entry.raw("value", &value);
    if let Some(label) = label {
        entry.raw("valueLabel", &label);
    }
    entry.finish()
}

/// A value of the definition's type (ashby-api.md §6.3) and, for select fields, its label;
/// both as JSON text.
fn custom_field_value(
    dice: &mut Dice,
    definition: &CustomFieldDef,
    number: usize,
    created: i64,
) -> (String, Option<String>) {
    let currency = ["USD", "EUR", "GBP", "JPY"][number % 4];
    match definition.field_type {
        "Boolean" => (dice.chance(0.5).to_string(), None),
        "String" => (quoted(&string_value(dice, definition.title, number)), None),
        "LongText" => (quoted(dice.pick::<&str>(NOTES)), None),
        "ValueSelect" => {
            let (label, value) = *dice.pick(definition.options);
            (quoted(value), Some(quoted(label)))
        }
        "MultiValueSelect" => {
            let options = definition.options;
            let count = 1 + dice.below(options.len().min(3));
            let start = dice.below(options.len());
            let (mut values, mut labels) = (Arr::new(), Arr::new());
            for offset in 0..count {
                let (label, value) = options[(start + offset) % options.len()];
                values.str(value);
                labels.str(label);
            }
            (values.finish(), Some(labels.finish()))
        }
        "Number" => {
            let value = match definition.title {
                "Years of experience" if number.is_multiple_of(3) => {
                    format!("{}.5", dice.between(0, 30))
                }
                "Years of experience" => dice.between(0, 35).to_string(),
                "Headcount budget" => dice.between(1, 12).to_string(),
                _ => (dice.between(1, 400) * 100).to_string(),
            };
            (value, None)
        }
        "Date" => (quoted(&midnight(created + dice.between(0, 120) * DAY_MS)), None),
        "Currency" => {
            let amount = dice.between(1, 300) * 1_000;
            (
                Obj::with_capacity(48).int("value", amount).str("currencyCode", currency).finish(),
                None,
            )
        }
        "NumberRange" => {
            let low = dice.between(0, 60);
            let high = low + dice.between(0, 60);
            let range = Obj::with_capacity(64)
                .str("type", "number-range")
                .int("minValue", low)
                .int("maxValue", high)
                .finish();
            (range, None)
        }
        _ => {
            let low = dice.between(40, 150) * 1_000;
            let high = low + dice.between(5, 40) * 1_000;
            let interval = ["1 YEAR", "1 YEAR", "1 MONTH", "1 HOUR"][number % 4];
            let range = Obj::with_capacity(128)
                .str("type", "compensation-range")
                .int("minValue", low)
                .int("maxValue", high)
                .str("currencyCode", currency)
                .str("interval", interval)
                .finish();
            (range, None)
        }
    }
}

/// String custom field values: codes with leading zeros and formula-looking text included.
fn string_value(dice: &mut Dice, title: &str, number: usize) -> String {
    match (title, number % 6) {
        (_, 0) => format!("{:06}", dice.between(1, 9_999)),
        (_, 1) => FORMULA_LIKE[(number / 6) % FORMULA_LIKE.len()].to_string(),
        ("Cost center", _) => format!("CC-{}", dice.between(1_000, 1_999)),
        ("Referral code", _) => format!("REF-{:04}", dice.between(0, 9_999)),
        _ => format!("{:07}", dice.between(1, 99_999)),
    }
}
