//! Google's OAuth token endpoint for service accounts, as the fake plays it.
//!
//! A client signs a JWT with the service account's private key and posts it with the
//! `jwt-bearer` grant; the endpoint checks the claims (issuer, audience = the token endpoint's
//! own URL, a scope that reaches spreadsheets, issue and expiry times) and, for accounts whose
//! key the test registered, the RS256 signature. It answers with a bearer token the Sheets
//! endpoints then map back to the account's e-mail. Errors use OAuth's own shape
//! (`{"error": "invalid_grant", "error_description": ...}`), not the API's error envelope, as
//! Google's token endpoint does.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::Value;

/// The grant type a service account's token request must use.
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The scope that lets a token read and write spreadsheets.
pub const SPREADSHEETS_SCOPE: &str = "https://www.googleapis.com/auth/spreadsheets";

/// The Drive scope, which also reaches spreadsheets.
const DRIVE_SCOPE: &str = "https://www.googleapis.com/auth/drive";

/// The claims of a verified assertion that matter to the fake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Assertion {
    /// The service account's e-mail (`iss`).
    pub(crate) email: String,
    /// The scopes asked for, space separated in the JWT.
    pub(crate) scopes: Vec<String>,
}

/// A refused token request: the OAuth error code and description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GrantError {
    /// `invalid_request`, `invalid_grant`, `unsupported_grant_type` or `invalid_scope`.
    pub(crate) error: &'static str,
    /// What was wrong, in Google's words where the fake knows them.
    pub(crate) description: String,
}

fn grant_error(error: &'static str, description: impl Into<String>) -> GrantError {
    GrantError { error, description: description.into() }
}

/// The DER `RSAPublicKey` of a PKCS#8 PEM private key, which is what a service-account key file
/// holds. The fake verifies signatures with it.
pub fn public_key_of(private_key_pem: &str) -> Result<Vec<u8>, String> {
    let body: String =
        private_key_pem.lines().filter(|line| !line.starts_with("-----")).map(str::trim).collect();
    let der = STANDARD.decode(body).map_err(|error| format!("the key is not base64: {error}"))?;
    let pair = ring::signature::RsaKeyPair::from_pkcs8(&der)
        .map_err(|error| format!("the key is not a PKCS#8 RSA key: {error}"))?;
    Ok(ring::signature::KeyPair::public_key(&pair).as_ref().to_vec())
}

/// Reads an `application/x-www-form-urlencoded` body.
pub(crate) fn form_fields(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode_form(key), decode_form(value))
        })
        .collect()
}

