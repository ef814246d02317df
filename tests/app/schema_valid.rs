//! What `/openapi.json` accepts, the app accepts: for every route, requests
//! built only from the published schema (minimal values, then each length and
//! range at its bounds) are never refused by validation (400 or 422). A client
//! generated from the document must not be able to send what the server rejects.

use serde_json::{Map, Value, json};

use crate::support;

#[tokio::test]
async fn schema_valid_requests_are_never_refused_by_validation() {
    let db = support::TempDb::new("schema-valid");
    let (running, base) = support::serve(&db).await;
    let c = reqwest::Client::new();
    let owner = support::sign_up(&c, &base, "owner@example.com").await;
    assert_eq!(
        owner, 1,
        "the generated `{{id}}` (its minimum, 1) is the owner's"
    );
    let spec: Value = c
        .get(format!("{base}/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let mut operations = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("a path item") {
            operations.push((method.clone(), path.clone(), op.clone()));
        }
    }
    // Deleting the account (and logging out) last keeps the token alive for the rest.
    operations.sort_by_key(|(m, p, _)| (m == "delete", p == "/auth/logout", p.clone()));

    let mut refused = Vec::new();
    let mut sent = 0;
    for (method, path, op) in &operations {
        let token = support::log_in(&c, &base, "owner@example.com").await;
        for request in requests(&spec, op) {
            let url = format!("{base}{}", fill_path(path, &request.path));
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let mut req = c.request(method.clone(), &url).query(&request.query);
            if let Some(body) = &request.body {
                req = req.json(body);
            }
            if op.get("security").is_some() {
                req = req.bearer_auth(&token);
            }
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let text = res.text().await.unwrap_or_default();
            sent += 1;
            if matches!(status, 400 | 422 | 500) {
                refused.push(format!(
                    "{method} {url} query {:?} body {} -> {status} {text}",
                    request.query,
                    request
                        .body
                        .as_ref()
                        .map_or("none".into(), Value::to_string)
                ));
            }
        }
    }
    assert!(sent > 20, "only {sent} requests were generated");
    assert!(
        refused.is_empty(),
        "schema-valid requests refused:\n{}",
        refused.join("\n")
    );
    support::stop(running).await;
}

/// One request's parts, each a value the schema accepts.
#[derive(Clone, Default)]
struct Request {
    path: Map<String, Value>,
    query: Vec<(String, String)>,
    body: Option<Value>,
}

fn fill_path(path: &str, params: &Map<String, Value>) -> String {
    params.iter().fold(path.to_owned(), |p, (name, v)| {
        p.replace(&format!("{{{name}}}"), &plain(v))
    })
}

fn plain(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

/// The minimal request, the one with every property, and one per bound of
/// every property (on top of the one with every property).
fn requests(spec: &Value, op: &Value) -> Vec<Request> {
    let params = op["parameters"].as_array().cloned().unwrap_or_default();
    let body = op
        .pointer("/requestBody/content/application~1json/schema")
        .map(|s| resolve(spec, s));
    let mut minimal = Request::default();
    let mut full = Request::default();
    for p in &params {
        let name = p["name"].as_str().unwrap().to_owned();
        let v = value(spec, &p["schema"]);
        match p["in"].as_str() {
            Some("path") => {
                minimal.path.insert(name.clone(), v.clone());
                full.path.insert(name, v);
            }
            _ => {
                if p["required"] == true {
                    minimal.query.push((name.clone(), plain(&v)));
                }
                full.query.push((name, plain(&v)));
            }
        }
    }
    if let Some(body) = &body {
        minimal.body = Some(object(spec, body, false));
        full.body = Some(object(spec, body, true));
    }
    let mut out = vec![minimal.clone(), full.clone()];
    // Each branch of an "at least one of" on its own.
    if let Some(branches) = body.as_ref().and_then(|b| b["anyOf"].as_array()) {
        for branch in branches {
            let mut r = minimal.clone();
            let obj = r.body.as_mut().and_then(Value::as_object_mut).unwrap();
            for name in branch["required"].as_array().into_iter().flatten() {
                let name = name.as_str().unwrap();
                let schema = &body.as_ref().unwrap()["properties"][name];
                obj.insert(name.to_owned(), value(spec, schema));
            }
            out.push(r);
        }
    }
    for p in &params {
        let name = p["name"].as_str().unwrap();
        for v in bounds(spec, &p["schema"]) {
            let mut r = full.clone();
            if p["in"] == "path" {
                r.path.insert(name.to_owned(), v);
            } else {
                r.query.retain(|(k, _)| k != name);
                r.query.push((name.to_owned(), plain(&v)));
            }
            out.push(r);
        }
    }
    if let Some(props) = body.as_ref().and_then(|b| b["properties"].as_object()) {
        for (name, schema) in props {
            for v in bounds(spec, schema) {
                let mut r = full.clone();
                r.body.as_mut().unwrap()[name] = v;
                out.push(r);
            }
        }
    }
    out
}

/// An object with its required properties (all of them with `every`), plus
/// the first "at least one of" branch's.
fn object(spec: &Value, schema: &Value, every: bool) -> Value {
    let schema = resolve(spec, schema);
    let mut out = Map::new();
    let props = schema["properties"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut wanted: Vec<String> = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    if let Some(first) = schema["anyOf"].as_array().and_then(|b| b.first()) {
        wanted.extend(
            first["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_owned)),
        );
    }
    for (name, prop) in &props {
        if every || wanted.contains(name) {
            out.insert(name.clone(), value(spec, prop));
        }
    }
    Value::Object(out)
}

fn resolve(spec: &Value, schema: &Value) -> Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.trim_start_matches("#/components/schemas/");
            resolve(spec, &spec["components"]["schemas"][name])
        }
        None => schema.clone(),
    }
}

