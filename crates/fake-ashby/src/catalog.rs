//! The organisation's lookup data: users, departments, locations, sources, archive reasons,
//! candidate tags, custom field definitions, interview plans, interviews and feedback forms.
//!
//! These are small, fixed-size lists (users grow slowly with scale) that the per-candidate
//! records refer to. Each builder emits the entity's records and returns skeletons: the ids and
//! the embedded shapes (a user inside `hiringTeam`, a source inside an application) that later
//! records copy, so references are consistent by construction. Every list contains archived
//! or deactivated members, because a complete export must ask for them explicitly.

use serde_json::{Map, Value, json};

use crate::entity::Entity;
use crate::generator::{ANCHOR_MS, DAY_MS, Dice, Emit, Emitted, YEAR_MS, timestamp};
use crate::pools::{FIRST_NAMES, LAST_NAMES, ascii_slug};

/// A user as other records embed it.
pub(crate) struct UserRef {
    pub id: String,
    pub first: String,
    pub last: String,
    pub email: String,
    pub enabled: bool,
    /// The user shape of §7.14 without `managerId`, as `author`/`creditedToUser` embed it
    /// (JSON text).
    pub embedded: String,
}

/// A department or team.
pub(crate) struct DepartmentRef {
    pub id: String,
    pub name: String,
    /// The name of the top-level department above it (its own name when it is top-level).
    pub top_name: String,
    pub archived: bool,
}

/// A location or location-hierarchy node.
pub(crate) struct LocationRef {
    pub id: String,
    pub name: String,
    pub archived: bool,
    pub hierarchy: bool,
    pub workplace: Option<&'static str>,
}

/// A record shape other records embed (JSON text), with its archived flag.
pub(crate) struct Embedded {
    pub json: String,
    pub archived: bool,
}

/// One custom field definition.
pub(crate) struct CustomFieldDef {
    pub id: String,
    pub title: &'static str,
    pub object_type: &'static str,
    pub field_type: &'static str,
    pub private: bool,
    pub archived: bool,
    /// (label, value) of select options.
    pub options: &'static [(&'static str, &'static str)],
}

/// One stage of an interview plan.
pub(crate) struct StageRef {
    pub id: String,
    /// The `currentInterviewStage` shape (JSON text).
    pub embedded: String,
}

/// An interview plan: its id and its stages in the order of [`STAGE_KINDS`].
pub(crate) struct PlanRef {
    pub id: String,
    pub stages: Vec<StageRef>,
}

/// An interview of the interview catalogue.
pub(crate) struct InterviewRef {
    pub id: String,
    /// The stage kind (index into [`STAGE_KINDS`]) whose schedules use this interview.
    pub stage: usize,
    /// The `interview` shape embedded in interview events (JSON text).
    pub embedded: String,
}

/// Everything per-candidate records refer to.
pub(crate) struct Catalog {
    pub users: Vec<UserRef>,
    pub departments: Vec<DepartmentRef>,
    pub locations: Vec<LocationRef>,
    pub sources: Vec<Embedded>,
    pub archive_reasons: Vec<Embedded>,
    pub tags: Vec<Embedded>,
    pub custom_fields: Vec<CustomFieldDef>,
    pub plans: Vec<PlanRef>,
    pub interviews: Vec<InterviewRef>,
    /// `interviewerPool` objects (JSON text); most interviewers have none.
    pub pools: Vec<String>,
}

/// Stage kinds of every plan: (title, type, orderInInterviewPlan).
pub(crate) const STAGE_KINDS: [(&str, &str, i64); 8] = [
    ("Lead", "Lead", 0),
    ("Application Review", "PreInterviewScreen", 1),
    ("Recruiter Screen", "Active", 2),
    ("Technical Interview", "Active", 3),
    ("Onsite", "Active", 4),
    ("Offer", "Offer", 5),
    ("Hired", "Hired", 6),
    ("Archived", "Archived", 1000),
];

/// Indexes into [`STAGE_KINDS`].
pub(crate) const STAGE_LEAD: usize = 0;
pub(crate) const STAGE_SCREEN: usize = 2;
pub(crate) const STAGE_OFFER: usize = 5;
pub(crate) const STAGE_HIRED: usize = 6;
pub(crate) const STAGE_ARCHIVED: usize = 7;

