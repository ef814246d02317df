//! `checks.json`: a task's black-box checks, a list of HTTP steps run in
//! order against the app with shared variables. See docs/ai-context.md
//! ("The feature-task suite") for the format.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Value, json};

use super::http::{self, Request, Response};
use super::matcher::{self, Vars};

/// Password the `signup` helper gives every user it creates.
const PASSWORD: &str = "correct horse battery";
/// How long an `eventually` step keeps polling.
const EVENTUALLY: Duration = Duration::from_secs(5);
/// How long a step waits for an answer that is not a stream.
const ANSWER_LIMIT: Duration = Duration::from_secs(10);

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checks {
    /// Run in order; each is one check.
    pub steps: Vec<Step>,
}

/// One check: a helper or a request with its expectations.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Step {
    /// `{"signup": "alice"}`: creates a fresh user and logs in; sets
    /// `alice.id`, `alice.email`, `alice.token`.
    Signup(Signup),
    /// A request and what its answer must be.
    Call(Box<Call>),
}

/// The `signup` helper.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signup {
    /// The variable prefix, also the user's name.
    pub signup: String,
}

/// A request step.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Call {
    /// What the step shows, printed when it fails.
    pub name: String,
    /// `GET` (default), `POST`, `PUT`, `PATCH`, `DELETE`.
    #[serde(default = "get")]
    pub method: String,
    /// Path and query; `${var}` is substituted.
    pub path: String,
    /// A user set up by `signup`: sends `Authorization: Bearer ${<user>.token}`.
    #[serde(default)]
    pub auth: Option<String>,
    /// Extra request headers; `${var}` is substituted in values.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A JSON body (`${var}` substituted; a whole-string `"${id}"` keeps its type).
    #[serde(default)]
    pub json: Option<Value>,
    /// The expected status.
    pub status: u16,
    /// A JSON subset the body must contain (see `matcher::json_contains`).
    #[serde(default)]
    pub expect_json: Option<Value>,
    /// Header name → text its value must contain (case-insensitive).
    #[serde(default)]
    pub expect_headers: BTreeMap<String, String>,
    /// Texts the raw body must contain.
    #[serde(default)]
    pub expect_text: Vec<String>,
    /// Texts the raw body must not contain.
    #[serde(default)]
    pub expect_no_text: Vec<String>,
    /// Variable name → dotted path in the JSON body to store it from.
    #[serde(default)]
    pub capture: BTreeMap<String, String>,
    /// Retry (up to 5 s) until the step passes: for effects of events.
    #[serde(default)]
    pub eventually: bool,
    /// The answer is a stream: read it for at most this many seconds, or
    /// until every `expect_text` has arrived.
    #[serde(default)]
    pub stream_secs: Option<u64>,
}

fn get() -> String {
    "GET".into()
}

/// What running one task's checks gave.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Steps that passed.
    pub passed: usize,
    /// All steps.
    pub total: usize,
    /// The first failing step's name and reason.
    pub first_failure: Option<String>,
}

/// Reads and parses `checks.json`.
pub fn load(path: &Path) -> Result<Checks, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a valid checks file: {e}", path.display()))
}

/// Runs every step against the app on `port`; `unique` is the `${unique}`
/// variable, distinct per task so tasks sharing one database never collide.
pub fn run(checks: &Checks, port: u16, unique: &str) -> Outcome {
    let mut vars = Vars::new();
    vars.insert("unique".into(), json!(unique));
    vars.insert("password".into(), json!(PASSWORD));
    let mut outcome = Outcome {
        total: checks.steps.len(),
        ..Outcome::default()
    };
    for (i, step) in checks.steps.iter().enumerate() {
        let result = match step {
            Step::Signup(s) => signup(&s.signup, port, &mut vars)
                .map_err(|e| format!("step {} (signup {}): {e}", i + 1, s.signup)),
            Step::Call(call) => run_call(call, port, &mut vars)
                .map_err(|e| format!("step {} ({}): {e}", i + 1, call.name)),
        };
        match result {
            Ok(()) => outcome.passed += 1,
            Err(e) => {
                outcome.first_failure.get_or_insert(e);
            }
        }
    }
    outcome
}

