//! The typed schemas of the 14 Ashby streams, field by field, as `ashby-api.md` §7 documents
//! them.
//!
//! Ashby embeds the same few shapes in many records (a user, a contact entry, a custom-field
//! value, a hiring-team member, a source), so those shapes are built by the small functions at
//! the top of this file and each stream's schema below is just a list of its own fields. The
//! descriptions end up in every sink's data dictionary, so each one says what the field means
//! to a recruiting analyst, not how it is encoded.
//!
//! Fields that hold a person's contact details (e-mail addresses, phone numbers, social links,
//! a candidate's location, the IP address and browser of an application's submitter) are tagged
//! with [`Field::contact`] on their leaves, so sinks that share data with AI tools can redact
//! exactly those values.
//!
//! Fields that hold the id of a record of another stream (or of the same one) name that stream
//! with [`Field::references`], so sinks can explain how datasets link without guessing from
//! names. Only ids that some stream holds are marked: interview stages, plans, openings, files
//! and brands have no stream, and a candidate's `location.id` names a geographic place, not an
//! office of the `locations` stream. Embedded records mark their own `id` (an application's
//! `candidate.id` is a candidate's id); the stream's own primary key is never marked.

use ashflow_core::{DataType, Field};

fn string(name: &str, description: &str) -> Field {
    Field::new(name, DataType::String, description)
}

fn integer(name: &str, description: &str) -> Field {
    Field::new(name, DataType::Integer, description)
}

fn number(name: &str, description: &str) -> Field {
    Field::new(name, DataType::Number, description)
}

fn boolean(name: &str, description: &str) -> Field {
    Field::new(name, DataType::Boolean, description)
}

fn timestamp(name: &str, description: &str) -> Field {
    Field::new(name, DataType::Timestamp, description)
}

fn date(name: &str, description: &str) -> Field {
    Field::new(name, DataType::Date, description)
}

fn json(name: &str, description: &str) -> Field {
    Field::new(name, DataType::Json, description)
}

fn object(name: &str, fields: Vec<Field>, description: &str) -> Field {
    Field::new(name, DataType::Object(fields), description)
}

fn strings(name: &str, description: &str) -> Field {
    Field::new(name, DataType::Array(Box::new(DataType::String)), description)
}

fn objects(name: &str, fields: Vec<Field>, description: &str) -> Field {
    Field::new(name, DataType::Array(Box::new(DataType::Object(fields))), description)
}

fn id(description: &str) -> Field {
    string("id", description)
}

/// A string field holding the id of a record of `stream`.
fn id_of(stream: &str, name: &str, description: &str) -> Field {
    string(name, description).references(stream)
}

/// A list of ids of records of `stream`.
fn ids_of(stream: &str, name: &str, description: &str) -> Field {
    strings(name, description).references(stream)
}

/// The fields of a record of `stream` embedded in another record: its `id` refers to `stream`.
fn embedded(stream: &str, fields: Vec<Field>) -> Vec<Field> {
    fields
        .into_iter()
        .map(|field| if field.name == "id" { field.references(stream) } else { field })
        .collect()
}

fn is_archived(what: &str) -> Field {
    boolean(
        "isArchived",
        &format!("True when the {what} is archived and no longer offered for new use."),
    )
}

// Shared shapes -------------------------------------------------------------------------------

/// The fields of an Ashby user, both as a `users` record and, through [`embedded_user_fields`],
/// wherever a user is embedded (credited recruiter, author, interviewer, approver).
fn user_fields(role: &str) -> Vec<Field> {
    vec![
        id(&format!("Ashby id of the {role}.")),
        string("firstName", &format!("First name of the {role}.")),
        string("lastName", &format!("Last name of the {role}.")),
        string("email", &format!("Work e-mail address of the {role}.")).contact(),
        string(
            "globalRole",
            &format!(
                "Access level of the {role} in Ashby: Organization Admin, Elevated Access, \
                 Limited Access or External Recruiter."
            ),
        ),
        boolean("isEnabled", &format!("True while the {role}'s Ashby account is active.")),
        timestamp("updatedAt", &format!("When the {role}'s Ashby account was last changed.")),
        id_of("users", "managerId", &format!("Ashby user id of the {role}'s manager, if set.")),
    ]
}

/// A user embedded in another record, whose `id` refers to the `users` stream.
fn embedded_user_fields(role: &str) -> Vec<Field> {
    embedded("users", user_fields(role))
}

