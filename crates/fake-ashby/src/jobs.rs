//! Jobs and their job postings: about one job per 40 candidates (at least 12), in every
//! status including Draft, each with a hiring team, custom fields and, when open, postings.
//!
//! Jobs are written as JSON text (they carry the same custom field values as candidates);
//! postings, a few hundred at most, as `serde_json::Value` trees. The returned [`JobRef`]s are
//! what applications, schedules and offers refer to.

use serde_json::{Value, json};

use crate::catalog::Catalog;
use crate::custom_values::custom_fields;
use crate::entity::Entity;
use crate::filters::Meta;
use crate::generator::{
    ANCHOR_MS, DAY_MS, Dice, Emit, Emitted, HOUR_MS, YEAR_MS, date_only, not_after_anchor,
    pick_where, timestamp, truncate_millis,
};
use crate::json::{Arr, Obj};
use crate::pools::JOB_TITLES;

/// A job as applications, postings and offers see it.
pub(crate) struct JobRef {
    pub id: String,
    pub status: &'static str,
    pub location: usize,
    pub plan: usize,
    pub opened: Option<i64>,
    pub closed: Option<i64>,
    pub recruiter: usize,
    /// The `hiringTeam` array (JSON text).
    pub hiring_team: String,
    pub opening_id: String,
    /// The `job` shape applications embed (JSON text).
    pub embedded: String,
    pub postings: Vec<PostingRef>,
}

pub(crate) struct PostingRef {
    pub id: String,
    pub listed: bool,
}

/// Jobs: about one per 40 candidates, at least 12; every status including Draft.
pub(crate) fn jobs(
    dice: &mut Dice,
    catalog: &Catalog,
    candidates: usize,
    emit: Emit<'_>,
) -> Vec<JobRef> {
    let count = (candidates / 40).max(12);
    let brand_id = dice.uuid();
    (0..count).map(|index| job(dice, catalog, index, &brand_id, emit)).collect()
}

fn job(dice: &mut Dice, catalog: &Catalog, index: usize, brand_id: &str, emit: Emit<'_>) -> JobRef {
    let status = match index % 7 {
        3 => "Draft",
        0 | 4 => "Closed",
        5 => "Archived",
        _ => "Open",
    };
    let id = dice.uuid();
    let title = dice.pick(JOB_TITLES).to_string();
    let department = pick_where(dice, catalog.departments.len(), |at| {
        catalog.departments[at].archived == (status == "Archived" && index.is_multiple_of(2))
    });
    let location = pick_where(dice, catalog.locations.len(), |at| {
        let candidate = &catalog.locations[at];
        !candidate.hierarchy && candidate.archived == (status != "Open" && index.is_multiple_of(3))
    });
    let plan = dice.below(catalog.plans.len());
    let created = ANCHOR_MS - dice.between(30 * DAY_MS, 3 * YEAR_MS);
    let opened = (status != "Draft").then(|| created + dice.between(HOUR_MS, 20 * DAY_MS));
    let closed = match (status, opened) {
        ("Closed" | "Archived", Some(opened)) => {
            Some((opened + dice.between(30 * DAY_MS, 300 * DAY_MS)).min(ANCHOR_MS - DAY_MS))
        }
        _ => None,
    };
    let last_change = closed.or(opened).unwrap_or(created);
    let updated = not_after_anchor(last_change + dice.between(0, 10 * DAY_MS), last_change);

    let team = hiring_team(dice, catalog);
    let recruiter = team[0].0;
    let mut members = Arr::new();
    for (user, role) in &team {
        members.raw(&team_member(catalog, *user, role));
    }
    let hiring_team = members.finish();
    let postings = postings_for(dice, status, index);
    let opening_id = dice.uuid();
    let department_id = &catalog.departments[department].id;
    let location_id = &catalog.locations[location].id;
    let plan_id = &catalog.plans[plan].id;
    let mut plan_ids = Arr::new();
    plan_ids.str(plan_id);
    if index % 6 == 1 {
        plan_ids.str(&catalog.plans[(plan + 1) % catalog.plans.len()].id);
    }
    let mut posting_ids = Arr::new();
    for posting in &postings {
        posting_ids.str(&posting.id);
    }
    let employment =
        ["FullTime", "FullTime", "FullTime", "PartTime", "Contract", "Intern", "Temporary"];
    let millis = index % 5 != 2;

    let mut record = Obj::with_capacity(2048);
    record
        .str("id", &id)
        .str("title", &title)
        .bool("confidential", index % 11 == 10)
        .str("status", status)
        .str("employmentType", employment[index % employment.len()])
        .str("locationId", location_id)
        .str("departmentId", department_id)
        .str("defaultInterviewPlanId", plan_id)
        .raw("interviewPlanIds", &plan_ids.finish())
        .raw("customFields", &custom_fields(dice, catalog, "Job", index, created))
        .raw("jobPostingIds", &posting_ids.finish());
    match index % 4 {
        // Requisition codes are customer-chosen text; leading zeros must survive.
        0 => record.str("customRequisitionId", &format!("{:06}", 100 + index)),
        1 => record.str("customRequisitionId", &format!("REQ-{index:04}")),
        2 => record.null("customRequisitionId"),
        _ => &mut record,
    };
    record
        .opt_str("brandId", (index.is_multiple_of(3)).then_some(brand_id))
        .raw("hiringTeam", &hiring_team)
        .raw("author", &catalog.users[recruiter].embedded)
        .str("createdAt", &timestamp(created, millis))
        .str("updatedAt", &timestamp(updated, millis))
        .opt_str("openedAt", opened.map(|at| timestamp(at, millis)).as_deref())
        .opt_str("closedAt", closed.map(|at| timestamp(at, millis)).as_deref());
    let meta = Meta {
        status: Some(status.into()),
        opened_ms: opened.map(|at| truncate_millis(at, millis)),
        closed_ms: closed.map(|at| truncate_millis(at, millis)),
        ..Meta::default()
    };
    emit(Entity::Jobs, Emitted::Text { id: id.clone(), json: record.finish(), meta });

    for (number, posting) in postings.iter().enumerate() {
        let posting_record = job_posting(
            dice,
            catalog,
            posting,
            (&id, &title, opened.unwrap_or(created), updated),
            (department, location, index + number),
        );
        emit(Entity::JobPostings, Emitted::Tree(posting_record));
    }

    let mut embedded = Obj::with_capacity(200);
    embedded
        .str("id", &id)
        .str("title", &title)
        .str("locationId", location_id)
        .str("departmentId", department_id);
    JobRef {
        id,
        status,
        location,
        plan,
        opened,
        closed,
        recruiter,
        hiring_team,
        opening_id,
        embedded: embedded.finish(),
        postings,
    }
}

