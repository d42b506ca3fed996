//! The BigQuery sink's own errors, and how each becomes an [`ashflow_core::Error`].
//!
//! Credentials that cannot be read are configuration errors; credentials Google refuses are
//! authentication errors; everything BigQuery refuses or fails at after the retries is a
//! destination error that says which table and what to do.

use std::path::PathBuf;

/// What can go wrong while writing to BigQuery.
#[derive(Debug, thiserror::Error)]
pub enum BigQueryError {
    /// The service-account key file could not be read.
    #[error(
        "cannot read the service-account key file {}: {reason}; download a JSON key for the \
         service account in Google Cloud (IAM > Service accounts > Keys) and point \
         `credentials` at it",
        path.display()
    )]
    KeyFile {
        /// The configured key file.
        path: PathBuf,
        /// Why it could not be used.
        reason: String,
    },

    /// Google refused the credentials, or no token could be obtained.
    #[error(
        "Google refused the service account's credentials ({reason}); check that the key in \
         `credentials` has not been deleted and belongs to project `{project}`"
    )]
    Auth {
        /// The project the key should belong to.
        project: String,
        /// What the token endpoint or the API said.
        reason: String,
    },

    /// BigQuery refused access to the project or dataset.
    #[error(
        "BigQuery refused access while trying to {action} ({message}); give the service \
         account the BigQuery Data Editor and BigQuery Job User roles on project `{project}`"
    )]
    Forbidden {
        /// What was being done.
        action: String,
        /// The project.
        project: String,
        /// BigQuery's message.
        message: String,
    },

    /// A request failed after every retry, or was refused for a reason retrying cannot fix.
    #[error("BigQuery could not {action}: {message}")]
    Api {
        /// What was being done, such as `create table ashby.candidates`.
        action: String,
        /// What BigQuery or the connection said.
        message: String,
    },

    /// A column of the existing table has a different type from the one the data needs.
    #[error(
        "table `{table}`: column `{column}` is {existing} in BigQuery but the data has {wanted}; \
         nothing was changed. Drop or rename the table (or use mode = \"replace\") to let \
         ashflow recreate it, or write to another table with `table_prefix`"
    )]
    TypeConflict {
        /// The table.
        table: String,
        /// The dotted column name.
        column: String,
        /// The column's type in BigQuery.
        existing: String,
        /// The type the data needs.
        wanted: String,
    },

    /// Rows were rejected beyond what `max_bad_rows` allows.
    #[error(
        "{count} rows of `{dataset}` were rejected, more than max_bad_rows = {allowed}: \
         {examples}; fix the data or raise max_bad_rows to load the other rows anyway"
    )]
    TooManyBadRows {
        /// The dataset.
        dataset: String,
        /// Rows rejected so far.
        count: u64,
        /// The configured allowance.
        allowed: u64,
        /// The first rejected rows with their reasons.
        examples: String,
    },

    /// The dataset lacks the field an upsert is keyed by.
    #[error(
        "dataset `{dataset}` has no field `{key}` to upsert by; set `key` to a field it has \
         or use mode = \"append\" or \"replace\""
    )]
    MissingKey {
        /// The dataset.
        dataset: String,
        /// The configured key.
        key: String,
    },

    /// The runner called the sink out of order, which is a bug in the caller.
    #[error(
        "the bigquery sink was called out of order: {0}; this is a bug in ashflow, please \
         report it"
    )]
    OutOfOrder(&'static str),
}

impl From<BigQueryError> for ashflow_core::Error {
    fn from(error: BigQueryError) -> Self {
        let message = error.to_string();
        match error {
            BigQueryError::KeyFile { .. } | BigQueryError::MissingKey { .. } => {
                ashflow_core::Error::config(message)
            }
            BigQueryError::Auth { .. } => ashflow_core::Error::Auth { message },
            BigQueryError::Forbidden { .. }
            | BigQueryError::Api { .. }
            | BigQueryError::TypeConflict { .. }
            | BigQueryError::TooManyBadRows { .. }
            | BigQueryError::OutOfOrder(_) => ashflow_core::Error::destination(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ashflow_core::ErrorClass;

    #[test]
    fn a_type_conflict_names_the_column_and_both_types() {
        let error: ashflow_core::Error = BigQueryError::TypeConflict {
            table: "ashby.candidates".into(),
            column: "score".into(),
            existing: "STRING".into(),
            wanted: "INT64".into(),
        }
        .into();

        assert_eq!(error.class(), ErrorClass::Destination);
        let message = error.to_string();
        assert!(message.contains("column `score` is STRING in BigQuery"), "{message}");
        assert!(message.contains("the data has INT64"), "{message}");
    }

    #[test]
    fn refused_credentials_are_authentication_errors_and_bad_files_configuration() {
        let auth: ashflow_core::Error =
            BigQueryError::Auth { project: "p".into(), reason: "invalid_grant".into() }.into();
        assert_eq!(auth.class(), ErrorClass::Auth);

        let file: ashflow_core::Error =
            BigQueryError::KeyFile { path: "k.json".into(), reason: "not found".into() }.into();
        assert_eq!(file.class(), ErrorClass::Config);
        assert!(file.to_string().contains("k.json"), "{file}");
    }
}
