//! Rejected keys fail with an authentication error that says what to do, and a key missing
//! one permission fails only the entities that need it.

use ashflow_core::{Error, ErrorClass};
use ashflow_fake_ashby::{ENTITIES, Fault, FaultRule};
use std::sync::Arc;

use crate::support::{KEY, assert_complete, read, read_all_at_once, small_fake, source};

#[tokio::test]
async fn a_401_is_an_auth_error_naming_the_key_source() {
    let fake = small_fake().await;
    fake.inject(FaultRule::once(Fault::Status { status: 401, retry_after: None }));
    let source = source(&fake, KEY, "");

    let read = read(&source, "candidates", None).await;

    let error = read.error();
    assert_eq!(error.class(), ErrorClass::Auth);
    let message = error.to_string();
    assert!(message.starts_with("the API key was not accepted (HTTP 401)"), "{message}");
    assert!(message.contains("Admin > API Keys"), "{message}");
    assert!(!message.contains(KEY), "{message}");
    assert_eq!(fake.request_count(None), 1, "not retried");
    fake.shutdown().await;
}

#[tokio::test]
async fn a_wrong_key_is_an_auth_error_that_never_shows_the_key() {
    let fake = small_fake().await;
    let source = source(&fake, "sk-wrong-key-value", "");

    let read = read(&source, "users", None).await;

    let error = read.error();
    assert_eq!(error.class(), ErrorClass::Auth);
    let message = error.to_string();
    assert!(message.contains("HTTP 403"), "{message}");
    assert!(message.contains("wrong or was deactivated"), "{message}");
    assert!(!message.contains("sk-wrong-key-value"), "{message}");
    assert!(!format!("{error:?}").contains("sk-wrong-key-value"));
    assert!(!format!("{source:?}").contains("sk-wrong-key-value"));
    fake.shutdown().await;
}

#[tokio::test]
async fn a_missing_permission_fails_only_its_entity() {
    let fake = small_fake().await;
    let permissions: Vec<&str> = ENTITIES
        .iter()
        .map(|(_, _, permission)| *permission)
        .filter(|permission| *permission != "offersRead")
        .collect();
    fake.add_key("no-offers-key", &permissions);
    let source = Arc::new(source(&fake, "no-offers-key", ""));

    let reads = read_all_at_once(source).await;

    assert_eq!(reads.len(), 14);
    for (entity, read) in &reads {
        if entity != "offers" {
            assert_complete(&fake, entity, read);
            continue;
        }
        let error = read.error();
        assert_eq!(error.class(), ErrorClass::Permission);
        let Error::MissingPermission { permission, message } = error else {
            panic!("expected a missing permission, got {error:?}");
        };
        assert_eq!(permission, "offersRead");
        assert!(message.contains("needed to read offers (offer.list)"), "{message}");
        assert!(message.contains("enable `offersRead`"), "{message}");
    }
    fake.shutdown().await;
}
