//! A response that is not the JSON envelope: CSV, plain text, a file's bytes,
//! with the content type and headers the plugin chooses.

use std::borrow::Cow;

use bytes::Bytes;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Serialize, Serializer};

/// A response body sent as is with its own content type, returned as the `Res` of `Http::route`.
///
/// ```ignore
/// async fn export(self: Arc<Self>, _: Empty, _: Ctx) -> HttpResult<Raw> {
///     Ok(Raw::csv("id,name\n1,Ana\n").attachment("users.csv"))
/// }
/// ```
///
/// The route's success status, `Ctx::set_status`, `Ctx::set_header` and
/// cookies apply as for JSON. Errors are still answered with the JSON error
/// envelope. The OpenAPI document lists the route's response as
/// `Route::produces(..)` declares (`*/*` when it does not). Nested inside
/// another response model it serializes as its text (lossy for binary data).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Raw {
    pub(crate) content_type: String,
    pub(crate) body: Bytes,
    pub(crate) headers: Vec<(String, String)>,
}

#[microcore_kernel::contract(of = crate::Http)]
impl Raw {
    /// A `text/plain; charset=utf-8` response with `body`.
    pub fn text(body: impl Into<String>) -> Self {
        Self::bytes("text/plain; charset=utf-8", body.into())
    }

    /// A `text/csv; charset=utf-8` response with `body`.
    pub fn csv(body: impl Into<String>) -> Self {
        Self::bytes("text/csv; charset=utf-8", body.into())
    }

    /// A `text/html; charset=utf-8` response with `body` (escape what you interpolate).
    pub fn html(body: impl Into<String>) -> Self {
        Self::bytes("text/html; charset=utf-8", body.into())
    }

    /// A response of any `content_type` with `body` as its bytes.
    pub fn bytes(content_type: impl Into<String>, body: impl Into<Bytes>) -> Self {
        Self {
            content_type: content_type.into(),
            body: body.into(),
            headers: Vec::new(),
        }
    }

    /// Adds a response header; an invalid name or value makes the answer a logged 500.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Makes browsers download the body as `filename` (`Content-Disposition: attachment`).
    ///
    /// Characters that would break the header (quotes, backslashes, control
    /// characters) are replaced with `_`.
    pub fn attachment(self, filename: &str) -> Self {
        let safe: String = filename
            .chars()
            .map(|c| {
                if c == '"' || c == '\\' || c.is_control() || !c.is_ascii() {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        self.header(
            "content-disposition",
            format!("attachment; filename=\"{safe}\""),
        )
    }

    /// The content type the response is sent with.
    #[not_in_manifest]
    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    /// The body bytes.
    #[not_in_manifest]
    pub fn body(&self) -> &[u8] {
        &self.body
    }
}

impl Serialize for Raw {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&String::from_utf8_lossy(&self.body))
    }
}

impl JsonSchema for Raw {
    fn schema_name() -> Cow<'static, str> {
        "Raw".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "format": "binary"})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_set_the_content_type_and_attachment_names_are_made_safe() {
        assert_eq!(Raw::csv("a,b").content_type(), "text/csv; charset=utf-8");
        assert_eq!(Raw::text("hi").body(), b"hi");
        let raw = Raw::bytes("application/pdf", vec![1u8, 2]).attachment("a\"b\r\n.pdf");
        assert_eq!(raw.content_type(), "application/pdf");
        assert_eq!(
            raw.headers,
            [(
                "content-disposition".to_owned(),
                "attachment; filename=\"a_b__.pdf\"".to_owned()
            )]
        );
    }
}
