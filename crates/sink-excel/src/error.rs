//! The Excel sink's own errors, and how each becomes an [`ashflow_core::Error`].
//!
//! Local file problems (the folder, the temporary files, the final rename) are `Io` errors that
//! name the path; everything the workbook library refuses, and data that cannot fit a workbook,
//! is a `Destination` error.

use std::path::PathBuf;

use rust_xlsxwriter::XlsxError;

/// What can go wrong while writing a workbook.
#[derive(Debug, thiserror::Error)]
pub enum ExcelError {
    /// The workbook's path is an existing folder.
    #[error("{} is a folder; point `path` at an .xlsx file inside it instead", path.display())]
    PathIsFolder {
        /// The configured path.
        path: PathBuf,
    },

    /// A file stands where the workbook's folder (or one of its parents) should be.
    #[error(
        "{} is a file, so the workbook's folder cannot be created there; change `path` or move \
         the file",
        path.display()
    )]
    ParentIsFile {
        /// The file in the way.
        path: PathBuf,
    },

    /// The workbook's folder could not be created.
    #[error("cannot create the folder {} for the workbook", path.display())]
    CreateFolder {
        /// The folder.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// A temporary file in the workbook's folder could not be created, written or read.
    #[error(
        "cannot use a temporary file in {}; check the folder is writable and has space",
        path.display()
    )]
    Temporary {
        /// The folder holding the temporary files.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// The finished workbook could not be moved into place.
    #[error(
        "cannot replace {} with the new workbook; close it if Excel has it open",
        path.display()
    )]
    Publish {
        /// The workbook's path.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// The workbook library refused an operation.
    #[error("cannot write the workbook ({context}): {source}")]
    Workbook {
        /// What was being written, such as the sheet's name.
        context: String,
        /// The library's error.
        #[source]
        source: XlsxError,
    },

    /// A dataset has more columns than an Excel sheet holds.
    #[error(
        "dataset `{dataset}` has {columns} columns but an Excel sheet holds at most 16,384; \
         export it to a sink without that limit, such as ai_json"
    )]
    TooManyColumns {
        /// The dataset's name.
        dataset: String,
        /// Its number of flattened columns.
        columns: usize,
    },

    /// The runner called the sink out of order, which is a bug in the caller.
    #[error(
        "the excel sink was called out of order: {0}; this is a bug in ashflow, please report it"
    )]
    OutOfOrder(&'static str),
}

impl ExcelError {
    /// Wraps a workbook library error with what was being written.
    pub(crate) fn workbook(context: impl Into<String>) -> impl FnOnce(XlsxError) -> ExcelError {
        let context = context.into();
        move |source| ExcelError::Workbook { context, source }
    }
}

impl From<ExcelError> for ashflow_core::Error {
    fn from(error: ExcelError) -> Self {
        let message = error.to_string();
        match error {
            ExcelError::CreateFolder { source, .. }
            | ExcelError::Temporary { source, .. }
            | ExcelError::Publish { source, .. } => {
                // These messages leave the operating system's error out, because `Error::Io`
                // appends it.
                ashflow_core::Error::io(message, source)
            }
            ExcelError::Workbook { source: XlsxError::IoError(source), context } => {
                ashflow_core::Error::io(format!("cannot write the workbook ({context})"), source)
            }
            ExcelError::Workbook { source: XlsxError::TempFileError(path, source), .. } => {
                ashflow_core::Error::io(
                    format!("cannot create a temporary file in {}", path.display()),
                    source,
                )
            }
            ExcelError::Workbook { .. }
            | ExcelError::PathIsFolder { .. }
            | ExcelError::ParentIsFile { .. }
            | ExcelError::TooManyColumns { .. }
            | ExcelError::OutOfOrder(_) => ashflow_core::Error::destination(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ashflow_core::ErrorClass;

    #[test]
    fn file_problems_are_io_errors_that_name_the_path_once() {
        let error: ashflow_core::Error = ExcelError::Publish {
            path: PathBuf::from("/out/ashby.xlsx"),
            source: std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied"),
        }
        .into();

        assert_eq!(error.class(), ErrorClass::Io);
        assert_eq!(
            error.to_string(),
            "cannot replace /out/ashby.xlsx with the new workbook; close it if Excel has it \
             open: denied"
        );
    }

    #[test]
    fn limits_are_destination_errors() {
        let error: ashflow_core::Error =
            ExcelError::TooManyColumns { dataset: "wide".into(), columns: 20_000 }.into();

        assert_eq!(error.class(), ErrorClass::Destination);
        assert!(error.to_string().contains("20000 columns"), "{error}");
    }
}
