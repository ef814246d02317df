//! Static files: an extension allowlist that denies by default, no dotfiles
//! (except `.well-known/`), blocked files indistinguishable from missing
//! ones, and never in front of an API route (mounts answer only what no
//! route matched).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode};
use tower::ServiceExt;
use tower_http::services::ServeFile;

use crate::envelope;

/// The extensions served when a mount does not choose its own.
pub const DEFAULT_STATIC_EXTENSIONS: &[&str] = &[
    "html",
    "htm",
    "css",
    "js",
    "mjs",
    "json",
    "txt",
    "xml",
    "webmanifest",
    "map",
    "png",
    "jpg",
    "jpeg",
    "gif",
    "svg",
    "ico",
    "webp",
    "avif",
    "woff",
    "woff2",
    "ttf",
    "otf",
    "eot",
    "mp4",
    "webm",
    "mp3",
    "ogg",
    "wav",
    "wasm",
    "pdf",
];

/// How a directory is served.
#[derive(Clone, Debug, Default)]
pub struct StaticOptions {
    html: bool,
    extensions: Option<Vec<String>>,
}

impl StaticOptions {
    /// The defaults: [`DEFAULT_STATIC_EXTENSIONS`], no index pages.
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves `index.html` for the mount root and for directories.
    pub fn html(mut self, on: bool) -> Self {
        self.html = on;
        self
    }

    /// Replaces the allowlist (`["txt", "csv"]`); `"*"` allows every extension.
    pub fn extensions<I: IntoIterator<Item = S>, S: Into<String>>(mut self, list: I) -> Self {
        self.extensions = Some(
            list.into_iter()
                .map(|s| s.into().trim_start_matches('.').to_ascii_lowercase())
                .collect(),
        );
        self
    }

    fn allows(&self, ext: &str) -> bool {
        let ext = ext.to_ascii_lowercase();
        match &self.extensions {
            Some(list) => list.iter().any(|e| e == "*" || *e == ext),
            None => DEFAULT_STATIC_EXTENSIONS.contains(&ext.as_str()),
        }
    }
}

/// One mounted directory.
#[derive(Debug)]
pub(crate) struct Mount {
    pub(crate) prefix: String,
    pub(crate) dir: PathBuf,
    pub(crate) options: StaticOptions,
}

impl Mount {
    /// Checks the directory exists; the reason says what to fix.
    pub(crate) fn new(prefix: &str, dir: &Path, options: StaticOptions) -> Result<Self, String> {
        if !prefix.starts_with('/') {
            return Err("the prefix must start with `/`".into());
        }
        let dir = dir.canonicalize().map_err(|e| {
            format!(
                "directory {} cannot be opened: {e}; create it or fix the path",
                dir.display()
            )
        })?;
        if !dir.is_dir() {
            return Err(format!("{} is not a directory", dir.display()));
        }
        let prefix = if prefix.len() > 1 {
            prefix.trim_end_matches('/')
        } else {
            prefix
        };
        Ok(Self {
            prefix: prefix.to_owned(),
            dir,
            options,
        })
    }

    /// The part of `path` under this mount, if it is under it.
    fn rest<'a>(&self, path: &'a str) -> Option<&'a str> {
        if self.prefix == "/" {
            return Some(path.trim_start_matches('/'));
        }
        let rest = path.strip_prefix(&self.prefix)?;
        if rest.is_empty() || rest.starts_with('/') {
            Some(rest.trim_start_matches('/'))
        } else {
            None
        }
    }

    /// The file to serve for `rest`, or `None` when missing or blocked (the same to the client).
    fn resolve(&self, rest: &str) -> Option<PathBuf> {
        let decoded = percent_decode(rest)?;
        let segments: Vec<&str> = decoded.split('/').filter(|s| !s.is_empty()).collect();
        for (i, seg) in segments.iter().enumerate() {
            let well_known = i == 0 && *seg == ".well-known";
            if seg.contains('\\') || seg.contains('\0') || (seg.starts_with('.') && !well_known) {
                return None;
            }
        }
        let mut file = self.dir.join(segments.join("/"));
        if file.is_dir() {
            if !self.options.html {
                return None;
            }
            file = file.join("index.html");
        }
        let file = file.canonicalize().ok()?;
        if !file.starts_with(&self.dir) || !file.is_file() {
            return None;
        }
        let ext = file.extension()?.to_str()?;
        self.options.allows(ext).then_some(file)
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// What answers when no route matched: a static file, or the 404 envelope.
pub(crate) async fn fallback(mounts: Vec<Arc<Mount>>, req: Request) -> Response {
    let missing = format!("no route for {} {}", req.method(), req.uri().path());
    let not_found = || envelope::failure_with(404, missing.clone());
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return not_found();
    }
    let path = req.uri().path().to_owned();
    let mut candidates: Vec<&Arc<Mount>> =
        mounts.iter().filter(|m| m.rest(&path).is_some()).collect();
    candidates.sort_by_key(|m| std::cmp::Reverse(m.prefix.len()));
    let Some(file) = candidates.iter().find_map(|m| m.resolve(m.rest(&path)?)) else {
        return not_found();
    };
    match ServeFile::new(file).oneshot(req).await {
        Ok(res) if res.status() == StatusCode::NOT_FOUND => not_found(),
        Ok(res) => res.into_response(),
        Err(e) => {
            tracing::error!("serving static file {path}: {e}");
            envelope::failure_with(500, crate::error::INTERNAL_MESSAGE)
        }
    }
}
