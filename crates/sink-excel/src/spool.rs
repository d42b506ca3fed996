//! A temporary file holding one dataset's prepared rows until the dataset ends.
//!
//! An Excel table's range (and whether the sheet gets a table at all) must be known before its
//! header is written, and a dataset's sheets should share one set of column widths, but rows
//! arrive in batches of unknown number. Adding the table after the rows works in
//! constant-memory mode only by rewriting the already-flushed header, which the library ignores
//! with a line on stderr per column. So rows wait here, in a compact binary form on disk, and
//! are replayed into the worksheets when the dataset ends; memory stays flat either way.
//!
//! The file is anonymous (`tempfile::tempfile_in`): the operating system removes it when it is
//! closed, even when the run is killed.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};
use std::path::Path;

use chrono::NaiveDate;

use crate::values::SheetValue;

const EMPTY: u8 = 0;
const TEXT: u8 = 1;
const NUMBER: u8 = 2;
const BOOLEAN: u8 = 3;
const DATE_TIME: u8 = 4;
const DATE: u8 = 5;

/// Rows of one sheet being written to a temporary file.
#[derive(Debug)]
pub(crate) struct Spool {
    writer: BufWriter<File>,
    rows: u64,
}

impl Spool {
    /// An empty spool in `folder`.
    pub(crate) fn create(folder: &Path) -> io::Result<Self> {
        let file = tempfile::tempfile_in(folder)?;
        Ok(Spool { writer: BufWriter::new(file), rows: 0 })
    }

    /// How many rows the spool holds.
    pub(crate) fn rows(&self) -> u64 {
        self.rows
    }

    /// Appends one row.
    pub(crate) fn push_row(&mut self, row: &[SheetValue]) -> io::Result<()> {
        for value in row {
            encode(&mut self.writer, value)?;
        }
        self.rows += 1;
        Ok(())
    }

    /// Finishes writing and returns a reader of the rows, in order, each `columns` wide.
    pub(crate) fn into_reader(self, columns: usize) -> io::Result<SpoolReader> {
        let mut file = self.writer.into_inner().map_err(io::IntoInnerError::into_error)?;
        file.rewind()?;
        Ok(SpoolReader { reader: BufReader::new(file), columns, rows_left: self.rows })
    }
}

/// The rows of a finished [`Spool`].
#[derive(Debug)]
pub(crate) struct SpoolReader {
    reader: BufReader<File>,
    columns: usize,
    rows_left: u64,
}

impl SpoolReader {
    /// Reads the next row into `row`, replacing its contents; false after the last row.
    pub(crate) fn next_row(&mut self, row: &mut Vec<SheetValue>) -> io::Result<bool> {
        if self.rows_left == 0 {
            return Ok(false);
        }
        row.clear();
        for _ in 0..self.columns {
            row.push(decode(&mut self.reader)?);
        }
        self.rows_left -= 1;
        Ok(true)
    }
}

fn encode(out: &mut impl Write, value: &SheetValue) -> io::Result<()> {
    match value {
        SheetValue::Empty => out.write_all(&[EMPTY]),
        SheetValue::Text(text) => {
            out.write_all(&[TEXT])?;
            let length =
                u32::try_from(text.len()).map_err(|_| invalid("text too long to spool"))?;
            out.write_all(&length.to_le_bytes())?;
            out.write_all(text.as_bytes())
        }
        SheetValue::Number(number) => {
            out.write_all(&[NUMBER])?;
            out.write_all(&number.to_bits().to_le_bytes())
        }
        SheetValue::Boolean(boolean) => out.write_all(&[BOOLEAN, u8::from(*boolean)]),
        SheetValue::DateTime(instant) => {
            let utc = instant.and_utc();
            out.write_all(&[DATE_TIME])?;
            out.write_all(&utc.timestamp().to_le_bytes())?;
            out.write_all(&utc.timestamp_subsec_nanos().to_le_bytes())
        }
        SheetValue::Date(date) => {
            out.write_all(&[DATE])?;
            out.write_all(&date.to_epoch_days().to_le_bytes())
        }
    }
}

fn decode(input: &mut impl Read) -> io::Result<SheetValue> {
    let value = match read_array::<1>(input)?[0] {
        EMPTY => SheetValue::Empty,
        TEXT => {
            let length = u32::from_le_bytes(read_array(input)?) as usize;
            let mut bytes = vec![0; length];
            input.read_exact(&mut bytes)?;
            SheetValue::Text(String::from_utf8(bytes).map_err(|_| invalid("spooled text"))?)
        }
        NUMBER => SheetValue::Number(f64::from_bits(u64::from_le_bytes(read_array(input)?))),
        BOOLEAN => SheetValue::Boolean(read_array::<1>(input)?[0] != 0),
        DATE_TIME => {
            let seconds = i64::from_le_bytes(read_array(input)?);
            let nanos = u32::from_le_bytes(read_array(input)?);
            let instant = chrono::DateTime::from_timestamp(seconds, nanos)
                .ok_or_else(|| invalid("spooled timestamp"))?;
            SheetValue::DateTime(instant.naive_utc())
        }
        DATE => {
            let days = i32::from_le_bytes(read_array(input)?);
            let date = NaiveDate::from_epoch_days(days).ok_or_else(|| invalid("spooled date"))?;
            SheetValue::Date(date)
        }
        _ => return Err(invalid("spooled value tag")),
    };
    Ok(value)
}

fn read_array<const N: usize>(input: &mut impl Read) -> io::Result<[u8; N]> {
    let mut bytes = [0; N];
    input.read_exact(&mut bytes)?;
    Ok(bytes)
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("corrupt sheet spool: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_come_back_exactly_as_written() {
        let folder = tempfile::tempdir().unwrap();
        let instant = chrono::DateTime::from_timestamp(1_700_000_000, 123_000_000).unwrap();
        let rows = vec![
            vec![
                SheetValue::Text("000123".into()),
                SheetValue::Number(-0.5),
                SheetValue::Boolean(true),
                SheetValue::DateTime(instant.naive_utc()),
                SheetValue::Date(NaiveDate::from_ymd_opt(1900, 1, 1).unwrap()),
            ],
            vec![
                SheetValue::Empty,
                SheetValue::Text("שלום 😀".into()),
                SheetValue::Boolean(false),
                SheetValue::Empty,
                SheetValue::Text(String::new()),
            ],
        ];

        let mut spool = Spool::create(folder.path()).unwrap();
        for row in &rows {
            spool.push_row(row).unwrap();
        }
        assert_eq!(spool.rows(), 2);

        let mut reader = spool.into_reader(5).unwrap();
        let mut row = Vec::new();
        let mut read = Vec::new();
        while reader.next_row(&mut row).unwrap() {
            read.push(row.clone());
        }
        assert_eq!(read, rows);
    }

    #[test]
    fn the_spool_leaves_no_file_behind() {
        let folder = tempfile::tempdir().unwrap();
        let mut spool = Spool::create(folder.path()).unwrap();
        spool.push_row(&[SheetValue::Number(1.0)]).unwrap();

        assert_eq!(std::fs::read_dir(folder.path()).unwrap().count(), 0);
    }
}
