//! The OpenAPI 3.1 document, generated from the registered routes.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::route::{RouteInfo, RouteKind, path_params};

/// `get_users_id` for `GET /users/{id}` (the original's scheme). Different
/// paths can give the same id (`/a-b` and `/a_b`); [`document`] numbers the later ones.
pub(crate) fn operation_id(method: &str, path: &str) -> String {
    let p: String = path
        .chars()
        .filter(|c| !matches!(c, '{' | '}' | '*'))
        .collect();
    format!(
        "{}{}",
        method.to_ascii_lowercase(),
        p.replace(['/', '-', '.'], "_")
    )
}

/// The whole document.
pub(crate) fn document(routes: &[RouteInfo]) -> Value {
    let mut schemas = Map::new();
    schemas.insert(
        "ErrorEnvelope".into(),
        json!({
            "type": "object",
            "required": ["success", "error"],
            "properties": {
                "success": {"type": "boolean", "const": false},
                "error": {"type": "string"},
                "details": {"type": "array", "items": {
                    "type": "object",
                    "properties": {"field": {"type": "string"}, "message": {"type": "string"}}
                }}
            }
        }),
    );
    let mut paths = Map::new();
    let mut ids = BTreeSet::new();
    for r in routes {
        let mut op = operation(r, &mut schemas);
        let base = operation_id(&r.method, &r.path);
        let id = (1..)
            .map(|n| {
                if n == 1 {
                    base.clone()
                } else {
                    format!("{base}_{n}")
                }
            })
            .find(|id| !ids.contains(id))
            .unwrap_or(base);
        op["operationId"] = json!(id);
        ids.insert(id);
        // OpenAPI has no catch-all syntax: `{*rest}` is the parameter `rest`.
        let key = r.path.replace("{*", "{");
        let entry = paths.entry(key).or_insert_with(|| json!({}));
        entry[r.method.to_ascii_lowercase()] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "MicroCore API", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
        }
    })
}

fn operation(r: &RouteInfo, schemas: &mut Map<String, Value>) -> Value {
    let req = lift(&r.request_schema, schemas, &r.owner);
    let res = lift(&r.response_schema, schemas, &r.owner);
    let in_path = path_params(&r.path);
    let props = req
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let required: Vec<String> = req
        .get("required")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let mut parameters = Vec::new();
    for name in &in_path {
        let schema = props
            .get(name)
            .cloned()
            .unwrap_or_else(|| json!({"type": "string"}));
        parameters.push(json!({"name": name, "in": "path", "required": true, "schema": schema}));
    }
    let rest: Map<String, Value> = props
        .into_iter()
        .filter(|(k, _)| !in_path.contains(k))
        .collect();
    let mut op = json!({
        "operationId": operation_id(&r.method, &r.path),
        "tags": r.tags,
        "responses": {}
    });
    if let Some(s) = &r.summary {
        op["summary"] = json!(s);
    }
    let body_method = matches!(r.method.as_str(), "POST" | "PUT" | "PATCH");
    if body_method && !rest.is_empty() {
        let body_required: Vec<&String> =
            required.iter().filter(|k| rest.contains_key(*k)).collect();
        let mut body = json!({"type": "object", "properties": rest, "required": body_required});
        body_rules(&req, &mut body, in_path.len());
        let needs_body = !body_required.is_empty() || body.get("anyOf").is_some();
        op["requestBody"] = json!({
            "required": needs_body,
            "content": {"application/json": {"schema": body}}
        });
    } else {
        for (name, schema) in rest {
            let required = required.contains(&name);
            parameters
                .push(json!({"name": name, "in": "query", "required": required, "schema": schema}));
        }
    }
    if !parameters.is_empty() {
        op["parameters"] = Value::Array(parameters);
    }
    let ok = match r.kind {
        RouteKind::Json if r.produces.is_some() => json!({
            "description": "Success",
            "content": {r.produces.clone().unwrap_or_default(): {"schema": {"type": "string", "format": "binary"}}}
        }),
        RouteKind::Json => json!({
            "description": "Success",
            "content": {"application/json": {"schema": {
                "type": "object",
                "required": ["success", "data"],
                "properties": {"success": {"type": "boolean", "const": true}, "data": res}
            }}}
        }),
        RouteKind::Sse => json!({
            "description": "A stream of Server-Sent Events",
            "content": {"text/event-stream": {"schema": {"type": "string"}}}
        }),
        RouteKind::WebSocket => json!({"description": "Switching protocols to a WebSocket"}),
    };
    let status = if r.kind == RouteKind::WebSocket {
        "101".to_owned()
    } else {
        r.status.to_string()
    };
    op["responses"][status] = ok;
    op["responses"]["default"] = json!({
        "description": "Error",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}
    });
    if r.auth {
        op["security"] = json!([{"bearerAuth": []}]);
    }
    op
}

