//! Legal, unique names for worksheets, tables and table headers.
//!
//! Excel refuses a workbook (or "repairs" it, dropping content) when a sheet name breaks its
//! rules, and the workbook library only catches some of them, late: a duplicate only at save
//! time, and the reserved name `History` not at all. So every name is made legal here, as close
//! to the dataset's name as the rules allow, before anything is written. Lengths are counted in
//! UTF-16 code units, as Excel counts them, so a name never ends in half an emoji.

use std::collections::HashSet;

/// The longest sheet name Excel accepts, in UTF-16 code units.
pub(crate) const MAX_SHEET_NAME_UNITS: usize = 31;

/// The longest table column header Excel accepts, in UTF-16 code units.
const MAX_HEADER_UNITS: usize = 255;

/// Characters Excel forbids anywhere in a sheet name.
const FORBIDDEN_IN_SHEET_NAMES: [char; 7] = ['[', ']', ':', '*', '?', '/', '\\'];

/// The name Excel reserves for its change-history sheet, compared case-insensitively.
const RESERVED_SHEET_NAME: &str = "history";

/// The name given to a sheet whose dataset name has nothing usable left.
const FALLBACK_SHEET_NAME: &str = "Sheet";

/// The sheet and table names already used in one workbook.
#[derive(Debug)]
pub(crate) struct WorkbookNames {
    sheets: HashSet<String>,
    tables: HashSet<String>,
}

impl WorkbookNames {
    /// An empty workbook's names, with Excel's reserved sheet name already taken.
    pub(crate) fn new() -> Self {
        let sheets = HashSet::from([RESERVED_SHEET_NAME.to_string()]);
        WorkbookNames { sheets, tables: HashSet::new() }
    }

    /// Claims a legal sheet name for `wanted`: `wanted` itself when it is legal and unused,
    /// otherwise a sanitised form, numbered ` (2)`, ` (3)`, … when that is taken.
    pub(crate) fn claim_sheet(&mut self, wanted: &str) -> String {
        let base = legal_sheet_name(wanted);
        if self.sheets.insert(base.to_lowercase()) {
            return base;
        }
        self.claim_numbered_sheet(&base, 2)
    }

    /// Claims the name of a further sheet of the dataset whose first sheet is `first`, trying
    /// `first (part)` and then higher numbers.
    pub(crate) fn claim_continuation(&mut self, first: &str, part: u32) -> String {
        self.claim_numbered_sheet(first, part)
    }

    /// Claims a table name derived from a sheet name. Table names follow Excel's rules for
    /// defined names (a letter first, no spaces or punctuation, not a cell reference such as
    /// `Q1`), so the sheet name is prefixed with `Table_` and anything else becomes `_`.
    pub(crate) fn claim_table(&mut self, sheet: &str) -> String {
        let body: String = sheet
            .chars()
            .map(|c| if c.is_alphanumeric() || c == '_' || c == '.' { c } else { '_' })
            .collect();
        let base = format!("Table_{body}");
        if self.tables.insert(base.to_lowercase()) {
            return base;
        }
        (2u32..)
            .map(|n| format!("{base}_{n}"))
            .find(|candidate| self.tables.insert(candidate.to_lowercase()))
            .expect("an unbounded range always yields an unused name")
    }

    fn claim_numbered_sheet(&mut self, base: &str, first_number: u32) -> String {
        (first_number..)
            .map(|n| numbered_sheet_name(base, n))
            .find(|candidate| self.sheets.insert(candidate.to_lowercase()))
            .expect("an unbounded range always yields an unused name")
    }
}

/// `wanted` made into a legal sheet name: forbidden and control characters replaced by `_`,
/// no apostrophe or space at either end, at most 31 UTF-16 units, and never blank.
pub(crate) fn legal_sheet_name(wanted: &str) -> String {
    let replaced: String = wanted
        .chars()
        .map(|c| if FORBIDDEN_IN_SHEET_NAMES.contains(&c) || c.is_control() { '_' } else { c })
        .collect();
    let shortened = truncate_to_units(trim_sheet_name(&replaced), MAX_SHEET_NAME_UNITS);

    // Shortening can expose an apostrophe or a space that was inside the name.
    let trimmed = trim_sheet_name(shortened);
    if trimmed.is_empty() { FALLBACK_SHEET_NAME.to_string() } else { trimmed.to_string() }
}

/// `base (n)`, shortening `base` so the whole stays within Excel's 31 units.
fn numbered_sheet_name(base: &str, n: u32) -> String {
    let suffix = format!(" ({n})");
    let room = MAX_SHEET_NAME_UNITS.saturating_sub(suffix.len());
    let head = trim_sheet_name(truncate_to_units(base, room));
    let head = if head.is_empty() { FALLBACK_SHEET_NAME } else { head };
    format!("{head}{suffix}")
}

fn trim_sheet_name(name: &str) -> &str {
    name.trim_matches(|c: char| c == '\'' || c.is_whitespace())
}

