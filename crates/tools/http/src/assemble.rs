//! Request assembly: path parameters, the query string and the JSON body
//! into one object, with path and query text coerced to the types the
//! request's JSON Schema asks for, then deserialization and validation.
//!
//! Path parameters are what the URL names, so nothing overrides them: a query
//! or body key with the same name must carry the same value, or the request is
//! a 400 naming the field. A scalar query key given twice (`?limit=1&limit=2`)
//! is a 400 too, rather than silently keeping one of the values.

use serde_json::{Map, Value};
use validator::{ValidationErrors, ValidationErrorsKind};

use crate::error::{FieldError, HttpError};
use crate::model::RequestModel;

/// Merges the three sources into one object, or the 400 saying which field is
/// given twice. `body` must already be a JSON object (or absent); the body
/// wins over the query for the same key.
pub(crate) fn merge(
    schema: &Value,
    query: Vec<(String, String)>,
    path: Vec<(String, String)>,
    body: Option<Map<String, Value>>,
) -> Result<Map<String, Value>, HttpError> {
    let mut out = Map::new();
    let mut repeated: Map<String, Value> = Map::new();
    for (k, v) in query {
        let prop = property(schema, &k);
        if prop.is_some_and(|p| allows(schema, p, "array")) {
            let item = prop.and_then(|p| resolve(schema, p).get("items"));
            let coerced = item.map_or(Value::String(v.clone()), |i| coerce(schema, i, &v));
            if let Value::Array(items) = repeated
                .entry(k)
                .or_insert_with(|| Value::Array(Vec::new()))
            {
                items.push(coerced);
            }
        } else {
            let value = prop.map_or(Value::String(v.clone()), |p| coerce(schema, p, &v));
            // Only a key the model reads is ambiguous when repeated; others
            // (tracking parameters, cache busters) are ignored anyway.
            if prop.is_some() && out.contains_key(&k) {
                return Err(HttpError::bad_request(format!(
                    "query parameter `{k}` is given more than once; send it once"
                )));
            }
            out.insert(k, value);
        }
    }
    out.extend(repeated);
    if let Some(body) = body {
        out.extend(body);
    }
    for (k, v) in path {
        let value =
            property(schema, &k).map_or(Value::String(v.clone()), |p| coerce(schema, p, &v));
        if let Some(given) = out.get(&k)
            && !same_value(given, &value, &v)
        {
            return Err(HttpError::bad_request(format!(
                "`{k}` is a path parameter ({v}) and the request also sends it with another value; \
                 leave `{k}` out of the query and the body"
            )));
        }
        out.insert(k, value);
    }
    Ok(out)
}

/// Whether a query/body value says the same as the path's (`42` and `"42"` do).
fn same_value(given: &Value, coerced: &Value, text: &str) -> bool {
    given == coerced
        || match given {
            Value::String(s) => s == text,
            Value::Number(n) => n.to_string() == text,
            Value::Bool(b) => b.to_string() == text,
            _ => false,
        }
}

/// Deserializes and validates, or a 422 naming every failing field.
pub(crate) fn decode<R: RequestModel>(input: Map<String, Value>) -> Result<R, HttpError> {
    let value = Value::Object(input);
    let req: R = serde_path_to_error::deserialize(value).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner().to_string();
        let field = if field == "." || field.is_empty() {
            missing_field(&inner).unwrap_or_else(|| "body".into())
        } else {
            field
        };
        HttpError::validation(vec![FieldError {
            field,
            message: inner,
        }])
    })?;
    if let Err(errors) = req.validate() {
        let mut details = Vec::new();
        flatten(&errors, "", &mut details);
        return Err(HttpError::validation(details));
    }
    Ok(req)
}

fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    Some(rest.split('`').next()?.to_owned())
}

fn flatten(errors: &ValidationErrors, prefix: &str, out: &mut Vec<FieldError>) {
    let mut fields: Vec<_> = errors.errors().iter().collect();
    fields.sort_by_key(|(k, _)| k.to_string());
    for (field, kind) in fields {
        let path = if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}.{field}")
        };
        match kind {
            ValidationErrorsKind::Field(list) => {
                for e in list {
                    out.push(FieldError {
                        field: path.clone(),
                        message: describe(e),
                    });
                }
            }
            ValidationErrorsKind::Struct(inner) => flatten(inner, &path, out),
            ValidationErrorsKind::List(items) => {
                for (i, inner) in items {
                    flatten(inner, &format!("{path}[{i}]"), out);
                }
            }
        }
    }
}

