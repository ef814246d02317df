//! WebSocket endpoints over a real loopback socket.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::TestAuth;
use futures::{SinkExt, StreamExt};
use microcore_http::{Http, HttpError, HttpResult, Route, RouteKind, TestRequest, WsConnection};
use microcore_kernel::{Tool, current_event_id, current_identity};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderName;
use tokio_tungstenite::tungstenite::{Error as WsClientError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Upper bound for anything a test waits for, so a bug fails instead of hanging.
const PATIENCE: Duration = Duration::from_secs(10);

struct Plug;

#[derive(Deserialize, Serialize)]
struct Note {
    text: String,
    n: u32,
}

impl Plug {
    async fn echo(self: Arc<Self>, mut conn: WsConnection) -> HttpResult<()> {
        while let Some(text) = conn.recv_text().await {
            conn.send_text(text).await?;
        }
        Ok(())
    }

    async fn echo_json(self: Arc<Self>, mut conn: WsConnection) -> HttpResult<()> {
        while let Some(note) = conn.recv_json::<Note>().await {
            match note {
                Ok(note) => {
                    conn.send_json(Note {
                        text: note.text.to_uppercase(),
                        n: note.n + 1,
                    })
                    .await?
                }
                Err(e) => conn.send_json(json!({"error": e.to_string()})).await?,
            }
        }
        Ok(())
    }

    async fn whoami(self: Arc<Self>, conn: WsConnection) -> HttpResult<()> {
        conn.send_json(json!({
            "identity": current_identity().to_string(),
            "event_id": current_event_id().map(|e| e.to_string()),
            "request_id": conn.request_id(),
            "room": conn.path_param("room"),
            "lang": conn.query_param("lang"),
            "sub": conn.claims().map(|c| c.sub.clone()),
        }))
        .await?;
        Ok(())
    }

    async fn boom(self: Arc<Self>, mut conn: WsConnection) -> HttpResult<()> {
        let _ = conn.recv_text().await;
        panic!("the handler broke");
    }

    async fn refuse(self: Arc<Self>, _: WsConnection) -> HttpResult<()> {
        Err(HttpError::forbidden("not your room"))
    }

    async fn stubborn(self: Arc<Self>, conn: WsConnection) -> HttpResult<()> {
        conn.send_text("ready").await?;
        // Ignores the socket entirely: drain must still close it.
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok(())
    }
}

/// A real server on a free loopback port with every test route.
async fn serving(pairs: &[(&str, &str)]) -> Http {
    let http = common::serving_http(pairs).await.expect("setup");
    let p = Arc::new(Plug);
    http.websocket(Route::get("/echo").tag("Live"), &p, Plug::echo)
        .unwrap();
    http.websocket(Route::get("/echo-json"), &p, Plug::echo_json)
        .unwrap();
    http.websocket(Route::get("/rooms/{room}"), &p, Plug::whoami)
        .unwrap();
    http.websocket(Route::get("/me").auth_with(TestAuth), &p, Plug::whoami)
        .unwrap();
    http.websocket(Route::get("/boom"), &p, Plug::boom).unwrap();
    http.websocket(Route::get("/refuse"), &p, Plug::refuse)
        .unwrap();
    http.websocket(Route::get("/stubborn"), &p, Plug::stubborn)
        .unwrap();
    http.on_boot_complete().await.expect("binds a free port");
    http
}

async fn connect(
    http: &Http,
    path_and_query: &str,
    headers: &[(&str, &str)],
) -> Result<Client, WsClientError> {
    let addr = http.local_addr().expect("bound");
    let mut req = format!("ws://{addr}{path_and_query}")
        .into_client_request()
        .unwrap();
    for (k, v) in headers {
        let name = HeaderName::from_bytes(k.as_bytes()).expect("header name");
        req.headers_mut()
            .insert(name, v.parse().expect("header value"));
    }
    let (ws, _) = tokio::time::timeout(PATIENCE, tokio_tungstenite::connect_async(req))
        .await
        .expect("the handshake finished in time")?;
    Ok(ws)
}

/// The next text message (pings and pongs skipped).
async fn next_text(ws: &mut Client) -> String {
    loop {
        let msg = tokio::time::timeout(PATIENCE, ws.next())
            .await
            .expect("a message in time")
            .expect("the socket is open")
            .expect("a readable message");
        match msg {
            Message::Text(t) => return t.as_str().to_owned(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("expected text, got {other:?}"),
        }
    }
}

/// The close frame the server sends: (code, reason).
async fn next_close(ws: &mut Client) -> (u16, String) {
    loop {
        let msg = tokio::time::timeout(PATIENCE, ws.next())
            .await
            .expect("a close frame in time");
        match msg {
            Some(Ok(Message::Close(Some(frame)))) => {
                return (u16::from(frame.code), frame.reason.as_str().to_owned());
            }
            Some(Ok(Message::Close(None))) => panic!("a close frame without a code"),
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("the socket failed before a close frame: {e}"),
            None => panic!("the socket ended without a close frame"),
        }
    }
}

/// The HTTP answer to a refused handshake: (status, envelope).
fn refused(result: Result<Client, WsClientError>) -> (u16, Value) {
    match result {
        Err(WsClientError::Http(res)) => {
            let body = res.body().clone().unwrap_or_default();
            (
                res.status().as_u16(),
                serde_json::from_slice(&body).unwrap_or(Value::Null),
            )
        }
        Err(e) => panic!("expected an HTTP refusal, got {e}"),
        Ok(_) => panic!("expected an HTTP refusal, but the socket was upgraded"),
    }
}

#[tokio::test]
async fn text_and_json_messages_round_trip() {
    let http = serving(&[]).await;
    let mut ws = connect(&http, "/echo", &[]).await.unwrap();
    ws.send(Message::text("hello")).await.unwrap();
    assert_eq!(next_text(&mut ws).await, "hello");
    ws.send(Message::text("again")).await.unwrap();
    assert_eq!(next_text(&mut ws).await, "again");
    ws.close(None).await.unwrap();

    let mut ws = connect(&http, "/echo-json", &[]).await.unwrap();
    ws.send(Message::text(r#"{"text":"hi","n":1}"#))
        .await
        .unwrap();
    let reply: Value = serde_json::from_str(&next_text(&mut ws).await).unwrap();
    assert_eq!(reply, json!({"text": "HI", "n": 2}));
    ws.send(Message::text("not json")).await.unwrap();
    let reply: Value = serde_json::from_str(&next_text(&mut ws).await).unwrap();
    let error = reply["error"].as_str().unwrap();
    assert!(
        error.contains("Note") && error.contains("not valid JSON"),
        "{error}"
    );
    ws.send(Message::text(r#"{"text":"still open","n":0}"#))
        .await
        .unwrap();
    let reply: Value = serde_json::from_str(&next_text(&mut ws).await).unwrap();
    assert_eq!(reply["n"], 1, "a bad message does not close the socket");
    http.drain(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn the_handler_runs_in_its_plugin_context_with_path_query_and_request_id() {
    let http = serving(&[]).await;
    let mut ws = connect(&http, "/rooms/lobby?lang=en", &[("x-request-id", "req-42")])
        .await
        .unwrap();
    let who: Value = serde_json::from_str(&next_text(&mut ws).await).unwrap();
    assert_eq!(who["identity"], "Plug.whoami");
    assert_eq!(who["event_id"], "req-42");
    assert_eq!(who["request_id"], "req-42");
    assert_eq!(who["room"], "lobby");
    assert_eq!(who["lang"], "en");
    assert_eq!(who["sub"], Value::Null);
    assert_eq!(next_close(&mut ws).await.0, 1000, "Ok(()) closes normally");
    http.drain(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn the_token_is_taken_from_the_header_the_query_or_the_cookie() {
    let http = serving(&[]).await;
    let addr = http.local_addr().unwrap().to_string();
    let same_origin = format!("http://{addr}");
    let ways: [(&str, Vec<(&str, &str)>); 4] = [
        ("/me", vec![("authorization", "Bearer good")]),
        ("/me?token=good", vec![]),
        ("/me", vec![("cookie", "access_token=good")]),
        (
            "/me",
            vec![("cookie", "access_token=good"), ("origin", &same_origin)],
        ),
    ];
    for (path, headers) in ways {
        let mut ws = connect(&http, path, &headers)
            .await
            .unwrap_or_else(|e| panic!("{path} {headers:?}: {e}"));
        let who: Value = serde_json::from_str(&next_text(&mut ws).await).unwrap();
        assert_eq!(who["sub"], "7", "{path} {headers:?}");
    }
    let cross_site = connect(
        &http,
        "/me",
        &[
            ("cookie", "access_token=good"),
            ("origin", "https://evil.example"),
        ],
    )
    .await;
    let (status, body) = refused(cross_site);
    assert_eq!(status, 403);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("HTTP_CORS_ORIGINS"),
        "{body}"
    );
    http.drain(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn a_missing_or_bad_token_is_refused_with_401_before_the_upgrade() {
    let http = serving(&[]).await;
    let (status, body) = refused(connect(&http, "/me", &[]).await);
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!({"success": false, "error": "Missing authorization token"})
    );
    let (status, body) = refused(connect(&http, "/me?token=bad", &[]).await);
    assert_eq!(status, 401);
    assert_eq!(body["error"], "Invalid or expired token");
    let (status, _) = refused(connect(&http, "/me", &[("authorization", "Bearer bad")]).await);
    assert_eq!(status, 401);
    http.drain(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn a_panicking_handler_closes_with_1011_and_the_server_keeps_serving() {
    let http = serving(&[]).await;
    let mut ws = connect(&http, "/boom", &[]).await.unwrap();
    ws.send(Message::text("go")).await.unwrap();
    let (code, reason) = next_close(&mut ws).await;
    assert_eq!(code, 1011);
    assert_eq!(reason, "Internal server error", "no panic detail leaks");
    let mut ws = connect(&http, "/echo", &[]).await.unwrap();
    ws.send(Message::text("still here")).await.unwrap();
    assert_eq!(next_text(&mut ws).await, "still here");
    http.drain(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn a_client_error_from_the_handler_closes_with_1008_and_its_message() {
    let http = serving(&[]).await;
    let mut ws = connect(&http, "/refuse", &[]).await.unwrap();
    assert_eq!(next_close(&mut ws).await, (1008, "not your room".into()));
    http.drain(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn an_oversize_message_closes_with_1009_and_a_binary_one_with_1003() {
    let http = serving(&[("HTTP_WS_MAX_MESSAGE_BYTES", "1024")]).await;
    let mut ws = connect(&http, "/echo", &[]).await.unwrap();
    ws.send(Message::text("x".repeat(1000))).await.unwrap();
    assert_eq!(next_text(&mut ws).await.len(), 1000, "within the limit");
    ws.send(Message::text("x".repeat(2000))).await.unwrap();
    let (code, reason) = next_close(&mut ws).await;
    assert_eq!(code, 1009);
    assert!(reason.contains("1024"), "{reason}");

    let mut ws = connect(&http, "/echo", &[]).await.unwrap();
    ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    assert_eq!(next_close(&mut ws).await.0, 1003);
    http.drain(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn drain_closes_open_sockets_with_1001_even_when_the_handler_ignores_them() {
    let http = serving(&[]).await;
    let mut waiting = connect(&http, "/echo", &[]).await.unwrap();
    let mut stubborn = connect(&http, "/stubborn", &[]).await.unwrap();
    assert_eq!(next_text(&mut stubborn).await, "ready");
    let drained = {
        let http = http.clone();
        tokio::spawn(async move { http.drain(Duration::from_secs(5)).await })
    };
    assert_eq!(next_close(&mut waiting).await.0, 1001);
    assert_eq!(next_close(&mut stubborn).await.0, 1001);
    tokio::time::timeout(PATIENCE, drained)
        .await
        .expect("drain returns")
        .unwrap();
}

#[tokio::test]
async fn a_websocket_route_is_listed_documented_and_always_get() {
    let http = common::http().await;
    let p = Arc::new(Plug);
    http.websocket(Route::post("/live").summary("Live feed"), &p, Plug::echo)
        .unwrap();
    http.websocket(Route::get("/me").auth_with(TestAuth), &p, Plug::whoami)
        .unwrap();
    let routes = http.routes();
    let live = routes.iter().find(|r| r.path == "/live").unwrap();
    assert_eq!(
        (live.method.as_str(), live.kind, live.status),
        ("GET", RouteKind::WebSocket, 101)
    );
    assert_eq!(live.handler, "Plug.echo");
    let doc = http.openapi();
    let op = &doc["paths"]["/live"]["get"];
    assert!(op["responses"]["101"].is_object(), "{op}");
    assert_eq!(op["summary"], "Live feed");
    assert!(doc["paths"]["/me"]["get"]["security"].is_array());
    assert!(
        http.report().iter().any(|l| l.starts_with("WS /live")),
        "{:?}",
        http.report()
    );
    let dup = http
        .websocket(Route::get("/live"), &p, Plug::echo)
        .unwrap_err();
    assert!(dup.to_string().contains("registered twice"), "{dup}");
    // A plain request gets an envelope saying what the route is; auth comes first.
    let plain = http.call(TestRequest::get("/live")).await;
    assert_eq!(plain.status, 426);
    assert!(
        plain.error().unwrap().contains("WebSocket"),
        "{}",
        plain.text
    );
    assert_eq!(http.call(TestRequest::get("/me")).await.status, 401);
    http.on_boot_complete().await.unwrap();
    let served = http.call(TestRequest::get("/openapi.json")).await;
    assert!(served.body["paths"]["/live"]["get"]["responses"]["101"].is_object());
}
