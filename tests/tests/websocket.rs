//! A WebSocket route end to end: the upgrade `GET` is decided like any
//! request (denied → nothing reaches the upstream), and once allowed and
//! answered 101 by the upstream, the tunnel carries bytes both ways — they
//! are not looked at again (docs/route-config.md, `websocket`). The upstream
//! is a raw TCP server of the test's own that answers 101 and echoes.

use std::time::Duration;

use reqflo_tests::{Env, OrPanic, bearer, fixture_files};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

const LIVE: &str = "/api/v1/orgs/acme/journeys/checkout-smoke/live";
const HIDDEN_LIVE: &str = "/api/v1/orgs/acme/journeys/incident-drill/live";
const BOUND: Duration = Duration::from_secs(10);

/// Accepts connections; for each, sends the request head it read to `heads`,
/// answers 101 and echoes whatever follows.
async fn echo_upstream() -> (std::net::SocketAddr, mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .or_panic("bind the echo upstream");
    let addr = listener.local_addr().or_panic("echo upstream address");
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if stream.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let _ = tx.send(String::from_utf8_lossy(&head).into_owned());
                let _ = stream
                    .write_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
                    .await;
                let mut buf = [0u8; 1024];
                loop {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if stream.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    (addr, rx)
}

fn upgrade(path: &str, user: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: gateway.test\r\nAuthorization: {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        bearer(user)
    )
    .into_bytes()
}

/// Reads until the end of a response head.
async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(BOUND, stream.read(&mut byte))
            .await
            .or_panic("a response head within the bound")
            .or_panic("read the response head");
        assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&head));
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_upgrade_opens_a_tunnel_and_a_denied_one_reaches_nobody() {
    let (addr, mut heads) = echo_upstream().await;
    let mut files = fixture_files();
    files.config = files.config.replace(
        "upstreams:\n",
        &format!("upstreams:\n  tunnel:\n    address: \"{addr}\"\n"),
    );
    files.config = files.config.replace(
        "    websocket: true\n    upstream: reqflo\n",
        "    websocket: true\n    upstream: tunnel\n",
    );
    assert!(
        files.config.contains("upstream: tunnel"),
        "the fixture's websocket route moved"
    );
    let env = Env::start_with(&files).await;

    // Denied: a journey alice may not see. 404, and the upstream sees nothing.
    let mut denied = TcpStream::connect(env.gateway.proxy).await.unwrap();
    denied
        .write_all(&upgrade(HIDDEN_LIVE, "alice"))
        .await
        .unwrap();
    let head = read_head(&mut denied).await;
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    assert!(
        heads.try_recv().is_err(),
        "a denied upgrade reached the upstream"
    );

    // Allowed: the upstream gets the decided request, answers 101, and the
    // tunnel echoes.
    let mut stream = TcpStream::connect(env.gateway.proxy).await.unwrap();
    stream.write_all(&upgrade(LIVE, "alice")).await.unwrap();
    let head = read_head(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let forwarded = tokio::time::timeout(BOUND, heads.recv())
        .await
        .unwrap()
        .unwrap();
    let lower = forwarded.to_ascii_lowercase();
    assert!(lower.contains("\r\nupgrade: websocket\r\n"), "{forwarded}");
    assert!(
        lower.contains("\r\nx-reqflo-user: alice\r\n"),
        "{forwarded}"
    );
    assert!(lower.contains("\r\nx-reqflo-decision-id: "), "{forwarded}");
    for message in [&b"frame one"[..], b"\x81\x05hello"] {
        stream.write_all(message).await.unwrap();
        let mut echoed = vec![0u8; message.len()];
        tokio::time::timeout(BOUND, stream.read_exact(&mut echoed))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(echoed, message, "the tunnel did not carry the bytes");
    }
}
