//! `reqflo-loadtest upstream`: the built-in upstream as its own process.

use std::io::Read as _;
use std::net::SocketAddr;
use std::process::ExitCode;

/// Serves until standard input closes (so it never outlives its parent).
pub async fn run(listen: SocketAddr, ignore_stdin: bool) -> ExitCode {
    let (addr, serve) = match crate_upstream::bind(listen).await {
        Ok(bound) => bound,
        Err(e) => {
            eprintln!("error: cannot listen on {listen}: {e}");
            return ExitCode::from(2);
        }
    };
    eprintln!("upstream listening on {addr}");
    let server = tokio::spawn(serve);
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
    ExitCode::SUCCESS
}

use reqflo_loadtest::upstream as crate_upstream;
