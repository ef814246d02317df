//! In-process requests through the real router (every layer included), for
//! plugin tests: no socket, no port.

use axum::body::Body;
use http::{HeaderMap, Method, Request, header};
use serde::Serialize;
use serde_json::Value;
use tower::ServiceExt;

use crate::handle::Http;

/// A request to send with [`Http::call`].
#[derive(Clone, Debug)]
pub struct TestRequest {
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    cookies: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

#[microcore_kernel::contract(kit = "testing")]
impl TestRequest {
    /// A request with any method.
    #[not_in_manifest]
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            headers: Vec::new(),
            cookies: Vec::new(),
            body: None,
        }
    }

    /// `GET path` (with any `?query`).
    pub fn get(path: impl Into<String>) -> Self {
        Self::new(Method::GET, path)
    }

    /// `POST path`.
    pub fn post(path: impl Into<String>) -> Self {
        Self::new(Method::POST, path)
    }

    /// `PUT path`.
    pub fn put(path: impl Into<String>) -> Self {
        Self::new(Method::PUT, path)
    }

    /// `PATCH path`.
    pub fn patch(path: impl Into<String>) -> Self {
        Self::new(Method::PATCH, path)
    }

    /// `DELETE path`.
    pub fn delete(path: impl Into<String>) -> Self {
        Self::new(Method::DELETE, path)
    }

    /// A JSON body (sets `Content-Type: application/json`).
    pub fn json(mut self, body: impl Serialize) -> Self {
        self.body = Some(serde_json::to_vec(&body).unwrap_or_default());
        self.header("content-type", "application/json")
    }

    /// A raw body with its content type (for malformed or non-JSON bodies).
    pub fn raw(mut self, body: impl Into<Vec<u8>>, content_type: impl Into<String>) -> Self {
        self.body = Some(body.into());
        self.header("content-type", content_type)
    }

    /// A request header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// `Authorization: Bearer <token>`.
    pub fn bearer(self, token: impl AsRef<str>) -> Self {
        let value = format!("Bearer {}", token.as_ref());
        self.header("authorization", value)
    }

    /// A cookie sent with the request.
    pub fn cookie(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.cookies.push((name.into(), value.into()));
        self
    }

    /// The `http::Request` this describes.
    #[not_in_manifest]
    pub fn into_request(self) -> Result<Request<Body>, http::Error> {
        let mut builder = Request::builder().method(self.method).uri(self.path);
        for (k, v) in self.headers {
            builder = builder.header(k, v);
        }
        if !self.cookies.is_empty() {
            let cookie = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            builder = builder.header(header::COOKIE, cookie);
        }
        builder.body(self.body.map(Body::from).unwrap_or_else(Body::empty))
    }
}

/// What [`Http::call`] returns.
#[microcore_kernel::contract(kit = "testing")]
#[derive(Clone, Debug)]
pub struct TestResponse {
    /// The status code.
    pub status: u16,
    /// Every response header.
    pub headers: HeaderMap,
    /// The body parsed as JSON (`Null` if it is not JSON).
    pub body: Value,
    /// The body as text (lossy for binary bodies).
    pub text: String,
    /// The raw body.
    pub bytes: Vec<u8>,
}

#[microcore_kernel::contract(kit = "testing")]
impl TestResponse {
    /// A response header as text (the first, if repeated).
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// Every value of a repeated header (`set-cookie`).
    #[not_in_manifest]
    pub fn header_all(&self, name: &str) -> Vec<String> {
        self.headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_owned)
            .collect()
    }

    /// `body["data"]` of a success envelope.
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    /// `body["error"]` of a failure envelope, as text.
    pub fn error(&self) -> Option<&str> {
        self.body["error"].as_str()
    }
}

#[microcore_kernel::contract(kit = "testing")]
impl Http {
    /// Sends `req` through the real router and its layers, in-process.
    pub async fn call(&self, req: TestRequest) -> TestResponse {
        let described = format!("{req:?}");
        let request = match req.into_request() {
            Ok(r) => r,
            Err(e) => return failed(format!("invalid test request {described}: {e}")),
        };
        let response = match self.router().oneshot(request).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
        let status = response.status().as_u16();
        let (parts, body) = response.into_parts();
        let bytes = match axum::body::to_bytes(body, usize::MAX).await {
            Ok(b) => b.to_vec(),
            Err(e) => return failed(format!("reading the response body failed: {e}")),
        };
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        TestResponse {
            status,
            headers: parts.headers,
            body,
            text,
            bytes,
        }
    }
}

/// A response standing for a test request that could not be sent: status 0
/// and the reason as text, so the assertion that fails shows why.
fn failed(reason: String) -> TestResponse {
    TestResponse {
        status: 0,
        headers: HeaderMap::new(),
        body: Value::Null,
        text: reason,
        bytes: Vec::new(),
    }
}
