//! `describe_schema` gives the same description of the same DDL on both engines.

use crate::contract;

use microcore_db::{Db, Migration, params};
use serde_json::json;

contract!(same_ddl_same_description);

const DDL: Migration = Migration {
    domain: "blog",
    file: "001_blog.sql",
    sql: "CREATE TABLE posts (id INTEGER PRIMARY KEY, author_id INTEGER NOT NULL REFERENCES authors(id), \
              body TEXT, UNIQUE (author_id, body));\n\
          CREATE TABLE authors (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL, email TEXT UNIQUE, \
              active BOOLEAN, score DOUBLE PRECISION, visits BIGINT DEFAULT 0, \
              nick TEXT DEFAULT 'anon', created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP);",
};

async fn same_ddl_same_description(db: Db) {
    // authors is created after posts on purpose: SQLite accepts the forward
    // reference; PostgreSQL needs the order, so create authors first there.
    let migration = if db.engine() == "postgres" {
        Migration {
            sql: "CREATE TABLE authors (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL, email TEXT UNIQUE, \
                      active BOOLEAN, score DOUBLE PRECISION, visits BIGINT DEFAULT 0, \
                      nick TEXT DEFAULT 'anon', created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP);\n\
                  CREATE TABLE posts (id INTEGER PRIMARY KEY, author_id INTEGER NOT NULL REFERENCES authors(id), \
                      body TEXT, UNIQUE (author_id, body));",
            ..DDL
        }
    } else {
        DDL
    };
    db.apply_migrations(&[migration]).await.unwrap();
    let schema = serde_json::to_value(db.describe_schema().await.unwrap()).unwrap();
    let col = |name: &str, ty: &str, nullable: bool, default: Option<&str>, pk: bool| json!({"name": name, "type": ty, "nullable": nullable, "default": default, "primary_key": pk});
    assert_eq!(
        schema["authors"],
        json!({
            "internal": false,
            "columns": [
                col("id", "int", false, None, true),
                col("name", "text", false, None, false),
                col("email", "text", true, None, false),
                col("active", "bool", true, None, false),
                col("score", "float", true, None, false),
                col("visits", "int", true, Some("0"), false),
                col("nick", "text", true, Some("'anon'"), false),
                col("created_at", "timestamp", true, Some("CURRENT_TIMESTAMP"), false),
            ],
            "unique": [["email"]],
            "foreign_keys": [],
        })
    );
    assert_eq!(
        schema["posts"],
        json!({
            "internal": false,
            "columns": [
                col("id", "int", false, None, true),
                col("author_id", "int", false, None, false),
                col("body", "text", true, None, false),
            ],
            "unique": [["author_id", "body"]],
            "foreign_keys": [{"column": "author_id", "references_table": "authors", "references_column": "id"}],
        })
    );
    assert_eq!(schema["_migrations_history"]["internal"], true);
    let names: Vec<&String> = schema.as_object().unwrap().keys().collect();
    assert_eq!(
        names,
        ["_migrations_history", "_outbox", "authors", "posts"],
        "sorted, no sqlite_* tables"
    );
    assert!(db.execute("SELECT 1 AS one", params![]).await.is_ok());
}