/// Builds and emits every lookup entity.
pub(crate) fn build(dice: &mut Dice, candidates: usize, emit: Emit<'_>) -> Catalog {
    let users = users(dice, candidates, emit);
    let departments = departments(dice, emit);
    let locations = locations(dice, emit);
    let sources = sources(dice, emit);
    let archive_reasons = archive_reasons(dice, emit);
    let tags = tags(dice, emit);
    let custom_fields = custom_fields(dice, emit);
    let plans = plans(dice);
    let interviews = interviews_and_forms(dice, emit);
    let pools = pools(dice, &users);
    Catalog {
        users,
        departments,
        locations,
        sources,
        archive_reasons,
        tags,
        custom_fields,
        plans,
        interviews,
        pools,
    }
}

/// About 60 users, growing to 200 with scale; every tenth is deactivated.
fn users(dice: &mut Dice, candidates: usize, emit: Emit<'_>) -> Vec<UserRef> {
    let count = (60 + candidates / 150).min(200);
    let mut taken = std::collections::HashSet::new();
    let mut users: Vec<UserRef> = Vec::with_capacity(count);
    for index in 0..count {
        let first = dice.pick(FIRST_NAMES).to_string();
        let last = dice.pick(LAST_NAMES).to_string();
        let mut email = format!("{}.{}@example.com", ascii_slug(&first), ascii_slug(&last));
        if !taken.insert(email.clone()) {
            email = format!("{}.{}{index}@example.com", ascii_slug(&first), ascii_slug(&last));
            taken.insert(email.clone());
        }
        let role = match index {
            0 => "Organization Admin",
            _ if index % 9 == 1 => "Organization Admin",
            _ if index % 13 == 7 => "External Recruiter",
            _ if index % 5 == 2 => "Elevated Access",
            _ => "Limited Access",
        };
        let enabled = index % 10 != 9;
        let updated = ANCHOR_MS - dice.between(DAY_MS, 3 * YEAR_MS);
        let id = dice.uuid();
        let embedded = json!({
            "id": id, "firstName": first, "lastName": last, "email": email,
            "globalRole": role, "isEnabled": enabled,
            "updatedAt": timestamp(updated, index % 4 != 3),
        });
        let manager = (index > 0 && !index.is_multiple_of(5))
            .then(|| users[dice.below(index.min(8))].id.clone());
        let mut record = embedded.clone();
        record["managerId"] = json!(manager);
        emit(Entity::Users, Emitted::Tree(record));
        let embedded = embedded.to_string();
        users.push(UserRef { id, first, last, email, enabled, embedded });
    }
    users
}

/// (name, parent name, archived, externalName).
const DEPARTMENTS: &[(&str, Option<&str>, bool, Option<&str>)] = &[
    ("Engineering", None, false, Some("Engineering")),
    ("Platform Team", Some("Engineering"), false, None),
    ("Developer Experience", Some("Platform Team"), false, Some("DevEx")),
    ("Data", Some("Engineering"), false, Some("Data & AI")),
    ("Mobile", Some("Engineering"), false, None),
    ("Security", Some("Engineering"), false, None),
    ("Product", None, false, Some("Product")),
    ("Design", Some("Product"), false, Some("Design")),
    ("Sales", None, false, Some("Sales")),
    ("Sales – DACH", Some("Sales"), false, Some("Vertrieb DACH")),
    ("Sales EMEA", Some("Sales"), false, None),
    ("Sales Ops (old)", Some("Sales"), true, None),
    ("Marketing", None, false, Some("Marketing")),
    ("Customer Success", None, false, None),
    ("People", None, false, Some("People & Culture")),
    ("Talent Acquisition", Some("People"), false, None),
    ("Finance", None, false, Some("Finance")),
    ("Legal", None, false, None),
    ("Operations", None, false, Some("Ops")),
    ("Forschung & Entwicklung", None, false, Some("R&D")),
    ("Legacy Growth", None, true, Some("Growth")),
    ("Growth Experiments", Some("Legacy Growth"), true, None),
];

