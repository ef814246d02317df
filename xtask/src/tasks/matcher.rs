//! The pure half of a check: variables substituted into a step, and the
//! comparison of an answer with what the step expects. No I/O, so every rule
//! is unit-tested here.

use std::collections::BTreeMap;

use serde_json::Value;

/// Captured values by name (`alice.token`, `note_id`, `unique`).
pub type Vars = BTreeMap<String, Value>;

/// Replaces every `${name}` in `text` with the variable's text (a string as
/// is, anything else as JSON). An unknown name is an error naming it.
pub fn substitute_text(text: &str, vars: &Vars) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unclosed `${{` in {text:?}"))?;
        let name = &after[..end];
        let value = vars.get(name).ok_or_else(|| unknown(name, vars))?;
        match value {
            Value::String(s) => out.push_str(s),
            other => out.push_str(&other.to_string()),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Substitutes inside a JSON value. A string that is exactly `${name}` becomes
/// the variable's value with its own type (so a captured id stays a number);
/// other strings get text substitution.
pub fn substitute_json(value: &Value, vars: &Vars) -> Result<Value, String> {
    Ok(match value {
        Value::String(s) => {
            if let Some(name) = s.strip_prefix("${").and_then(|r| r.strip_suffix('}'))
                && !name.contains("${")
                && !name.contains('}')
            {
                vars.get(name).cloned().ok_or_else(|| unknown(name, vars))?
            } else {
                Value::String(substitute_text(s, vars)?)
            }
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| substitute_json(v, vars))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((substitute_text(k, vars)?, substitute_json(v, vars)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

fn unknown(name: &str, vars: &Vars) -> String {
    let known: Vec<&str> = vars.keys().map(String::as_str).collect();
    format!(
        "variable `{name}` is not set (an earlier step did not capture it?); set: {}",
        known.join(", ")
    )
}

/// Whether `actual` contains `expected`: objects need every expected key
/// (extra keys are fine), arrays need the same length and each element to
/// match, scalars must be equal. The strings `"$any"` (present, any value),
/// `"$absent"` (the key must be missing), `"$number"`, `"$positive"` (a
/// number above zero), `"$string"` and `"$nonempty"` are wildcards. Returns the path and reason of the first
/// mismatch.
pub fn json_contains(actual: &Value, expected: &Value) -> Result<(), String> {
    contains_at(actual, expected, "$")
}

fn contains_at(actual: &Value, expected: &Value, path: &str) -> Result<(), String> {
    let fail = |why: String| Err(format!("at {path}: {why}"));
    match expected {
        Value::String(w) if w == "$any" => Ok(()),
        Value::String(w) if w == "$number" => match actual {
            Value::Number(_) => Ok(()),
            _ => fail(format!("expected a number, got {actual}")),
        },
        Value::String(w) if w == "$positive" => match actual.as_f64() {
            Some(n) if n > 0.0 => Ok(()),
            _ => fail(format!("expected a number above zero, got {actual}")),
        },
        Value::String(w) if w == "$string" => match actual {
            Value::String(_) => Ok(()),
            _ => fail(format!("expected a string, got {actual}")),
        },
        Value::String(w) if w == "$nonempty" => match actual {
            Value::String(s) if !s.is_empty() => Ok(()),
            Value::Array(a) if !a.is_empty() => Ok(()),
            _ => fail(format!("expected a non-empty string or list, got {actual}")),
        },
        Value::Object(want) => {
            let Value::Object(got) = actual else {
                return fail(format!("expected an object, got {actual}"));
            };
            for (key, w) in want {
                let here = format!("{path}.{key}");
                match (got.get(key), w) {
                    (None, Value::String(s)) if s == "$absent" => {}
                    (Some(g), Value::String(s)) if s == "$absent" => {
                        return Err(format!("at {here}: expected no such key, got {g}"));
                    }
                    (None, _) => return Err(format!("at {here}: missing, expected {w}")),
                    (Some(g), _) => contains_at(g, w, &here)?,
                }
            }
            Ok(())
        }
        Value::Array(want) => {
            let Value::Array(got) = actual else {
                return fail(format!("expected a list, got {actual}"));
            };
            if got.len() != want.len() {
                return fail(format!(
                    "expected {} item(s), got {}: {actual}",
                    want.len(),
                    got.len()
                ));
            }
            for (i, (g, w)) in got.iter().zip(want).enumerate() {
                contains_at(g, w, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        Value::Number(n) => match actual {
            Value::Number(m) if n.as_f64() == m.as_f64() => Ok(()),
            _ => fail(format!("expected {expected}, got {actual}")),
        },
        _ if actual == expected => Ok(()),
        _ => fail(format!("expected {expected}, got {actual}")),
    }
}

/// The value at a dotted path (`data.items[0].id`, or `data.items.0.id`).
pub fn pick<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    let mut here = value;
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (key, indexes) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            here = match (here, key.parse::<usize>()) {
                (Value::Array(items), Ok(i)) => items.get(i)?,
                _ => here.get(key)?,
            };
        }
        for index in indexes.split('[').filter(|s| !s.is_empty()) {
            let i: usize = index.strip_suffix(']')?.parse().ok()?;
            here = here.get(i)?;
        }
    }
    Some(here)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars() -> Vars {
        let mut v = Vars::new();
        v.insert("id".into(), json!(7));
        v.insert("alice.token".into(), json!("t0k"));
        v
    }

    #[test]
    fn text_substitution_renders_numbers_and_strings() {
        assert_eq!(
            substitute_text("/notes/${id}?t=${alice.token}", &vars()).unwrap(),
            "/notes/7?t=t0k"
        );
    }

    #[test]
    fn an_unknown_variable_is_an_error_naming_it() {
        let e = substitute_text("/notes/${nope}", &vars()).unwrap_err();
        assert!(e.contains("`nope`") && e.contains("alice.token"), "{e}");
        assert!(substitute_text("/x/${id", &vars()).is_err());
    }

    #[test]
    fn a_whole_string_variable_keeps_its_json_type() {
        let body = json!({"from": "${id}", "note": "id ${id}", "list": ["${id}"]});
        assert_eq!(
            substitute_json(&body, &vars()).unwrap(),
            json!({"from": 7, "note": "id 7", "list": [7]})
        );
    }

    #[test]
    fn objects_match_as_subsets_and_report_the_path() {
        let actual = json!({"data": {"id": 3, "name": "a", "extra": true}});
        assert!(json_contains(&actual, &json!({"data": {"name": "a"}})).is_ok());
        let e = json_contains(&actual, &json!({"data": {"name": "b"}})).unwrap_err();
        assert!(e.contains("$.data.name"), "{e}");
        let e = json_contains(&actual, &json!({"data": {"missing": 1}})).unwrap_err();
        assert!(e.contains("missing"), "{e}");
    }

    #[test]
    fn arrays_must_have_the_same_length_and_matching_items() {
        let actual = json!([{"id": 1, "x": 0}, {"id": 2}]);
        assert!(json_contains(&actual, &json!([{"id": 1}, {"id": 2}])).is_ok());
        assert!(json_contains(&actual, &json!([{"id": 1}])).is_err());
        assert!(json_contains(&actual, &json!([{"id": 2}, {"id": 1}])).is_err());
    }

    #[test]
    fn wildcards_match_presence_type_and_absence() {
        let actual = json!({"id": 1, "name": "", "tags": ["a"]});
        assert!(json_contains(&actual, &json!({"id": "$any", "name": "$string"})).is_ok());
        assert!(json_contains(&actual, &json!({"id": "$number", "tags": "$nonempty"})).is_ok());
        assert!(json_contains(&json!({"n": 2}), &json!({"n": "$positive"})).is_ok());
        assert!(json_contains(&json!({"n": 0}), &json!({"n": "$positive"})).is_err());
        assert!(json_contains(&json!({"n": "2"}), &json!({"n": "$positive"})).is_err());
        assert!(json_contains(&actual, &json!({"name": "$nonempty"})).is_err());
        assert!(json_contains(&actual, &json!({"id": "$string"})).is_err());
        assert!(json_contains(&actual, &json!({"password": "$absent"})).is_ok());
        assert!(json_contains(&actual, &json!({"id": "$absent"})).is_err());
        assert!(json_contains(&actual, &json!({"gone": "$any"})).is_err());
    }

    #[test]
    fn numbers_compare_by_value_and_types_do_not_mix() {
        assert!(json_contains(&json!(2.0), &json!(2)).is_ok());
        assert!(json_contains(&json!("2"), &json!(2)).is_err());
        assert!(json_contains(&json!(null), &json!(null)).is_ok());
        assert!(json_contains(&json!(false), &json!(null)).is_err());
    }

    #[test]
    fn pick_follows_keys_and_indexes() {
        let v = json!({"data": {"items": [{"id": 4}, {"id": 5}]}});
        assert_eq!(pick(&v, "data.items[1].id"), Some(&json!(5)));
        assert_eq!(pick(&v, "data.items.0.id"), Some(&json!(4)));
        assert_eq!(pick(&v, "data.items[2].id"), None);
        assert_eq!(pick(&v, "data.nope"), None);
    }
}