fn user(name: &str, role: &str, description: &str) -> Field {
    object(name, embedded_user_fields(role), description)
}

/// One e-mail address or phone number of a candidate.
fn contact_fields(kind: &str) -> Vec<Field> {
    vec![
        string("value", &format!("The {kind} itself.")).contact(),
        string("type", &format!("Kind of {kind}: Personal, Work or Other.")),
        boolean("isPrimary", &format!("True when this is the candidate's primary {kind}.")),
    ]
}

fn primary_email(owner: &str) -> Field {
    object(
        "primaryEmailAddress",
        contact_fields("e-mail address"),
        &format!("The {owner}'s primary e-mail address."),
    )
}

fn primary_phone(owner: &str) -> Field {
    object(
        "primaryPhoneNumber",
        contact_fields("phone number"),
        &format!("The {owner}'s primary phone number."),
    )
}

/// The custom-field values attached to a record; `value` changes type with the field's type.
fn custom_fields(owner: &str) -> Field {
    objects(
        "customFields",
        vec![
            id("Ashby id of the custom field definition (see the custom_fields dataset).")
                .references("custom_fields"),
            boolean("isPrivate", "True when the field is private and visible only to some keys."),
            string("title", "Name of the custom field as shown in Ashby."),
            json(
                "value",
                "The field's value; its JSON type depends on the field type (text, number, \
                 boolean, list of choices, currency or range object).",
            ),
            json("valueLabel", "Display label of the chosen option(s), for select fields only."),
        ],
        &format!("Values of the organization's custom fields on this {owner}."),
    )
}

/// The hiring team of a job or application: people by role, with their e-mail address.
fn hiring_team(owner: &str) -> Field {
    objects(
        "hiringTeam",
        vec![
            string("email", "Work e-mail address of the team member.").contact(),
            string("firstName", "First name of the team member."),
            string("lastName", "Last name of the team member."),
            string("role", "The member's role on the team, such as Recruiter or Hiring Manager."),
            id_of("users", "userId", "Ashby user id of the team member."),
        ],
        &format!("The people assigned to the {owner}'s hiring team, with their roles."),
    )
}

/// The fields of a candidate source, both as a `sources` record and when embedded.
fn source_fields() -> Vec<Field> {
    vec![
        id("Ashby id of the source."),
        string("title", "Name of the source, such as LinkedIn or Employee referral."),
        is_archived("source"),
        object(
            "sourceType",
            vec![
                id("Ashby id of the source type."),
                string("title", "Name of the source type, such as Inbound or Referral."),
                is_archived("source type"),
            ],
            "The group the source belongs to.",
        ),
    ]
}

/// The fields of an archive reason, as a record of its own; applications embed it with
/// custom fields added.
fn archive_reason_fields() -> Vec<Field> {
    vec![
        id("Ashby id of the archive reason."),
        string("text", "The reason as shown in Ashby, such as Accepted another offer."),
        string("reasonType", "Who ended the process: RejectedByCandidate, RejectedByOrg or Other."),
        is_archived("archive reason"),
    ]
}

fn file_handles(name: &str, description: &str) -> Field {
    objects(name, file_handle_fields(), description)
}

fn file_handle_fields() -> Vec<Field> {
    vec![
        id("Ashby id of the file."),
        string("name", "File name as uploaded."),
        string(
            "handle",
            "Opaque token that Ashby's file.info endpoint turns into a download link.",
        ),
    ]
}

fn postal_address() -> Field {
    object(
        "address",
        vec![object(
            "postalAddress",
            vec![
                string("addressCountry", "Country of the address."),
                string("addressRegion", "Region or state of the address."),
                string("addressLocality", "City of the address."),
                string("postalCode", "Postal code of the address."),
                string("streetAddress", "Street and number of the address."),
            ],
            "The office's postal address.",
        )],
        "Where the office is.",
    )
}

// Streams ------------------------------------------------------------------------------------

