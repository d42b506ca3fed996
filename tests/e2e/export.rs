//! The main job end to end: every entity of a paged fake account into the workbook and the AI
//! folder, checked against the fake's own data.

use std::collections::HashSet;

use ashflow_fake_ashby::ENTITIES;
use calamine::Data;

use crate::support::*;

/// Endpoints that answer in one response; every other one pages.
const UNPAGED: [&str; 3] = ["archiveReason.list", "jobPosting.list", "source.list"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_entity_reaches_both_sinks_complete_typed_and_in_creation_order() {
    let fake = small_account().await;
    let workspace = Workspace::new();
    let spec = workspace.write_spec(&fake.base_url(), KEY, "");

    let summary = workspace.run(&spec).await;
    assert_eq!(summary.exit_code(), 0, "{}", summary.render());

    for (entity, endpoint, _) in ENTITIES {
        let requests = fake.request_count(Some(endpoint));
        if UNPAGED.contains(&endpoint) {
            assert_eq!(requests, 1, "{entity} is read in one request");
        } else {
            assert!(requests >= 3, "{entity} needs several pages, took {requests}");
        }
    }

    let workbook = workspace.workbook();
    let mut expected_sheets: Vec<String> = entity_names().iter().map(|e| e.to_string()).collect();
    expected_sheets.sort();
    expected_sheets.push("Data dictionary".into());
    assert_eq!(workbook.order, expected_sheets);

    for entity in entity_names() {
        assert_eq!(sheet_ids(&workbook, entity), fake_ids(&fake, entity), "{entity} rows");
    }

    assert_creation_order(&workbook, "candidates");
    assert_creation_order(&workbook, "applications");
    assert_awkward_values_survive(&workbook);
    assert_dictionary_lists_every_column(&workbook);
    assert_ai_folder_is_complete_and_redacted(&workspace, &fake);
}

fn assert_creation_order(workbook: &Workbook, sheet: &str) {
    let created = workbook.column(sheet, "createdAt");
    let id = workbook.column(sheet, "id");
    let keys: Vec<(f64, String)> = workbook
        .rows(sheet)
        .iter()
        .map(|row| {
            let Data::DateTime(instant) = &row[created] else {
                panic!("{sheet}.createdAt is an Excel date-time, found {:?}", row[created]);
            };
            (instant.as_f64(), cell_text(&row[id]))
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    assert_eq!(keys, sorted, "{sheet} rows are in creation order, then id");
}

fn assert_awkward_values_survive(workbook: &Workbook) {
    assert_eq!(workbook.formulas, 0, "no cell is ever a formula");

    let strings: Vec<&String> = workbook
        .sheets
        .values()
        .flat_map(|rows| rows.iter().flatten())
        .filter_map(|cell| if let Data::String(s) = cell { Some(s) } else { None })
        .collect();
    assert!(strings.iter().any(|s| s.starts_with('=')), "formula-looking text is kept as text");
    assert!(strings.iter().any(|s| s.starts_with('+')), "phone-like text is kept as text");
    assert!(
        strings
            .iter()
            .any(|s| s.len() > 1 && s.starts_with('0') && s.chars().all(|c| c.is_ascii_digit())),
        "numeric strings keep their leading zeros"
    );

    let truncated: Vec<&&String> = strings.iter().filter(|s| s.contains("truncated")).collect();
    assert!(!truncated.is_empty(), "an over-long value is truncated with a visible marker");
    for value in truncated {
        assert!(value.encode_utf16().count() <= 32_767, "truncated values fit Excel's cell limit");
    }
}

fn assert_dictionary_lists_every_column(workbook: &Workbook) {
    let dictionary = &workbook.sheets["Data dictionary"];
    let header: Vec<String> = dictionary[0].iter().map(cell_text).collect();
    let sheet_column = header
        .iter()
        .position(|h| h.to_lowercase().contains("dataset") || h.to_lowercase() == "sheet")
        .expect("the dictionary names each column's sheet");
    let column_column =
        header.iter().position(|h| h.to_lowercase() == "column").expect("a column name");

    let listed: HashSet<(String, String)> = dictionary[1..]
        .iter()
        .map(|row| (cell_text(&row[sheet_column]), cell_text(&row[column_column])))
        .collect();
    for entity in entity_names() {
        for header in &workbook.sheets[entity][0] {
            let pair = (entity.to_string(), cell_text(header));
            assert!(listed.contains(&pair), "the dictionary lists {pair:?}");
        }
    }
}

fn assert_ai_folder_is_complete_and_redacted(
    workspace: &Workspace,
    fake: &ashflow_fake_ashby::FakeAshby,
) {
    let folder = workspace.path("out/ai");
    assert!(folder.join("dictionary.json").is_file());
    assert!(folder.join("README.md").is_file());

    for entity in entity_names() {
        let mut ids: Vec<String> = ai_records(&folder, entity)
            .iter()
            .map(|record| record["id"].as_str().expect("ids are strings").to_string())
            .collect();
        ids.sort();
        assert_eq!(ids, fake_ids(fake, entity), "{entity} records in the AI folder");
    }

    let emails: Vec<String> = fake
        .records("candidates")
        .iter()
        .filter_map(|c| c["primaryEmailAddress"]["value"].as_str().map(str::to_string))
        .collect();
    assert!(!emails.is_empty());
    let mut everything = String::new();
    for entry in std::fs::read_dir(&folder).expect("the folder lists").flatten() {
        everything.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
    }
    for email in emails.iter().take(50) {
        assert!(!everything.contains(email.as_str()), "{email} is redacted by default");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_the_schema_does_not_know_passes_through_and_is_described_as_such() {
    let fake = small_account().await;
    let workspace = Workspace::new();
    let spec = workspace.write_spec(&fake.base_url(), KEY, "entities = [\"candidates\"]");

    let summary = workspace.run(&spec).await;
    assert_eq!(summary.exit_code(), 0, "{}", summary.render());

    let workbook = workspace.workbook();
    assert_eq!(workbook.order, ["candidates", "Data dictionary"]);
    let statuses = workbook.texts("candidates", "fraudStatus");
    assert!(statuses.iter().all(|s| s == "Clear" || s == "Suspicious"), "{statuses:?}");
    let dictionary = &workbook.sheets["Data dictionary"];
    let row = dictionary
        .iter()
        .find(|row| row.iter().any(|cell| cell_text(cell) == "fraudStatus"))
        .expect("the dictionary lists the new column");
    assert!(row.iter().any(|cell| cell_text(cell).contains("not yet described")), "{row:?}");

    let records = ai_records(&workspace.path("out/ai"), "candidates");
    assert!(records.iter().all(|record| record["fraudStatus"].is_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exclude_leaves_entities_out_without_requesting_them() {
    let fake = small_account().await;
    let workspace = Workspace::new();
    let spec = workspace.write_spec(&fake.base_url(), KEY, "exclude = [\"offers\", \"users\"]");

    let summary = workspace.run(&spec).await;

    assert_eq!(summary.exit_code(), 0, "{}", summary.render());
    assert_eq!(fake.request_count(Some("offer.list")), 0);
    assert_eq!(fake.request_count(Some("user.list")), 0);
    let workbook = workspace.workbook();
    assert_eq!(workbook.order.len(), 12 + 1);
    assert!(!workbook.sheets.contains_key("offers") && !workbook.sheets.contains_key("users"));
}
