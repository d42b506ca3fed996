//! The Looker Studio link that opens a report on a BigQuery table in one click.
//!
//! Looker Studio's linking format creates a report from URL parameters: the data source is
//! described by `ds.ds0.*` keys (connector, type, project, dataset, table) and an optional
//! template report by `c.reportId`. Every value is percent-encoded, so names with characters
//! such as `:` (domain-scoped projects) survive.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Looker Studio's report-creation address.
const CREATE_REPORT: &str = "https://lookerstudio.google.com/reporting/create";

/// Everything but the characters RFC 3986 leaves unreserved is encoded.
const VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// The link that creates a Looker Studio report on `project.dataset.table`, copying the
/// template report when one is given.
pub fn looker_studio_link(
    project: &str,
    dataset: &str,
    table: &str,
    template: Option<&str>,
) -> String {
    let mut parameters = Vec::new();
    if let Some(report) = template {
        parameters.push(("c.reportId", report));
    }
    parameters.extend([
        ("ds.ds0.connector", "bigQuery"),
        ("ds.ds0.type", "TABLE"),
        ("ds.ds0.projectId", project),
        ("ds.ds0.datasetId", dataset),
        ("ds.ds0.tableId", table),
    ]);
    let query: Vec<String> = parameters
        .into_iter()
        .map(|(key, value)| format!("{key}={}", utf8_percent_encode(value, VALUE)))
        .collect();
    format!("{CREATE_REPORT}?{}", query.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_names_the_table_as_a_bigquery_data_source() {
        assert_eq!(
            looker_studio_link("acme-data", "ashby", "candidates", None),
            "https://lookerstudio.google.com/reporting/create?ds.ds0.connector=bigQuery\
             &ds.ds0.type=TABLE&ds.ds0.projectId=acme-data&ds.ds0.datasetId=ashby\
             &ds.ds0.tableId=candidates"
        );
    }

    #[test]
    fn values_are_percent_encoded_and_a_template_comes_first() {
        assert_eq!(
            looker_studio_link("example.com:acme", "raw data", "t&u=1", Some("a/b c")),
            "https://lookerstudio.google.com/reporting/create?c.reportId=a%2Fb%20c\
             &ds.ds0.connector=bigQuery&ds.ds0.type=TABLE\
             &ds.ds0.projectId=example.com%3Aacme&ds.ds0.datasetId=raw%20data\
             &ds.ds0.tableId=t%26u%3D1"
        );
    }
}