/// The schema's type, the first that is not `null`.
fn kind(schema: &Value) -> String {
    match &schema["type"] {
        Value::String(t) => t.clone(),
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null")
            .to_owned(),
        _ => "object".to_owned(),
    }
}

/// The smallest value the schema accepts: the empty string where no length is
/// required, the lowest number allowed.
fn value(spec: &Value, schema: &Value) -> Value {
    let schema = resolve(spec, schema);
    for key in ["anyOf", "oneOf"] {
        if let Some(branch) = schema[key]
            .as_array()
            .and_then(|b| b.iter().find(|s| kind(s) != "null"))
            && schema.get("type").is_none()
        {
            return value(spec, branch);
        }
    }
    if let Some(v) = schema.get("const") {
        return v.clone();
    }
    if let Some(v) = schema["enum"].as_array().and_then(|e| e.first()) {
        return v.clone();
    }
    let min_len = schema["minLength"].as_u64().unwrap_or(0) as usize;
    match kind(&schema).as_str() {
        "string" => json!(text(&schema, min_len)),
        "integer" => json!(lowest(&schema).unwrap_or(0.0) as i64),
        "number" => json!(lowest(&schema).unwrap_or(0.0)),
        "boolean" => json!(false),
        "array" => {
            let n = schema["minItems"].as_u64().unwrap_or(0) as usize;
            Value::Array(vec![value(spec, &schema["items"]); n])
        }
        "null" => Value::Null,
        _ => object(spec, &schema, false),
    }
}

/// A string of exactly `len` characters (or the format's shortest value when
/// `len` is below it). A `format` alone is only an annotation in JSON Schema
/// 2020-12, which generated clients ignore, so only a `pattern` next to it
/// makes the value follow the format.
fn text(schema: &Value, len: usize) -> String {
    let pad = |prefix: &str, suffix: &str| {
        let fill = len.saturating_sub(prefix.len() + suffix.len());
        format!("{prefix}{}{suffix}", "a".repeat(fill))
    };
    let format = schema["pattern"]
        .is_string()
        .then(|| schema["format"].as_str())
        .flatten();
    match format {
        Some("email") => pad("a", "@example.com"),
        Some("uri") => pad("https://example.com/", ""),
        _ => "a".repeat(len),
    }
}

fn lowest(schema: &Value) -> Option<f64> {
    schema["minimum"]
        .as_f64()
        .or_else(|| schema["exclusiveMinimum"].as_f64().map(|m| m + 1.0))
}

fn highest(schema: &Value) -> Option<f64> {
    schema["maximum"]
        .as_f64()
        .or_else(|| schema["exclusiveMaximum"].as_f64().map(|m| m - 1.0))
}

/// The values at each end of the schema's lengths and ranges.
fn bounds(spec: &Value, schema: &Value) -> Vec<Value> {
    let schema = resolve(spec, schema);
    let mut out = Vec::new();
    match kind(&schema).as_str() {
        "string" => {
            for key in ["minLength", "maxLength"] {
                if let Some(n) = schema[key].as_u64() {
                    out.push(json!(text(&schema, n as usize)));
                }
            }
        }
        "integer" => out.extend(
            [lowest(&schema), highest(&schema)]
                .into_iter()
                .flatten()
                .map(|n| json!(n as i64)),
        ),
        "number" => out.extend(
            [lowest(&schema), highest(&schema)]
                .into_iter()
                .flatten()
                .map(|n| json!(n)),
        ),
        "array" => {
            for key in ["minItems", "maxItems"] {
                if let Some(n) = schema[key].as_u64() {
                    out.push(Value::Array(vec![
                        value(spec, &schema["items"]);
                        n as usize
                    ]));
                }
            }
        }
        _ => {}
    }
    out
}