/// `applications`: one candidate's application to one job.
pub(crate) fn applications() -> Vec<Field> {
    vec![
        id("Ashby id of the application."),
        timestamp("createdAt", "When the application was created in Ashby."),
        timestamp("updatedAt", "When the application was last changed."),
        string("status", "Where the application stands: Active, Hired, Archived or Lead."),
        custom_fields("application"),
        object(
            "candidate",
            vec![
                id("Ashby id of the candidate (see the candidates dataset).")
                    .references("candidates"),
                string("name", "Full name of the candidate."),
                primary_email("candidate"),
                primary_phone("candidate"),
            ],
            "The candidate who applied.",
        ),
        object(
            "currentInterviewStage",
            vec![
                id("Ashby id of the interview stage."),
                string("title", "Name of the stage, such as Phone Screen or Offer."),
                string("type", "Kind of stage, such as PreInterviewScreen, Offer or Archived."),
                integer("orderInInterviewPlan", "Position of the stage in its interview plan."),
                string("interviewStageGroupId", "Ashby id of the group of stages it belongs to."),
                string("interviewPlanId", "Ashby id of the interview plan the stage is part of."),
            ],
            "The stage of the interview plan the application is in now.",
        ),
        object(
            "source",
            embedded("sources", source_fields()),
            "Where the candidate came from for this application.",
        ),
        object(
            "archiveReason",
            embedded(
                "archive_reasons",
                [archive_reason_fields(), vec![custom_fields("archive reason")]].concat(),
            ),
            "Why the application was archived, when it was.",
        ),
        timestamp("archivedAt", "When the application was archived."),
        object(
            "job",
            vec![
                id("Ashby id of the job (see the jobs dataset).").references("jobs"),
                string("title", "Title of the job."),
                id_of("locations", "locationId", "Ashby id of the job's primary location."),
                id_of("departments", "departmentId", "Ashby id of the job's department or team."),
                string("brandId", "Ashby id of the employer brand the job is published under."),
            ],
            "The job applied to.",
        ),
        user("creditedToUser", "credited user", "The Ashby user credited with this application."),
        hiring_team("application"),
        id_of(
            "job_postings",
            "appliedViaJobPostingId",
            "Ashby id of the job posting the candidate applied through.",
        ),
        string("submitterClientIp", "IP address the application form was submitted from.")
            .contact(),
        string("submitterUserAgent", "Web browser the application form was submitted with.")
            .contact(),
    ]
}

/// `archive_reasons`: the reasons an application can be archived with.
pub(crate) fn archive_reasons() -> Vec<Field> {
    archive_reason_fields()
}

/// `candidate_tags`: labels recruiters put on candidates.
pub(crate) fn candidate_tags() -> Vec<Field> {
    tag_fields()
}

fn tag_fields() -> Vec<Field> {
    vec![id("Ashby id of the tag."), string("title", "Text of the tag."), is_archived("tag")]
}

/// `candidates`: people in the talent pool, with their contact details.
pub(crate) fn candidates() -> Vec<Field> {
    vec![
        id("Ashby id of the candidate."),
        timestamp("createdAt", "When the candidate was added to Ashby."),
        timestamp("updatedAt", "When the candidate was last changed."),
        string("name", "Full name of the candidate."),
        primary_email("candidate"),
        objects(
            "emailAddresses",
            contact_fields("e-mail address"),
            "Every e-mail address known for the candidate.",
        ),
        primary_phone("candidate"),
        objects(
            "phoneNumbers",
            contact_fields("phone number"),
            "Every phone number known for the candidate.",
        ),
        objects(
            "socialLinks",
            vec![
                string(
                    "type",
                    "Kind of profile: LinkedIn, GitHub, Twitter, Medium, \
                                StackOverflow or Website.",
                ),
                string("url", "Address of the profile.").contact(),
            ],
            "The candidate's online profiles.",
        ),
        objects(
            "tags",
            embedded("candidate_tags", tag_fields()),
            "Tags recruiters put on the candidate.",
        ),
        string("position", "The candidate's current job title."),
        string("company", "The candidate's current employer."),
        string("school", "The school the candidate attended."),
        ids_of("applications", "applicationIds", "Ashby ids of the candidate's applications."),
        object("resumeFileHandle", file_handle_fields(), "The candidate's current resume file."),
        file_handles("fileHandles", "Every file attached to the candidate."),
        custom_fields("candidate"),
        string("profileUrl", "Link to the candidate's profile in the Ashby app."),
        object("source", embedded("sources", source_fields()), "Where the candidate came from."),
        user(
            "creditedToUser",
            "credited user",
            "The Ashby user credited with sourcing the candidate.",
        ),
        string("timezone", "The candidate's time zone, such as America/Los_Angeles."),
        object(
            "location",
            vec![
                id("Ashby id of the candidate's location entry: a place, not an office of the \
                     locations dataset."),
                string("locationSummary", "The candidate's location in one line, country first.")
                    .contact(),
                objects(
                    "locationComponents",
                    vec![
                        string("type", "Level of the component: Country, Region or City."),
                        string("name", "Name of the country, region or city.").contact(),
                    ],
                    "The candidate's location split into country, region and city.",
                ),
            ],
            "Where the candidate lives.",
        ),
    ]
}

