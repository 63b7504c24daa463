//! Just enough HTTP/1.1 for the simulator: requests with a Content-Length
//! body, keep-alive, and responses. Hand-written on `std::net` because the
//! simulator must misbehave at the socket level on demand (reset a
//! connection, hang without answering), which a server framework hides.

use std::io::{self, BufRead, Write};

/// Requests larger than this are refused (the simulator serves small JSON).
const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 1024 * 1024;

#[derive(Debug, Clone, Default)]
pub struct Request {
    pub method: String,
    /// The path without the query string.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the client asked to close the connection after this request.
    pub fn wants_close(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Response {
            status,
            headers: vec![(
                "Content-Type".into(),
                "application/json; charset=utf-8".into(),
            )],
            body: value.to_string().into_bytes(),
        }
    }

    pub fn empty(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn write_to(&self, out: &mut impl Write, close: bool) -> io::Result<()> {
        let mut head = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        for (k, v) in &self.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        if close {
            head.push_str("Connection: close\r\n");
        }
        head.push_str("\r\n");
        out.write_all(head.as_bytes())?;
        out.write_all(&self.body)?;
        out.flush()
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Why a request could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// The peer closed the connection between requests.
    Closed,
    Io(io::Error),
    /// Not HTTP we accept; answer with this status and close.
    Bad(u16),
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::Io(e)
    }
}

/// Read one request from a buffered connection.
pub fn read_request<R: BufRead>(input: &mut R) -> Result<Request, ReadError> {
    let mut head = Vec::new();
    loop {
        let before = head.len();
        let n = <&mut R as io::Read>::take(&mut *input, MAX_HEAD as u64)
            .read_until(b'\n', &mut head)?;
        if n == 0 {
            return if head.is_empty() {
                Err(ReadError::Closed)
            } else {
                Err(ReadError::Bad(400))
            };
        }
        if head.len() > MAX_HEAD {
            return Err(ReadError::Bad(413));
        }
        let line = &head[before..];
        if line == b"\r\n" || line == b"\n" {
            if before == 0 {
                // Tolerate a stray blank line between requests.
                head.clear();
                continue;
            }
            break;
        }
    }
    let text = std::str::from_utf8(&head).map_err(|_| ReadError::Bad(400))?;
    let mut lines = text.lines();
    let start = lines.next().ok_or(ReadError::Bad(400))?;
    let mut parts = start.split_whitespace();
    let method = parts.next().ok_or(ReadError::Bad(400))?.to_string();
    let target = parts.next().ok_or(ReadError::Bad(400))?;
    let path = target.split('?').next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    for line in lines {
        if line.is_empty() {
            break;
        }
        let (k, v) = line.split_once(':').ok_or(ReadError::Bad(400))?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let mut request = Request {
        method,
        path,
        headers,
        body: Vec::new(),
    };
    if request.header("transfer-encoding").is_some() {
        return Err(ReadError::Bad(411));
    }
    let length = match request.header("content-length") {
        Some(v) => v.parse::<usize>().map_err(|_| ReadError::Bad(400))?,
        None => 0,
    };
    if length > MAX_BODY {
        return Err(ReadError::Bad(413));
    }
    request.body = vec![0; length];
    input.read_exact(&mut request.body)?;
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_request_with_body_and_keeps_the_next() {
        let raw = b"POST /oauth/token?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}GET /b HTTP/1.1\r\n\r\n";
        let mut input = io::BufReader::new(&raw[..]);
        let r = read_request(&mut input).expect("first");
        assert_eq!(
            (r.method.as_str(), r.path.as_str()),
            ("POST", "/oauth/token")
        );
        assert_eq!(r.body, b"{}");
        assert_eq!(r.header("HOST"), Some("a"));
        let r = read_request(&mut input).expect("second");
        assert_eq!(r.path, "/b");
        assert!(matches!(read_request(&mut input), Err(ReadError::Closed)));
    }

    #[test]
    fn writes_a_response() {
        let mut out = Vec::new();
        Response::json(200, &serde_json::json!({"a": 1}))
            .write_to(&mut out, true)
            .expect("write");
        let text = String::from_utf8(out).expect("utf8");
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(text.contains("Content-Length: 7\r\nConnection: close\r\n\r\n{\"a\":1}"));
    }
}
