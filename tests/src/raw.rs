//! A raw-TCP HTTP/1.1 client for adversarial requests: the bytes go on the wire
//! exactly as written (hyper would normalize some of them), and the response
//! is parsed by hand (status line, headers, body by `Content-Length`, chunked,
//! or until close).
//!
//! Reads are bounded by [`READ_BOUND`] so a hung gateway fails the test
//! instead of hanging it; the bound is a safety net, not a timing assertion.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::fail::OrPanic;

/// How long one read may block before the harness gives up.
pub const READ_BOUND: Duration = Duration::from_secs(20);

/// A parsed HTTP/1.1 response.
#[derive(Clone, Debug)]
pub struct RawResponse {
    pub status: u16,
    pub reason: String,
    /// Names as sent, values as lossy strings, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    /// Every value of header `name` (case-insensitive).
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_all(name).into_iter().next()
    }

    /// The body as JSON; panics (showing the body) when it is not JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "response body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// Whether the server said it will close the connection.
    pub fn closes(&self) -> bool {
        self.header_all("connection")
            .iter()
            .any(|v| v.eq_ignore_ascii_case("close"))
    }
}

/// What came back for one request.
#[derive(Clone, Debug)]
pub enum Outcome {
    Response(RawResponse),
    /// The server closed the connection (or reset it) without a response.
    Closed,
}

impl Outcome {
    pub fn status(&self) -> Option<u16> {
        match self {
            Outcome::Response(r) => Some(r.status),
            Outcome::Closed => None,
        }
    }

    /// The response; panics (naming `context`) when the connection just closed.
    #[track_caller]
    pub fn response(self, context: &str) -> RawResponse {
        match self {
            Outcome::Response(r) => r,
            Outcome::Closed => panic!("{context}: the connection closed without a response"),
        }
    }
}

/// One client connection that can carry several requests.
#[derive(Debug)]
pub struct RawConn {
    stream: TcpStream,
    buf: Vec<u8>,
    eof: bool,
}

impl RawConn {
    pub async fn connect(addr: SocketAddr) -> RawConn {
        let stream = TcpStream::connect(addr)
            .await
            .or_panic("connect to the gateway");
        RawConn {
            stream,
            buf: Vec::new(),
            eof: false,
        }
    }

    /// Writes `bytes` as they are.
    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .await
            .or_panic("write the request");
    }

    /// Reads one response (for a request whose method is not `HEAD`).
    pub async fn read_response(&mut self) -> Outcome {
        match self.read_response_inner().await {
            Ok(Some(r)) => Outcome::Response(r),
            Ok(None) => Outcome::Closed,
            Err(e) if is_reset(&e) => Outcome::Closed,
            Err(e) => panic!("reading the response: {e}"),
        }
    }

    /// Sends `bytes` and reads one response.
    pub async fn roundtrip(&mut self, bytes: &[u8]) -> Outcome {
        if let Err(e) = self.stream.write_all(bytes).await {
            if is_reset(&e) {
                return Outcome::Closed;
            }
            panic!("write the request: {e}");
        }
        self.read_response().await
    }

    async fn fill(&mut self) -> std::io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        let mut chunk = [0u8; 8192];
        let n = tokio::time::timeout(READ_BOUND, self.stream.read(&mut chunk))
            .await
            .map_err(|_| {
                std::io::Error::other(format!("no bytes from the gateway within {READ_BOUND:?}"))
            })??;
        if n == 0 {
            self.eof = true;
            return Ok(false);
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(true)
    }

    async fn read_response_inner(&mut self) -> std::io::Result<Option<RawResponse>> {
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i;
            }
            if !self.fill().await? {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                return Err(std::io::Error::other(format!(
                    "connection closed inside a response head: {:?}",
                    String::from_utf8_lossy(&self.buf)
                )));
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        self.buf.drain(..head_end + 4);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or_default();
        if !version.starts_with("HTTP/1.") {
            return Err(std::io::Error::other(format!(
                "bad status line {status_line:?}"
            )));
        }
        let status = parts
            .next()
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line {status_line:?}")))?;
        let reason = parts.next().unwrap_or_default().to_owned();
        let mut headers = Vec::new();
        for line in lines {
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| std::io::Error::other(format!("bad header line {line:?}")))?;
            headers.push((name.to_owned(), value.trim().to_owned()));
        }
        let mut response = RawResponse {
            status,
            reason,
            headers,
            body: Vec::new(),
        };
        let chunked = response
            .header_all("transfer-encoding")
            .iter()
            .any(|v| v.to_ascii_lowercase().contains("chunked"));
        let no_body = status == 204 || status == 304 || (100..200).contains(&status);
        if no_body {
        } else if chunked {
            response.body = self.read_chunked().await?;
        } else if let Some(len) = response.header("content-length") {
            let len: usize = len
                .parse()
                .map_err(|_| std::io::Error::other(format!("bad content-length {len:?}")))?;
            while self.buf.len() < len {
                if !self.fill().await? {
                    return Err(std::io::Error::other("connection closed inside a body"));
                }
            }
            response.body = self.buf.drain(..len).collect();
        } else {
            while self.fill().await? {}
            response.body = std::mem::take(&mut self.buf);
        }
        Ok(Some(response))
    }

    async fn read_chunked(&mut self) -> std::io::Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let line_end = self.read_until_crlf().await?;
            let line = String::from_utf8_lossy(&self.buf[..line_end]).into_owned();
            self.buf.drain(..line_end + 2);
            let size_text = line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| std::io::Error::other(format!("bad chunk size {line:?}")))?;
            if size == 0 {
                // Trailers, up to the empty line.
                loop {
                    let end = self.read_until_crlf().await?;
                    self.buf.drain(..end + 2);
                    if end == 0 {
                        return Ok(body);
                    }
                }
            }
            while self.buf.len() < size + 2 {
                if !self.fill().await? {
                    return Err(std::io::Error::other("connection closed inside a chunk"));
                }
            }
            body.extend(self.buf.drain(..size));
            self.buf.drain(..2);
        }
    }

    async fn read_until_crlf(&mut self) -> std::io::Result<usize> {
        loop {
            if let Some(i) = find(&self.buf, b"\r\n") {
                return Ok(i);
            }
            if !self.fill().await? {
                return Err(std::io::Error::other(
                    "connection closed inside chunked framing",
                ));
            }
        }
    }
}

fn is_reset(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::BrokenPipe
            | std::io::ErrorKind::ConnectionAborted
    )
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Sends `bytes` on a fresh connection and reads one response.
pub async fn roundtrip(addr: SocketAddr, bytes: &[u8]) -> Outcome {
    RawConn::connect(addr).await.roundtrip(bytes).await
}

/// Builds request bytes: `METHOD target HTTP/1.1`, a `Host` header, the given
/// header lines (each without CRLF, written as is), and the body with a
/// `Content-Length` unless `headers` already frame it.
pub fn request(method: &str, target: &[u8], headers: &[&str], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(target);
    out.extend_from_slice(b" HTTP/1.1\r\nHost: gateway.test\r\n");
    let framed = headers.iter().any(|h| {
        let lower = h.to_ascii_lowercase();
        lower.starts_with("content-length:") || lower.starts_with("transfer-encoding:")
    });
    for h in headers {
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !framed && (!body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH")) {
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}
