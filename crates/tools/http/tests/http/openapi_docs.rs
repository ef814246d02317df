//! `/openapi.json` describes every route; `/docs` is served offline.

use crate::common;

use std::sync::Arc;

use common::TestAuth;
use microcore_http::{Ctx, HttpResult, Route, TestRequest};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use validator::Validate;

struct Plug;

#[derive(Deserialize, JsonSchema, Validate)]
struct Changes {
    id: i64,
    name: String,
    #[allow(dead_code)]
    nick: Option<String>,
}

#[derive(Deserialize, JsonSchema, Validate)]
struct Page {
    #[allow(dead_code)]
    limit: Option<i64>,
}

#[derive(Serialize, JsonSchema)]
struct User {
    id: i64,
    address: Address,
}

#[derive(Serialize, JsonSchema)]
struct Address {
    city: String,
}

impl Plug {
    async fn update(self: Arc<Self>, req: Changes, _: Ctx) -> HttpResult<User> {
        Ok(User {
            id: req.id,
            address: Address { city: req.name },
        })
    }
    async fn list(self: Arc<Self>, _: Page, _: Ctx) -> HttpResult<Vec<User>> {
        Ok(vec![])
    }
}

async fn http() -> microcore_http::Http {
    let http = common::http().await;
    let p = Arc::new(Plug);
    let update = Route::put("/users/{id}")
        .tag("Users")
        .summary("Update a user")
        .auth_with(TestAuth);
    http.route(update, &p, Plug::update).unwrap();
    http.route(Route::get("/users").tag("Users"), &p, Plug::list)
        .unwrap();
    http
}

#[tokio::test]
async fn the_document_lists_every_route_with_parameters_bodies_responses_and_security() {
    let http = http().await;
    let res = http.call(TestRequest::get("/openapi.json")).await;
    assert_eq!(res.status, 200);
    let doc = res.body;
    assert_eq!(doc["openapi"], "3.1.0");
    let put = &doc["paths"]["/users/{id}"]["put"];
    assert_eq!(put["operationId"], "put_users_id");
    assert_eq!(put["tags"], json!(["Users"]));
    assert_eq!(put["summary"], "Update a user");
    assert_eq!(put["parameters"][0]["name"], "id");
    assert_eq!(put["parameters"][0]["in"], "path");
    assert_eq!(put["parameters"][0]["schema"]["type"], "integer");
    let body = &put["requestBody"]["content"]["application/json"]["schema"];
    assert!(
        body["properties"]["name"].is_object() && body["properties"]["id"].is_null(),
        "{body}"
    );
    assert_eq!(body["required"], json!(["name"]));
    let data =
        &put["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["data"];
    assert_eq!(
        data["properties"]["address"]["$ref"], "#/components/schemas/Address",
        "{data}"
    );
    assert!(
        doc["components"]["schemas"]["Address"].is_object(),
        "$defs are moved into components"
    );
    assert!(!doc.to_string().contains("#/$defs/"));
    assert_eq!(put["security"], json!([{"bearerAuth": []}]));
    let get = &doc["paths"]["/users"]["get"];
    assert_eq!(
        get["parameters"][0],
        json!({"name": "limit", "in": "query", "required": false, "schema": {"type": ["integer", "null"], "format": "int64"}})
    );
    assert!(get.get("security").is_none());
    assert_eq!(http.openapi(), doc, "the served document is the tool's");
}

#[tokio::test]
async fn docs_are_swagger_ui_from_the_binary_with_no_external_url() {
    let http = http().await;
    let redirect = http.call(TestRequest::get("/docs")).await;
    assert_eq!(redirect.header("location").as_deref(), Some("/docs/"));
    let page = http.call(TestRequest::get("/docs/")).await;
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.text.contains("swagger-ui"), "{}", page.text);
    let init = http
        .call(TestRequest::get("/docs/swagger-initializer.js"))
        .await;
    assert_eq!(init.status, 200);
    assert!(init.text.contains("/openapi.json"), "{}", init.text);
    for (name, text) in [
        ("index.html", &page.text),
        ("swagger-initializer.js", &init.text),
    ] {
        assert!(
            !text.contains("http://") && !text.contains("https://") && !text.contains("//cdn"),
            "{name} refers to an external URL:\n{text}"
        );
    }
    for asset in [
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
    ] {
        assert!(page.text.contains(asset), "index.html loads {asset}");
        let res = http.call(TestRequest::get(format!("/docs/{asset}"))).await;
        assert_eq!(res.status, 200, "{asset} is served by the app");
    }
}

mod billing {
    #[derive(serde::Serialize, schemars::JsonSchema)]
    pub(super) struct User {
        pub(super) iban: String,
    }
}