/// `custom_fields`: the definitions of the organization's custom fields.
pub(crate) fn custom_field_definitions() -> Vec<Field> {
    vec![
        id("Ashby id of the custom field."),
        boolean("isPrivate", "True when the field is private and visible only to some keys."),
        string("title", "Name of the custom field as shown in Ashby."),
        string(
            "objectType",
            "What kind of record carries the field: Application, Candidate, Employee, Job, \
             Offer, Opening or Talent_Project.",
        ),
        is_archived("custom field"),
        string(
            "fieldType",
            "Type of the field's values, such as String, Number, Date, ValueSelect, \
             MultiValueSelect, Currency or CompensationRange.",
        ),
        objects(
            "selectableValues",
            vec![
                string("label", "Label of the option as shown in Ashby."),
                string("value", "Value stored when the option is chosen."),
                boolean("isArchived", "True when the option is archived."),
            ],
            "The options of a select field.",
        ),
    ]
}

/// `departments`: departments and teams, as one tree.
pub(crate) fn departments() -> Vec<Field> {
    vec![
        id("Ashby id of the department or team."),
        string("name", "Internal name of the department or team."),
        string("externalName", "Name shown to candidates, when it differs."),
        is_archived("department"),
        id_of(
            "departments",
            "parentId",
            "Ashby id of the parent department, for teams inside a department.",
        ),
        timestamp("createdAt", "When the department was created."),
        timestamp("updatedAt", "When the department was last changed."),
        json("extraData", "Extra attributes an integration stored on the department."),
    ]
}

/// `feedback_form_definitions`: interview scorecards and other feedback forms.
pub(crate) fn feedback_form_definitions() -> Vec<Field> {
    vec![
        id("Ashby id of the feedback form."),
        string("organizationId", "Ashby id of the organization that owns the form."),
        string("title", "Name of the form."),
        is_archived("form"),
        boolean("isDefaultForm", "True when this is the organization's default feedback form."),
        string("interviewId", "Ashby id of the interview this form belongs to, if any."),
        object(
            "formDefinition",
            vec![objects("sections", form_section_fields(), "The form's sections, in order.")],
            "The questions of the form, grouped in sections.",
        ),
    ]
}

fn form_section_fields() -> Vec<Field> {
    vec![
        string("title", "Heading of the section."),
        string("descriptionHtml", "Instructions for the section, as HTML."),
        string("descriptionPlain", "Instructions for the section, as plain text."),
        objects(
            "fields",
            vec![
                boolean("isRequired", "True when the interviewer must answer the question."),
                string("descriptionHtml", "Help text of the question, as HTML."),
                string("descriptionPlain", "Help text of the question, as plain text."),
                object("field", form_question_fields(), "The question itself."),
            ],
            "The questions of the section, in order.",
        ),
    ]
}

fn form_question_fields() -> Vec<Field> {
    vec![
        id("Ashby id of the question."),
        string("type", "Answer type, such as Score, ValueSelect, RichText or Boolean."),
        string("path", "Stable key of the question in submitted feedback."),
        string("humanReadablePath", "Readable form of the question's key."),
        string("title", "The question as shown to interviewers."),
        boolean("isNullable", "True when the question may be left unanswered."),
        objects(
            "selectableValues",
            vec![
                string("label", "Label of the option as shown to interviewers."),
                string("value", "Value stored when the option is chosen."),
            ],
            "The options of a select question.",
        ),
    ]
}

/// `interview_schedules`: scheduled interviews of an application's stage, with their events.
pub(crate) fn interview_schedules() -> Vec<Field> {
    vec![
        id("Ashby id of the interview schedule."),
        string(
            "status",
            "Scheduling state, such as NeedsScheduling, Scheduled, WaitingOnFeedback, Complete \
             or Cancelled.",
        ),
        id_of("applications", "applicationId", "Ashby id of the application being interviewed."),
        string("interviewStageId", "Ashby id of the interview stage the schedule belongs to."),
        objects("interviewEvents", interview_event_fields(), "The individual interviews."),
    ]
}

