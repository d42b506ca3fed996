//! Parsing the timestamp and date strings that sources send.
//!
//! Ashby sends instants as ISO-8601 UTC strings, usually with milliseconds
//! (`2022-08-12T20:29:56.964Z`) and sometimes without (`2022-07-21T17:32:28Z`), and calendar
//! dates as `2021-11-19`. Both instant forms, and any explicit offset, parse to the same UTC
//! instant so that sorting and typed output never depend on how the source spelled a time.

use chrono::{DateTime, NaiveDate, Utc};

/// Parses an RFC 3339 timestamp, with or without fractional seconds, into UTC.
///
/// A date-only string is read as midnight UTC of that day, because some sources type a date
/// field as a timestamp.
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
        return Some(instant.with_timezone(&Utc));
    }
    parse_date(text).and_then(|date| date.and_hms_opt(0, 0, 0)).map(|naive| naive.and_utc())
}

/// Parses a `YYYY-MM-DD` calendar date.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// Milliseconds since the Unix epoch of a timestamp string, for sorting by creation time.
pub fn timestamp_millis(text: &str) -> Option<i64> {
    parse_timestamp(text).map(|instant| instant.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_millisecond_forms_and_offsets_parse_to_the_same_instant() {
        let with_millis = parse_timestamp("2022-07-21T17:32:28.000Z");
        let without = parse_timestamp("2022-07-21T17:32:28Z");
        let offset = parse_timestamp("2022-07-21T19:32:28+02:00");
        assert!(with_millis.is_some());
        assert_eq!(with_millis, without);
        assert_eq!(without, offset);
    }

    #[test]
    fn sort_keys_order_times_by_instant_not_by_spelling() {
        let later_with_millis = timestamp_millis("2022-07-21T17:32:28.500Z");
        let earlier_without = timestamp_millis("2022-07-21T17:32:28Z");
        assert!(earlier_without < later_with_millis);
        assert_eq!(timestamp_millis("not a time"), None);
    }

    #[test]
    fn dates_parse_and_can_stand_in_for_timestamps() {
        assert_eq!(parse_date("2021-11-19"), NaiveDate::from_ymd_opt(2021, 11, 19));
        assert_eq!(parse_date("2021-11-19T00:00:00Z"), None);
        assert!(parse_timestamp("2021-11-19").is_some());
    }
}
