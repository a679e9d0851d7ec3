//! `reqflo-loadtest upstream`: the built-in upstream as its own process.

use std::io::Read as _;
use std::net::SocketAddr;
use std::process::ExitCode;

/// Serves until standard input closes (so it never outlives its parent).
pub async fn run(listen: SocketAddr, also: &[SocketAddr], ignore_stdin: bool) -> ExitCode {
    let mut servers = Vec::new();
    for &at in std::iter::once(&listen).chain(also) {
        let (addr, serve) = match crate_upstream::bind(at).await {
            Ok(bound) => bound,
            Err(e) => {
                eprintln!("error: cannot listen on {at}: {e}");
                return ExitCode::from(2);
            }
        };
        eprintln!("upstream listening on {addr}");
        servers.push(tokio::spawn(serve));
    }
    let server = servers.remove(0);
    if ignore_stdin {
        let _ = server.await;
    } else {
        let _ = tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
        })
        .await;
        server.abort();
    }
    for s in servers {
        s.abort();
    }
    ExitCode::SUCCESS
}

use reqflo_loadtest::upstream as crate_upstream;
