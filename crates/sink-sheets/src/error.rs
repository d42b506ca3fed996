//! The Sheets sink's own errors, and how each becomes an [`ashflow_core::Error`].
//!
//! Messages say what happened in the user's terms (the key file, the spreadsheet, the service
//! account's e-mail, the dataset) and what to do next; Google's own message is appended where
//! it adds something.

use std::path::PathBuf;

use ashflow_core::report::group_thousands;

/// What can go wrong while writing to Google Sheets.
#[derive(Debug, thiserror::Error)]
pub enum SheetsError {
    /// The environment variable that should name the key file is not set.
    #[error(
        "the environment variable {name} is not set; export it with the path of the service \
         account's JSON key file, for example `export {name}=$HOME/keys/exporter.json`"
    )]
    CredentialsVariableUnset {
        /// The variable.
        name: String,
    },

    /// The key file cannot be read.
    #[error(
        "cannot read the service-account key file {}: {source}; check the path in `credentials`",
        path.display()
    )]
    CredentialsUnreadable {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// The key file is not a service account's JSON key.
    #[error(
        "{} is not a Google service-account key file ({reason}); in the Google Cloud console, \
         open IAM & Admin > Service Accounts > your account > Keys > Add key > JSON, and point \
         `credentials` at the downloaded file",
        path.display()
    )]
    CredentialsInvalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// Google's token endpoint refused the key.
    #[error(
        "Google refused the service account {email}'s key ({detail}); the key may have been \
         deleted or disabled: create a new JSON key for the account and update `credentials`"
    )]
    TokenRefused {
        /// The service account's e-mail.
        email: String,
        /// The token endpoint's answer.
        detail: String,
    },

    /// The spreadsheet exists but is not shared with the service account.
    #[error(
        "the spreadsheet {spreadsheet_id} is not shared with the service account {email}; open \
         the spreadsheet, click Share, and add {email} as an Editor"
    )]
    NotShared {
        /// The spreadsheet.
        spreadsheet_id: String,
        /// The service account's e-mail.
        email: String,
    },

    /// No spreadsheet has this id.
    #[error(
        "there is no spreadsheet {spreadsheet_id}; check `spreadsheet_id` (copy the \
         spreadsheet's address from the browser)"
    )]
    SpreadsheetNotFound {
        /// The id asked for.
        spreadsheet_id: String,
    },

    /// The data would pass the spreadsheet's cell limit.
    #[error(
        "dataset `{dataset}` does not fit in the spreadsheet: its tab needs {} rows x {} columns \
         = {} cells, the other tabs hold {} cells, and a spreadsheet holds at most {} cells; \
         nothing was written. Export this dataset to its own spreadsheet, remove tabs, or use \
         the excel or bigquery sink for it",
        group_thousands(*needed_rows),
        group_thousands(*needed_columns),
        group_thousands(needed_rows * needed_columns),
        group_thousands(*other_cells),
        group_thousands(*limit)
    )]
    CellLimit {
        /// The dataset that does not fit.
        dataset: String,
        /// Rows its tab would need.
        needed_rows: u64,
        /// Columns its tab would need.
        needed_columns: u64,
        /// Cells in every other tab, including datasets planned before this one.
        other_cells: u64,
        /// The limit.
        limit: u64,
    },

    /// An upsert's key column is missing from the dataset or the tab.
    #[error(
        "cannot upsert dataset `{dataset}` by `{key}`: {problem}; set `key` to a column both \
         have, or use mode = \"replace\""
    )]
    MissingKey {
        /// The dataset.
        dataset: String,
        /// The key column.
        key: String,
        /// Where it is missing.
        problem: String,
    },

    /// Google refused a request for a reason retrying cannot fix.
    #[error("Google Sheets refused {what} (HTTP {code} {status}): {message}")]
    Refused {
        /// What was being done.
        what: String,
        /// The HTTP status.
        code: u16,
        /// Google's status name.
        status: String,
        /// Google's message.
        message: String,
    },

    /// A request kept failing with a transient error after every retry.
    #[error(
        "Google Sheets kept failing while {what} after {attempts} attempts (last: {last}); \
         run again later: a replace re-run writes the same rows and repairs the tab"
    )]
    RetriesExhausted {
        /// What was being done.
        what: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },

    /// Google answered something the sink cannot use.
    #[error("Google Sheets answered {what} with something unexpected: {detail}")]
    Unexpected {
        /// What was being done.
        what: String,
        /// What was wrong.
        detail: String,
    },

    /// The local temporary file holding a dataset's rows failed.
    #[error("cannot use the temporary file holding dataset `{dataset}`'s rows")]
    Spool {
        /// The dataset.
        dataset: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// The runner called the sink out of order, which is a bug in the caller.
    #[error(
        "the google_sheets sink was called out of order: {0}; this is a bug in ashflow, please \
         report it"
    )]
    OutOfOrder(&'static str),
}

impl From<SheetsError> for ashflow_core::Error {
    fn from(error: SheetsError) -> Self {
        let message = error.to_string();
        match error {
            SheetsError::CredentialsVariableUnset { .. }
            | SheetsError::CredentialsInvalid { .. } => ashflow_core::Error::config(message),
            SheetsError::CredentialsUnreadable { path, source } => ashflow_core::Error::io(
                format!(
                    "cannot read the service-account key file {}; check the path in `credentials`",
                    path.display()
                ),
                source,
            ),
            SheetsError::Spool { source, dataset } => ashflow_core::Error::io(
                format!("cannot use the temporary file holding dataset `{dataset}`'s rows"),
                source,
            ),
            SheetsError::TokenRefused { .. } => ashflow_core::Error::Auth { message },
            SheetsError::NotShared { .. } => ashflow_core::Error::MissingPermission {
                permission: "editor access to the spreadsheet".into(),
                message,
            },
            SheetsError::RetriesExhausted { .. } | SheetsError::Unexpected { .. } => {
                ashflow_core::Error::upstream(message)
            }
            SheetsError::SpreadsheetNotFound { .. }
            | SheetsError::CellLimit { .. }
            | SheetsError::MissingKey { .. }
            | SheetsError::Refused { .. }
            | SheetsError::OutOfOrder(_) => ashflow_core::Error::destination(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ashflow_core::ErrorClass;

    #[test]
    fn an_unshared_spreadsheet_names_the_account_and_says_how_to_share() {
        let error: ashflow_core::Error = SheetsError::NotShared {
            spreadsheet_id: "1abc".into(),
            email: "exporter@p.iam.gserviceaccount.com".into(),
        }
        .into();
        assert_eq!(error.class(), ErrorClass::Permission);
        let message = error.to_string();
        assert!(
            message.contains("not shared with the service account exporter@p.iam"),
            "{message}"
        );
        assert!(message.contains("click Share"), "{message}");
    }
}
