//! Reading Ashby's answers: the success envelope of a list page, the error envelope, and what
//! each HTTP status means.
//!
//! Ashby reports most client errors as HTTP 200 with `success: false`, and its documented error
//! shape has changed over time (`errors` as strings, now deprecated, next to `errorInfo`), so
//! every answer goes through [`interpret`], which checks the status and the `success` flag and
//! reads error codes defensively. It is a pure function of the answer, so every branch is
//! unit-tested without a server.

use std::time::Duration;

use serde_json::Value;

use crate::entities::Entity;
use crate::error::AshbyError;

/// One page of a list endpoint.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Page {
    /// The records of the page, as sent.
    pub(crate) results: Vec<Value>,
    /// True when another page follows; a missing flag means no.
    pub(crate) more_data_available: bool,
    /// The cursor of the next page.
    pub(crate) next_cursor: Option<String>,
    /// The token for the next incremental pass, sent with the last page.
    pub(crate) sync_token: Option<String>,
}

/// The parts of Ashby's error envelope a client acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ErrorInfo {
    /// The machine-readable code, such as `sync_token_expired`.
    pub(crate) code: String,
    /// Ashby's explanation.
    pub(crate) message: Option<String>,
    /// The id Ashby support asks for.
    pub(crate) request_id: Option<String>,
}

/// What a request was, for turning its answer into an error that names it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestFacts<'a> {
    /// The entity whose endpoint was called.
    pub(crate) entity: &'static Entity,
    /// Where the API key came from, such as `${ASHBY_API_KEY}`; never the key.
    pub(crate) key_source: &'a str,
}

/// The page in an answer, or the error it reports.
pub(crate) fn interpret(
    request: RequestFacts<'_>,
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
) -> Result<Page, AshbyError> {
    let endpoint = request.entity.endpoint;
    let info = || serde_json::from_slice::<Value>(body).ok().and_then(|v| error_info(&v));

    match status {
        200 => read_success(request, body),
        401 => Err(AshbyError::Unauthorized { key_source: request.key_source.into() }),
        403 => match info() {
            Some(info) if info.code == "missing_endpoint_permission" => {
                Err(missing_permission(request.entity, info))
            }
            info => Err(AshbyError::Forbidden {
                key_source: request.key_source.into(),
                code: info.map(|i| i.code),
            }),
        },
        429 => {
            let info = info();
            Err(AshbyError::RateLimited {
                endpoint,
                status: Some(status),
                code: info.as_ref().map(|i| i.code.clone()),
                retry_after,
                request_id: info.and_then(|i| i.request_id),
            })
        }
        500..=599 => Err(AshbyError::ServerError {
            endpoint,
            status,
            retry_after,
            request_id: info().and_then(|i| i.request_id),
        }),
        _ => Err(match info() {
            Some(info) => error_for_code(request.entity, info),
            None => AshbyError::UnexpectedStatus { endpoint, status, excerpt: excerpt(body) },
        }),
    }
}

fn read_success(request: RequestFacts<'_>, body: &[u8]) -> Result<Page, AshbyError> {
    let endpoint = request.entity.endpoint;
    let value: Value = serde_json::from_slice(body).map_err(|error| {
        let detail = if error.is_eof() {
            format!("the body ends after {} bytes, in the middle of the JSON", body.len())
        } else {
            format!("{error}; it starts with {}", excerpt(body))
        };
        AshbyError::UnreadableBody { endpoint, detail }
    })?;

    match value.get("success").and_then(Value::as_bool) {
        Some(true) => read_page(endpoint, value),
        Some(false) => Err(error_for_code(
            request.entity,
            error_info(&value).unwrap_or_else(|| ErrorInfo {
                code: "unknown".to_string(),
                message: Some(excerpt(body)),
                request_id: None,
            }),
        )),
        None => Err(AshbyError::Malformed {
            endpoint,
            detail: format!("the answer has no `success` flag: {}", excerpt(body)),
        }),
    }
}

fn read_page(endpoint: &'static str, mut value: Value) -> Result<Page, AshbyError> {
    let results = match value.get_mut("results").map(Value::take) {
        Some(Value::Array(results)) => results,
        other => {
            let found = other.as_ref().map_or("nothing", json_kind);
            return Err(AshbyError::Malformed {
                endpoint,
                detail: format!("`results` should be a list but is {found}"),
            });
        }
    };
    let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_string);

    Ok(Page {
        results,
        more_data_available: value.get("moreDataAvailable").and_then(Value::as_bool) == Some(true),
        next_cursor: text("nextCursor"),
        sync_token: text("syncToken"),
    })
}