fn departments(dice: &mut Dice, emit: Emit<'_>) -> Vec<DepartmentRef> {
    let mut made: Vec<DepartmentRef> = Vec::with_capacity(DEPARTMENTS.len());
    for (index, (name, parent, archived, external)) in DEPARTMENTS.iter().enumerate() {
        let id = dice.uuid();
        let parent_ref = parent.and_then(|parent| made.iter().find(|dept| dept.name == parent));
        let parent_id = parent_ref.map(|dept| dept.id.clone());
        let top_name = parent_ref.map_or_else(|| name.to_string(), |dept| dept.top_name.clone());
        let created = ANCHOR_MS - 3 * YEAR_MS + dice.between(0, 120 * DAY_MS);
        let updated = created + dice.between(0, 2 * YEAR_MS);
        let mut record = Map::new();
        record.insert("id".into(), json!(id));
        record.insert("name".into(), json!(name));
        // Absent, null and present externalName all occur in real accounts.
        match (external, index % 3) {
            (Some(external), _) => record.insert("externalName".into(), json!(external)),
            (None, 0) => None,
            (None, _) => record.insert("externalName".into(), Value::Null),
        };
        record.insert("isArchived".into(), json!(archived));
        record.insert("parentId".into(), json!(parent_id));
        record.insert("createdAt".into(), json!(timestamp(created, true)));
        record.insert("updatedAt".into(), json!(timestamp(updated, index % 5 != 4)));
        emit(Entity::Departments, Emitted::Tree(Value::Object(record)));
        made.push(DepartmentRef { id, name: name.to_string(), top_name, archived: *archived });
    }
    made
}