fn interview_event_fields() -> Vec<Field> {
    vec![
        id("Ashby id of the interview event."),
        string("interviewId", "Ashby id of the interview type held in this event."),
        id_of(
            "interview_schedules",
            "interviewScheduleId",
            "Ashby id of the schedule the event belongs to.",
        ),
        ids_of("users", "interviewerUserIds", "Ashby user ids of the interviewers (older form)."),
        objects("interviewers", interviewer_fields(), "The people who interview."),
        timestamp("createdAt", "When the event was created."),
        timestamp("updatedAt", "When the event was last changed."),
        timestamp("startTime", "When the interview starts."),
        timestamp("endTime", "When the interview ends."),
        string("feedbackLink", "Link to the feedback form of the event in Ashby."),
        string("location", "Where the interview takes place, such as a room or Zoom."),
        string("meetingLink", "Link to the video meeting, if any."),
        boolean("hasSubmittedFeedback", "True once every interviewer has submitted feedback."),
        object(
            "interview",
            vec![
                id("Ashby id of the interview type."),
                string("title", "Internal name of the interview."),
                string("externalTitle", "Name of the interview shown to candidates."),
                is_archived("interview"),
                boolean("isDebrief", "True when the interview is a debrief."),
                string("instructionsHtml", "Instructions for interviewers, as HTML."),
                string("instructionsPlain", "Instructions for interviewers, as plain text."),
                id_of(
                    "jobs",
                    "jobId",
                    "Ashby id of the job the interview belongs to; empty when shared.",
                ),
                id_of(
                    "feedback_form_definitions",
                    "feedbackFormDefinitionId",
                    "Ashby id of the interview's feedback form.",
                ),
            ],
            "The kind of interview held.",
        ),
        json("extraData", "Extra attributes an integration stored on the event."),
    ]
}

fn interviewer_fields() -> Vec<Field> {
    let mut fields = embedded_user_fields("interviewer");
    fields.push(string(
        "trainingRole",
        "The interviewer's training role in this event: Shadow, Reverse-Shadow or empty.",
    ));
    fields.push(object(
        "interviewerPool",
        vec![
            id("Ashby id of the interviewer pool."),
            string("title", "Name of the interviewer pool."),
            is_archived("interviewer pool"),
            object(
                "trainingPath",
                vec![
                    id("Ashby id of the training path."),
                    boolean("enabled", "True when the pool trains new interviewers."),
                    objects(
                        "trainingStages",
                        vec![
                            id("Ashby id of the training stage."),
                            string(
                                "interviewerRole",
                                "Role in this stage: Shadow or ReverseShadow.",
                            ),
                            integer("interviewsRequired", "Interviews needed to finish the stage."),
                            boolean("approvalRequired", "True when finishing needs approval."),
                            objects(
                                "approvers",
                                embedded_user_fields("approver"),
                                "The users who approve progress.",
                            ),
                        ],
                        "The stages of the training path.",
                    ),
                ],
                "How new interviewers are trained for the pool.",
            ),
        ],
        "The interviewer pool the interviewer was drawn from, if any.",
    ));
    fields
}

/// `job_postings`: the public (or unlisted) postings of jobs on the job board.
pub(crate) fn job_postings() -> Vec<Field> {
    vec![
        id("Ashby id of the job posting."),
        string("title", "Title of the posting as candidates see it."),
        id_of("jobs", "jobId", "Ashby id of the job the posting advertises."),
        string("departmentName", "Name of the job's department."),
        string("teamName", "Name of the job's team."),
        string("locationName", "Name of the posting's primary location."),
        object(
            "locationIds",
            vec![
                id_of("locations", "primaryLocationId", "Ashby id of the primary location."),
                ids_of("locations", "secondaryLocationIds", "Ashby ids of further locations."),
            ],
            "The locations the posting is advertised for.",
        ),
        string("workplaceType", "Where the work happens: OnSite, Hybrid or Remote."),
        string(
            "employmentType",
            "Kind of employment: FullTime, PartTime, Intern, Contract or Temporary.",
        ),
        boolean("isListed", "True when the posting is listed on the job board."),
        date("publishedDate", "The day the posting was published."),
        timestamp("applicationDeadline", "When applications close, if a deadline is set."),
        string("externalLink", "Public link to the posting; empty for internal boards."),
        string("applyLink", "Link to the posting's application form."),
        string("compensationTierSummary", "The posting's pay range in one line."),
        boolean(
            "shouldDisplayCompensationOnJobBoard",
            "True when the pay range is shown on the job board.",
        ),
        timestamp("updatedAt", "When the posting was last changed."),
    ]
}

