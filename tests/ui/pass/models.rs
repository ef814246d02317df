// Every shape of model: nested models (plain, Vec, Option, Option<Vec>) are
// validated with their parent and name the path; primitives are not models;
// enums, newtypes and unit structs are models with nothing to validate.
use microcore::__private::validator::{Validate, ValidationErrors};
use microcore::prelude::*;

#[model]
pub struct Item {
    #[validate(length(min = 1))]
    pub name: String,
    pub status: Status,
}

#[model]
pub enum Status {
    Open,
    Closed,
}

#[model]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    VeryHigh,
}

#[model]
pub struct Sku(pub String);

#[model]
pub struct Nothing;

#[model]
pub enum Shape {
    Circle { radius: f64 },
    Square(f64),
}

#[model]
#[validate(schema(function = "check_order"))]
pub struct Order {
    #[validate(length(min = 1, max = 500), nested)]
    pub items: Vec<Item>,
    #[validate(nested)]
    pub first: Item,
    pub maybe: Option<Item>,
    pub more: Option<Vec<Item>>,
    #[validate(skip)]
    pub unchecked: Option<Item>,
    #[validate(email)]
    pub email: Option<String>,
    #[validate(custom(function = "not_admin"))]
    pub owner: String,
    pub tags: Vec<String>,
    pub count: i64,
    pub meta: serde_json::Value,
    pub sku: Sku,
    pub shape: Shape,
    pub nothing: Option<Nothing>,
}

fn check_order(order: &Order) -> Result<(), ValidationError> {
    if order.count < 0 {
        return Err(ValidationError::new("negative_count"));
    }
    Ok(())
}

fn not_admin(owner: &str) -> Result<(), ValidationError> {
    if owner == "admin" {
        return Err(ValidationError::new("reserved"));
    }
    Ok(())
}

#[model]
pub struct Page<T> {
    pub items: Vec<T>,
}

#[event("order.placed")]
pub enum OrderPlaced {
    Online { id: i64 },
    InStore(i64),
}

fn item(name: &str) -> Item {
    Item {
        name: name.into(),
        status: Status::Open,
    }
}

fn order() -> Order {
    Order {
        items: vec![item("a"), item("b"), item("c")],
        first: item("first"),
        maybe: None,
        more: None,
        unchecked: Some(item("")),
        email: None,
        owner: "ana".into(),
        tags: vec![String::new()],
        count: 0,
        meta: serde_json::Value::Null,
        sku: Sku(String::new()),
        shape: Shape::Square(1.0),
        nothing: Some(Nothing),
    }
}

fn paths(errors: &ValidationErrors, prefix: &str, out: &mut Vec<String>) {
    use microcore::__private::validator::ValidationErrorsKind as Kind;
    for (field, kind) in errors.errors() {
        let path = if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}.{field}")
        };
        match kind {
            Kind::Field(_) => out.push(path),
            Kind::Struct(inner) => paths(inner, &path, out),
            Kind::List(items) => {
                for (i, inner) in items {
                    paths(inner, &format!("{path}[{i}]"), out);
                }
            }
        }
    }
}

fn failing(order: &Order) -> Vec<String> {
    let mut out = Vec::new();
    if let Err(e) = order.validate() {
        paths(&e, "", &mut out);
    }
    out.sort();
    out
}

fn main() {
    assert_eq!(failing(&order()), Vec::<String>::new());

    let mut bad = order();
    bad.items[2].name.clear();
    bad.first.name.clear();
    bad.maybe = Some(item(""));
    bad.more = Some(vec![item("x"), item("")]);
    bad.email = Some("not an email".into());
    bad.owner = "admin".into();
    assert_eq!(
        failing(&bad),
        [
            "email",
            "first.name",
            "items[2].name",
            "maybe.name",
            "more[1].name",
            "owner"
        ]
    );

    let mut negative = order();
    negative.count = -1;
    assert_eq!(failing(&negative), ["__all__"]);

    let mut empty = order();
    empty.items.clear();
    assert_eq!(failing(&empty), ["items"]);

    let _ = Page { items: vec![item("a")] }.validate();
    assert!(Status::Closed.validate().is_ok());
    assert_eq!(
        serde_json::to_value(Priority::VeryHigh).unwrap(),
        json!("very_high")
    );
    assert_eq!(
        serde_json::to_value(OrderPlaced::InStore(7)).unwrap(),
        json!({"InStore": 7})
    );
    assert_eq!(
        <OrderPlaced as microcore::__private::Event>::NAME,
        "order.placed"
    );
}
