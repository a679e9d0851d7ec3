//! `reqflo-passthrough`: a plain pingora reverse proxy with no policy, the
//! framework's floor in `reqflo-loadtest compare`.
//!
//! `reqflo-passthrough --listen 127.0.0.1:8081 --upstream 127.0.0.1:8080 --threads 2`
//!
//! It sets the same upstream timeouts as the gateway's defaults (connect 2 s,
//! read/write 30 s; nginx has such timeouts too), so the comparison measures
//! enforcement, not timer bookkeeping.
//!
//! It exits when its standard input closes, so it never outlives the
//! `compare` run that started it.

use std::io::Read as _;
use std::net::SocketAddr;
use std::time::Duration;

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
    /// Upstream connect timeout, ms (0: none). The default is the gateway's
    /// (`upstreams.*.connect_timeout_ms`), so both proxies keep the same timers.
    #[arg(long, default_value_t = 2_000)]
    connect_timeout_ms: u64,
    /// Upstream read and write timeout, ms (0: none). The default is the
    /// gateway's (`upstreams.*.read_timeout_ms`).
    #[arg(long, default_value_t = 30_000)]
    read_timeout_ms: u64,
}

/// The gateway's allocator (`gateway/src/main.rs`), so the comparison
/// measures enforcement, not the allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug)]
struct PassThrough {
    upstream: SocketAddr,
    connect_timeout: Option<Duration>,
    read_timeout: Option<Duration>,
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
        // The same peer options the gateway sets (`gateway/src/proxy/forward.rs`).
        let mut peer = HttpPeer::new(self.upstream, false, String::new());
        peer.options.connection_timeout = self.connect_timeout;
        peer.options.total_connection_timeout = self.connect_timeout;
        peer.options.read_timeout = self.read_timeout;
        peer.options.write_timeout = self.read_timeout;
        Ok(Box::new(peer))
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
            connect_timeout: millis(args.connect_timeout_ms),
            read_timeout: millis(args.read_timeout_ms),
        },
    );
    proxy.add_tcp(&args.listen.to_string());
    server.add_service(proxy);
    server.run_forever();
}

fn millis(ms: u64) -> Option<Duration> {
    (ms > 0).then(|| Duration::from_millis(ms))
}