/// `jobs`: open, closed, archived and draft jobs (requisitions).
pub(crate) fn jobs() -> Vec<Field> {
    vec![
        id("Ashby id of the job."),
        string("title", "Internal title of the job."),
        boolean("confidential", "True when the job is confidential."),
        string("status", "State of the job: Draft, Open, Closed or Archived."),
        string("employmentType", "Kind of employment, such as FullTime or Contract."),
        id_of("locations", "locationId", "Ashby id of the job's primary location."),
        id_of("departments", "departmentId", "Ashby id of the job's department or team."),
        string("defaultInterviewPlanId", "Ashby id of the job's default interview plan."),
        strings("interviewPlanIds", "Ashby ids of every interview plan the job uses."),
        custom_fields("job"),
        ids_of("job_postings", "jobPostingIds", "Ashby ids of the job's postings."),
        string("customRequisitionId", "The organization's own requisition code for the job."),
        string("brandId", "Ashby id of the employer brand the job is published under."),
        hiring_team("job"),
        user("author", "author", "The Ashby user who created the job."),
        timestamp("createdAt", "When the job was created."),
        timestamp("updatedAt", "When the job was last changed."),
        timestamp("openedAt", "When the job was last opened."),
        timestamp("closedAt", "When the job was closed."),
    ]
}

/// `locations`: offices, remote locations and the regions that group them.
pub(crate) fn locations() -> Vec<Field> {
    vec![
        id("Ashby id of the location."),
        string("name", "Name of the location or region."),
        string("externalName", "Name shown to candidates, when it differs."),
        is_archived("location"),
        postal_address(),
        boolean("isRemote", "True when the location stands for remote work."),
        string("workplaceType", "Where the work happens: OnSite, Hybrid or Remote."),
        id_of("locations", "parentLocationId", "Ashby id of the region the location belongs to."),
        string("type", "Location for a place, LocationHierarchy for a region grouping places."),
        json("extraData", "Extra attributes an integration stored on the location."),
    ]
}

/// `offers`: offers made to candidates, each with its latest version only.
pub(crate) fn offers() -> Vec<Field> {
    vec![
        id("Ashby id of the offer."),
        timestamp("decidedAt", "When the candidate accepted or declined the offer."),
        id_of("applications", "applicationId", "Ashby id of the application the offer belongs to."),
        string(
            "acceptanceStatus",
            "The candidate's answer: Accepted, Declined, Pending, Created, Cancelled or \
             WaitingOnResponse.",
        ),
        string(
            "offerStatus",
            "Where the offer process stands, such as WaitingOnOfferApproval or \
             CandidateAccepted.",
        ),
        object("latestVersion", offer_version_fields(), "The current version of the offer."),
    ]
}

fn offer_version_fields() -> Vec<Field> {
    vec![
        id("Ashby id of the offer version."),
        timestamp("startDate", "The start date offered."),
        object(
            "salary",
            vec![
                string("currencyCode", "Currency of the salary, such as EUR."),
                number("value", "Amount of the salary."),
            ],
            "The base salary offered.",
        ),
        timestamp("createdAt", "When this version of the offer was created."),
        string("openingId", "Ashby id of the opening (headcount) the offer fills."),
        custom_fields("offer"),
        file_handles("fileHandles", "The offer letter and other files of this version."),
        user("author", "author", "The Ashby user who wrote this version of the offer."),
    ]
}

/// `sources`: where candidates come from.
pub(crate) fn sources() -> Vec<Field> {
    source_fields()
}

