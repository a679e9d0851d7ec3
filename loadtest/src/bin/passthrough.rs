//! `reqflo-passthrough`: a plain pingora reverse proxy with no policy, the
//! framework's floor in `reqflo-loadtest compare`.
//!
//! `reqflo-passthrough --listen 127.0.0.1:8081 --upstream 127.0.0.1:8080 --threads 2`
//!
//! It exits when its standard input closes, so it never outlives the
//! `compare` run that started it.

use std::io::Read as _;
use std::net::SocketAddr;

use async_trait::async_trait;
use clap::Parser;
use pingora::prelude::{HttpPeer, ProxyHttp, Session};
use pingora::server::Server;
use pingora::server::configuration::ServerConf;

/// A pingora pass-through proxy with no policy.
#[derive(Debug, Parser)]
#[command(name = "reqflo-passthrough")]
struct Args {
    /// Address to listen on.
    #[arg(long)]
    listen: SocketAddr,
    /// Upstream to forward every request to (plain HTTP/1.1, kept alive).
    #[arg(long)]
    upstream: SocketAddr,
    /// Worker threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Keep running after standard input closes.
    #[arg(long)]
    ignore_stdin: bool,
}

#[derive(Debug)]
struct PassThrough {
    upstream: SocketAddr,
}

#[async_trait]
impl ProxyHttp for PassThrough {
    type CTX = ();

    fn new_ctx(&self) -> Self::CTX {}

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        _ctx: &mut Self::CTX,
    ) -> pingora::Result<Box<HttpPeer>> {
        Ok(Box::new(HttpPeer::new(self.upstream, false, String::new())))
    }
}

fn main() {
    let args = Args::parse();
    if !args.ignore_stdin {
        std::thread::spawn(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
            std::process::exit(0);
        });
    }
    let conf = ServerConf {
        threads: args.threads.max(1),
        pid_file: std::env::temp_dir()
            .join(format!("reqflo-passthrough-{}.pid", std::process::id()))
            .display()
            .to_string(),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let mut proxy = pingora::proxy::http_proxy_service(
        &server.configuration,
        PassThrough {
            upstream: args.upstream,
        },
    );
    proxy.add_tcp(&args.listen.to_string());
    server.add_service(proxy);
    server.run_forever();
}
