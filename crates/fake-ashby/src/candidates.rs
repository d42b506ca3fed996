//! Candidates with their applications, interview schedules and offers: the tens of thousands
//! of records, written as JSON text.
//!
//! Each candidate gets zero to three applications (1.5 on average) to jobs that were open at
//! the time, with a status and furthest stage that decide its interview schedules (most
//! applications past the review have one) and its offer (a few percent). Awkward values are
//! placed by candidate number (see `crate::generator`). Every record is emitted with the
//! filter facts the store needs, so the store never parses this text.

use crate::catalog::{Catalog, STAGE_ARCHIVED, STAGE_HIRED, STAGE_LEAD, STAGE_OFFER, STAGE_SCREEN};
use crate::custom_values::custom_fields;
use crate::entity::Entity;
use crate::filters::Meta;
use crate::generator::{
    ANCHOR_MS, DAY_MS, Dice, Emit, Emitted, HOUR_MS, YEAR_MS, midnight, not_after_anchor,
    pick_where, timestamp, truncate_millis,
};
use crate::jobs::JobRef;
use crate::json::{Arr, Obj, quoted};
use crate::pools::{
    COMPANIES, FIRST_NAMES, FORMULA_LIKE, LAST_NAMES, PLACES, POSITIONS, RTL_NAMES, SCHOOLS,
    TIME_ZONES, UNICODE_NAMES, USER_AGENTS, ascii_slug,
};

/// The state the per-candidate generation needs: a chunk's own stream and the shared,
/// read-only lookups.
pub(crate) struct World<'a> {
    pub dice: Dice,
    pub catalog: &'a Catalog,
    pub jobs: &'a [JobRef],
}

/// An application before its record is built.
struct ApplicationPlan {
    id: String,
    job: usize,
    status: &'static str,
    /// The furthest stage kind reached (index into the plan's stages).
    reached: usize,
    created: i64,
    updated: i64,
}

/// The contact details a candidate and its applications share; contacts are JSON text.
struct Contact {
    name: String,
    slug: String,
    email: Option<String>,
    phone: Option<String>,
}

