//! A raw HTTP/1.1 exchange over one keep-alive TCP connection that says
//! exactly how far a request got, which a pooled client hides: a connection
//! closed before the first response byte (the server never read the request,
//! so a retry is safe) is not a response cut short (a lost request).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

/// A whole response: status line, headers and exactly `Content-Length` bytes of body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
    /// The server said `Connection: close`: this connection serves no more.
    pub(crate) close: bool,
}

/// Why an exchange has no whole response.
#[derive(Debug)]
pub(crate) enum Cut {
    /// Closed or reset before a single response byte: the server closed the
    /// connection idle, or never accepted it. The clean kind of failure.
    Unanswered,
    /// Anything else: a response cut short, malformed, or none in time.
    Defect(String),
}

/// Sends `request` (a complete HTTP/1.1 request) and reads its response.
pub(crate) async fn exchange(
    conn: &mut TcpStream,
    request: &[u8],
    within: Duration,
) -> Result<Answer, Cut> {
    if conn.write_all(request).await.is_err() {
        // Reset by the peer before it answered anything.
        return Err(Cut::Unanswered);
    }
    read_answer(conn, within).await
}

/// Reads one response (after a `100 Continue`, the final one).
pub(crate) async fn read_answer(conn: &mut TcpStream, within: Duration) -> Result<Answer, Cut> {
    let deadline = Instant::now() + within;
    let mut buf = Vec::with_capacity(1024);
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        read_more(conn, &mut buf, deadline, "the head").await?;
    };
    let head = std::str::from_utf8(&buf[..head_end])
        .map_err(|_| Cut::Defect("the response head is not UTF-8".into()))?;
    let (status, length, close) = parse_head(head).map_err(Cut::Defect)?;
    while buf.len() < head_end + length {
        read_more(conn, &mut buf, deadline, "the body").await?;
    }
    if buf.len() > head_end + length {
        return Err(Cut::Defect(format!(
            "{} bytes after a body of Content-Length {length}",
            buf.len() - head_end - length
        )));
    }
    Ok(Answer {
        status,
        body: buf.split_off(head_end),
        close,
    })
}

/// Waits for `100 Continue`: the server read the head and asks for the body.
pub(crate) async fn read_continue(conn: &mut TcpStream, within: Duration) -> Result<(), Cut> {
    let deadline = Instant::now() + within;
    let mut buf = Vec::new();
    while find(&buf, b"\r\n\r\n").is_none() {
        read_more(conn, &mut buf, deadline, "100 Continue").await?;
    }
    let head = String::from_utf8_lossy(&buf);
    if head.starts_with("HTTP/1.1 100") && head.ends_with("\r\n\r\n") {
        Ok(())
    } else {
        Err(Cut::Defect(format!("expected 100 Continue, got {head:?}")))
    }
}

/// Appends what the socket has; a close or reset is `Unanswered` only when
/// no byte of the response has arrived.
async fn read_more(
    conn: &mut TcpStream,
    buf: &mut Vec<u8>,
    deadline: Instant,
    reading: &str,
) -> Result<(), Cut> {
    let mut chunk = [0u8; 8192];
    let got = timeout_at(deadline, conn.read(&mut chunk)).await;
    match got {
        Ok(Ok(n)) if n > 0 => {
            buf.extend_from_slice(&chunk[..n]);
            Ok(())
        }
        Ok(_) if buf.is_empty() => Err(Cut::Unanswered),
        Ok(Ok(_)) => Err(Cut::Defect(format!(
            "closed inside {reading} after {} bytes: {:?}",
            buf.len(),
            String::from_utf8_lossy(buf)
        ))),
        Ok(Err(e)) => Err(Cut::Defect(format!(
            "{e} inside {reading} after {} bytes",
            buf.len()
        ))),
        Err(_) => Err(Cut::Defect(format!(
            "no complete {reading} in time ({} bytes so far)",
            buf.len()
        ))),
    }
}

/// Status, `Content-Length` (required: the app never streams these
/// responses) and whether the server closes the connection after it.
fn parse_head(head: &str) -> Result<(u16, usize, bool), String> {
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let (mut length, mut close) = (None, false);
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("bad header line {line:?}"))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse().map_err(|_| format!("bad {line:?}"))?);
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(format!(
                "unexpected {line:?}: this client reads Content-Length bodies"
            ));
        }
    }
    let length = length.ok_or_else(|| format!("no Content-Length in {head:?}"))?;
    Ok((status, length, close))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
