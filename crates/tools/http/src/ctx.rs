//! The per-request handle a handler receives: who is calling, and how to
//! shape the answer beyond its data (status, headers, cookies, redirects,
//! binary bodies).

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use microcore_kernel::Claims;
use parking_lot::Mutex;

use crate::cookie::Cookie;
use crate::error::{HttpError, HttpResult};

/// The request's context, handed to every handler. Cheap to clone.
///
/// How the handler's request model is filled (before the handler runs):
/// path parameters always win, and a query or body key naming one must carry
/// the same value (else 400 naming it). GET and DELETE also read the query
/// string (a scalar key given twice is 400); POST, PUT and PATCH read only a
/// JSON body (a query key naming a model field is 400, a body that is not
/// `Content-Type: application/json` is 415), and DELETE may add one. Path and
/// query text is converted to the field's type. Malformed JSON is 400; a
/// wrong type, a missing field or a failed `#[validate]` rule is 422 with
/// every failing field in `details`.
#[derive(Clone)]
pub struct Ctx {
    inner: Arc<Inner>,
}

struct Inner {
    request_id: Arc<str>,
    headers: HeaderMap,
    claims: Option<Claims>,
    token: Option<String>,
    reply: Mutex<Reply>,
}

/// What the handler asked for besides its data.
#[derive(Default)]
pub(crate) struct Reply {
    pub(crate) status: Option<u16>,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) cookies: Vec<HeaderValue>,
    pub(crate) redirect: Option<(HeaderValue, u16)>,
    pub(crate) binary: Option<(Bytes, HeaderValue)>,
    /// Misuse found while handling (an invalid header, say): the answer becomes a 500.
    pub(crate) problems: Vec<String>,
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("request_id", &self.inner.request_id)
            .field("authenticated", &self.inner.claims.is_some())
            .finish()
    }
}

#[microcore_kernel::contract(of = crate::Http)]
impl Ctx {
    pub(crate) fn new(
        request_id: Arc<str>,
        headers: HeaderMap,
        claims: Option<Claims>,
        token: Option<String>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                request_id,
                headers,
                claims,
                token,
                reply: Mutex::new(Reply::default()),
            }),
        }
    }

    /// A context for calling a handler directly in a unit test.
    #[not_in_manifest]
    pub fn for_test(claims: Option<Claims>) -> Self {
        Self::new(Arc::from("test-request"), HeaderMap::new(), claims, None)
    }

    /// The id of this request, also the parent id of every event the handler publishes.
    ///
    /// Taken from `X-Request-ID` when the client sent one, generated otherwise.
    pub fn request_id(&self) -> &str {
        &self.inner.request_id
    }

    /// A request header as text (`None` if absent or not text).
    pub fn header(&self, name: &str) -> Option<String> {
        self.inner
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// The verified token's claims on an auth route.
    #[not_in_manifest]
    pub fn claims(&self) -> Option<&Claims> {
        self.inner.claims.as_ref()
    }

    /// The verified claims of an auth route, else a 401 `HttpError` to return with `?`.
    pub fn user(&self) -> HttpResult<Claims> {
        self.inner
            .claims
            .clone()
            .ok_or_else(|| HttpError::unauthorized("Missing authorization token"))
    }

    /// The raw bearer token of an auth route.
    pub fn token(&self) -> Option<String> {
        self.inner.token.clone()
    }

    /// Sets the status of a successful answer, overriding the route's.
    pub fn set_status(&self, status: u16) {
        let mut reply = self.inner.reply.lock();
        if (100..=599).contains(&status) {
            reply.status = Some(status);
        } else {
            reply
                .problems
                .push(format!("set_status({status}): not an HTTP status"));
        }
    }

    /// Adds a response header; an invalid name or value makes the answer a logged 500.
    pub fn set_header(&self, name: &str, value: &str) {
        let mut reply = self.inner.reply.lock();
        match (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            (Ok(n), Ok(v)) => reply.headers.push((n, v)),
            _ => reply.problems.push(format!(
                "set_header({name:?}, {value:?}): invalid header name or value"
            )),
        }
    }

    /// Sets a cookie (see [`Cookie::new`] for the defaults).
    pub fn set_cookie(&self, cookie: Cookie) {
        let mut reply = self.inner.reply.lock();
        match cookie
            .to_header()
            .and_then(|h| HeaderValue::try_from(h).map_err(|e| e.to_string()))
        {
            Ok(v) => reply.cookies.push(v),
            Err(e) => reply.problems.push(format!("set_cookie: {e}")),
        }
    }

    /// Tells the browser to delete cookie `name` (Path=/).
    pub fn remove_cookie(&self, name: &str) {
        self.set_cookie(Cookie::removal(name));
    }

    /// Answers with a 302 redirect to `url`, ignoring the handler's data.
    pub fn redirect(&self, url: &str) {
        self.redirect_with(url, 302);
    }

    /// Answers with a redirect of the given 3xx status.
    #[not_in_manifest]
    pub fn redirect_with(&self, url: &str, status: u16) {
        let mut reply = self.inner.reply.lock();
        if !(300..=399).contains(&status) {
            reply.problems.push(format!(
                "redirect_with({url:?}, {status}): a redirect needs a 3xx status"
            ));
            return;
        }
        match HeaderValue::try_from(url) {
            Ok(v) => reply.redirect = Some((v, status)),
            Err(_) => reply
                .problems
                .push(format!("redirect({url:?}): not a valid Location")),
        }
    }

    /// Answers `bytes` with `content_type` instead of the envelope, ignoring the data (see `Raw`).
    #[not_in_manifest]
    pub fn binary(&self, bytes: impl Into<Bytes>, content_type: &str) {
        let mut reply = self.inner.reply.lock();
        match HeaderValue::try_from(content_type) {
            Ok(ct) => reply.binary = Some((bytes.into(), ct)),
            Err(_) => reply
                .problems
                .push(format!("binary(_, {content_type:?}): invalid content type")),
        }
    }

    pub(crate) fn take_reply(&self) -> Reply {
        std::mem::take(&mut *self.inner.reply.lock())
    }
}