/// `users`: the organization's Ashby users, deactivated ones included.
pub(crate) fn users() -> Vec<Field> {
    user_fields("user")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find<'a>(fields: &'a [Field], path: &[&str]) -> &'a Field {
        let (first, rest) = path.split_first().expect("paths are not empty");
        let field = fields.iter().find(|f| f.name == *first).expect("field exists");
        if rest.is_empty() {
            return field;
        }
        match &field.data_type {
            DataType::Object(nested) => find(nested, rest),
            DataType::Array(element) => match element.as_ref() {
                DataType::Object(nested) => find(nested, rest),
                other => panic!("{first} holds {other:?}, not objects"),
            },
            other => panic!("{first} is {other:?}, not an object"),
        }
    }

    #[test]
    fn contact_leaves_are_tagged_and_their_neighbours_are_not() {
        let candidates = candidates();
        assert!(find(&candidates, &["primaryEmailAddress", "value"]).contact_details);
        assert!(!find(&candidates, &["primaryEmailAddress", "type"]).contact_details);
        assert!(find(&candidates, &["phoneNumbers", "value"]).contact_details);
        assert!(find(&candidates, &["socialLinks", "url"]).contact_details);
        assert!(find(&candidates, &["location", "locationSummary"]).contact_details);
        assert!(find(&candidates, &["creditedToUser", "email"]).contact_details);
        assert!(!find(&candidates, &["name"]).contact_details);

        let applications = applications();
        assert!(find(&applications, &["candidate", "primaryPhoneNumber", "value"]).contact_details);
        assert!(find(&applications, &["hiringTeam", "email"]).contact_details);
        assert!(find(&applications, &["submitterClientIp"]).contact_details);
        assert!(find(&applications, &["submitterUserAgent"]).contact_details);

        let schedules = interview_schedules();
        assert!(find(&schedules, &["interviewEvents", "interviewers", "email"]).contact_details);
        assert!(find(&offers(), &["latestVersion", "author", "email"]).contact_details);
        assert!(find(&users(), &["email"]).contact_details);
    }

    /// Every field of `fields` at any depth with its dotted path (`[]` marks a list of objects).
    fn paths<'a>(fields: &'a [Field], prefix: &str, out: &mut Vec<(String, &'a Field)>) {
        for field in fields {
            let path = format!("{prefix}{}", field.name);
            out.push((path.clone(), field));
            match &field.data_type {
                DataType::Object(nested) => paths(nested, &format!("{path}."), out),
                DataType::Array(element) => {
                    if let DataType::Object(nested) = element.as_ref() {
                        paths(nested, &format!("{path}[]."), out);
                    }
                }
                _ => {}
            }
        }
    }

    fn all_streams() -> Vec<(&'static str, Vec<Field>)> {
        vec![
            ("applications", applications()),
            ("archive_reasons", archive_reasons()),
            ("candidate_tags", candidate_tags()),
            ("candidates", candidates()),
            ("custom_fields", custom_field_definitions()),
            ("departments", departments()),
            ("feedback_form_definitions", feedback_form_definitions()),
            ("interview_schedules", interview_schedules()),
            ("job_postings", job_postings()),
            ("jobs", jobs()),
            ("locations", locations()),
            ("offers", offers()),
            ("sources", sources()),
            ("users", users()),
        ]
    }

    #[test]
    fn links_name_the_stream_whose_ids_the_field_holds() {
        let reference = |fields: &[Field], path: &[&str]| find(fields, path).references.clone();
        let to_users = Some("users".to_string());

        assert_eq!(reference(&candidates(), &["tags", "id"]).as_deref(), Some("candidate_tags"));
        assert_eq!(reference(&candidates(), &["location", "id"]), None);
        assert_eq!(reference(&candidates(), &["resumeFileHandle", "id"]), None);
        assert_eq!(reference(&users(), &["id"]), None, "a primary key refers to nothing");
        assert_eq!(reference(&users(), &["managerId"]), to_users);
        assert_eq!(reference(&jobs(), &["author", "id"]), to_users);
        assert_eq!(reference(&offers(), &["latestVersion", "author", "id"]), to_users);
        assert_eq!(
            reference(&interview_schedules(), &["interviewEvents", "interviewers", "id"]),
            to_users
        );
        assert_eq!(reference(&departments(), &["parentId"]).as_deref(), Some("departments"));
        assert_eq!(reference(&applications(), &["currentInterviewStage", "id"]), None);
        assert_eq!(reference(&applications(), &["source", "sourceType", "id"]), None);
        assert_eq!(reference(&sources(), &["id"]), None);
    }

    /// Fields that hold an id no stream holds (stages, plans, files, pools, brands, openings,
    /// interview types, the nested records' own ids) or, for a candidate's `location.id`, a
    /// place rather than an office. Listing them makes every id field a decision: a new one
    /// fails the test below until it is linked or added here.
    const IDS_WITHOUT_A_STREAM: [&str; 27] = [
        "applications.currentInterviewStage.id",
        "applications.currentInterviewStage.interviewStageGroupId",
        "applications.currentInterviewStage.interviewPlanId",
        "applications.source.sourceType.id",
        "applications.job.brandId",
        "candidates.resumeFileHandle.id",
        "candidates.fileHandles[].id",
        "candidates.source.sourceType.id",
        "candidates.location.id",
        "feedback_form_definitions.organizationId",
        "feedback_form_definitions.interviewId",
        "feedback_form_definitions.formDefinition.sections[].fields[].field.id",
        "interview_schedules.interviewStageId",
        "interview_schedules.interviewEvents[].id",
        "interview_schedules.interviewEvents[].interviewId",
        "interview_schedules.interviewEvents[].interviewers[].interviewerPool.id",
        "interview_schedules.interviewEvents[].interviewers[].interviewerPool.trainingPath.id",
        "interview_schedules.interviewEvents[].interviewers[].interviewerPool.trainingPath.\
         trainingStages[].id",
        "interview_schedules.interviewEvents[].interview.id",
        "jobs.defaultInterviewPlanId",
        "jobs.interviewPlanIds",
        "jobs.customRequisitionId",
        "jobs.brandId",
        "offers.latestVersion.id",
        "offers.latestVersion.openingId",
        "offers.latestVersion.fileHandles[].id",
        "sources.sourceType.id",
    ];

    #[test]
    fn every_id_field_either_names_a_stream_or_is_known_to_have_none() {
        let streams = all_streams();
        let names: Vec<&str> = streams.iter().map(|(name, _)| *name).collect();
        let mut links = 0;
        let mut unlinked = Vec::new();
        for (stream, fields) in &streams {
            let mut all = Vec::new();
            paths(fields, "", &mut all);
            for (path, field) in all {
                let leaf = !matches!(field.data_type, DataType::Object(_));
                let id_like =
                    path.ends_with(".id") || path.ends_with("Id") || path.ends_with("Ids");
                match &field.references {
                    Some(target) => {
                        assert!(names.contains(&target.as_str()), "{stream}.{path}: {target}");
                        assert!(leaf, "{stream}.{path}: only values can refer to a stream");
                        links += 1;
                    }
                    None if id_like && leaf => unlinked.push(format!("{stream}.{path}")),
                    None => {}
                }
            }
        }

        assert_eq!(unlinked, IDS_WITHOUT_A_STREAM);
        assert_eq!(links, 44);
    }

    #[test]
    fn dates_and_variant_values_have_the_documented_types() {
        assert_eq!(find(&job_postings(), &["publishedDate"]).data_type, DataType::Date);
        assert_eq!(find(&offers(), &["decidedAt"]).data_type, DataType::Timestamp);
        assert_eq!(find(&jobs(), &["customFields", "value"]).data_type, DataType::Json);
        assert_eq!(find(&interview_schedules(), &["id"]).data_type, DataType::String);
    }

    #[test]
    fn every_field_at_every_depth_has_a_sentence_for_a_description() {
        fn check(fields: &[Field], path: &str) {
            for field in fields {
                let here = format!("{path}{}", field.name);
                assert!(field.description.ends_with('.'), "{here}: {}", field.description);
                assert!(field.description.len() > 8, "{here}: {}", field.description);
                match &field.data_type {
                    DataType::Object(nested) => check(nested, &format!("{here}.")),
                    DataType::Array(element) => {
                        if let DataType::Object(nested) = element.as_ref() {
                            check(nested, &format!("{here}[]."));
                        }
                    }
                    _ => {}
                }
            }
        }
        for fields in [
            applications(),
            archive_reasons(),
            candidate_tags(),
            candidates(),
            custom_field_definitions(),
            departments(),
            feedback_form_definitions(),
            interview_schedules(),
            job_postings(),
            jobs(),
            locations(),
            offers(),
            sources(),
            users(),
        ] {
            assert_eq!(fields[0].name, "id");
            check(&fields, "");
        }
    }
}
