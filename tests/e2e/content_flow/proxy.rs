//! A recording forward proxy on loopback, for proving where content goes (promise P1).
//!
//! Clients reach it as `HTTP_PROXY`: a plain-HTTP request in absolute form
//! (`POST http://127.0.0.1:4000/v1/events HTTP/1.1`) is recorded — destination, method, path,
//! headers and the whole body (chunked bodies decoded) — and forwarded with `Connection: close`,
//! so every request gets a connection of its own and none can slip past the recorder on a reused
//! one. `CONNECT host:port` (HTTPS) is tunnelled and recorded as its destination plus every byte
//! the client sent. A request in origin form (someone treating the proxy as a server) is recorded
//! with the destination `?` and refused.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// One request the proxy saw.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    /// `host:port` it went to (`?` when the proxy could not tell).
    pub(crate) destination: String,
    /// `GET`, `POST`, … or `CONNECT`.
    pub(crate) method: String,
    /// Path and query (the authority for `CONNECT`).
    pub(crate) path: String,
    /// Headers as the client sent them.
    pub(crate) headers: Vec<(String, String)>,
    /// The whole body (for `CONNECT`, every byte sent through the tunnel).
    pub(crate) body: Vec<u8>,
}

impl Recorded {
    /// Whether `needle` is anywhere in the request: path, a header or the body.
    pub(crate) fn carries(&self, needle: &str) -> bool {
        let needle = needle.as_bytes();
        let holds = |bytes: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
        holds(self.path.as_bytes())
            || self
                .headers
                .iter()
                .any(|(name, value)| holds(name.as_bytes()) || holds(value.as_bytes()))
            || holds(&self.body)
    }
}

impl std::fmt::Display for Recorded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}{} ({} body bytes, user agent {:?})",
            self.method,
            self.destination,
            self.path,
            self.body.len(),
            header(&self.headers, "user-agent").unwrap_or_default()
        )
    }
}

type Log = Arc<Mutex<Vec<Recorded>>>;

/// A running proxy; stops when dropped.
pub(crate) struct RecordingProxy {
    address: SocketAddr,
    log: Log,
    task: tokio::task::JoinHandle<()>,
}

impl RecordingProxy {
    /// Starts the proxy on a free loopback port.
    pub(crate) async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let log = Log::default();
        let task = {
            let log = log.clone();
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let log = log.clone();
                    tokio::spawn(async move {
                        // A client that hangs up mid-request is no finding; what it sent is logged.
                        let _ = serve(stream, log).await;
                    });
                }
            })
        };
        Ok(Self { address, log, task })
    }

    /// The proxy's URL, for `HTTP_PROXY`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Every request seen so far, in arrival order.
    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Drop for RecordingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn push(log: &Log, recorded: Recorded) -> usize {
    let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
    log.push(recorded);
    log.len() - 1
}

/// Reads a request or response head: the first line and the headers, up to the blank line.
async fn head<R: AsyncBufReadExt + Unpin>(
    reader: &mut R,
) -> std::io::Result<(String, Vec<(String, String)>)> {
    let mut first = String::new();
    if reader.read_line(&mut first).await? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    Ok((first.trim_end_matches(['\r', '\n']).to_string(), headers))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Reads a request body: `Content-Length` bytes, or a chunked body decoded.
async fn body<R: AsyncBufReadExt + Unpin>(
    reader: &mut R,
    headers: &[(String, String)],
) -> std::io::Result<Vec<u8>> {
    let chunked = header(headers, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).await?;
            let size = size.trim().split(';').next().unwrap_or_default();
            let size = usize::from_str_radix(size, 16)
                .map_err(|_| std::io::Error::other("bad chunk size"))?;
            if size == 0 {
                // Trailers, up to the blank line.
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).await? == 0 || line.trim().is_empty() {
                        break;
                    }
                }
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..]).await?;
            let mut crlf = String::new();
            reader.read_line(&mut crlf).await?;
        }
    } else if let Some(length) = header(headers, "content-length") {
        let length: usize = length
            .parse()
            .map_err(|_| std::io::Error::other("bad content-length"))?;
        body.resize(length, 0);
        reader.read_exact(&mut body).await?;
    }
    Ok(body)
}