/// A sentence for one validator error: its own message, or one built from its code.
fn describe(e: &validator::ValidationError) -> String {
    if let Some(m) = &e.message {
        return m.to_string();
    }
    let p = |k: &str| e.params.get(k).map(|v| v.to_string());
    match e.code.as_ref() {
        "length" => match (p("min"), p("max"), p("equal")) {
            (_, _, Some(eq)) => format!("must be exactly {eq} characters long"),
            (Some(min), Some(max), _) => format!("must be between {min} and {max} characters long"),
            (Some(min), None, _) => format!("must be at least {min} characters long"),
            (None, Some(max), _) => format!("must be at most {max} characters long"),
            _ => "has the wrong length".to_owned(),
        },
        "range" => match (p("min"), p("max")) {
            (Some(min), Some(max)) => format!("must be between {min} and {max}"),
            (Some(min), None) => format!("must be at least {min}"),
            (None, Some(max)) => format!("must be at most {max}"),
            _ => "is out of range".to_owned(),
        },
        "email" => "must be a valid email address".to_owned(),
        "url" => "must be a valid URL".to_owned(),
        "required" => "is required".to_owned(),
        "regex" => "has an invalid format".to_owned(),
        "must_match" => "does not match".to_owned(),
        code => format!("is invalid ({code})"),
    }
}

/// The schema of property `name` of the top-level object schema.
pub(crate) fn property<'a>(schema: &'a Value, name: &str) -> Option<&'a Value> {
    resolve(schema, schema).get("properties")?.get(name)
}

/// Follows a local `$ref` (`#/$defs/X`) one level.
fn resolve<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => r
            .strip_prefix("#/$defs/")
            .and_then(|name| root.get("$defs")?.get(name))
            .unwrap_or(schema),
        None => schema,
    }
}

/// Whether `schema` admits JSON type `ty` (through `type`, `anyOf`, `oneOf`).
fn allows(root: &Value, schema: &Value, ty: &str) -> bool {
    let schema = resolve(root, schema);
    let direct = match schema.get("type") {
        Some(Value::String(t)) => t == ty || (ty == "number" && t == "integer"),
        Some(Value::Array(ts)) => ts.iter().any(|t| t.as_str() == Some(ty)),
        _ => false,
    };
    direct
        || ["anyOf", "oneOf", "allOf"].iter().any(|k| {
            schema
                .get(*k)
                .and_then(Value::as_array)
                .is_some_and(|alts| alts.iter().any(|a| allows(root, a, ty)))
        })
}

/// Text from a path or query turned into the JSON the schema wants; left as a
/// string when it does not parse (deserialization then names the field).
fn coerce(root: &Value, schema: &Value, text: &str) -> Value {
    if allows(root, schema, "string") {
        return Value::String(text.to_owned());
    }
    if allows(root, schema, "integer") {
        if let Ok(i) = text.parse::<i64>() {
            return Value::from(i);
        }
        if let Ok(u) = text.parse::<u64>() {
            return Value::from(u);
        }
    }
    if allows(root, schema, "number")
        && let Some(n) = text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
    {
        return Value::Number(n);
    }
    if allows(root, schema, "boolean") {
        match text {
            "true" | "1" => return Value::Bool(true),
            "false" | "0" => return Value::Bool(false),
            _ => {}
        }
    }
    if allows(root, schema, "null") && (text.is_empty() || text == "null") {
        return Value::Null;
    }
    Value::String(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_body_wins_over_the_query_and_text_is_coerced_by_schema() {
        let schema = json!({
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "limit": {"type": ["integer", "null"]},
                "ratio": {"type": "number"},
                "on": {"type": "boolean"},
                "name": {"type": "string"},
                "tags": {"type": "array", "items": {"type": "integer"}}
            }
        });
        let body = json!({"name": "from body", "id": 42}).as_object().cloned();
        let query = vec![
            ("limit".into(), "10".into()),
            ("ratio".into(), "0.5".into()),
            ("on".into(), "true".into()),
            ("name".into(), "from query".into()),
            ("tags".into(), "1".into()),
            ("tags".into(), "2".into()),
        ];
        let query: Vec<(String, String)> = query.into_iter().filter(|(k, _)| k != "id").collect();
        let out = merge(&schema, query, vec![("id".into(), "42".into())], body).unwrap();
        assert_eq!(
            Value::Object(out),
            json!({"id": 42, "limit": 10, "ratio": 0.5, "on": true, "name": "from body", "tags": [1, 2]})
        );
    }
}

#[cfg(test)]
mod conflicts {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "properties": {"id": {"type": "integer"}, "limit": {"type": "integer"}}})
    }

    #[test]
    fn a_query_or_body_key_never_overrides_a_path_parameter() {
        let path = || vec![("id".to_owned(), "42".to_owned())];
        let q = merge(&schema(), vec![("id".into(), "1".into())], path(), None).unwrap_err();
        assert_eq!(q.status_code(), 400);
        assert!(q.message().contains("`id`"), "{}", q.message());
        let body = json!({"id": 1}).as_object().cloned();
        assert_eq!(
            merge(&schema(), vec![], path(), body)
                .unwrap_err()
                .status_code(),
            400
        );
        let same = json!({"id": 42}).as_object().cloned();
        assert_eq!(merge(&schema(), vec![], path(), same).unwrap()["id"], 42);
    }

    #[test]
    fn a_repeated_scalar_query_key_is_refused() {
        let q = vec![("limit".into(), "1".into()), ("limit".into(), "2".into())];
        let e = merge(&schema(), q, vec![], None).unwrap_err();
        assert_eq!(e.status_code(), 400);
        assert!(e.message().contains("`limit`"), "{}", e.message());
    }

    #[test]
    fn a_repeated_key_the_model_does_not_read_is_ignored() {
        let q = vec![("utm".into(), "a".into()), ("utm".into(), "b".into())];
        assert!(merge(&schema(), q, vec![], None).is_ok());
    }
}