fn decode_form(text: &str) -> String {
    let spaced = text.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

/// Checks a token request's form body.
///
/// `token_uri` is the endpoint's own URL, which the JWT's audience must equal; `public_key`
/// returns the registered key of an account, if any, to verify the signature with.
pub(crate) fn check_token_request(
    form: &[(String, String)],
    token_uri: &str,
    public_key: impl Fn(&str) -> Option<Vec<u8>>,
) -> Result<Assertion, GrantError> {
    let field = |name: &str| form.iter().find(|(key, _)| key == name).map(|(_, v)| v.as_str());
    match field("grant_type") {
        Some(JWT_BEARER_GRANT) => {}
        Some(other) => {
            return Err(grant_error(
                "unsupported_grant_type",
                format!("Invalid grant_type: {other}"),
            ));
        }
        None => {
            return Err(grant_error("invalid_request", "Missing required parameter: grant_type"));
        }
    }
    let assertion = field("assertion")
        .ok_or_else(|| grant_error("invalid_request", "Missing required parameter: assertion"))?;

    let parts: Vec<&str> = assertion.split('.').collect();
    let [header, claims, signature] = parts[..] else {
        return Err(grant_error("invalid_grant", "Invalid JWT: Token must be a short-lived token"));
    };
    let decode_json = |part: &str| -> Result<Value, GrantError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(part.trim_end_matches('='))
            .map_err(|_| grant_error("invalid_grant", "Invalid JWT: not base64url"))?;
        serde_json::from_slice(&bytes).map_err(|_| grant_error("invalid_grant", "Invalid JWT"))
    };
    let header = decode_json(header)?;
    let claims = decode_json(claims)?;
    if header["alg"].as_str() != Some("RS256") {
        return Err(grant_error("invalid_grant", "Invalid JWT: the algorithm must be RS256"));
    }

    let email = claims["iss"]
        .as_str()
        .ok_or_else(|| grant_error("invalid_grant", "Invalid JWT: missing iss"))?
        .to_string();
    if claims["aud"].as_str() != Some(token_uri) {
        return Err(grant_error(
            "invalid_grant",
            format!(
                "Invalid JWT: audience {} is not the token endpoint {token_uri}",
                claims["aud"]
            ),
        ));
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let issued = claims["iat"].as_i64().unwrap_or(i64::MIN);
    let expires = claims["exp"].as_i64().unwrap_or(i64::MIN);
    if issued > now + 60 || expires <= now || expires - issued > 3600 {
        return Err(grant_error(
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable \
             timeframe. Check your iat and exp values in the JWT claim.",
        ));
    }
    let scopes: Vec<String> =
        claims["scope"].as_str().unwrap_or("").split_whitespace().map(str::to_string).collect();
    if !scopes.iter().any(|s| s == SPREADSHEETS_SCOPE || s == DRIVE_SCOPE) {
        return Err(grant_error(
            "invalid_scope",
            format!("the assertion's scope {scopes:?} does not include {SPREADSHEETS_SCOPE}"),
        ));
    }

    if let Some(key) = public_key(&email) {
        let signed = &assertion[..assertion.len() - signature.len() - 1];
        // Some clients pad their base64url parts; Google accepts both forms.
        let signature = URL_SAFE_NO_PAD
            .decode(signature.trim_end_matches('='))
            .map_err(|_| grant_error("invalid_grant", "Invalid JWT Signature."))?;
        ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, key)
            .verify(signed.as_bytes(), &signature)
            .map_err(|_| grant_error("invalid_grant", "Invalid JWT Signature."))?;
    }
    Ok(Assertion { email, scopes })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: Value) -> String {
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT"}"#);
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        format!("{header}.{claims}.c2lnbmF0dXJl")
    }

    fn form(assertion: &str) -> Vec<(String, String)> {
        form_fields(&format!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={assertion}"
        ))
    }

    fn claims(aud: &str, scope: &str) -> Value {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        serde_json::json!({"iss": "a@p.iam.gserviceaccount.com", "aud": aud, "scope": scope,
                           "iat": now, "exp": now + 3595})
    }

    #[test]
    fn a_well_formed_assertion_for_an_unregistered_account_gets_a_token() {
        let request = form(&jwt(claims("http://x/token", SPREADSHEETS_SCOPE)));
        let assertion = check_token_request(&request, "http://x/token", |_| None).unwrap();
        assert_eq!(assertion.email, "a@p.iam.gserviceaccount.com");
    }

    #[test]
    fn a_wrong_audience_or_scope_is_refused() {
        let wrong_audience =
            form(&jwt(claims("https://oauth2.googleapis.com/token", SPREADSHEETS_SCOPE)));
        let error = check_token_request(&wrong_audience, "http://x/token", |_| None).unwrap_err();
        assert_eq!(error.error, "invalid_grant");

        let wrong_scope =
            form(&jwt(claims("http://x/token", "https://www.googleapis.com/auth/bigquery")));
        let error = check_token_request(&wrong_scope, "http://x/token", |_| None).unwrap_err();
        assert_eq!(error.error, "invalid_scope");
    }

    #[test]
    fn a_bad_signature_is_refused_when_the_key_is_known() {
        let request = form(&jwt(claims("http://x/token", SPREADSHEETS_SCOPE)));
        let error = check_token_request(&request, "http://x/token", |_| Some(vec![0x30, 0x00]))
            .unwrap_err();
        assert_eq!(error.description, "Invalid JWT Signature.");
    }
}