/// Reads the error code, message and request id of an error envelope.
///
/// The code comes from `errorInfo.code`, else the first string in the deprecated `errors`
/// list, else the `code` of its first object, so that every shape seen in the wild works.
pub(crate) fn error_info(body: &Value) -> Option<ErrorInfo> {
    let info = body.get("errorInfo");
    let errors = body.get("errors").and_then(Value::as_array);
    let info_text = |key: &str| info.and_then(|i| i.get(key)).and_then(Value::as_str);

    let first_string = || errors?.iter().find_map(Value::as_str);
    let first_object = || errors?.first()?.get("code")?.as_str();
    let code = info_text("code").or_else(first_string).or_else(first_object)?;

    let object_message =
        || errors?.first()?.get("message").and_then(Value::as_str).map(str::to_string);
    Some(ErrorInfo {
        code: code.to_string(),
        message: info_text("message").map(str::to_string).or_else(object_message),
        request_id: info_text("requestId").map(str::to_string),
    })
}

/// The error an Ashby error code stands for.
fn error_for_code(entity: &'static Entity, info: ErrorInfo) -> AshbyError {
    let endpoint = entity.endpoint;
    let ErrorInfo { code, message, request_id } = info;
    match code.as_str() {
        "missing_endpoint_permission" => {
            missing_permission(entity, ErrorInfo { code, message, request_id })
        }
        "rate_limit_exceeded" | "concurrent_limit_exceeded" => AshbyError::RateLimited {
            endpoint,
            status: None,
            code: Some(code),
            retry_after: None,
            request_id,
        },
        "next_cursor_expired" | "invalid_next_cursor" | "cursor_invalid" => {
            AshbyError::CursorRejected { endpoint, code, request_id }
        }
        "sync_token_expired" | "sync_token_invalid" | "incremental_sync_too_large" => {
            AshbyError::SyncTokenRejected { endpoint, code, request_id }
        }
        _ => AshbyError::Api { endpoint, code, message, request_id },
    }
}

fn missing_permission(entity: &'static Entity, info: ErrorInfo) -> AshbyError {
    AshbyError::MissingPermission {
        entity: entity.name,
        endpoint: entity.endpoint,
        permission: entity.permission,
        request_id: info.request_id,
    }
}