/// Properties of assembly over any keys and values a client can send.
#[cfg(test)]
mod properties {
    use super::*;

    use proptest::prelude::*;
    use serde::Deserialize;
    use serde_json::json;
    use validator::Validate;

    /// A model with every kind of field a query or path is coerced to.
    #[derive(Debug, Deserialize, schemars::JsonSchema, Validate)]
    #[allow(dead_code)]
    struct Model {
        id: i64,
        limit: Option<u32>,
        ratio: Option<f64>,
        on: Option<bool>,
        #[validate(length(min = 1, max = 8))]
        name: Option<String>,
        tags: Option<Vec<i32>>,
    }

    fn schema() -> Value {
        crate::handle::schema_of::<Model>()
    }

    /// Keys the model reads, plus anything else a client may send.
    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            proptest::sample::select(vec!["id", "limit", "ratio", "on", "name", "tags"])
                .prop_map(str::to_owned),
            any::<String>(),
        ]
    }

    /// Text as a query or path carries it: numbers of any size, unicode, junk.
    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<i64>().prop_map(|n| n.to_string()),
            "-?[0-9]{15,40}(\\.[0-9]{1,5})?(e[+-]?[0-9]{1,4})?",
            proptest::sample::select(vec!["true", "false", "0", "1", "null", "", "NaN", "inf"])
                .prop_map(str::to_owned),
            any::<String>(),
        ]
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
            text().prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::vec((key(), inner), 0..4)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    fn body() -> impl Strategy<Value = Option<Map<String, Value>>> {
        proptest::option::of(
            proptest::collection::vec((key(), json_value()), 0..6)
                .prop_map(|kv| kv.into_iter().collect::<Map<String, Value>>()),
        )
    }

    fn pairs() -> impl Strategy<Value = Vec<(String, String)>> {
        proptest::collection::vec((key(), text()), 0..8)
    }

    fn path() -> impl Strategy<Value = Vec<(String, String)>> {
        proptest::collection::btree_map(key(), text(), 0..3).prop_map(|m| m.into_iter().collect())
    }

    /// The value assembly gives path parameter `k` with text `v`.
    fn path_value(schema: &Value, k: &str, v: &str) -> Value {
        property(schema, k).map_or(Value::String(v.to_owned()), |p| coerce(schema, p, v))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn assembly_and_decoding_never_panic(query in pairs(), path in path(), body in body()) {
            let schema = schema();
            match merge(&schema, query, path, body) {
                Ok(input) => {
                    if let Err(e) = decode::<Model>(input) {
                        prop_assert_eq!(e.status_code(), 422);
                    }
                }
                Err(e) => prop_assert_eq!(e.status_code(), 400),
            }
        }

        #[test]
        fn path_parameters_always_win(query in pairs(), path in path(), body in body()) {
            let schema = schema();
            if let Ok(out) = merge(&schema, query, path.clone(), body) {
                for (k, v) in &path {
                    prop_assert_eq!(&out[k.as_str()], &path_value(&schema, k, v), "{}", k);
                }
            }
        }

        #[test]
        fn a_different_value_for_a_path_key_is_a_400_naming_it(
            path in path().prop_filter("one path key", |p| !p.is_empty()),
            in_body in any::<bool>(),
        ) {
            let schema = schema();
            let (k, v) = path[0].clone();
            let other = Value::String(format!("{v}-other"));
            let (query, body) = if in_body {
                (vec![], Some(std::iter::once((k.clone(), other)).collect()))
            } else {
                (vec![(k.clone(), format!("{v}-other"))], None)
            };
            let e = merge(&schema, query, path, body).unwrap_err();
            prop_assert_eq!(e.status_code(), 400);
            let named = format!("`{k}`");
            prop_assert!(e.message().contains(&named), "{}", e.message());
        }

        #[test]
        fn repeated_array_keys_keep_every_value_in_order(values in proptest::collection::vec(any::<i32>(), 1..6)) {
            let query = values.iter().map(|v| ("tags".to_owned(), v.to_string())).collect();
            let out = merge(&schema(), query, vec![], None).unwrap();
            prop_assert_eq!(&out["tags"], &json!(values));
        }
    }
}