fn run_call(call: &Call, port: u16, vars: &mut Vars) -> Result<(), String> {
    let deadline = Instant::now() + EVENTUALLY;
    loop {
        match attempt(call, port, vars) {
            Ok(captured) => {
                vars.extend(captured);
                return Ok(());
            }
            Err(e) if !call.eventually || Instant::now() >= deadline => {
                return Err(if call.eventually {
                    format!("still failing after {} s: {e}", EVENTUALLY.as_secs())
                } else {
                    e
                });
            }
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// One try of a step: the captured variables, or why it failed.
fn attempt(call: &Call, port: u16, vars: &Vars) -> Result<Vars, String> {
    let mut headers = Vec::new();
    if let Some(user) = &call.auth {
        let token = vars
            .get(&format!("{user}.token"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                format!("no token for `{user}`: add a {{\"signup\": \"{user}\"}} step first")
            })?;
        headers.push(("Authorization".to_owned(), format!("Bearer {token}")));
    }
    for (name, value) in &call.headers {
        headers.push((name.clone(), matcher::substitute_text(value, vars)?));
    }
    let body = match &call.json {
        Some(v) => {
            headers.push(("Content-Type".into(), "application/json".into()));
            Some(matcher::substitute_json(v, vars)?.to_string().into_bytes())
        }
        None => None,
    };
    let req = Request {
        method: call.method.to_ascii_uppercase(),
        path: matcher::substitute_text(&call.path, vars)?,
        headers,
        body,
    };
    let expect_text: Vec<String> = call
        .expect_text
        .iter()
        .map(|t| matcher::substitute_text(t, vars))
        .collect::<Result<_, _>>()?;
    let res = match call.stream_secs {
        Some(secs) => http::send(port, &req, Duration::from_secs(secs), &|body| {
            expect_text.iter().all(|t| body.contains(t.as_str()))
        })?,
        None => http::send(port, &req, ANSWER_LIMIT, &|_| false)?,
    };
    judge(call, &res, vars, &expect_text)
}

/// Compares an answer with the step's expectations; on success, the captures.
fn judge(call: &Call, res: &Response, vars: &Vars, expect_text: &[String]) -> Result<Vars, String> {
    let shown = || format!("{} {}", res.status, clip(&res.text));
    if res.status != call.status {
        return Err(format!("expected status {}, got {}", call.status, shown()));
    }
    let body: Option<Value> = serde_json::from_str(&res.text).ok();
    if let Some(want) = &call.expect_json {
        let want = matcher::substitute_json(want, vars)?;
        let got = body
            .as_ref()
            .ok_or_else(|| format!("expected a JSON body, got {}", shown()))?;
        matcher::json_contains(got, &want).map_err(|e| format!("{e}; body {}", clip(&res.text)))?;
    }
    for (name, want) in &call.expect_headers {
        let want = matcher::substitute_text(want, vars)?;
        match res.header(name) {
            Some(v) if v.to_ascii_lowercase().contains(&want.to_ascii_lowercase()) => {}
            other => {
                return Err(format!(
                    "expected header {name} containing {want:?}, got {other:?}"
                ));
            }
        }
    }
    for text in expect_text {
        if !res.text.contains(text.as_str()) {
            return Err(format!(
                "expected the body to contain {text:?}, got {}",
                shown()
            ));
        }
    }
    for text in &call.expect_no_text {
        let text = matcher::substitute_text(text, vars)?;
        if res.text.contains(&text) {
            return Err(format!(
                "expected the body not to contain {text:?}, got {}",
                shown()
            ));
        }
    }
    let mut captured = Vars::new();
    for (name, path) in &call.capture {
        let value = body
            .as_ref()
            .and_then(|b| matcher::pick(b, path))
            .ok_or_else(|| {
                format!(
                    "cannot capture `{name}`: no `{path}` in {}",
                    clip(&res.text)
                )
            })?;
        captured.insert(name.clone(), value.clone());
    }
    Ok(captured)
}

/// Signs a fresh user up (`POST /users`) and logs them in (`POST /auth/login`).
fn signup(user: &str, port: u16, vars: &mut Vars) -> Result<(), String> {
    let email = format!(
        "{user}-{}@example.com",
        vars.get("unique")
            .and_then(Value::as_str)
            .unwrap_or_default()
    );
    let create = Call {
        name: format!("sign up {user}"),
        method: "POST".into(),
        path: "/users".into(),
        json: Some(json!({"name": user, "email": email, "password": PASSWORD})),
        status: 201,
        capture: BTreeMap::from([(format!("{user}.id"), "data.id".into())]),
        ..Call::empty()
    };
    run_call(&create, port, vars)?;
    vars.insert(format!("{user}.email"), json!(email));
    let login = Call {
        name: format!("log {user} in"),
        method: "POST".into(),
        path: "/auth/login".into(),
        json: Some(json!({"email": email, "password": PASSWORD})),
        status: 200,
        capture: BTreeMap::from([(format!("{user}.token"), "data.access_token".into())]),
        ..Call::empty()
    };
    run_call(&login, port, vars)
}

impl Call {
    fn empty() -> Self {
        Self {
            name: String::new(),
            method: get(),
            path: String::new(),
            auth: None,
            headers: BTreeMap::new(),
            json: None,
            status: 200,
            expect_json: None,
            expect_headers: BTreeMap::new(),
            expect_text: Vec::new(),
            expect_no_text: Vec::new(),
            capture: BTreeMap::new(),
            eventually: false,
            stream_secs: None,
        }
    }
}

/// The first 300 characters of a body, for messages.
fn clip(text: &str) -> String {
    let mut s: String = text.chars().take(300).collect();
    if s.len() < text.len() {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(json: Value) -> Call {
        serde_json::from_value(json).unwrap()
    }

    fn answer(status: u16, content_type: &str, text: &str) -> Response {
        Response {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            text: text.into(),
        }
    }

    #[test]
    fn the_file_format_parses_helpers_and_calls_and_rejects_typos() {
        let checks: Checks = serde_json::from_value(json!({"steps": [
            {"signup": "alice"},
            {"name": "list", "path": "/notes", "auth": "alice", "status": 200}
        ]}))
        .unwrap();
        assert!(matches!(checks.steps[0], Step::Signup(_)));
        assert!(matches!(&checks.steps[1], Step::Call(c) if c.method == "GET"));
        let typo = serde_json::from_value::<Checks>(
            json!({"steps": [{"name": "x", "path": "/", "status": 200, "expect_jsn": {}}]}),
        );
        assert!(typo.is_err());
    }

    #[test]
    fn a_wrong_status_fails_and_shows_the_body() {
        let c = call(json!({"name": "x", "path": "/", "status": 201}));
        let e = judge(
            &c,
            &answer(500, "application/json", "{\"error\":\"boom\"}"),
            &Vars::new(),
            &[],
        )
        .unwrap_err();
        assert!(
            e.contains("expected status 201, got 500") && e.contains("boom"),
            "{e}"
        );
    }

    #[test]
    fn json_headers_and_text_are_all_checked() {
        let c = call(json!({"name": "x", "path": "/", "status": 200,
            "expect_json": {"data": {"n": 1}},
            "expect_headers": {"Content-Type": "application/json"},
            "expect_no_text": ["secret"],
            "capture": {"n": "data.n"}}));
        let ok = answer(200, "application/json", "{\"data\":{\"n\":1}}");
        assert_eq!(judge(&c, &ok, &Vars::new(), &[]).unwrap()["n"], json!(1));
        let wrong_json = answer(200, "application/json", "{\"data\":{\"n\":2}}");
        assert!(judge(&c, &wrong_json, &Vars::new(), &[]).is_err());
        let wrong_type = answer(200, "text/plain", "{\"data\":{\"n\":1}}");
        assert!(
            judge(&c, &wrong_type, &Vars::new(), &[])
                .unwrap_err()
                .contains("header")
        );
        let leak = answer(
            200,
            "application/json",
            "{\"data\":{\"n\":1,\"x\":\"secret\"}}",
        );
        assert!(
            judge(&c, &leak, &Vars::new(), &[])
                .unwrap_err()
                .contains("secret")
        );
        let not_json = answer(200, "application/json", "n=1");
        assert!(judge(&c, &not_json, &Vars::new(), &[]).is_err());
    }

    #[test]
    fn expected_text_and_captures_fail_when_absent() {
        let c =
            call(json!({"name": "x", "path": "/", "status": 200, "capture": {"id": "data.id"}}));
        let e = judge(&c, &answer(200, "text/csv", "a,b\n"), &Vars::new(), &[]).unwrap_err();
        assert!(e.contains("cannot capture `id`"), "{e}");
        let c = call(json!({"name": "x", "path": "/", "status": 200}));
        let e = judge(
            &c,
            &answer(200, "text/csv", "a,b\n"),
            &Vars::new(),
            &["a,c".into()],
        )
        .unwrap_err();
        assert!(e.contains("a,c"), "{e}");
    }

    #[test]
    fn an_unreachable_app_fails_every_step_without_panicking() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let checks: Checks = serde_json::from_value(json!({"steps": [
            {"signup": "alice"},
            {"name": "mine", "path": "/notes", "auth": "alice", "status": 200}
        ]}))
        .unwrap();
        let out = run(&checks, port, "u1");
        assert_eq!((out.passed, out.total), (0, 2));
        assert!(out.first_failure.unwrap().contains("signup alice"));
    }
}