/// The start of a body, on one line, for error messages.
fn excerpt(body: &[u8]) -> String {
    const LIMIT: usize = 160;
    let text = String::from_utf8_lossy(body);
    let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        return "an empty body".to_string();
    }
    match text.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("`{}…`", &text[..cut]),
        None => format!("`{text}`"),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn facts(name: &str) -> RequestFacts<'static> {
        RequestFacts {
            entity: Entity::named(name).expect("entity exists"),
            key_source: "${ASHBY_API_KEY}",
        }
    }

    fn answer(name: &str, status: u16, body: Value) -> Result<Page, AshbyError> {
        interpret(facts(name), status, None, body.to_string().as_bytes())
    }

    #[test]
    fn a_page_reads_results_cursor_and_token() {
        let page = answer(
            "candidates",
            200,
            json!({"success": true, "results": [{"id": "a"}], "moreDataAvailable": true,
                   "nextCursor": "c1"}),
        )
        .expect("a page");
        assert_eq!(page.results, vec![json!({"id": "a"})]);
        assert!(page.more_data_available);
        assert_eq!(page.next_cursor.as_deref(), Some("c1"));
        assert_eq!(page.sync_token, None);
    }

    #[test]
    fn a_missing_more_data_flag_means_the_last_page() {
        let page = answer("archive_reasons", 200, json!({"success": true, "results": []}))
            .expect("a page");
        assert!(!page.more_data_available);
    }

    #[test]
    fn error_codes_are_read_from_every_documented_shape() {
        let info = error_info(&json!({
            "success": false, "errors": ["x"],
            "errorInfo": {"code": "sync_token_expired", "message": "too old", "requestId": "r1"}
        }));
        assert_eq!(
            info,
            Some(ErrorInfo {
                code: "sync_token_expired".into(),
                message: Some("too old".into()),
                request_id: Some("r1".into()),
            })
        );
        let strings = error_info(&json!({"success": false, "errors": ["invalid_input"]}));
        assert_eq!(strings.map(|i| i.code), Some("invalid_input".into()));
        let objects = error_info(&json!({"errors": [{"code": "cursor_invalid", "message": "m"}]}));
        assert_eq!(objects.clone().map(|i| i.code), Some("cursor_invalid".into()));
        assert_eq!(objects.and_then(|i| i.message), Some("m".into()));
        assert_eq!(error_info(&json!({"success": false})), None);
    }

    #[test]
    fn success_false_codes_become_the_errors_the_reader_acts_on() {
        let envelope = |code: &str| {
            json!({"success": false, "errors": [code],
                   "errorInfo": {"code": code, "message": "m", "requestId": "req-9"}})
        };
        type Check = fn(&AshbyError) -> bool;
        let cases: [(&str, Check); 6] = [
            ("next_cursor_expired", |e| matches!(e, AshbyError::CursorRejected { .. })),
            ("invalid_next_cursor", |e| matches!(e, AshbyError::CursorRejected { .. })),
            ("incremental_sync_too_large", |e| matches!(e, AshbyError::SyncTokenRejected { .. })),
            ("sync_token_invalid", |e| matches!(e, AshbyError::SyncTokenRejected { .. })),
            ("rate_limit_exceeded", |e| e.is_transient()),
            ("invalid_input", |e| matches!(e, AshbyError::Api { .. }) && !e.is_transient()),
        ];
        for (code, expected) in cases {
            let error = answer("candidates", 200, envelope(code)).expect_err(code);
            assert!(expected(&error), "{code}: {error:?}");
            assert!(error.to_string().contains("req-9"), "{code}: {error}");
        }
    }

    #[test]
    fn statuses_map_to_auth_permission_and_transient_errors() {
        let unauthorized = interpret(facts("users"), 401, None, b"Unauthorized").expect_err("401");
        assert!(matches!(unauthorized, AshbyError::Unauthorized { .. }));

        let wrong_key = answer(
            "users",
            403,
            json!({"success": false, "errorInfo": {"code": "invalid_api_key"}}),
        )
        .expect_err("403");
        assert!(matches!(wrong_key, AshbyError::Forbidden { .. }), "{wrong_key:?}");

        let missing = answer(
            "offers",
            403,
            json!({"success": false, "errorInfo": {"code": "missing_endpoint_permission"}}),
        )
        .expect_err("403");
        assert!(
            matches!(missing, AshbyError::MissingPermission { permission: "offersRead", .. }),
            "{missing:?}"
        );

        let limited =
            interpret(facts("jobs"), 429, Some(Duration::from_secs(3)), b"").expect_err("429");
        assert!(limited.is_transient());
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(3)));

        let server =
            interpret(facts("jobs"), 502, None, b"<html>bad gateway</html>").expect_err("502");
        assert!(matches!(server, AshbyError::ServerError { status: 502, .. }));

        let teapot = interpret(facts("jobs"), 418, None, b"short and stout").expect_err("418");
        assert!(!teapot.is_transient());
        assert!(teapot.to_string().contains("short and stout"), "{teapot}");
    }

    #[test]
    fn an_error_code_with_a_4xx_status_is_handled_like_one_in_a_200() {
        let error = answer(
            "candidates",
            400,
            json!({"success": false, "errorInfo": {"code": "sync_token_expired"}}),
        )
        .expect_err("400");
        assert!(matches!(error, AshbyError::SyncTokenRejected { .. }), "{error:?}");
    }

    #[test]
    fn truncated_and_html_bodies_are_transient() {
        let truncated = interpret(facts("candidates"), 200, None, br#"{"success": true, "resu"#)
            .expect_err("truncated");
        assert!(truncated.is_transient());
        assert!(truncated.to_string().contains("ends after"), "{truncated}");

        let html = interpret(facts("candidates"), 200, None, b"<html><body>Bad gateway</body>")
            .expect_err("html");
        assert!(html.is_transient());
        assert!(html.to_string().contains("<html>"), "{html}");
    }

    #[test]
    fn answers_without_the_documented_shape_are_not_retried() {
        let no_flag = answer("candidates", 200, json!({"results": []})).expect_err("no flag");
        assert!(matches!(no_flag, AshbyError::Malformed { .. }));
        let not_list = answer("candidates", 200, json!({"success": true, "results": {"id": "a"}}))
            .expect_err("object");
        assert!(not_list.to_string().contains("`results` should be a list but is an object"));
        assert!(!not_list.is_transient());
    }
}