impl World<'_> {
    /// Emits one candidate with its applications, schedules and offers.
    pub(crate) fn candidate(&mut self, number: usize, appliable: &[usize], emit: Emit<'_>) {
        let id = self.dice.uuid();
        let contact = self.contact(number);
        let mut created = ANCHOR_MS - self.dice.between(DAY_MS, 3 * YEAR_MS);
        let applications = self.plan_applications(created, appliable);
        for application in &applications {
            created = created.min(application.created - self.dice.between(1_000, 3 * DAY_MS));
        }
        let last_activity = applications.iter().map(|app| app.updated).max().unwrap_or(created);
        let updated =
            not_after_anchor(last_activity + self.dice.between(0, 2 * DAY_MS), last_activity);
        let json = self.candidate_record(number, &id, &contact, &applications, (created, updated));
        emit(Entity::Candidates, Emitted::Text { id: id.clone(), json, meta: Meta::default() });

        for (position, application) in applications.iter().enumerate() {
            let variant = number * 3 + position;
            self.application(variant, &id, &contact, application, emit);
            self.schedules(variant, application, emit);
            self.offer(variant, application, emit);
        }
    }

    /// Name, e-mail and phone; awkward names and values by index (see the module doc).
    fn contact(&mut self, number: usize) -> Contact {
        let dice = &mut self.dice;
        let (name, slug) = match number % 7 {
            1 => (UNICODE_NAMES[(number / 7) % UNICODE_NAMES.len()].to_string(), None),
            4 => (RTL_NAMES[(number / 7) % RTL_NAMES.len()].to_string(), None),
            _ => {
                let first = dice.pick(FIRST_NAMES);
                let last = dice.pick(LAST_NAMES);
                let name = if number % 10 == 8 {
                    let middle = dice.pick(FIRST_NAMES);
                    format!("{first} {middle} {last}")
                } else {
                    format!("{first} {last}")
                };
                (name, Some(format!("{}.{}", ascii_slug(first), ascii_slug(last))))
            }
        };
        let slug = slug.unwrap_or_else(|| {
            let folded = ascii_slug(&name);
            if folded.is_empty() { "candidate".to_string() } else { folded }
        });
        let domain = ["example.com", "example.org", "example.net", "mail.example"][number % 4];
        let email = (number % 17 != 11)
            .then(|| contact_point(&format!("{slug}{number}@{domain}"), "Personal", true));
        let phone_type = ["Personal", "Work", "Other"][number % 3];
        let phone = (!matches!(number % 13, 7 | 8))
            .then(|| contact_point(&phone_number(number), phone_type, true));
        Contact { name, slug, email, phone }
    }

    /// Zero to three applications (1.5 on average) to distinct appliable jobs.
    fn plan_applications(
        &mut self,
        candidate_created: i64,
        appliable: &[usize],
    ) -> Vec<ApplicationPlan> {
        let count = match self.dice.below(20) {
            0 => 0,
            1..=10 => 1,
            11..=17 => 2,
            _ => 3,
        };
        let mut used = Vec::new();
        let mut plans = Vec::with_capacity(count);
        let mut earliest = candidate_created;
        for _ in 0..count {
            let job = *self.dice.pick(appliable);
            if used.contains(&job) {
                continue;
            }
            used.push(job);
            let plan = self.plan_application(job, earliest);
            earliest = plan.created;
            plans.push(plan);
        }
        plans
    }

    fn plan_application(&mut self, job: usize, not_before: i64) -> ApplicationPlan {
        let dice = &mut self.dice;
        let job_ref = &self.jobs[job];
        let opened = job_ref.opened.unwrap_or(ANCHOR_MS - YEAR_MS);
        let window_end = job_ref.closed.unwrap_or(ANCHOR_MS - HOUR_MS);
        let wanted = not_before + dice.between(0, 60 * DAY_MS);
        let created = if wanted >= opened && wanted <= window_end {
            wanted
        } else {
            dice.between(opened, window_end.max(opened))
        };
        let roll = dice.below(100);
        let status = if job_ref.status == "Open" {
            match roll {
                0..45 => "Active",
                45..58 => "Lead",
                58..98 => "Archived",
                _ => "Hired",
            }
        } else {
            match roll {
                0..95 => "Archived",
                _ => "Hired",
            }
        };
        // Most applications get past the review; few reach the offer.
        let reached = match (status, dice.below(100)) {
            ("Lead", _) => STAGE_LEAD,
            ("Hired", _) => STAGE_OFFER,
            (_, 0..25) => 1,
            (_, 25..55) => 2,
            (_, 55..78) => 3,
            (_, 78..95) => 4,
            _ => STAGE_OFFER,
        };
        let activity = dice.between(HOUR_MS, (reached as i64 + 1) * 10 * DAY_MS);
        let updated = not_after_anchor(created + activity, created);
        ApplicationPlan { id: dice.uuid(), job, status, reached, created, updated }
    }

    fn candidate_record(
        &mut self,
        number: usize,
        id: &str,
        contact: &Contact,
        applications: &[ApplicationPlan],
        (created, updated): (i64, i64),
    ) -> String {
        let millis = !number.is_multiple_of(6);
        let mut record = Obj::with_capacity(4096);
        record
            .str("id", id)
            .str("createdAt", &timestamp(created, millis))
            .str("updatedAt", &timestamp(updated, millis))
            .str("name", &contact.name);
        self.contact_fields(number, contact, &mut record);
        let links = self.social_links(number, &contact.slug);
        record.raw("socialLinks", &links);
        let tags = self.candidate_tags(number);
        record.raw("tags", &tags);

        let (position, company) = self.work(number);
        optional(&mut record, "position", position.as_deref(), number.is_multiple_of(4));
        optional(&mut record, "company", company.as_deref(), number % 4 == 1);
        let school = (number % 5 > 1).then(|| quoted(self.dice.pick::<&str>(SCHOOLS)));
        optional(&mut record, "school", school.as_deref(), number.is_multiple_of(5));

        let mut application_ids = Arr::new();
        for application in applications {
            application_ids.str(&application.id);
        }
        record.raw("applicationIds", &application_ids.finish());
        self.files(number, &contact.slug, &mut record);
        let fields = custom_fields(&mut self.dice, self.catalog, "Candidate", number, created);
        record.raw("customFields", &fields);
        record.str("profileUrl", &format!("https://app.ashbyhq.com/candidates/{id}"));
        let source = pick_source(&mut self.dice, self.catalog, number);
        record.raw("source", source);
        if number.is_multiple_of(3) {
            record.null("creditedToUser");
        } else {
            let user = self.dice.below(self.catalog.users.len());
            record.raw("creditedToUser", &self.catalog.users[user].embedded);
        }
        let timezone = (number % 6 != 3).then(|| *self.dice.pick(TIME_ZONES));
        record.opt_str("timezone", timezone);
        let location = (number % 8 > 1).then(|| self.candidate_location());
        optional(&mut record, "location", location.as_deref(), number % 8 == 1);

        // Ashby sends fields newer than its published schema (`fraudStatus` appeared on
        // candidates after the reference was written), and exporters must pass them through.
        record.str("fraudStatus", ["Clear", "Clear", "Suspicious"][number % 3]);
        record.finish()
    }

    fn contact_fields(&mut self, number: usize, contact: &Contact, record: &mut Obj) {
        let mut emails = Arr::new();
        if let Some(email) = &contact.email {
            emails.raw(email);
            if number % 5 == 3 {
                let work = format!("{}@work.example.com", contact.slug);
                emails.raw(&contact_point(&work, "Work", false));
            }
        }
        optional(record, "primaryEmailAddress", contact.email.as_deref(), number.is_multiple_of(2));
        record.raw("emailAddresses", &emails.finish());
        let mut phones = Arr::new();
        if let Some(phone) = &contact.phone {
            phones.raw(phone);
            if number % 9 == 4 {
                phones.raw(&contact_point("0044 20 7946 0999", "Other", false));
            }
        }
        optional(record, "primaryPhoneNumber", contact.phone.as_deref(), number % 13 == 7);
        record.raw("phoneNumbers", &phones.finish());
    }

    fn social_links(&mut self, number: usize, slug: &str) -> String {
        let mut links = Arr::new();
        if number % 10 == 5 {
            return links.finish();
        }
        let link = |kind: &str, url: &str| {
            Obj::with_capacity(96).str("type", kind).str("url", url).finish()
        };
        links.raw(&link("LinkedIn", &format!("https://www.linkedin.com/in/{slug}-{number}")));
        if number.is_multiple_of(3) {
            links.raw(&link("GitHub", &format!("https://github.com/{slug}{number}")));
        }
        if number % 7 == 2 {
            links.raw(&link("Twitter", &format!("https://twitter.com/{slug}{number}")));
        }
        if number % 11 == 3 {
            links.raw(&link("Website", &format!("https://{number}.example.dev/?ref=a&b=c")));
        }
        links.finish()
    }

    fn candidate_tags(&mut self, number: usize) -> String {
        let count = [0, 1, 1, 2, 3][number % 5];
        let mut chosen: Vec<usize> = Vec::new();
        for _ in 0..count {
            let tag = self.dice.below(self.catalog.tags.len());
            if !chosen.contains(&tag) {
                chosen.push(tag);
            }
        }
        let mut tags = Arr::new();
        for tag in chosen {
            tags.raw(&self.catalog.tags[tag].json);
        }
        tags.finish()
    }

    /// Position and company as JSON strings; formula-looking values every ninth candidate.
    fn work(&mut self, number: usize) -> (Option<String>, Option<String>) {
        if number % 9 == 2 {
            let rotation = number / 9;
            let position = FORMULA_LIKE[rotation % FORMULA_LIKE.len()];
            let company = FORMULA_LIKE[(rotation + 3) % FORMULA_LIKE.len()];
            return (Some(quoted(position)), Some(quoted(company)));
        }
        let position =
            (!number.is_multiple_of(4)).then(|| quoted(self.dice.pick::<&str>(POSITIONS)));
        let company = (number % 4 != 1).then(|| quoted(self.dice.pick::<&str>(COMPANIES)));
        (position, company)
    }

    fn files(&mut self, number: usize, slug: &str, record: &mut Obj) {
        let mut files = Arr::new();
        if !number.is_multiple_of(4) {
            let resume = self.file(&format!("{slug}_cv.pdf"));
            record.raw("resumeFileHandle", &resume);
            files.raw(&resume);
        }
        if number % 6 == 1 {
            let name =
                ["cover letter (final) v2.docx", "portfolio.pdf", "Zeugnis_2023.pdf"][number % 3];
            files.raw(&self.file(name));
        }
        record.raw("fileHandles", &files.finish());
    }

    fn file(&mut self, name: &str) -> String {
        let id = self.dice.uuid();
        let handle = self.dice.handle();
        Obj::with_capacity(128).str("id", &id).str("name", name).str("handle", &handle).finish()
    }

    fn candidate_location(&mut self) -> String {
        let (country, region, city) = *self.dice.pick(PLACES);
        let component = |kind: &str, name: &str| {
            Obj::with_capacity(48).str("type", kind).str("name", name).finish()
        };
        let mut components = Arr::new();
        components
            .raw(&component("Country", country))
            .raw(&component("Region", region))
            .raw(&component("City", city));
        Obj::with_capacity(256)
            .str("id", &self.dice.uuid())
            .str("locationSummary", &format!("{country}, {region}, {city}"))
            .raw("locationComponents", &components.finish())
            .finish()
    }

    fn application(
        &mut self,
        variant: usize,
        candidate_id: &str,
        contact: &Contact,
        application: &ApplicationPlan,
        emit: Emit<'_>,
    ) {
        let job = &self.jobs[application.job];
        let plan = &self.catalog.plans[job.plan];
        let stage = match application.status {
            "Lead" => STAGE_LEAD,
            "Hired" => STAGE_HIRED,
            "Archived" => STAGE_ARCHIVED,
            _ => application.reached,
        };
        let millis = !variant.is_multiple_of(5);
        let mut candidate = Obj::with_capacity(256);
        candidate.str("id", candidate_id).str("name", &contact.name);
        optional(
            &mut candidate,
            "primaryEmailAddress",
            contact.email.as_deref(),
            variant.is_multiple_of(2),
        );
        optional(&mut candidate, "primaryPhoneNumber", contact.phone.as_deref(), variant % 2 == 1);

        let mut record = Obj::with_capacity(3072);
        let fields = custom_fields(
            &mut self.dice,
            self.catalog,
            "Application",
            variant,
            application.created,
        );
        record
            .str("id", &application.id)
            .str("createdAt", &timestamp(application.created, millis))
            .str("updatedAt", &timestamp(application.updated, millis))
            .str("status", application.status)
            .raw("customFields", &fields)
            .raw("candidate", &candidate.finish())
            .raw("currentInterviewStage", &plan.stages[stage].embedded)
            .raw("source", pick_source(&mut self.dice, self.catalog, variant));
        if application.status == "Archived" {
            let reasons = &self.catalog.archive_reasons;
            let old = application.created < ANCHOR_MS - 2 * YEAR_MS;
            let at = pick_where(&mut self.dice, reasons.len(), |at| old || !reasons[at].archived);
            record
                .raw("archiveReason", &reasons[at].json)
                .str("archivedAt", &timestamp(application.updated, millis));
        } else if variant.is_multiple_of(2) {
            record.null("archiveReason").null("archivedAt");
        }
        record.raw("job", &job.embedded);
        if variant.is_multiple_of(4) {
            record.null("creditedToUser");
        } else {
            record.raw("creditedToUser", &self.catalog.users[job.recruiter].embedded);
        }
        record.raw("hiringTeam", &job.hiring_team);
        let posting = job.postings.iter().find(|posting| posting.listed);
        match (posting, variant % 3) {
            (Some(posting), 0 | 1) => {
                let ip = if variant.is_multiple_of(2) {
                    format!("203.0.113.{}", variant % 250)
                } else {
                    format!("2001:db8::{:x}", variant % 4096)
                };
                record
                    .str("appliedViaJobPostingId", &posting.id)
                    .str("submitterClientIp", &ip)
                    .str("submitterUserAgent", USER_AGENTS[variant % USER_AGENTS.len()]);
            }
            (_, 2) => {
                record.null("appliedViaJobPostingId");
            }
            _ => {}
        }
        let meta = Meta {
            status: Some(application.status.into()),
            created_ms: Some(truncate_millis(application.created, millis)),
            job_id: Some(self.jobs[application.job].id.as_str().into()),
            ..Meta::default()
        };
        let json = record.finish();
        emit(Entity::Applications, Emitted::Text { id: application.id.clone(), json, meta });
    }

    /// Interview schedules for applications that got past the application review: one for the
    /// furthest interview stage, sometimes one for an earlier stage too.
    fn schedules(&mut self, variant: usize, application: &ApplicationPlan, emit: Emit<'_>) {
        if application.reached < STAGE_SCREEN {
            return;
        }
        let last_stage = application.reached.min(4);
        let mut stages = vec![last_stage];
        if last_stage > STAGE_SCREEN && self.dice.chance(0.3) {
            stages.insert(0, last_stage - 1);
        }
        for (position, stage) in stages.iter().enumerate() {
            let is_latest = position + 1 == stages.len() && application.reached == *stage;
            let status = self.schedule_status(application.status, is_latest);
            self.schedule(variant + position, application, *stage, status, emit);
        }
    }

    fn schedule_status(&mut self, application_status: &str, is_latest: bool) -> &'static str {
        const ACTIVE: [&str; 8] = [
            "Scheduled",
            "Scheduled",
            "WaitingOnFeedback",
            "NeedsScheduling",
            "WaitingOnCandidateBooking",
            "WaitingOnCandidateAvailability",
            "CandidateAvailabilitySubmitted",
            "Complete",
        ];
        match (application_status, is_latest) {
            ("Active", true) => ACTIVE[self.dice.below(ACTIVE.len())],
            ("Archived", true) if self.dice.chance(0.2) => "Cancelled",
            _ => "Complete",
        }
    }

    fn schedule(
        &mut self,
        variant: usize,
        application: &ApplicationPlan,
        stage: usize,
        status: &str,
        emit: Emit<'_>,
    ) {
        let id = self.dice.uuid();
        let plan = self.jobs[application.job].plan;
        let stage_id = self.catalog.plans[plan].stages[stage].id.clone();
        let waiting = matches!(
            status,
            "NeedsScheduling"
                | "WaitingOnCandidateBooking"
                | "WaitingOnCandidateAvailability"
                | "CandidateAvailabilitySubmitted"
        );
        let event_count = match (waiting, stage) {
            (true, _) => 0,
            (false, 4) => 2 + self.dice.below(2),
            (false, 3) => 1 + self.dice.below(2),
            _ => 1,
        };
        let base = if status == "Scheduled" {
            ANCHOR_MS + self.dice.between(DAY_MS, 14 * DAY_MS)
        } else {
            let span = (application.updated - application.created).max(HOUR_MS);
            application.created + self.dice.between(0, span)
        };
        let mut events = Arr::with_capacity(4096);
        let mut earliest: Option<i64> = None;
        for number in 0..event_count {
            let start = base + number as i64 * HOUR_MS;
            let (event, created) =
                self.event(&id, variant + number, stage, status, start, application.created);
            earliest = Some(earliest.map_or(created, |at: i64| at.min(created)));
            events.raw(&event);
        }
        let json = Obj::with_capacity(4096)
            .str("id", &id)
            .str("status", status)
            .str("applicationId", &application.id)
            .str("interviewStageId", &stage_id)
            .raw("interviewEvents", &events.finish())
            .finish();
        let meta = Meta {
            application_id: Some(application.id.as_str().into()),
            stage_id: Some(stage_id.into()),
            created_ms: earliest,
            ..Meta::default()
        };
        emit(Entity::InterviewSchedules, Emitted::Text { id, json, meta });
    }

    /// One interview event and the instant its `createdAt` text denotes.
    fn event(
        &mut self,
        schedule_id: &str,
        variant: usize,
        stage: usize,
        status: &str,
        start: i64,
        not_before: i64,
    ) -> (String, i64) {
        let id = self.dice.uuid();
        let interviews: Vec<usize> = (0..self.catalog.interviews.len())
            .filter(|at| self.catalog.interviews[*at].stage == stage)
            .collect();
        let interview = *self.dice.pick(&interviews);
        let interviewer_count = 1 + usize::from(self.dice.chance(0.4));
        let mut interviewers = Arr::with_capacity(768);
        let mut interviewer_ids = Arr::new();
        for _ in 0..interviewer_count {
            let user = self.dice.below(self.catalog.users.len());
            let training = self.dice.below(10);
            let role = match training {
                0 => "\"Shadow\"",
                1 => "\"Reverse-Shadow\"",
                _ => "null",
            };
            let pool = if training < 2 || self.dice.chance(0.1) {
                self.dice.pick(&self.catalog.pools).as_str()
            } else {
                "null"
            };
            let user = &self.catalog.users[user];
            // The user shape with two more fields: reopen the pre-serialised object.
            let base = user.embedded.strip_suffix('}').unwrap_or(&user.embedded);
            interviewers
                .raw(&format!("{base},\"trainingRole\":{role},\"interviewerPool\":{pool}}}"));
            interviewer_ids.str(&user.id);
        }
        let end = start + [30, 45, 60, 90][variant % 4] * 60_000;
        // Booked before it happens, and never after "now" even for future events.
        let booked = start - self.dice.between(HOUR_MS, 5 * DAY_MS);
        let created = not_after_anchor(booked, not_before).max(not_before).min(start);
        let updated = if end < ANCHOR_MS {
            not_after_anchor(end + self.dice.between(0, 2 * DAY_MS), end)
        } else {
            not_after_anchor(created + self.dice.between(0, DAY_MS), created)
        };
        let millis = variant.is_multiple_of(4);
        let mut record = Obj::with_capacity(1536);
        record
            .str("id", &id)
            .str("interviewId", &self.catalog.interviews[interview].id)
            .str("interviewScheduleId", schedule_id)
            .raw("interviewerUserIds", &interviewer_ids.finish())
            .raw("interviewers", &interviewers.finish())
            .str("createdAt", &timestamp(created, millis))
            .str("updatedAt", &timestamp(updated, millis))
            .str("startTime", &timestamp(start, millis))
            .str("endTime", &timestamp(end, millis))
            .str(
                "feedbackLink",
                &format!("https://app.ashbyhq.com/interview-briefings/{id}/feedback"),
            );
        match variant % 4 {
            0 => record
                .str("location", "Zoom")
                .str("meetingLink", &format!("https://zoom.example.com/j/{variant:09}")),
            1 => record
                .str("location", "Google Meet")
                .str("meetingLink", &format!("https://meet.example.com/abc-{variant}")),
            2 => record.str("location", "Berlin Office – Room Ada").null("meetingLink"),
            _ => record.null("location").null("meetingLink"),
        };
        let extra =
            if variant.is_multiple_of(3) { r#"{"calendarProvider":"google"}"# } else { "{}" };
        record
            .bool("hasSubmittedFeedback", status == "Complete" && !variant.is_multiple_of(9))
            .raw("interview", &self.catalog.interviews[interview].embedded)
            .raw("extraData", extra);
        (record.finish(), truncate_millis(created, millis))
    }

    /// Offers for hires (accepted), applications at the offer stage (pending) and a third of
    /// the archived ones that reached it (declined or cancelled).
    fn offer(&mut self, variant: usize, application: &ApplicationPlan, emit: Emit<'_>) {
        let archived_without_offer = application.status == "Archived" && !variant.is_multiple_of(3);
        if application.reached != STAGE_OFFER || archived_without_offer {
            return;
        }
        let (acceptance, offer_status) = match application.status {
            "Hired" => ("Accepted", "CandidateAccepted"),
            "Archived" if variant.is_multiple_of(2) => ("Declined", "CandidateRejected"),
            "Archived" => ("Cancelled", "OfferCancelled"),
            _ => *self.dice.pick(&[
                ("Pending", "WaitingOnCandidateResponse"),
                ("Created", "WaitingOnApprovalStart"),
                ("WaitingOnResponse", "WaitingOnOfferApproval"),
                ("Pending", "WaitingOnApprovalDefinition"),
            ]),
        };
        let letter = self.file("offer_letter.pdf");
        let job = &self.jobs[application.job];
        let created = (application.updated - self.dice.between(HOUR_MS, 10 * DAY_MS))
            .max(application.created);
        let currency = ["EUR", "USD", "GBP", "JPY", "USD"][job.location % 5];
        let mut salary = Obj::with_capacity(48);
        salary.str("currencyCode", currency);
        if currency == "JPY" {
            salary.int("value", self.dice.between(6_000, 15_000) * 1_000);
        } else if variant.is_multiple_of(3) {
            salary.float("value", self.dice.between(60, 220) as f64 * 1_000.0 + 500.5);
        } else {
            salary.int("value", self.dice.between(60, 220) * 1_000);
        }
        let mut files = Arr::new();
        files.raw(&letter);
        let fields = custom_fields(&mut self.dice, self.catalog, "Offer", variant, created);
        let mut version = Obj::with_capacity(2048);
        version
            .str("id", &self.dice.uuid())
            .str("startDate", &midnight(application.updated + 30 * DAY_MS))
            .raw("salary", &salary.finish())
            .str("createdAt", &timestamp(created, variant.is_multiple_of(2)))
            .opt_str("openingId", (!variant.is_multiple_of(5)).then_some(job.opening_id.as_str()))
            .raw("customFields", &fields)
            .raw("fileHandles", &files.finish())
            .raw("author", &self.catalog.users[job.recruiter].embedded);

        let id = self.dice.uuid();
        let mut record = Obj::with_capacity(2560);
        record.str("id", &id);
        if acceptance != "Cancelled" || variant % 4 != 1 {
            let decided = matches!(acceptance, "Accepted" | "Declined")
                .then(|| timestamp(application.updated, true));
            record.opt_str("decidedAt", decided.as_deref());
        }
        record
            .str("applicationId", &application.id)
            .str("acceptanceStatus", acceptance)
            .str("offerStatus", offer_status)
            .raw("latestVersion", &version.finish());
        let meta = Meta {
            application_id: Some(application.id.as_str().into()),
            offer_status: Some(offer_status.into()),
            acceptance_status: Some(acceptance.into()),
            ..Meta::default()
        };
        emit(Entity::Offers, Emitted::Text { id, json: record.finish(), meta });
    }
}