/// A location row: (name, parent, archived, workplaceType, isRemote, address).
type LocationRow =
    (&'static str, Option<&'static str>, bool, Option<&'static str>, bool, Option<PostalAddress>);

/// (country, region, locality, postal code, street); `None` parts are left out of the record.
type PostalAddress = (
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
);

/// Hierarchy nodes come first (parents before children); offices point at a region.
const REGIONS: &[(&str, Option<&str>, bool)] = &[
    ("EMEA", None, false),
    ("DACH", Some("EMEA"), false),
    ("AMER", None, false),
    ("APAC", None, false),
    ("LATAM (retired)", None, true),
];

const LOCATIONS: &[LocationRow] = &[
    (
        "Berlin Office",
        Some("DACH"),
        false,
        Some("Hybrid"),
        false,
        Some(("Germany", Some("Berlin"), Some("Berlin"), Some("10115"), Some("Examplestraße 1"))),
    ),
    (
        "Munich (closed)",
        Some("DACH"),
        true,
        Some("OnSite"),
        false,
        Some(("Germany", Some("Bavaria"), Some("München"), Some("80331"), Some("Beispielweg 5"))),
    ),
    (
        "London",
        Some("EMEA"),
        false,
        Some("Hybrid"),
        false,
        Some(("United Kingdom", Some("England"), Some("London"), Some("EC1A 1BB"), None)),
    ),
    (
        "Paris",
        Some("EMEA"),
        false,
        Some("OnSite"),
        false,
        Some((
            "France",
            Some("Île-de-France"),
            Some("Paris"),
            Some("75002"),
            Some("12 Rue d'Exemple"),
        )),
    ),
    (
        "Tel Aviv",
        Some("EMEA"),
        false,
        Some("Hybrid"),
        false,
        Some(("Israel", None, Some("תל אביב"), Some("6100000"), None)),
    ),
    (
        "Dubai",
        Some("EMEA"),
        false,
        Some("OnSite"),
        false,
        Some(("United Arab Emirates", None, Some("دبي"), None, None)),
    ),
    (
        "New York",
        Some("AMER"),
        false,
        Some("Hybrid"),
        false,
        Some((
            "United States",
            Some("New York"),
            Some("New York"),
            Some("10001"),
            Some("350 Example Ave"),
        )),
    ),
    (
        "San Francisco",
        Some("AMER"),
        false,
        Some("OnSite"),
        false,
        Some(("United States", Some("California"), Some("San Francisco"), Some("94105"), None)),
    ),
    (
        "Boston",
        Some("AMER"),
        false,
        Some("Hybrid"),
        false,
        Some((
            "United States",
            Some("Massachusetts"),
            Some("Boston"),
            Some("02110"),
            Some("1 Example Wharf"),
        )),
    ),
    (
        "Cambridge Lab",
        Some("AMER"),
        false,
        Some("OnSite"),
        false,
        Some(("United States", Some("Massachusetts"), Some("Cambridge"), Some("02139"), None)),
    ),
    (
        "Austin Office (old)",
        Some("AMER"),
        true,
        Some("OnSite"),
        false,
        Some(("United States", Some("Texas"), Some("Austin"), Some("73301"), None)),
    ),
    (
        "Toronto",
        Some("AMER"),
        false,
        Some("Hybrid"),
        false,
        Some(("Canada", Some("Ontario"), Some("Toronto"), Some("M5V 2T6"), None)),
    ),
    (
        "São Paulo",
        Some("AMER"),
        false,
        Some("Hybrid"),
        false,
        Some(("Brazil", Some("SP"), Some("São Paulo"), Some("01310-100"), None)),
    ),
    (
        "Tokyo",
        Some("APAC"),
        false,
        Some("OnSite"),
        false,
        Some(("Japan", Some("東京都"), Some("千代田区"), Some("100-0001"), None)),
    ),
    (
        "Singapore",
        Some("APAC"),
        false,
        Some("Hybrid"),
        false,
        Some(("Singapore", None, None, Some("018956"), None)),
    ),
    (
        "Bengaluru",
        Some("APAC"),
        false,
        Some("Hybrid"),
        false,
        Some(("India", Some("Karnataka"), Some("Bengaluru"), Some("560001"), None)),
    ),
    ("Remote - Europe", Some("EMEA"), false, Some("Remote"), true, None),
    (
        "Remote - US",
        Some("AMER"),
        false,
        Some("Remote"),
        true,
        Some(("United States", None, None, None, None)),
    ),
    ("Anywhere 🌍", None, false, Some("Remote"), true, None),
];

fn locations(dice: &mut Dice, emit: Emit<'_>) -> Vec<LocationRef> {
    let mut made: Vec<LocationRef> = Vec::new();
    for (name, parent, archived) in REGIONS {
        let id = dice.uuid();
        let parent_id = parent.and_then(|parent| made.iter().find(|loc| loc.name == parent));
        let record = json!({
            "id": id, "name": name, "isArchived": archived, "isRemote": false,
            "parentLocationId": parent_id.map(|loc| loc.id.clone()), "type": "LocationHierarchy",
        });
        emit(Entity::Locations, Emitted::Tree(record));
        made.push(LocationRef {
            id,
            name: name.to_string(),
            archived: *archived,
            hierarchy: true,
            workplace: None,
        });
    }
    for (index, (name, parent, archived, workplace, remote, address)) in
        LOCATIONS.iter().enumerate()
    {
        let id = dice.uuid();
        let parent_id = parent.and_then(|parent| made.iter().find(|loc| loc.name == parent));
        let mut record = Map::new();
        record.insert("id".into(), json!(id));
        record.insert("name".into(), json!(name));
        if index % 4 == 1 {
            record.insert("externalName".into(), json!(format!("{name} (HQ)")));
        }
        record.insert("isArchived".into(), json!(archived));
        if let Some(address) = address {
            record.insert("address".into(), json!({ "postalAddress": postal_address(address) }));
        }
        record.insert("isRemote".into(), json!(remote));
        record.insert("workplaceType".into(), json!(workplace));
        record.insert("parentLocationId".into(), json!(parent_id.map(|loc| loc.id.clone())));
        record.insert("type".into(), json!("Location"));
        emit(Entity::Locations, Emitted::Tree(Value::Object(record)));
        made.push(LocationRef {
            id,
            name: name.to_string(),
            archived: *archived,
            hierarchy: false,
            workplace: *workplace,
        });
    }
    made
}

fn postal_address(address: &PostalAddress) -> Value {
    let (country, region, locality, postal_code, street) = address;
    let mut postal = Map::new();
    postal.insert("addressCountry".into(), json!(country));
    let optional = [
        ("addressRegion", region),
        ("addressLocality", locality),
        ("postalCode", postal_code),
        ("streetAddress", street),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            postal.insert(key.into(), json!(value));
        }
    }
    Value::Object(postal)
}

/// (source type title, archived).
const SOURCE_TYPES: &[(&str, bool)] = &[
    ("Inbound", false),
    ("Outbound", false),
    ("Referral", false),
    ("Agency", false),
    ("Event", false),
    ("Legacy import", true),
];

/// (title, source type index, archived).
const SOURCES: &[(&str, usize, bool)] = &[
    ("Applied", 0, false),
    ("LinkedIn", 0, false),
    ("Indeed", 0, false),
    ("Company website", 0, false),
    ("Glassdoor", 0, false),
    ("Welcome to the Jungle", 0, false),
    ("Sourced", 1, false),
    ("LinkedIn Recruiter", 1, false),
    ("GitHub", 1, false),
    ("Employee referral", 2, false),
    ("Boomerang referral", 2, false),
    ("Agency - Hays", 3, false),
    ("Agency - Michael Page", 3, false),
    ("Meetup", 4, false),
    ("University career fair", 4, false),
    ("AngelList", 0, true),
    ("Stack Overflow Jobs", 0, true),
    ("Greenhouse import", 5, true),
    ("Lever import", 5, true),
];

