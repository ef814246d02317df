//! Connection URLs without their credentials, for boot reports, `/system/*`
//! and error messages.
//!
//! One helper for every tool: two hand-written ones each missed a case (a
//! password containing `@` kept its tail; `redis+unix:///path?pass=SECRET`
//! kept it whole). Erring on the side of hiding: everything before the last
//! `@` of the URL goes, and so does the value of every query parameter that
//! names a credential.

/// Query parameters whose values are credentials.
const SECRET_PARAMS: &[&str] = &[
    "pass",
    "password",
    "passwd",
    "pwd",
    "sslpassword",
    "secret",
    "token",
    "auth",
];

/// `url` with every credential replaced by `***`: the userinfo (`user:pw@`)
/// and the values of `pass`, `password` and similar query parameters.
///
/// `postgres://u:S3c@ret@db/app` gives `postgres://***@db/app`;
/// `redis+unix:///run/redis.sock?pass=x&db=1` gives
/// `redis+unix:///run/redis.sock?pass=***&db=1`.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    // The last `@`: an unencoded `@` in the password must not leak its tail.
    let rest = match (scheme, rest.rfind('@')) {
        (Some(_), Some(at)) => format!("***@{}", &rest[at + 1..]),
        _ => rest.to_owned(),
    };
    let rest = match rest.split_once('?') {
        Some((base, query)) => format!("{base}?{}", redact_query(query)),
        None => rest,
    };
    match scheme {
        Some(scheme) => format!("{scheme}://{rest}"),
        None => rest,
    }
}

fn redact_query(query: &str) -> String {
    let (query, fragment) = match query.split_once('#') {
        Some((q, f)) => (q, Some(f)),
        None => (query, None),
    };
    let mut out = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_secret(name) => format!("{name}=***"),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&");
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

fn is_secret(name: &str) -> bool {
    SECRET_PARAMS.iter().any(|s| s.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn userinfo_goes_entirely_even_when_the_password_holds_an_at_sign() {
        assert_eq!(
            redact_url("postgres://user:S3cr@etPW@host:5432/app"),
            "postgres://***@host:5432/app"
        );
        assert_eq!(
            redact_url("redis://:pw@cache:6379/0"),
            "redis://***@cache:6379/0"
        );
        assert_eq!(redact_url("redis://user@cache"), "redis://***@cache");
    }

    #[test]
    fn credential_query_parameters_lose_their_values() {
        assert_eq!(
            redact_url("redis+unix:///run/redis.sock?pass=SECRET&db=2"),
            "redis+unix:///run/redis.sock?pass=***&db=2"
        );
        assert_eq!(
            redact_url("postgres://db/app?sslmode=require&Password=x#frag"),
            "postgres://db/app?sslmode=require&Password=***#frag"
        );
        assert_eq!(
            redact_url("sqlite:app.db?password=x"),
            "sqlite:app.db?password=***"
        );
    }

    #[test]
    fn urls_without_credentials_are_unchanged() {
        for url in [
            "redis://127.0.0.1:6379",
            "sqlite:microcore.db",
            "postgres://db:5432/app?sslmode=disable",
            "nonsense",
        ] {
            assert_eq!(redact_url(url), url);
        }
    }
}