/// A contact point (`primaryEmailAddress`, `phoneNumbers[]`) as JSON text.
fn contact_point(value: &str, kind: &str, primary: bool) -> String {
    Obj::with_capacity(96).str("value", value).str("type", kind).bool("isPrimary", primary).finish()
}

/// A source (JSON text), mostly active ones; every tenth record has none.
fn pick_source<'a>(dice: &mut Dice, catalog: &'a Catalog, number: usize) -> &'a str {
    if number % 10 == 6 {
        return "null";
    }
    let sources = &catalog.sources;
    let archived_allowed = number.is_multiple_of(8);
    let at = pick_where(dice, sources.len(), |at| archived_allowed || !sources[at].archived);
    &sources[at].json
}

/// Writes `value` (JSON text) under `key`; when there is no value, the key is left out if
/// `absent` and set to null otherwise, because real records do both.
fn optional(record: &mut Obj, key: &str, value: Option<&str>, absent: bool) {
    match value {
        Some(value) => {
            record.raw(key, value);
        }
        None if absent => {}
        None => {
            record.null(key);
        }
    }
}

/// A phone number in one of several real-world spellings, some with leading zeros and many
/// starting with `+` (which a spreadsheet would read as a formula).
fn phone_number(number: usize) -> String {
    let tail = number % 10_000;
    match number % 6 {
        0 => format!("+1 415 555 {tail:04}"),
        1 if number % 12 == 1 => "+44 20 7946 0000".to_string(),
        1 => format!("+44 20 7946 {tail:04}"),
        2 => format!("020 7946 {tail:04}"),
        3 => format!("(415) 555-{tail:04}"),
        4 => format!("+49 30 {:07}", number % 10_000_000),
        _ => format!("0049 30 {:07}", number % 10_000_000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_include_formula_like_and_leading_zero_spellings() {
        let phones: Vec<String> = (0..30).map(phone_number).collect();
        assert!(phones.contains(&"+44 20 7946 0000".to_string()));
        assert!(phones.iter().any(|phone| phone.starts_with("020 ")));
        assert!(phones.iter().any(|phone| phone.starts_with("0049")));
    }
}
