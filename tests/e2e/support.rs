//! Shared helpers of the end-to-end tests: a fake Ashby account, spec files in a temporary
//! folder, and readers for the outputs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ashflow_fake_ashby::{ENTITIES, FakeAshby, FakeConfig};
use ashflow_runner::{RunOptions, RunSummary, run_spec};
use calamine::{Data, Reader, Xlsx, open_workbook};
use serde_json::Value;

/// The key the fake accepts in every test.
pub(crate) const KEY: &str = "e2e-key";

/// A fake account small enough to be quick and paged finely enough that every paginated
/// entity needs several pages.
pub(crate) async fn small_account() -> FakeAshby {
    FakeAshby::start(FakeConfig {
        seed: 7,
        candidates: 120,
        api_key: KEY.into(),
        max_page_size: 4,
        ..FakeConfig::default()
    })
    .await
    .expect("the fake starts")
}

/// A temporary folder holding a spec that sends every entity of `fake` to both sinks.
pub(crate) struct Workspace {
    pub(crate) dir: tempfile::TempDir,
}

impl Workspace {
    pub(crate) fn new() -> Self {
        Workspace { dir: tempfile::tempdir().expect("a temporary folder") }
    }

    pub(crate) fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// Writes `spec.toml` with the quickstart's shape, a literal key, and `extra_source` lines
    /// appended to the source table.
    pub(crate) fn write_spec(&self, base_url: &str, key: &str, extra_source: &str) -> PathBuf {
        let text = format!(
            "[sources.ashby]\ntype = \"ashby\"\napi_key = \"{key}\"\nbase_url = \"{base_url}\"\n\
             {extra_source}\n\n[sinks.workbook]\ntype = \"excel\"\npath = \"out/ashby.xlsx\"\n\n\
             [sinks.ai]\ntype = \"ai_json\"\npath = \"out/ai\"\n"
        );
        self.write("spec.toml", &text)
    }

    pub(crate) fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).expect("the spec is written");
        path
    }

    pub(crate) async fn run(&self, spec: &Path) -> RunSummary {
        run_spec(spec, &RunOptions::default()).await.expect("the spec is valid")
    }

    pub(crate) fn workbook(&self) -> Workbook {
        Workbook::open(&self.path("out/ashby.xlsx"))
    }
}

/// Every sheet of a workbook, read back with calamine.
pub(crate) struct Workbook {
    pub(crate) sheets: BTreeMap<String, Vec<Vec<Data>>>,
    pub(crate) order: Vec<String>,
    pub(crate) formulas: usize,
}

impl Workbook {
    pub(crate) fn open(path: &Path) -> Self {
        let mut workbook: Xlsx<_> = open_workbook(path).expect("the workbook opens");
        let order = workbook.sheet_names();
        let mut sheets = BTreeMap::new();
        let mut formulas = 0;
        for name in &order {
            let range = workbook.worksheet_range(name).expect("the sheet reads");
            sheets.insert(name.clone(), range.rows().map(<[Data]>::to_vec).collect());
            let formula_range = workbook.worksheet_formula(name).expect("formulas read");
            formulas += formula_range.used_cells().filter(|(_, _, f)| !f.is_empty()).count();
        }
        Workbook { sheets, order, formulas }
    }

    /// The rows of a sheet below its header.
    pub(crate) fn rows(&self, sheet: &str) -> &[Vec<Data>] {
        &self.sheets[sheet][1..]
    }

    /// The index of a header in a sheet.
    pub(crate) fn column(&self, sheet: &str, header: &str) -> usize {
        self.sheets[sheet][0]
            .iter()
            .position(|cell| matches!(cell, Data::String(s) if s == header))
            .unwrap_or_else(|| panic!("{sheet} has a column {header}"))
    }

    /// The text of every cell of one column, in row order.
    pub(crate) fn texts(&self, sheet: &str, header: &str) -> Vec<String> {
        let index = self.column(sheet, header);
        self.rows(sheet)
            .iter()
            .map(|row| row.get(index).map(cell_text).unwrap_or_default())
            .collect()
    }
}

pub(crate) fn cell_text(cell: &Data) -> String {
    match cell {
        Data::String(s) => s.clone(),
        Data::Empty => String::new(),
        other => other.to_string(),
    }
}

/// The 14 entity names.
pub(crate) fn entity_names() -> Vec<&'static str> {
    ENTITIES.iter().map(|(entity, _, _)| *entity).collect()
}

/// The sorted ids of the fake's records of `entity`.
pub(crate) fn fake_ids(fake: &FakeAshby, entity: &str) -> Vec<String> {
    let mut ids: Vec<String> = fake
        .records(entity)
        .iter()
        .map(|record| record["id"].as_str().expect("ids are strings").to_string())
        .collect();
    ids.sort();
    ids
}

/// The sorted ids of a sheet, failing if any id appears twice.
pub(crate) fn sheet_ids(workbook: &Workbook, sheet: &str) -> Vec<String> {
    let mut ids = workbook.texts(sheet, "id");
    ids.sort();
    let before = ids.len();
    ids.dedup();
    assert_eq!(before, ids.len(), "{sheet} has duplicated ids");
    ids
}

/// The records of one dataset of the AI folder, across its part files.
pub(crate) fn ai_records(folder: &Path, dataset: &str) -> Vec<Value> {
    let mut parts: Vec<PathBuf> = std::fs::read_dir(folder)
        .expect("the AI folder exists")
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
            name == format!("{dataset}.jsonl") || name.starts_with(&format!("{dataset}.part-"))
        })
        .collect();
    parts.sort();
    parts
        .iter()
        .flat_map(|part| {
            std::fs::read_to_string(part)
                .expect("the part reads")
                .lines()
                .map(|line| serde_json::from_str(line).expect("each line is JSON"))
                .collect::<Vec<Value>>()
        })
        .collect()
}
