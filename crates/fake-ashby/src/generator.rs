//! The deterministic generator of a realistic, cross-referenced Ashby account.
//!
//! Seeded ChaCha8 streams drive everything, each consumed in a fixed order, so the same seed
//! and scale always give byte-identical data: one stream for the lookups and jobs, and one per
//! chunk of 500 candidates, so chunks can be generated on several threads. Records are handed
//! to an `emit` callback in a fixed order (chunk by chunk).
//!
//! Shape: lookups first (see [`crate::catalog`]), then jobs and their postings, then each
//! candidate with its applications, the applications' interview schedules and offers. The
//! awkward values real accounts hold (emoji, CJK and right-to-left names, formula-looking text,
//! leading zeros, very long notes, nulls versus missing keys, timestamps with and without
//! milliseconds) are placed by record index, so each appears several times at every scale.
//!
//! The small lookup lists are built as `serde_json::Value` trees for readability; the
//! per-candidate records (tens of thousands) are written as JSON text with
//! [`crate::json`], with embedded users, stages and sources pasted in pre-serialised, which is
//! what keeps a 20,000-candidate account within a couple of seconds in a debug build.
//!
//! This file holds the random source, time formatting and the orchestration; the records are
//! built in `catalog` (lookups), `jobs` (jobs and postings), `candidates` (candidates,
//! applications, interview schedules, offers) and `custom_values` (custom field values).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use rand::rngs::ChaCha8Rng;
use rand::{Rng, RngExt, SeedableRng};
use serde_json::Value;

use crate::candidates::World;
use crate::catalog;
use crate::entity::Entity;
use crate::filters::Meta;
use crate::jobs::jobs;

/// A generated record: a tree (lookups, whose filter facts the store reads from the tree) or
/// finished JSON text with its id and filter facts.
pub(crate) enum Emitted {
    /// A record as a `serde_json::Value`.
    Tree(Value),
    /// A record as JSON text.
    Text {
        /// The record's `id`.
        id: String,
        /// The record.
        json: String,
        /// The facts filters test, as `filters::meta_of` would read them from the text.
        meta: Meta,
    },
}

/// Receives each generated record with its entity, in creation order per entity.
pub(crate) type Emit<'a> = &'a mut dyn FnMut(Entity, Emitted);

/// "Now" of the generated account: 2026-09-30T12:00:00Z. Fixed, so data never depends on the
/// clock; every generated `updatedAt` is at or before it.
pub(crate) const ANCHOR_MS: i64 = 1_790_769_600_000;
/// One hour in milliseconds.
pub(crate) const HOUR_MS: i64 = 3_600_000;
/// One day in milliseconds.
pub(crate) const DAY_MS: i64 = 24 * HOUR_MS;
/// One (365-day) year in milliseconds.
pub(crate) const YEAR_MS: i64 = 365 * DAY_MS;

/// The seeded random source with the few draws the generator needs.
pub(crate) struct Dice {
    rng: ChaCha8Rng,
}

impl Dice {
    /// A stream fully determined by `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        Dice { rng: ChaCha8Rng::seed_from_u64(seed) }
    }

    /// A number in `0..n`; `n` must be positive.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        self.rng.random_range(0..n)
    }

    /// A number in `low..=high`.
    pub(crate) fn between(&mut self, low: i64, high: i64) -> i64 {
        if high <= low { low } else { self.rng.random_range(low..=high) }
    }

    /// True with probability `p`.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    /// One element of a non-empty slice.
    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// A random version-4 UUID.
    pub(crate) fn uuid(&mut self) -> String {
        let high = self.rng.next_u64();
        let low = self.rng.next_u64();
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            high >> 32,
            (high >> 16) & 0xffff,
            0x4000 | (high & 0x0fff),
            0x8000 | ((low >> 48) & 0x3fff),
            low & 0xffff_ffff_ffff
        )
    }

    /// An opaque file handle like the tokens `file.info` accepts.
    pub(crate) fn handle(&mut self) -> String {
        let mut bytes = [0_u8; 24];
        for chunk in bytes.chunks_exact_mut(8) {
            chunk.copy_from_slice(&self.rng.next_u64().to_le_bytes());
        }
        crate::tokens::base64_encode(&bytes[..18], crate::tokens::URL_SAFE, false)
    }
}

/// ISO-8601 UTC text of an instant, with or without milliseconds (Ashby sends both).
///
/// Hand-written rather than chrono's `format`, which interprets a format string per call and
/// was a tenth of the generation time.
pub(crate) fn timestamp(ms: i64, with_millis: bool) -> String {
    let mut text = String::with_capacity(24);
    push_date(&mut text, ms.div_euclid(DAY_MS));
    let in_day = ms.rem_euclid(DAY_MS);
    text.push('T');
    push_padded(&mut text, in_day / HOUR_MS, 2);
    text.push(':');
    push_padded(&mut text, in_day / 60_000 % 60, 2);
    text.push(':');
    push_padded(&mut text, in_day / 1_000 % 60, 2);
    if with_millis {
        text.push('.');
        push_padded(&mut text, in_day % 1_000, 3);
    }
    text.push('Z');
    text
}

/// The `YYYY-MM-DD` date of an instant.
pub(crate) fn date_only(ms: i64) -> String {
    let mut text = String::with_capacity(10);
    push_date(&mut text, ms.div_euclid(DAY_MS));
    text
}

/// Midnight UTC of the instant's day, as custom Date fields carry it.
pub(crate) fn midnight(ms: i64) -> String {
    timestamp(ms - ms.rem_euclid(DAY_MS), true)
}