fn sources(dice: &mut Dice, emit: Emit<'_>) -> Vec<Embedded> {
    let types: Vec<Value> = SOURCE_TYPES
        .iter()
        .map(|(title, archived)| {
            json!({ "id": dice.uuid(), "title": title, "isArchived": archived })
        })
        .collect();
    SOURCES
        .iter()
        .map(|(title, type_index, archived)| {
            let value = json!({
                "id": dice.uuid(), "title": title, "isArchived": archived,
                "sourceType": types[*type_index],
            });
            let json = value.to_string();
            emit(Entity::Sources, Emitted::Tree(value));
            Embedded { json, archived: *archived }
        })
        .collect()
}

/// (text, reasonType, archived).
const ARCHIVE_REASONS: &[(&str, &str, bool)] = &[
    ("Not enough experience", "RejectedByOrg", false),
    ("Skills mismatch", "RejectedByOrg", false),
    ("Position filled", "RejectedByOrg", false),
    ("Failed technical assessment", "RejectedByOrg", false),
    ("Salary expectations too high", "RejectedByOrg", false),
    ("Accepted another offer", "RejectedByCandidate", false),
    ("Withdrew", "RejectedByCandidate", false),
    ("Compensation", "RejectedByCandidate", false),
    ("Relocation not possible", "RejectedByCandidate", false),
    ("Unresponsive", "Other", false),
    ("Duplicate application", "Other", false),
    ("Role closed (legacy)", "Other", true),
    ("Hiring freeze 2024", "RejectedByOrg", true),
];

fn archive_reasons(dice: &mut Dice, emit: Emit<'_>) -> Vec<Embedded> {
    ARCHIVE_REASONS
        .iter()
        .map(|(text, reason_type, archived)| {
            let mut value = json!({
                "id": dice.uuid(), "text": text, "reasonType": reason_type, "isArchived": archived,
            });
            emit(Entity::ArchiveReasons, Emitted::Tree(value.clone()));
            // Applications embed the reason with its (usually empty) custom fields.
            value["customFields"] = json!([]);
            Embedded { json: value.to_string(), archived: *archived }
        })
        .collect()
}

/// (title, archived).
const TAGS: &[(&str, bool)] = &[
    ("Referral - priority", false),
    ("Silver medalist", true),
    ("Boomerang", false),
    ("Diversity pipeline", false),
    ("Do not contact", false),
    ("Strong coder", false),
    ("Needs visa", false),
    ("Open source contributor", false),
    ("Relocating", false),
    ("🔥 Hot", false),
    ("Rückkehrer", false),
    ("再応募", false),
    ("Internal candidate", false),
    ("Event: PyCon 2024", true),
    ("Event: RustConf", false),
    ("Agency submitted", false),
    ("Passive", false),
    ("Leadership potential", false),
    ("2023 campaign", true),
    ("Hackathon winner", false),
    ("Needs follow-up", false),
    ("Legacy import", true),
];

fn tags(dice: &mut Dice, emit: Emit<'_>) -> Vec<Embedded> {
    TAGS.iter()
        .map(|(title, archived)| {
            let value = json!({ "id": dice.uuid(), "title": title, "isArchived": archived });
            let json = value.to_string();
            emit(Entity::CandidateTags, Emitted::Tree(value));
            Embedded { json, archived: *archived }
        })
        .collect()
}

const SENIORITY: &[(&str, &str)] = &[
    ("Junior", "junior"),
    ("Mid-level", "mid"),
    ("Senior", "senior"),
    ("Staff", "staff"),
    ("Principal", "principal"),
];
const TEAMS: &[(&str, &str)] = &[
    ("Platform", "platform"),
    ("Data", "data"),
    ("Mobile", "mobile"),
    ("Payments", "payments"),
    ("Growth (archived)", "growth"),
];
const PRIORITY: &[(&str, &str)] = &[("P0 – urgent", "p0"), ("P1", "p1"), ("P2", "p2")];
const CHECK_RESULT: &[(&str, &str)] =
    &[("Clear", "clear"), ("Consider", "consider"), ("Pending", "pending")];
const LEVELS: &[(&str, &str)] = &[("L3", "l3"), ("L4", "l4"), ("L5", "l5"), ("L6", "l6")];
const PROJECT_TAGS: &[(&str, &str)] = &[("Pipeline", "pipeline"), ("Nurture", "nurture")];

