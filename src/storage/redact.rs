//! Keeping secrets out of messages: URLs shown without user info or query,
//! and foreign error text with every credential the environment holds, and
//! every signature-like query parameter, masked.

use std::sync::OnceLock;

/// Environment variables whose values are credentials, for the clouds
/// object_store reads them for.
const SECRET_VARS: &[&str] = &[
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AZURE_STORAGE_ACCOUNT_KEY",
    "AZURE_STORAGE_ACCESS_KEY",
    "AZURE_STORAGE_MASTER_KEY",
    "AZURE_STORAGE_SAS_KEY",
    "AZURE_STORAGE_SAS_TOKEN",
    "AZURE_STORAGE_TOKEN",
    "AZURE_CLIENT_SECRET",
    "AZURE_FEDERATED_TOKEN",
    "GOOGLE_SERVICE_ACCOUNT_KEY",
];

/// Query parameters that carry a signature or a token (Azure SAS, S3
/// presigned URLs, bearer tokens in URLs).
const SECRET_PARAMS: &[&str] = &[
    "sig",
    "signature",
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
    "token",
    "access_token",
    "code",
];

/// `url` as it may be shown: without `user:password@` and without a query.
pub fn display_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    format!("{scheme}://{host}{path}")
}

/// `text` with every credential held in the environment and every
/// secret-bearing query parameter replaced by `***`.
pub fn redact(text: &str) -> String {
    let mut out = without_user_info(text);
    for secret in secrets() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), "***");
        }
    }
    mask_params(&out)
}

/// Credential values of the process environment (read once: the
/// environment of a run does not change while it runs).
fn secrets() -> &'static [String] {
    static SECRETS: OnceLock<Vec<String>> = OnceLock::new();
    SECRETS.get_or_init(|| {
        SECRET_VARS
            .iter()
            .filter_map(|v| std::env::var(v).ok())
            // Shorter values would mask ordinary words in a message.
            .filter(|v| v.len() >= 6)
            .collect()
    })
}

/// `text` with the user info of every URL in it (`https://user:pass@host`)
/// removed.
fn without_user_info(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        out.push_str(&rest[..i + 3]);
        rest = &rest[i + 3..];
        let authority_end = rest
            .find(|c: char| c == '/' || c == '?' || c == '#' || c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@') {
            rest = &rest[at + 1..];
        }
    }
    out.push_str(rest);
    out
}

fn mask_params(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(['?', '&']) {
        out.push_str(&rest[..=i]);
        rest = &rest[i + 1..];
        let Some(eq) = rest.find('=') else { continue };
        let name = &rest[..eq];
        if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c == '&' || c == '?') {
            continue;
        }
        if SECRET_PARAMS.iter().any(|p| name.eq_ignore_ascii_case(p)) {
            out.push_str(name);
            out.push_str("=***");
            let end = rest[eq + 1..]
                .find(|c: char| c == '&' || c.is_whitespace() || c == '"' || c == '\'')
                .map_or(rest.len(), |e| eq + 1 + e);
            rest = &rest[end..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_user_info_or_query() {
        assert_eq!(display_url("s3://bucket/a/b.csv"), "s3://bucket/a/b.csv");
        assert_eq!(
            display_url("https://user:pass@example.com/x.csv?sv=1&sig=abc"),
            "https://example.com/x.csv"
        );
        assert_eq!(display_url("az://container/dir#frag"), "az://container/dir");
        assert_eq!(display_url("relative/path.csv"), "relative/path.csv");
    }

    #[test]
    fn user_info_in_urls_is_removed_from_any_text() {
        assert_eq!(
            redact("Error performing GET https://bob:hunter2@files.example/x.csv in 3ms - 401"),
            "Error performing GET https://files.example/x.csv in 3ms - 401"
        );
        assert_eq!(
            redact("s3://bucket/key and mail@example.com"),
            "s3://bucket/key and mail@example.com"
        );
        assert_eq!(redact("a://u@h b://v:w@i/x"), "a://h b://i/x");
    }

    #[test]
    fn signature_parameters_are_masked_and_others_kept() {
        let text = "GET https://acct.blob.core.windows.net/c/x?sv=2021&sig=SECRETSIG&se=1 failed";
        assert_eq!(
            mask_params(text),
            "GET https://acct.blob.core.windows.net/c/x?sv=2021&sig=***&se=1 failed"
        );
        let text = "url?X-Amz-Signature=abc123 and more";
        assert_eq!(mask_params(text), "url?X-Amz-Signature=*** and more");
        assert_eq!(mask_params("what? nothing & nobody"), "what? nothing & nobody");
        assert_eq!(mask_params("a?b"), "a?b");
    }
}
