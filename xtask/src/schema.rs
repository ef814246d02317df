//! JSON Schema (as schemars writes it) → the compact field lists agents read:
//! `{id: int, name: string, bio?: string}`.

use serde_json::Value;

/// The type of one schema, in short form; `$ref`s resolve against `root`.
/// `known` names types the document lists elsewhere (domain models): those
/// are written by name instead of expanded.
pub fn type_of(schema: &Value, root: &Value, known: &[String]) -> String {
    type_at(schema, root, known, 0)
}

/// `{a: int, b?: string}` for an object schema, or its type name when it is
/// a known model; `-` for an empty request.
pub fn fields(schema: &Value, known: &[String]) -> String {
    if schema.is_null() || is_empty_object(schema) {
        return "-".to_owned();
    }
    if let Some(title) = schema.get("title").and_then(Value::as_str)
        && known.iter().any(|k| k == title)
    {
        return title.to_owned();
    }
    type_at(schema, schema, known, 0)
}

fn is_empty_object(schema: &Value) -> bool {
    schema.get("type").and_then(Value::as_str) == Some("object")
        && schema
            .get("properties")
            .is_none_or(|p| p.as_object().is_none_or(|o| o.is_empty()))
        && schema.get("additionalProperties").is_none()
}

fn resolve<'a>(schema: &'a Value, root: &'a Value) -> (&'a Value, Option<String>) {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap_or(r).to_owned();
            let target = root
                .get("$defs")
                .and_then(|d| d.get(&name))
                .or_else(|| root.get("definitions").and_then(|d| d.get(&name)))
                .unwrap_or(schema);
            (target, Some(name))
        }
        None => (schema, None),
    }
}

fn type_at(schema: &Value, root: &Value, known: &[String], depth: usize) -> String {
    let (schema, ref_name) = resolve(schema, root);
    if let Some(name) = &ref_name
        && (known.contains(name) || depth > 2)
    {
        return name.clone();
    }
    // Option<T> comes as `anyOf: [T, {type: null}]` or `type: [t, "null"]`.
    // An `anyOf` next to a `type` is a rule on that type ("at least one of
    // these fields"), not a choice of types.
    for key in ["anyOf", "oneOf"] {
        if schema.get("type").is_none()
            && let Some(variants) = schema.get(key).and_then(Value::as_array)
        {
            let non_null: Vec<&Value> = variants
                .iter()
                .filter(|v| v.get("type").and_then(Value::as_str) != Some("null"))
                .collect();
            let nullable = non_null.len() < variants.len();
            let inner: Vec<String> = non_null
                .iter()
                .map(|v| type_at(v, root, known, depth))
                .collect();
            let joined = inner.join(" | ");
            return if nullable {
                format!("{joined}?")
            } else {
                joined
            };
        }
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return values
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join("|");
    }
    if let Some(c) = schema.get("const") {
        return c.to_string();
    }
    let (ty, nullable) = match schema.get("type") {
        Some(Value::String(t)) => (t.as_str(), false),
        Some(Value::Array(ts)) => {
            let non_null: Vec<&str> = ts
                .iter()
                .filter_map(Value::as_str)
                .filter(|t| *t != "null")
                .collect();
            (
                non_null.first().copied().unwrap_or("any"),
                non_null.len() < ts.len(),
            )
        }
        _ => ("any", false),
    };
    let text = match ty {
        "integer" => "int".to_owned(),
        "number" => "float".to_owned(),
        "boolean" => "bool".to_owned(),
        "string" => match schema.get("format").and_then(Value::as_str) {
            Some(f @ ("date-time" | "date" | "uuid" | "email")) => f.to_owned(),
            _ => "string".to_owned(),
        },
        "array" => format!(
            "[{}]",
            schema
                .get("items")
                .map_or("any".to_owned(), |i| type_at(i, root, known, depth + 1))
        ),
        "object" => object(schema, root, known, depth),
        other => other.to_owned(),
    };
    if nullable { format!("{text}?") } else { text }
}

fn object(schema: &Value, root: &Value, known: &[String], depth: usize) -> String {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return match schema.get("additionalProperties") {
            Some(v) if v.is_object() => {
                format!("{{string: {}}}", type_at(v, root, known, depth + 1))
            }
            _ => "object".to_owned(),
        };
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let parts: Vec<String> = props
        .iter()
        .map(|(name, p)| {
            let ty = type_at(p, root, known, depth + 1);
            if required.contains(&name.as_str()) {
                format!("{name}: {ty}")
            } else {
                // Absent or null read the same to a client: one mark says both.
                format!("{name}?: {}", ty.strip_suffix('?').unwrap_or(&ty))
            }
        })
        .collect();
    format!("{{{}}}", parts.join(", "))
}

/// Property name → (required, JSON type) of an object schema, `$ref`s resolved.
pub fn properties(schema: &Value) -> Vec<(String, bool, String)> {
    let (obj, _) = resolve(schema, schema);
    let required: Vec<&str> = obj
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    obj.get("properties")
        .and_then(Value::as_object)
        .map(|props| {
            props
                .iter()
                .map(|(name, p)| {
                    (
                        name.clone(),
                        required.contains(&name.as_str()),
                        type_at(p, schema, &[], 0),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_at_least_one_of_rule_on_an_object_keeps_its_field_list() {
        let s = json!({"type": "object", "title": "Changes", "properties": {
            "name": {"type": ["string", "null"]}
        }, "anyOf": [{"required": ["name"]}]});
        assert_eq!(fields(&s, &[]), "{name?: string}");
    }

    #[test]
    fn objects_become_field_lists_with_optional_marks() {
        let s = json!({"type": "object", "title": "X", "required": ["id"], "properties": {
            "id": {"type": "integer", "format": "int64"},
            "bio": {"type": ["string", "null"]},
            "tags": {"type": "array", "items": {"type": "string"}},
            "owner": {"$ref": "#/$defs/User"},
            "at": {"anyOf": [{"$ref": "#/$defs/When"}, {"type": "null"}]}
        }, "$defs": {
            "User": {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]},
            "When": {"type": "string", "format": "date-time"}
        }});
        assert_eq!(
            fields(&s, &["User".into()]),
            "{at?: date-time, bio?: string, id: int, owner?: User, tags?: [string]}"
        );
        assert!(fields(&s, &[]).contains("owner?: {id: int}"));
    }

    #[test]
    fn known_models_and_empty_requests_stay_short() {
        assert_eq!(
            fields(
                &json!({"type": "object", "title": "User", "properties": {"id": {"type": "integer"}}}),
                &["User".into()]
            ),
            "User"
        );
        assert_eq!(fields(&json!({"type": "object"}), &[]), "-");
        assert_eq!(fields(&Value::Null, &[]), "-");
        let list = json!({"type": "array", "items": {"$ref": "#/$defs/User"}, "$defs": {"User": {"type": "object"}}});
        assert_eq!(fields(&list, &["User".into()]), "[User]");
    }
}