/// (title, objectType, fieldType, private, archived, options).
type CustomFieldRow =
    (&'static str, &'static str, &'static str, bool, bool, &'static [(&'static str, &'static str)]);

/// Every field type on candidates, applications, jobs and offers, plus definitions for the
/// other object types; some private, some archived.
const CUSTOM_FIELDS: &[CustomFieldRow] = &[
    ("Visa sponsorship needed", "Candidate", "Boolean", false, false, &[]),
    ("Referral code", "Candidate", "String", false, false, &[]),
    ("Recruiter notes", "Candidate", "LongText", false, false, &[]),
    ("Seniority", "Candidate", "ValueSelect", false, false, SENIORITY),
    ("Years of experience", "Candidate", "Number", false, false, &[]),
    ("Available from", "Candidate", "Date", false, false, &[]),
    ("Preferred teams", "Candidate", "MultiValueSelect", false, false, TEAMS),
    ("Current salary", "Candidate", "Currency", true, false, &[]),
    ("Notice period (days)", "Candidate", "NumberRange", false, false, &[]),
    ("Expected compensation", "Candidate", "CompensationRange", true, false, &[]),
    ("Background check", "Candidate", "ValueSelect", true, false, CHECK_RESULT),
    ("Legacy ATS ID", "Candidate", "String", false, true, &[]),
    ("Hiring priority", "Application", "ValueSelect", false, false, PRIORITY),
    ("Relocation needed", "Application", "Boolean", false, false, &[]),
    ("Referral bonus", "Application", "Currency", false, false, &[]),
    ("Screening summary", "Application", "LongText", false, false, &[]),
    ("Cost center", "Job", "String", false, false, &[]),
    ("Headcount budget", "Job", "Number", false, false, &[]),
    ("Salary band", "Job", "CompensationRange", false, false, &[]),
    ("Remote eligible", "Job", "Boolean", false, false, &[]),
    ("Target start", "Job", "Date", false, false, &[]),
    ("Old requisition code", "Job", "String", false, true, &[]),
    ("Target salary", "Offer", "CompensationRange", true, false, &[]),
    ("Signing bonus", "Offer", "Currency", false, false, &[]),
    ("Equity (shares)", "Offer", "Number", true, false, &[]),
    ("Level", "Offer", "ValueSelect", false, false, LEVELS),
    ("Start date flexible", "Offer", "Boolean", false, false, &[]),
    ("Offer notes", "Offer", "LongText", true, false, &[]),
    ("Opening budget code", "Opening", "String", false, false, &[]),
    ("Employee number", "Employee", "String", true, false, &[]),
    ("Project tags", "Talent_Project", "MultiValueSelect", false, false, PROJECT_TAGS),
    ("Bonus range (legacy)", "Employee", "NumberRange", false, true, &[]),
];

fn custom_fields(dice: &mut Dice, emit: Emit<'_>) -> Vec<CustomFieldDef> {
    CUSTOM_FIELDS
        .iter()
        .map(|(title, object_type, field_type, private, archived, options)| {
            let def = CustomFieldDef {
                id: dice.uuid(),
                title,
                object_type,
                field_type,
                private: *private,
                archived: *archived,
                options,
            };
            let mut record = json!({
                "id": def.id, "isPrivate": private, "title": title, "objectType": object_type,
                "isArchived": archived, "fieldType": field_type,
            });
            if !options.is_empty() {
                let last = options.len() - 1;
                let values: Vec<Value> = options
                    .iter()
                    .enumerate()
                    .map(|(at, (label, value))| {
                        // A retired option still shows on old values of multi-select fields.
                        let retired = *field_type == "MultiValueSelect" && at == last;
                        json!({ "label": label, "value": value, "isArchived": retired })
                    })
                    .collect();
                record["selectableValues"] = Value::Array(values);
            }
            emit(Entity::CustomFields, Emitted::Tree(record));
            def
        })
        .collect()
}

/// The title of the technical stage differs between plans, as different job families have.
const TECHNICAL_STAGE_TITLES: &[&str] =
    &["Technical Interview", "Case Study", "Portfolio Review", "Technical Interview"];

