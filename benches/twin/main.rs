//! The load benchmark's baseline: a hand-written axum + sqlx + jsonwebtoken
//! server answering `GET /ping` and the authenticated `GET /users/{id}` with
//! the bytes the example app sends, doing the same work (see
//! docs/benchmarks.md, "Under load"). Started by `benches/load.sh`; not part
//! of the app and not built by `cargo test`.
//!
//!   load_twin serve   # HTTP on 127.0.0.1:$TWIN_PORT, SQLite at $DATABASE_URL
//!   load_twin token   # prints a login-shaped token for the seeded user
//!
//! Anything else (`cargo bench` passes `--bench`) prints this note and exits.

mod frame;
mod session;

use std::str::FromStr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Serialize;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use session::Sessions;

/// The users table, made by the app's own migrations.
const MIGRATIONS: [&str; 2] = [
    include_str!("../../domains/users/migrations/001_create_users.sql"),
    include_str!("../../domains/users/migrations/002_user_ids_never_reused.sql"),
];

struct App {
    pool: SqlitePool,
    sessions: Sessions,
}

#[derive(Serialize)]
struct Envelope<T> {
    success: bool,
    data: T,
}

#[derive(Serialize)]
struct Failure<'a> {
    success: bool,
    error: &'a str,
}

#[derive(Serialize)]
struct Pong {
    status: &'static str,
    message: &'static str,
}

#[derive(Serialize)]
struct ShownUser {
    id: i64,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
}

fn json(status: StatusCode, body: &impl Serialize) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{\"success\":false}".to_vec());
    let mut res = (status, bytes).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

fn failure(status: StatusCode, error: &str) -> Response {
    json(
        status,
        &Failure {
            success: false,
            error,
        },
    )
}

async fn ping() -> Response {
    json(
        StatusCode::OK,
        &Envelope {
            success: true,
            data: Pong {
                status: "ok",
                message: "pong",
            },
        },
    )
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = auth.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
        .then(|| token.trim().to_owned())
}

async fn get_user(
    State(app): State<Arc<App>>,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Response {
    let Some(token) = bearer(&headers) else {
        return failure(StatusCode::UNAUTHORIZED, "Missing authorization token");
    };
    let Some(claims) = app.sessions.check(&token) else {
        return failure(StatusCode::UNAUTHORIZED, "Invalid or expired token");
    };
    if id < 1 {
        return failure(StatusCode::UNPROCESSABLE_ENTITY, "id: must be at least 1");
    }
    let row: Result<Option<(i64, String, String)>, _> =
        sqlx::query_as("SELECT id, name, email FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&app.pool)
            .await;
    match row {
        Ok(Some((id, name, email))) => {
            let own = claims.sub.parse::<i64>().ok() == Some(id);
            let data = ShownUser {
                id,
                name,
                email: own.then_some(email),
            };
            json(
                StatusCode::OK,
                &Envelope {
                    success: true,
                    data,
                },
            )
        }
        Ok(None) => failure(StatusCode::NOT_FOUND, "user not found"),
        Err(_) => failure(StatusCode::INTERNAL_SERVER_ERROR, "internal server error"),
    }
}

fn setting(key: &str) -> Result<String, String> {
    std::env::var(key).map_err(|_| format!("load_twin: set {key} (benches/load.sh does)"))
}

/// The pool the app's db tool opens on a SQLite file (crates/tools/db/src/sqlite).
async fn open(url: &str) -> Result<SqlitePool, String> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| format!("DATABASE_URL={url:?}: {e}"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .foreign_keys(true)
        .busy_timeout(std::time::Duration::from_millis(5000));
    SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await
        .map_err(|e| format!("opening {url}: {e}"))
}

async fn serve() -> Result<(), String> {
    let port: u16 = setting("TWIN_PORT")?
        .parse()
        .map_err(|e| format!("TWIN_PORT: {e}"))?;
    let pool = open(&setting("DATABASE_URL")?).await?;
    for sql in MIGRATIONS {
        sqlx::raw_sql(sql)
            .execute(&pool)
            .await
            .map_err(|e| format!("migrating: {e}"))?;
    }
    sqlx::query("INSERT INTO users (name, email, password_hash) VALUES ($1, $2, 'not used')")
        .bind(setting("SEED_NAME")?)
        .bind(setting("SEED_EMAIL")?)
        .execute(&pool)
        .await
        .map_err(|e| format!("seeding: {e}"))?;
    let app = Arc::new(App {
        pool,
        sessions: Sessions::new(setting("AUTH_SECRET_KEY")?.as_bytes()),
    });
    let router = Router::new()
        .route("/ping", get(ping))
        .route("/users/{id}", get(get_user))
        .with_state(app)
        .layer(axum::middleware::from_fn(frame::frame));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("binding 127.0.0.1:{port}: {e}"))?;
    println!("load_twin listening on 127.0.0.1:{port}");
    axum::serve(listener, router)
        .await
        .map_err(|e| format!("serving: {e}"))
}

fn main() {
    let command = std::env::args().nth(1).unwrap_or_default();
    let result = match command.as_str() {
        "serve" => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("runtime: {e}"))
            .and_then(|rt| rt.block_on(serve())),
        "token" => setting("AUTH_SECRET_KEY").and_then(|secret| {
            let sessions = Sessions::new(secret.as_bytes());
            let token = sessions.sign(&setting("SEED_ID")?, &setting("SEED_EMAIL")?)?;
            println!("{token}");
            Ok(())
        }),
        _ => {
            println!("load_twin is the baseline server of benches/load.sh; nothing to run here");
            Ok(())
        }
    };
    if let Err(e) = result {
        eprintln!("{e}");
        std::process::exit(1);
    }
}
