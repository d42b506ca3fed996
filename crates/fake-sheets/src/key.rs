//! Service-account key files for tests and benchmarks, made at run time.
//!
//! A real key file holds a private key, so none is kept in the repository: the first call in a
//! process runs `openssl genpkey` once (a 2048-bit RSA key takes a fraction of a second) and
//! every key file of that process reuses it with its own e-mail and token endpoint.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::json;

static PRIVATE_KEY: OnceLock<Result<String, String>> = OnceLock::new();

/// The process's test private key, a PKCS#8 PEM made by the `openssl` binary.
pub fn test_private_key() -> Result<String, String> {
    PRIVATE_KEY
        .get_or_init(|| {
            let output = Command::new("openssl")
                .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"])
                .output()
                .map_err(|error| format!("cannot run openssl to make a test key: {error}"))?;
            if !output.status.success() {
                return Err(format!(
                    "openssl genpkey failed: {}",
                    String::from_utf8_lossy(&output.stderr)
                ));
            }
            String::from_utf8(output.stdout).map_err(|error| error.to_string())
        })
        .clone()
}

/// The JSON of a service-account key file for `email` whose token endpoint is `token_uri`.
pub fn service_account_key_json(email: &str, token_uri: &str) -> Result<String, String> {
    let key = json!({
        "type": "service_account",
        "project_id": "ashflow-test",
        "private_key_id": "0123456789abcdef",
        "private_key": test_private_key()?,
        "client_email": email,
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
    });
    serde_json::to_string_pretty(&key).map_err(|error| error.to_string())
}

/// Writes a key file for `email` into `folder` and returns its path.
pub fn write_service_account_key(
    folder: &Path,
    email: &str,
    token_uri: &str,
) -> Result<PathBuf, String> {
    let file_name = format!("{}.json", email.split('@').next().unwrap_or("key"));
    let path = folder.join(file_name);
    std::fs::write(&path, service_account_key_json(email, token_uri)?)
        .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
    Ok(path)
}