/// Six interview plans shared by the jobs, each with the stages of [`STAGE_KINDS`].
fn plans(dice: &mut Dice) -> Vec<PlanRef> {
    let groups: Vec<String> = STAGE_KINDS.iter().map(|_| dice.uuid()).collect();
    (0..6)
        .map(|plan_index| {
            let plan_id = dice.uuid();
            let stages = STAGE_KINDS
                .iter()
                .enumerate()
                .map(|(kind, (title, stage_type, order))| {
                    let id = dice.uuid();
                    let title = if kind == 3 {
                        TECHNICAL_STAGE_TITLES[plan_index % TECHNICAL_STAGE_TITLES.len()]
                    } else {
                        title
                    };
                    let embedded = json!({
                        "id": id, "title": title, "type": stage_type,
                        "orderInInterviewPlan": order, "interviewStageGroupId": groups[kind],
                        "interviewPlanId": plan_id,
                    });
                    StageRef { id, embedded: embedded.to_string() }
                })
                .collect();
            PlanRef { id: plan_id, stages }
        })
        .collect()
}

/// (title, externalTitle, stage kind, isDebrief, archived).
const INTERVIEWS: &[(&str, Option<&str>, usize, bool, bool)] = &[
    ("Recruiter Screen", Some("Intro call"), 2, false, false),
    ("Hiring Manager Chat", Some("Meet your manager"), 2, false, false),
    ("Technical Screen", Some("Technical Interview"), 3, false, false),
    ("Coding Exercise", Some("Pair programming"), 3, false, false),
    ("Case Study", None, 3, false, false),
    ("System Design", Some("Architecture interview"), 4, false, false),
    ("Culture Conversation", Some("Values interview"), 4, false, false),
    ("Team Lunch", None, 4, false, false),
    ("Onsite Debrief", None, 4, true, false),
    ("Reference Check", None, 5, false, false),
    ("Offer Call", None, 5, false, false),
    ("Legacy Phone Screen", None, 2, false, true),
];

/// The interview catalogue and its feedback forms: one form per interview, a default form and
/// two archived legacy forms.
fn interviews_and_forms(dice: &mut Dice, emit: Emit<'_>) -> Vec<InterviewRef> {
    let organization_id = dice.uuid();
    let mut interviews = Vec::with_capacity(INTERVIEWS.len());
    for (index, (title, external, stage, debrief, archived)) in INTERVIEWS.iter().enumerate() {
        let id = dice.uuid();
        let form_id = dice.uuid();
        let instructions = format!("Use the {title} scorecard. Be specific & kind.");
        let embedded = json!({
            "id": id, "title": title, "externalTitle": external, "isArchived": archived,
            "isDebrief": debrief,
            "instructionsHtml": format!("<p>{}</p>", instructions.replace('&', "&amp;")),
            "instructionsPlain": instructions, "jobId": Value::Null,
            "feedbackFormDefinitionId": form_id,
        });
        let form_title = format!("{title} scorecard");
        let record =
            form(dice, &form_id, &organization_id, &form_title, *archived, false, Some(&id), index);
        emit(Entity::FeedbackFormDefinitions, Emitted::Tree(record));
        interviews.push(InterviewRef { id, stage: *stage, embedded: embedded.to_string() });
    }
    let extra_forms = [
        ("Default scorecard", false, true),
        ("Old scorecard (2023)", true, false),
        ("Bewertungsbogen (alt)", true, false),
    ];
    for (offset, (title, archived, default)) in extra_forms.iter().enumerate() {
        let form_id = dice.uuid();
        let index = INTERVIEWS.len() + offset;
        let record =
            form(dice, &form_id, &organization_id, title, *archived, *default, None, index);
        emit(Entity::FeedbackFormDefinitions, Emitted::Tree(record));
    }
    interviews
}

/// A form field: (type, path, title, required, options).
type FormFieldRow =
    (&'static str, &'static str, &'static str, bool, &'static [(&'static str, &'static str)]);

/// The fields of the assessment section every form has.
const ASSESSMENT_FIELDS: &[FormFieldRow] = &[
    ("ValueSelect", "overall_recommendation", "Overall Recommendation", true, RECOMMENDATIONS),
    ("Score", "skill_score", "Skill Score (1–4)", false, &[]),
    ("RichText", "notes", "Notes", false, &[]),
];

/// The fields of the details section half of the forms have.
const DETAIL_FIELDS: &[FormFieldRow] = &[
    ("Boolean", "would_work_with", "Would you work with them?", true, &[]),
    ("Number", "years_relevant", "Years of relevant experience", false, &[]),
    ("MultiValueSelect", "strengths", "Strengths", false, STRENGTHS),
    ("Date", "earliest_start", "Earliest start", false, &[]),
];