/// The model's rules about the object as a whole (`anyOf` for "at least one
/// of", `minProperties`, ...) carried onto the body schema, which is rebuilt
/// from the properties left after the path parameters are taken out; a
/// property count leaves out the `in_path` ones, which are never in the body.
fn body_rules(model: &Value, body: &mut Value, in_path: usize) {
    const OBJECT_RULES: &[&str] = &[
        "anyOf",
        "oneOf",
        "allOf",
        "not",
        "minProperties",
        "maxProperties",
        "dependentRequired",
        "additionalProperties",
        // Where the model states a check no keyword can.
        "description",
    ];
    for key in OBJECT_RULES {
        if let Some(rule) = model.get(*key) {
            body[*key] = rule.clone();
        }
    }
    for key in ["minProperties", "maxProperties"] {
        if let Some(n) = model.get(key).and_then(Value::as_u64) {
            body[key] = json!(n.saturating_sub(in_path as u64));
        }
    }
}

/// A schemars schema with its `$defs` moved into `components.schemas`.
///
/// Schemars names a definition after its type only, so two domains' `User`
/// would share one entry and one of them would be described wrongly. A name
/// already taken by a different schema gets the owner's domain in front
/// (`billing.User`), then a number.
fn lift(schema: &Value, schemas: &mut Map<String, Value>, owner: &str) -> Value {
    let mut s = schema.clone();
    let mut renames = BTreeMap::new();
    let mut lifted = Vec::new();
    if let Some(obj) = s.as_object_mut() {
        obj.remove("$schema");
        if let Some(Value::Object(defs)) = obj.remove("$defs") {
            for (name, def) in defs {
                let mut plain = def.clone();
                rewrite_refs(&mut plain, &BTreeMap::new());
                let target = free_name(schemas, &name, &plain, owner);
                renames.insert(name, target.clone());
                lifted.push((target, def));
            }
        }
    }
    for (target, mut def) in lifted {
        rewrite_refs(&mut def, &renames);
        schemas.entry(target).or_insert(def);
    }
    rewrite_refs(&mut s, &renames);
    s
}

/// `name` if it is free or already holds `def`, else a qualified name that is.
fn free_name(schemas: &Map<String, Value>, name: &str, def: &Value, owner: &str) -> String {
    let domain = owner.split('.').next().unwrap_or(owner);
    let qualified = format!("{domain}.{name}");
    std::iter::once(name.to_owned())
        .chain(std::iter::once(qualified.clone()))
        .chain((2..).map(|n| format!("{qualified}.{n}")))
        .find(|c| schemas.get(c).is_none_or(|existing| existing == def))
        .unwrap_or(qualified)
}

fn rewrite_refs(v: &mut Value, renames: &BTreeMap<String, String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if k == "$ref"
                    && let Value::String(r) = child
                    && let Some(name) = r.strip_prefix("#/$defs/")
                {
                    let name = renames.get(name).map_or(name, String::as_str);
                    *r = format!("#/components/schemas/{name}");
                } else {
                    rewrite_refs(child, renames);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| rewrite_refs(i, renames)),
        _ => {}
    }
}