/// Two to four team members: a recruiter (always enabled) first, then other roles.
fn hiring_team(dice: &mut Dice, catalog: &Catalog) -> Vec<(usize, &'static str)> {
    let users = catalog.users.len();
    let recruiter = pick_where(dice, users, |at| catalog.users[at].enabled);
    let mut team = vec![(recruiter, "Recruiter"), (dice.below(users), "Hiring Manager")];
    if dice.chance(0.5) {
        team.push((dice.below(users), "Coordinator"));
    }
    if dice.chance(0.2) {
        team.push((dice.below(users), "Sourcer"));
    }
    team
}

fn team_member(catalog: &Catalog, user: usize, role: &str) -> String {
    let user = &catalog.users[user];
    Obj::with_capacity(160)
        .str("email", &user.email)
        .str("firstName", &user.first)
        .str("lastName", &user.last)
        .str("role", role)
        .str("userId", &user.id)
        .finish()
}

/// Open jobs have one or two postings (most listed); some closed jobs keep an unlisted one.
fn postings_for(dice: &mut Dice, status: &str, index: usize) -> Vec<PostingRef> {
    let count = match status {
        "Open" if index % 5 == 1 => 2,
        "Open" => 1,
        "Closed" if index.is_multiple_of(3) => 1,
        _ => 0,
    };
    (0..count)
        .map(|number| PostingRef {
            id: dice.uuid(),
            listed: status == "Open" && index % 6 != 2 && number == 0,
        })
        .collect()
}

/// One job posting; `job` is (id, title, published at, updated at) and `place` is
/// (department index, location index, variant).
fn job_posting(
    dice: &mut Dice,
    catalog: &Catalog,
    posting: &PostingRef,
    job: (&str, &str, i64, i64),
    place: (usize, usize, usize),
) -> Value {
    let (job_id, title, published, updated) = job;
    let (department, location, variant) = place;
    let department = &catalog.departments[department];
    let location = &catalog.locations[location];
    let secondary: Vec<Value> = if variant % 4 == 1 {
        let other = pick_where(dice, catalog.locations.len(), |at| {
            !catalog.locations[at].hierarchy && catalog.locations[at].id != location.id
        });
        vec![json!(catalog.locations[other].id)]
    } else {
        Vec::new()
    };
    let employment = ["FullTime", "PartTime", "Intern", "Contract", "Temporary"];
    let board = format!("https://jobs.ashbyhq.com/example-co/{}", posting.id);
    let compensation = match variant % 3 {
        0 => json!("€70K – €90K"),
        1 => json!("$120K – $150K • 0.05% – 0.1%"),
        _ => Value::Null,
    };
    let deadline = if variant.is_multiple_of(4) {
        json!(timestamp(published + 60 * DAY_MS, true))
    } else {
        Value::Null
    };
    json!({
        "id": posting.id,
        "title": title,
        "jobId": job_id,
        "departmentName": department.top_name,
        "teamName": department.name,
        "locationName": location.name,
        "locationIds": { "primaryLocationId": location.id, "secondaryLocationIds": secondary },
        "workplaceType": location.workplace,
        "employmentType": employment[variant % employment.len()],
        "isListed": posting.listed,
        "publishedDate": date_only(published),
        "applicationDeadline": deadline,
        "externalLink": if posting.listed { json!(board) } else { Value::Null },
        "applyLink": format!("{board}/application"),
        "compensationTierSummary": compensation,
        "shouldDisplayCompensationOnJobBoard": variant % 3 != 2,
        "updatedAt": timestamp(updated, variant % 3 != 1),
    })
}