/// Table headers for `names`, which Excel needs non-blank, at most 255 units long, free of
/// line breaks and unique regardless of case; later duplicates are numbered ` (2)`, ` (3)`, ….
pub(crate) fn table_headers<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut headers = Vec::new();
    for (index, name) in names.into_iter().enumerate() {
        let cleaned: String = name.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        // Eight units are left for a ` (n)` a duplicate may need.
        let cleaned = truncate_to_units(cleaned.trim(), MAX_HEADER_UNITS - 8);
        let base = if cleaned.is_empty() { format!("Column{}", index + 1) } else { cleaned.into() };

        let header = if seen.insert(base.to_lowercase()) {
            base
        } else {
            (2u32..)
                .map(|n| format!("{base} ({n})"))
                .find(|candidate| seen.insert(candidate.to_lowercase()))
                .expect("an unbounded range always yields an unused name")
        };
        headers.push(header);
    }
    headers
}

/// The longest prefix of `text` that fits in `max_units` UTF-16 code units without splitting a
/// character (and so never a surrogate pair).
pub(crate) fn truncate_to_units(text: &str, max_units: usize) -> &str {
    let mut units = 0;
    for (index, c) in text.char_indices() {
        units += c.len_utf16();
        if units > max_units {
            return &text[..index];
        }
    }
    text
}

/// The length of `text` in UTF-16 code units, as Excel counts it.
pub(crate) fn utf16_len(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legal_unused_names_are_kept_as_they_are() {
        let mut names = WorkbookNames::new();

        assert_eq!(names.claim_sheet("candidates"), "candidates");
        assert_eq!(names.claim_sheet("ashby_job_postings"), "ashby_job_postings");
        assert_eq!(names.claim_sheet("Zoë's جدول 📊"), "Zoë's جدول 📊");
    }

    #[test]
    fn forbidden_characters_apostrophes_and_blanks_are_repaired() {
        assert_eq!(legal_sheet_name("a[b]c:d*e?f/g\\h"), "a_b_c_d_e_f_g_h");
        assert_eq!(legal_sheet_name("'quoted'"), "quoted");
        assert_eq!(legal_sheet_name("line\nbreak"), "line_break");
        assert_eq!(legal_sheet_name("  ' '  "), "Sheet");
        assert_eq!(legal_sheet_name(""), "Sheet");
    }

    #[test]
    fn long_names_are_cut_to_31_units_without_splitting_an_emoji() {
        let long = "application_history_with_a_very_long_name";
        assert_eq!(legal_sheet_name(long), "application_history_with_a_very");
        assert_eq!(utf16_len(&legal_sheet_name(long)), 31);

        let emoji = "📊".repeat(20);
        let name = legal_sheet_name(&emoji);
        assert_eq!(name, "📊".repeat(15));
        assert_eq!(utf16_len(&name), 30);

        // An apostrophe that the cut leaves at the end is trimmed too.
        let name = legal_sheet_name(&format!("{}'tail", "x".repeat(30)));
        assert_eq!(name, "x".repeat(30));
    }

    #[test]
    fn history_is_avoided_and_duplicates_are_numbered_case_insensitively() {
        let mut names = WorkbookNames::new();

        assert_eq!(names.claim_sheet("History"), "History (2)");
        assert_eq!(names.claim_sheet("HISTORY"), "HISTORY (3)");
        assert_eq!(names.claim_sheet("offers"), "offers");
        assert_eq!(names.claim_sheet("Offers"), "Offers (2)");
        assert_eq!(names.claim_sheet("a/b"), "a_b");
        assert_eq!(names.claim_sheet("a?b"), "a_b (2)");
    }

    #[test]
    fn numbered_names_stay_within_31_units() {
        let mut names = WorkbookNames::new();
        let long = "x".repeat(40);

        assert_eq!(names.claim_sheet(&long), "x".repeat(31));
        let second = names.claim_sheet(&long);
        assert_eq!(second, format!("{} (2)", "x".repeat(27)));
        let third = names.claim_continuation(&second, 2);
        assert_eq!(third, format!("{} (3)", "x".repeat(27)));
        assert!(utf16_len(&third) <= MAX_SHEET_NAME_UNITS);
    }

    #[test]
    fn continuation_sheets_are_numbered_from_two() {
        let mut names = WorkbookNames::new();
        let first = names.claim_sheet("candidates");

        assert_eq!(names.claim_continuation(&first, 2), "candidates (2)");
        assert_eq!(names.claim_continuation(&first, 3), "candidates (3)");
        assert_eq!(names.claim_sheet("candidates (3)"), "candidates (3) (2)");
    }

    #[test]
    fn table_names_are_legal_defined_names_and_unique() {
        let mut names = WorkbookNames::new();

        assert_eq!(names.claim_table("candidates"), "Table_candidates");
        assert_eq!(names.claim_table("Q1"), "Table_Q1");
        assert_eq!(names.claim_table("candidates (2)"), "Table_candidates__2_");
        assert_eq!(names.claim_table("Candidates"), "Table_Candidates_2");
        assert_eq!(names.claim_table("Zoë's 📊"), "Table_Zoë_s__");
    }

    #[test]
    fn table_headers_are_unique_and_never_blank() {
        let headers = table_headers(["id", "ID", "", "name\nfull", "id"]);

        assert_eq!(headers, ["id", "ID (2)", "Column3", "name full", "id (3)"]);
    }

    #[test]
    fn truncation_counts_utf16_units() {
        assert_eq!(truncate_to_units("a📊b", 2), "a");
        assert_eq!(truncate_to_units("a📊b", 3), "a📊");
        assert_eq!(utf16_len("a📊b"), 4);
    }
}