mod people {
    #[derive(serde::Serialize, schemars::JsonSchema)]
    pub(super) struct User {
        pub(super) name: String,
    }
}

#[derive(Serialize, JsonSchema)]
struct Sent {
    #[serde(default)]
    count: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    nick: Option<String>,
}

struct Billing;
struct People;

impl Billing {
    async fn list(self: Arc<Self>, _: (), _: Ctx) -> HttpResult<Vec<billing::User>> {
        Ok(vec![])
    }
}

impl People {
    async fn list(self: Arc<Self>, _: (), _: Ctx) -> HttpResult<Vec<people::User>> {
        Ok(vec![])
    }
    async fn sent(self: Arc<Self>, _: (), _: Ctx) -> HttpResult<Sent> {
        Ok(Sent {
            count: 0,
            nick: None,
        })
    }
    async fn file(self: Arc<Self>, _: (), _: Ctx) -> HttpResult<()> {
        Ok(())
    }
}

fn data_schema<'a>(doc: &'a serde_json::Value, path: &str) -> &'a serde_json::Value {
    &doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["properties"]
        ["data"]
}

#[tokio::test]
async fn two_models_with_one_name_get_distinct_schemas() {
    let http = common::http().await;
    http.route(
        Route::get("/billing/users"),
        &Arc::new(Billing),
        Billing::list,
    )
    .unwrap();
    http.route(Route::get("/people"), &Arc::new(People), People::list)
        .unwrap();
    let doc = http.openapi();
    let schemas = &doc["components"]["schemas"];
    let billing = data_schema(&doc, "/billing/users")["items"]["$ref"]
        .as_str()
        .unwrap();
    let people = data_schema(&doc, "/people")["items"]["$ref"]
        .as_str()
        .unwrap();
    assert_ne!(billing, people, "{schemas}");
    let name = |r: &str| r.trim_start_matches("#/components/schemas/").to_owned();
    assert!(
        schemas[name(billing)]["properties"]["iban"].is_object(),
        "{schemas}"
    );
    assert!(
        schemas[name(people)]["properties"]["name"].is_object(),
        "{schemas}"
    );
}

#[tokio::test]
async fn responses_are_described_as_they_serialize() {
    let http = common::http().await;
    http.route(Route::get("/sent"), &Arc::new(People), People::sent)
        .unwrap();
    let doc = http.openapi();
    let data = data_schema(&doc, "/sent");
    assert_eq!(
        data["required"],
        json!(["count"]),
        "a default field is always sent, a skipped one may be missing: {data}"
    );
}

#[tokio::test]
async fn catch_all_keys_have_no_star_and_operation_ids_are_unique() {
    let http = common::http().await;
    let p = Arc::new(People);
    http.route(Route::get("/files/{*rest}"), &p, People::file)
        .unwrap();
    http.route(Route::get("/a-b"), &p, People::file).unwrap();
    http.route(Route::get("/a_b"), &p, People::file).unwrap();
    let doc = http.openapi();
    let files = &doc["paths"]["/files/{rest}"]["get"];
    assert_eq!(files["parameters"][0]["name"], "rest", "{}", doc["paths"]);
    assert!(doc["paths"].get("/files/{*rest}").is_none());
    let mut ids: Vec<String> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|m| m.as_object().unwrap().values())
        .map(|op| op["operationId"].as_str().unwrap().to_owned())
        .collect();
    let all = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), all, "{ids:?}");
}

/// The id from the path plus at least one change.
#[derive(Deserialize, JsonSchema, Validate)]
#[schemars(extend("minProperties" = 2, "anyOf" = [{"required": ["name"]}, {"required": ["nick"]}]))]
#[allow(dead_code)]
struct SomeChange {
    id: i64,
    name: Option<String>,
    nick: Option<String>,
}

struct Changer;

impl Changer {
    async fn change(self: Arc<Self>, _: SomeChange, _: Ctx) -> HttpResult<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_body_keeps_the_models_rules_about_the_whole_object() {
    let http = common::http().await;
    let p = Arc::new(Changer);
    http.route(Route::put("/things/{id}"), &p, Changer::change)
        .unwrap();
    let doc = http.openapi();
    let op = &doc["paths"]["/things/{id}"]["put"];
    let body = &op["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(
        body["anyOf"],
        json!([{"required": ["name"]}, {"required": ["nick"]}]),
        "{body}"
    );
    assert_eq!(body["minProperties"], 1, "the path's id is not in the body");
    assert_eq!(
        body["description"],
        "The id from the path plus at least one change."
    );
    assert_eq!(
        op["requestBody"]["required"], true,
        "a body that needs one of its fields is required"
    );
}
