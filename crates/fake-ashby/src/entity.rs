//! The 14 entities as a closed enum, tied to the public [`ENTITIES`] table.
//!
//! The public table is what other crates read; inside the fake an enum is easier to match on
//! exhaustively, so every per-entity rule (hidden records, filters, paging style) is checked by
//! the compiler when an entity is added.

use crate::ENTITIES;

/// One of the 14 Ashby entities, in the order of [`ENTITIES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Entity {
    Applications,
    ArchiveReasons,
    CandidateTags,
    Candidates,
    CustomFields,
    Departments,
    FeedbackFormDefinitions,
    InterviewSchedules,
    JobPostings,
    Jobs,
    Locations,
    Offers,
    Sources,
    Users,
}

/// How an endpoint pages its results (ashby-api.md §3.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Paging {
    /// Cursor pages, `moreDataAvailable`, and a `syncToken` on the last page.
    Cursor,
    /// One response with every record: only `success` and `results`.
    Single,
    /// One response with every record plus `moreDataAvailable: false` (source.list).
    SingleWithMoreFlag,
}

impl Entity {
    /// Every entity, in the order of [`ENTITIES`].
    pub(crate) const ALL: [Entity; 14] = [
        Entity::Applications,
        Entity::ArchiveReasons,
        Entity::CandidateTags,
        Entity::Candidates,
        Entity::CustomFields,
        Entity::Departments,
        Entity::FeedbackFormDefinitions,
        Entity::InterviewSchedules,
        Entity::JobPostings,
        Entity::Jobs,
        Entity::Locations,
        Entity::Offers,
        Entity::Sources,
        Entity::Users,
    ];

    /// The position of the entity in [`ENTITIES`] and in per-entity tables.
    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// The entity name used in specs and datasets, such as `candidates`.
    pub(crate) fn name(self) -> &'static str {
        ENTITIES[self.index()].0
    }

    /// The endpoint path without the slash, such as `candidate.list`.
    pub(crate) fn endpoint(self) -> &'static str {
        ENTITIES[self.index()].1
    }

    /// The permission a key needs for the endpoint.
    pub(crate) fn permission(self) -> &'static str {
        ENTITIES[self.index()].2
    }

    /// The entity with this name, such as `candidates`.
    pub(crate) fn from_name(name: &str) -> Option<Entity> {
        Entity::ALL.into_iter().find(|entity| entity.name() == name)
    }

    /// The entity served at this endpoint, such as `candidate.list`.
    pub(crate) fn from_endpoint(endpoint: &str) -> Option<Entity> {
        Entity::ALL.into_iter().find(|entity| entity.endpoint() == endpoint)
    }

    /// How the endpoint pages.
    pub(crate) fn paging(self) -> Paging {
        match self {
            Entity::ArchiveReasons | Entity::JobPostings => Paging::Single,
            Entity::Sources => Paging::SingleWithMoreFlag,
            _ => Paging::Cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_enum_follows_the_public_table_row_by_row() {
        for (index, entity) in Entity::ALL.into_iter().enumerate() {
            assert_eq!(entity.index(), index);
            assert_eq!(Entity::from_name(ENTITIES[index].0), Some(entity));
            assert_eq!(Entity::from_endpoint(ENTITIES[index].1), Some(entity));
        }
        assert_eq!(Entity::from_name("candidate"), None);
        assert_eq!(Entity::Candidates.endpoint(), "candidate.list");
        assert_eq!(Entity::Offers.permission(), "offersRead");
    }

    #[test]
    fn exactly_three_endpoints_do_not_page() {
        let single: Vec<_> =
            Entity::ALL.into_iter().filter(|entity| entity.paging() != Paging::Cursor).collect();
        assert_eq!(single, [Entity::ArchiveReasons, Entity::JobPostings, Entity::Sources]);
    }
}