/// Appends the civil date of a day number (days since 1970-01-01), by Howard Hinnant's
/// `civil_from_days`.
fn push_date(text: &mut String, days: i64) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    push_padded(text, year, 4);
    text.push('-');
    push_padded(text, month, 2);
    text.push('-');
    push_padded(text, day, 2);
}

/// Appends a non-negative number with leading zeros to `width` digits.
fn push_padded(text: &mut String, value: i64, width: u32) {
    let mut divisor = 10_i64.pow(width - 1);
    while divisor > 0 {
        let digit = (value / divisor % 10) as u8;
        text.push(char::from(b'0' + digit));
        divisor /= 10;
    }
}

/// Candidates are generated in chunks of this size, each from its own seeded stream, so that
/// chunks can be built on several threads and the data still depends only on seed and scale.
const CANDIDATE_CHUNK: usize = 500;

/// Generates the whole account for `seed` and `candidates`, emitting every record.
pub(crate) fn generate(seed: u64, candidates: usize, emit: Emit<'_>) {
    let mut dice = Dice::new(seed);
    let catalog = catalog::build(&mut dice, candidates, emit);
    let jobs = jobs(&mut dice, &catalog, candidates, emit);
    let appliable: Vec<usize> =
        (0..jobs.len()).filter(|index| jobs[*index].opened.is_some()).collect();

    let chunks = candidates.div_ceil(CANDIDATE_CHUNK);
    let results: Vec<Mutex<Vec<(Entity, Emitted)>>> =
        (0..chunks).map(|_| Mutex::new(Vec::new())).collect();
    let next_chunk = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism().map_or(1, usize::from).clamp(1, 4);
    std::thread::scope(|scope| {
        for _ in 0..workers.min(chunks) {
            scope.spawn(|| {
                loop {
                    let chunk = next_chunk.fetch_add(1, Ordering::Relaxed);
                    if chunk >= chunks {
                        break;
                    }
                    let mut world = World {
                        dice: Dice::new(chunk_seed(seed, chunk)),
                        catalog: &catalog,
                        jobs: &jobs,
                    };
                    let mut records = Vec::with_capacity(CANDIDATE_CHUNK * 4);
                    let first = chunk * CANDIDATE_CHUNK;
                    for number in first..(first + CANDIDATE_CHUNK).min(candidates) {
                        world.candidate(number, &appliable, &mut |entity, mut record| {
                            // Records are kept for the server's lifetime: drop the slack.
                            if let Emitted::Text { json, .. } = &mut record {
                                json.shrink_to_fit();
                            }
                            records.push((entity, record));
                        });
                    }
                    *results[chunk].lock().unwrap_or_else(PoisonError::into_inner) = records;
                }
            });
        }
    });
    for slot in results {
        for (entity, record) in slot.into_inner().unwrap_or_else(PoisonError::into_inner) {
            emit(entity, record);
        }
    }
}

/// The seed of one candidate chunk's stream, distinct per chunk and per account seed.
fn chunk_seed(seed: u64, chunk: usize) -> u64 {
    seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ (chunk as u64 + 1).wrapping_mul(0xbf58_476d_1ce4_e5b9)
}

/// `ms` if it is not after the anchor; otherwise folded back into the anchor's last day (but
/// not before `floor`), so that clamped times stay spread instead of piling up on one instant.
pub(crate) fn not_after_anchor(ms: i64, floor: i64) -> i64 {
    if ms <= ANCHOR_MS {
        ms
    } else {
        (ANCHOR_MS - (ms - ANCHOR_MS) % DAY_MS).max(floor.min(ANCHOR_MS))
    }
}

/// The instant a timestamp text denotes (milliseconds dropped when it is written without).
pub(crate) fn truncate_millis(ms: i64, with_millis: bool) -> i64 {
    if with_millis { ms } else { ms - ms.rem_euclid(1_000) }
}

/// A random index in `0..len` whose item satisfies `wanted`, or any index when none does.
pub(crate) fn pick_where(dice: &mut Dice, len: usize, wanted: impl Fn(usize) -> bool) -> usize {
    let matching: Vec<usize> = (0..len).filter(|at| wanted(*at)).collect();
    if matching.is_empty() { dice.below(len) } else { *dice.pick(&matching) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_come_with_and_without_milliseconds() {
        assert_eq!(timestamp(ANCHOR_MS + 5, true), "2026-09-30T12:00:00.005Z");
        assert_eq!(timestamp(ANCHOR_MS + 5, false), "2026-09-30T12:00:00Z");
        assert_eq!(date_only(ANCHOR_MS), "2026-09-30");
        assert_eq!(midnight(ANCHOR_MS), "2026-09-30T00:00:00.000Z");
    }

    #[test]
    fn hand_written_timestamps_agree_with_chrono_across_years() {
        let mut dice = Dice::new(1);
        for _ in 0..2_000 {
            let ms = dice.between(0, 4_102_444_800_000);
            let expected = chrono::DateTime::from_timestamp_millis(ms)
                .expect("in range")
                .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string();
            assert_eq!(timestamp(ms, true), expected);
        }
        assert_eq!(timestamp(951_782_400_000, false), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn uuids_are_version_4_and_repeat_for_the_same_seed() {
        let first = Dice::new(9).uuid();
        assert_eq!(first, Dice::new(9).uuid());
        assert_ne!(first, Dice::new(10).uuid());
        let parts: Vec<&str> = first.split('-').collect();
        assert_eq!(parts.iter().map(|part| part.len()).collect::<Vec<_>>(), [8, 4, 4, 4, 12]);
        assert!(parts[2].starts_with('4'));
        assert!(matches!(parts[3].chars().next(), Some('8' | '9' | 'a' | 'b')));
    }
}