async fn serve(stream: TcpStream, log: Log) -> std::io::Result<()> {
    let mut client = BufReader::new(stream);
    let (first, headers) = head(&mut client).await?;
    let mut parts = first.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();

    if method.eq_ignore_ascii_case("CONNECT") {
        return tunnel(client, &target, headers, log).await;
    }

    let body = body(&mut client, &headers).await?;
    let (destination, path) = match url::Url::parse(&target) {
        Ok(url) if url.scheme() == "http" && url.host_str().is_some() => {
            let host = match url.host() {
                Some(url::Host::Ipv6(ip)) => format!("[{ip}]"),
                _ => url.host_str().unwrap_or_default().to_string(),
            };
            let port = url.port_or_known_default().unwrap_or(80);
            let mut path = url.path().to_string();
            if let Some(query) = url.query() {
                path = format!("{path}?{query}");
            }
            (format!("{host}:{port}"), path)
        }
        _ => ("?".to_string(), target.clone()),
    };
    push(
        &log,
        Recorded {
            destination: destination.clone(),
            method: method.clone(),
            path: path.clone(),
            headers: headers.clone(),
            body: body.clone(),
        },
    );
    let client = client.get_mut();
    if destination == "?" {
        client
            .write_all(
                b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            )
            .await?;
        return Ok(());
    }
    let upstream = match TcpStream::connect(&destination).await {
        Ok(upstream) => upstream,
        Err(_) => {
            client
                .write_all(
                    b"HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
                )
                .await?;
            return Ok(());
        }
    };
    let mut upstream = BufReader::new(upstream);

    // The request in origin form, on a connection of its own.
    let hop_by_hop = [
        "connection",
        "proxy-connection",
        "keep-alive",
        "proxy-authorization",
        "transfer-encoding",
        "content-length",
    ];
    let mut request = format!("{method} {path} HTTP/1.1\r\n");
    for (name, value) in &headers {
        if !hop_by_hop.contains(&name.to_ascii_lowercase().as_str()) {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    if !body.is_empty() || header(&headers, "content-length").is_some() {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("Connection: close\r\n\r\n");
    let writer = upstream.get_mut();
    writer.write_all(request.as_bytes()).await?;
    writer.write_all(&body).await?;
    writer.flush().await?;

    // The response head with `Connection: close` (the client must not reuse this connection),
    // then the body as it comes (a stream of events may last the whole session).
    let (status, response_headers) = head(&mut upstream).await?;
    let mut response = format!("{status}\r\n");
    for (name, value) in &response_headers {
        if !["connection", "keep-alive"].contains(&name.to_ascii_lowercase().as_str()) {
            response.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    response.push_str("Connection: close\r\n\r\n");
    client.write_all(response.as_bytes()).await?;
    tokio::io::copy_buf(&mut upstream, client).await?;
    client.shutdown().await?;
    Ok(())
}

/// `CONNECT host:port`: tunnels the bytes both ways, recording what the client sends.
async fn tunnel(
    mut client: BufReader<TcpStream>,
    target: &str,
    headers: Vec<(String, String)>,
    log: Log,
) -> std::io::Result<()> {
    let index = push(
        &log,
        Recorded {
            destination: target.to_string(),
            method: "CONNECT".into(),
            path: target.to_string(),
            headers,
            body: Vec::new(),
        },
    );
    let Ok(upstream) = TcpStream::connect(target).await else {
        client
            .get_mut()
            .write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            .await?;
        return Ok(());
    };
    client
        .get_mut()
        .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        .await?;
    let (mut from_upstream, mut to_upstream) = upstream.into_split();
    let (mut from_client, mut to_client) = tokio::io::split(client);
    let down =
        tokio::spawn(async move { tokio::io::copy(&mut from_upstream, &mut to_client).await });
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let n = from_client.read(&mut buffer).await?;
        if n == 0 {
            break;
        }
        log.lock().unwrap_or_else(|e| e.into_inner())[index]
            .body
            .extend_from_slice(&buffer[..n]);
        to_upstream.write_all(&buffer[..n]).await?;
    }
    to_upstream.shutdown().await?;
    let _ = down.await;
    Ok(())
}
