//! The OpenAPI 3.1 document, generated from the registered routes.

use serde_json::{Map, Value, json};

use crate::route::{RouteInfo, RouteKind, path_params};

/// `get_users_id` for `GET /users/{id}` (the original's scheme: unique per method and path).
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
    for r in routes {
        let op = operation(r, &mut schemas);
        let entry = paths.entry(r.path.clone()).or_insert_with(|| json!({}));
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
    let req = lift(&r.request_schema, schemas);
    let res = lift(&r.response_schema, schemas);
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
        op["requestBody"] = json!({
            "required": !body_required.is_empty(),
            "content": {"application/json": {"schema": {
                "type": "object", "properties": rest, "required": body_required
            }}}
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

/// A schemars schema with its `$defs` moved into `components.schemas`.
fn lift(schema: &Value, schemas: &mut Map<String, Value>) -> Value {
    let mut s = schema.clone();
    if let Some(obj) = s.as_object_mut() {
        obj.remove("$schema");
        if let Some(Value::Object(defs)) = obj.remove("$defs") {
            for (name, mut def) in defs {
                rewrite_refs(&mut def);
                schemas.entry(name).or_insert(def);
            }
        }
    }
    rewrite_refs(&mut s);
    s
}

fn rewrite_refs(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if k == "$ref"
                    && let Value::String(r) = child
                    && let Some(name) = r.strip_prefix("#/$defs/")
                {
                    *r = format!("#/components/schemas/{name}");
                } else {
                    rewrite_refs(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite_refs),
        _ => {}
    }
}
