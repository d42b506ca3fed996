//! The replica as what datasets are made from: its records per entity and a read-only SQL
//! connection for `sql` datasets.

use ashflow_core::Record;

use super::DatasetInputs;
use crate::error::RunnerError;
use crate::replica::Replica;

impl DatasetInputs for Replica {
    fn records(&self, source: &str, entity: &str) -> Result<Vec<Record>, RunnerError> {
        self.read_all(source, entity)
    }

    fn sql_connection(&self) -> Result<rusqlite::Connection, RunnerError> {
        self.read_only_connection()
    }
}