/// The fields of the references section a third of the forms have.
const REFERENCE_FIELDS: &[FormFieldRow] = &[
    ("Email", "_systemfield_reference_email", "Reference e-mail", false, &[]),
    ("Phone", "_systemfield_reference_phone", "Reference phone", false, &[]),
    ("String", "follow_up", "Follow-up question", false, &[]),
];

fn section_fields(dice: &mut Dice, rows: &[FormFieldRow]) -> Vec<Value> {
    rows.iter()
        .map(|(field_type, path, title, required, options)| {
            form_field(dice, field_type, path, title, *required, options)
        })
        .collect()
}

/// The options of the overall recommendation field of every scorecard.
const RECOMMENDATIONS: &[(&str, &str)] = &[
    ("Strong Hire", "strong_hire"),
    ("Hire", "hire"),
    ("No Hire", "no_hire"),
    ("Strong No Hire", "strong_no_hire"),
];

/// The options of the strengths field.
const STRENGTHS: &[(&str, &str)] =
    &[("Communication", "communication"), ("Depth", "depth"), ("Speed", "speed")];

/// One feedback form definition with one to three sections.
#[allow(clippy::too_many_arguments)]
fn form(
    dice: &mut Dice,
    id: &str,
    organization_id: &str,
    title: &str,
    archived: bool,
    default: bool,
    interview_id: Option<&str>,
    index: usize,
) -> Value {
    let mut sections = vec![json!({
        "title": "Assessment",
        "descriptionHtml": "<p>Rate what you observed.</p>",
        "descriptionPlain": "Rate what you observed.",
        "fields": section_fields(dice, ASSESSMENT_FIELDS),
    })];
    if index.is_multiple_of(2) {
        sections.push(json!({ "title": "Details", "fields": section_fields(dice, DETAIL_FIELDS) }));
    }
    if index.is_multiple_of(3) {
        sections.push(json!({
            "title": "References",
            "descriptionHtml": "",
            "descriptionPlain": "",
            "fields": section_fields(dice, REFERENCE_FIELDS),
        }));
    }
    let mut record = json!({
        "id": id, "organizationId": organization_id, "title": title, "isArchived": archived,
        "isDefaultForm": default,
    });
    if let Some(interview_id) = interview_id {
        record["interviewId"] = json!(interview_id);
    } else if index.is_multiple_of(2) {
        record["interviewId"] = Value::Null;
    }
    record["formDefinition"] = json!({ "sections": sections });
    record
}

fn form_field(
    dice: &mut Dice,
    field_type: &str,
    path: &str,
    title: &str,
    required: bool,
    options: &[(&str, &str)],
) -> Value {
    let mut field = json!({
        "id": dice.uuid(), "type": field_type, "path": path, "humanReadablePath": title,
        "title": title, "isNullable": !required,
    });
    if !options.is_empty() {
        let values: Vec<Value> = options
            .iter()
            .map(|(label, value)| json!({ "label": label, "value": value }))
            .collect();
        field["selectableValues"] = Value::Array(values);
    }
    let mut entry = json!({ "isRequired": required, "field": field });
    if field_type == "RichText" {
        entry["descriptionPlain"] = json!("Evidence for your rating");
        entry["descriptionHtml"] = json!("<p>Evidence for your rating</p>");
    }
    entry
}

/// Three interviewer pools, one with a training path.
fn pools(dice: &mut Dice, users: &[UserRef]) -> Vec<String> {
    let approver: Value = serde_json::from_str(&users[0].embedded).unwrap_or(Value::Null);
    ["Backend interviewers", "Design interviewers", "Bar raisers (legacy)"]
        .iter()
        .enumerate()
        .map(|(index, title)| {
            let training_path = (index == 0).then(|| {
                json!({
                    "id": dice.uuid(), "enabled": true,
                    "trainingStages": [
                        {
                            "id": dice.uuid(), "interviewerRole": "Shadow", "interviewsRequired": 2,
                            "approvalRequired": false, "approvers": [],
                        },
                        {
                            "id": dice.uuid(), "interviewerRole": "ReverseShadow",
                            "interviewsRequired": 1, "approvalRequired": true,
                            "approvers": [approver],
                        },
                    ],
                })
            });
            let id = dice.uuid();
            let pool = json!({
                "id": id, "title": title, "isArchived": index == 2, "trainingPath": training_path,
            });
            pool.to_string()
        })
        .collect()
}
