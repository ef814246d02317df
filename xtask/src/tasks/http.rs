//! A small HTTP/1.1 client over a loopback socket: one request per
//! connection (`Connection: close`), chunked bodies decoded. The runner needs
//! nothing more, and std alone keeps `xtask` free of an async stack.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// One request to the app under test.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Path and query, e.g. `/notes?limit=2`.
    pub path: String,
    /// Extra headers (name, value).
    pub headers: Vec<(String, String)>,
    /// The body, sent with `Content-Length`.
    pub body: Option<Vec<u8>>,
}

/// The answer, as far as it was read.
#[derive(Debug, Clone, Default)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Headers with lower-cased names.
    pub headers: Vec<(String, String)>,
    /// The body as text (lossy UTF-8).
    pub text: String,
}

impl Response {
    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `req` to `127.0.0.1:port` and reads the answer until the server
/// closes the connection, or until `limit` passes (a stream that never ends:
/// what arrived by then is the answer) or `enough` says the body so far is
/// all that is needed.
pub fn send(
    port: u16,
    req: &Request,
    limit: Duration,
    enough: &dyn Fn(&str) -> bool,
) -> Result<Response, String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .map_err(|e| format!("cannot connect to 127.0.0.1:{port}: {e}"))?;
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n",
        req.method, req.path
    );
    for (name, value) in &req.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = &req.body {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend(req.body.iter().flatten());
    stream
        .write_all(&bytes)
        .map_err(|e| format!("cannot send {} {}: {e}", req.method, req.path))?;

    let deadline = Instant::now() + limit;
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        stream
            .set_read_timeout(Some(left.min(Duration::from_millis(200))))
            .map_err(|e| e.to_string())?;
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                raw.extend_from_slice(&buf[..n]);
                if let Ok(partial) = parse(&raw)
                    && enough(&partial.text)
                {
                    return Ok(partial);
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(format!("reading the answer to {}: {e}", req.path)),
        }
    }
    parse(&raw).map_err(|e| format!("the answer to {} {}: {e}", req.method, req.path))
}

/// Parses a whole or partial HTTP/1.1 response.
pub fn parse(raw: &[u8]) -> Result<Response, String> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no complete status line and headers")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let body = &raw[split + 4..];
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_vec()
    };
    Ok(Response {
        status,
        headers,
        text: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// Decodes a chunked body; a chunk cut short keeps what arrived of it.
fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = body.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&body[..eol]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let Ok(size) = usize::from_str_radix(size_text, 16) else {
            break;
        };
        if size == 0 {
            break;
        }
        let data = &body[eol + 2..];
        let take = size.min(data.len());
        out.extend_from_slice(&data[..take]);
        if take < size || data.len() < size + 2 {
            break;
        }
        body = &data[size + 2..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_response_is_parsed_with_lower_case_headers() {
        let raw = b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
        let res = parse(raw).unwrap();
        assert_eq!(res.status, 201);
        assert_eq!(res.header("content-type"), Some("application/json"));
        assert_eq!(res.text, "{}");
    }

    #[test]
    fn a_chunked_body_is_decoded_even_when_cut_short() {
        let raw = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
        assert_eq!(parse(raw).unwrap().text, "hello world");
        let cut = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n wo";
        assert_eq!(parse(cut).unwrap().text, "hello wo");
    }

    #[test]
    fn no_headers_yet_is_an_error() {
        assert!(parse(b"HTTP/1.1 200 OK\r\n").is_err());
    }
}
