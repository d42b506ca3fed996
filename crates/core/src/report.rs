//! The counters a run summary is made of, returned by sources and sinks, and the number format
//! every user-facing message about them shares.

use std::time::Duration;

/// What one stream's read did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamReport {
    /// Records delivered to the runner, each exactly once.
    pub records: u64,
    /// HTTP requests sent, retries included.
    pub requests: u64,
    /// Requests that were retried after a transient failure.
    pub retries: u64,
    /// Times the pass started again from its first page after a cursor error.
    pub pass_restarts: u64,
    /// The token that lets the next run read only what changed, when the source gives one.
    pub sync_token: Option<String>,
    /// How long the read took.
    pub duration: Duration,
    /// Things the user should know that did not stop the read.
    pub warnings: Vec<String>,
}

/// What a sink did with one dataset.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DatasetReport {
    /// The dataset's name.
    pub dataset: String,
    /// Rows written.
    pub rows: u64,
    /// Things the user should know, such as truncated values.
    pub warnings: Vec<String>,
    /// Addresses worth opening on the published data, each with a label, such as
    /// `Looker Studio: https://...` for a BigQuery table; shown in the run summary.
    pub links: Vec<String>,
}

/// What a sink did in one run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SinkReport {
    /// Where the output went, such as a file path, for the summary.
    pub location: Option<String>,
    /// Requests sent to a remote destination; zero for file sinks.
    pub requests: u64,
    /// One report per dataset written, in the order they were written.
    pub datasets: Vec<DatasetReport>,
}

/// `1234567` as `1,234,567`, for counts in messages people read.
pub fn group_thousands(number: u64) -> String {
    let digits = number.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

#[cfg(test)]
mod tests {
    use super::group_thousands;

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1_000), "1,000");
        assert_eq!(group_thousands(1_234_567), "1,234,567");
    }
}
