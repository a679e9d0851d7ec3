//! Starting and stopping a whole gateway: the pingora proxy, the admin
//! listener and the reload watcher, in-process.

use std::net::{SocketAddr, TcpListener as StdListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use async_trait::async_trait;
use pingora::server::configuration::{Opt, ServerConf};
use pingora::server::{RunArgs, Server, ShutdownSignal, ShutdownSignalWatch};
use pingora::services::listening::Service;
use reqflo_config::{ConfigErrors, Snapshot, WatchError, WatchHandle};
use tokio::sync::watch;

use crate::metrics::Metrics;
use crate::proxy::Gate;
use crate::proxy::head::HeadDeadline;
use crate::state::Shared;

/// How to start a gateway. Only `config` is required.
#[derive(Clone, Debug)]
pub struct Options {
    /// The route config file (it names the policy document).
    pub config: PathBuf,
    /// Overrides `listen.proxy`; port 0 picks a free port.
    pub proxy_addr: Option<SocketAddr>,
    /// Overrides `listen.admin`; port 0 picks a free port.
    pub admin_addr: Option<SocketAddr>,
    /// Watch the config, the policy and the key files and reload on change.
    pub watch: bool,
    /// Handle SIGTERM (graceful), SIGINT (fast) and SIGHUP (reload now).
    /// Off for in-process tests; on for `serve`.
    pub handle_signals: bool,
    /// How long a graceful shutdown lets in-flight requests finish.
    pub grace_period: Duration,
    /// Proxy worker threads.
    pub threads: usize,
    /// How upstream DNS names are looked up (the system resolver by default).
    pub resolver: Arc<dyn crate::upstream::Resolve>,
}

impl Options {
    pub fn new(config: impl Into<PathBuf>) -> Options {
        Options {
            config: config.into(),
            proxy_addr: None,
            admin_addr: None,
            watch: true,
            handle_signals: false,
            grace_period: Duration::from_secs(5),
            threads: 2,
            resolver: Arc::new(crate::upstream::SystemResolver),
        }
    }

    /// Both listeners on `127.0.0.1:0`, no signal handling: for tests.
    pub fn ephemeral(config: impl Into<PathBuf>) -> Options {
        let local = SocketAddr::from(([127, 0, 0, 1], 0));
        Options {
            proxy_addr: Some(local),
            admin_addr: Some(local),
            ..Options::new(config)
        }
    }
}

/// Why a gateway did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(#[from] ConfigErrors),
    #[error("cannot bind the {which} listener on `{addr}`: {source}")]
    Bind {
        which: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start the config watcher: {0}")]
    Watch(#[from] WatchError),
    #[error("cannot register metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("cannot set up TLS on the proxy listener: {0}")]
    Tls(String),
    #[error("cannot start a thread: {0}")]
    Thread(std::io::Error),
    #[error("the proxy listener on `{0}` did not come up within 10 s")]
    NotReady(SocketAddr),
}

/// A started gateway. Dropping it stops it.
#[derive(Debug)]
pub struct Running {
    pub proxy_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<Option<StopKind>>,
    server: Option<JoinHandle<()>>,
    admin: Option<JoinHandle<()>>,
    watcher: Arc<Mutex<Option<WatchHandle>>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StopKind {
    Fast,
    Graceful,
}

/// Entry points.
#[derive(Debug)]
pub struct Gateway;

impl Gateway {
    /// Loads the config (refusing with every error when it is invalid) and starts.
    pub fn start(options: Options) -> Result<Running, StartError> {
        let snapshot = reqflo_config::load(&options.config)?;
        Gateway::start_with(snapshot.into_handle(), options)
    }

    /// Starts on an already-loaded snapshot handle (a test can swap into it directly).
    pub fn start_with(
        handle: Arc<ArcSwap<Snapshot>>,
        options: Options,
    ) -> Result<Running, StartError> {
        let shared = Arc::new(Shared::new(
            handle.clone(),
            Metrics::new()?,
            options.resolver.clone(),
        ));
        let listen = handle.load().settings.listen;

        let proxy_addr = reserve(options.proxy_addr.unwrap_or(listen.proxy), "proxy")?;
        let admin_listener = bind(options.admin_addr.unwrap_or(listen.admin), "admin")?;
        let admin_addr = admin_listener
            .local_addr()
            .map_err(|source| StartError::Bind {
                which: "admin",
                addr: listen.admin,
                source,
            })?;

        let watcher: Arc<Mutex<Option<WatchHandle>>> = Arc::new(Mutex::new(None));
        // A fetched bundle: its cache directory exists before the watcher
        // watches it, and its fetch task asks the watcher to reload as soon
        // as it has written a new manifest.
        {
            let current = handle.load();
            crate::bundle_fetch::prepare_cache(&current);
            if let Some(b) = &current.settings.bundle {
                shared.bundle.seed_from_cache(b);
            }
            if let Some(runtime) = shared.upstreams.handle() {
                let slot = watcher.clone();
                let reload: Arc<dyn Fn() + Send + Sync> = Arc::new(move || {
                    if let Ok(w) = slot.lock()
                        && let Some(w) = w.as_ref()
                    {
                        w.reload_now();
                    }
                });
                shared.bundle.start(&runtime, handle.clone(), reload);
            }
        }
        if options.watch {
            let on_reload = shared.clone();
            let w = reqflo_config::watch(&options.config, handle, move |event| {
                on_reload.on_reload(&event)
            })?;
            if let Ok(mut slot) = watcher.lock() {
                *slot = Some(w);
            }
        }

        let (stop, stop_rx) = watch::channel(None);
        let admin = spawn_admin(
            admin_listener,
            shared.clone(),
            stop_rx.clone(),
            watcher.clone(),
            options.handle_signals,
        )?;
        let server = spawn_server(proxy_addr, shared.clone(), stop_rx, &options)?;

        let running = Running {
            proxy_addr,
            admin_addr,
            shared,
            stop,
            server: Some(server),
            admin: Some(admin),
            watcher,
        };
        wait_until_listening(proxy_addr)?;
        tracing::info!(
            target: "reqflo_gateway::lifecycle",
            proxy = %proxy_addr,
            admin = %admin_addr,
            revision = %running.shared.snapshot.load().revision,
            "gateway started"
        );
        Ok(running)
    }
}

impl Running {
    /// The snapshot handle requests read from (and the watcher swaps into).
    pub fn snapshot(&self) -> Arc<ArcSwap<Snapshot>> {
        self.shared.snapshot.clone()
    }

    pub fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }

    /// The admin `/policy` document.
    pub fn policy_status(&self) -> serde_json::Value {
        crate::admin::policy_json(&self.shared)
    }

    /// Re-reads the files now (what SIGHUP does); a no-op without a watcher.
    pub fn reload_now(&self) {
        if let Ok(slot) = self.watcher.lock()
            && let Some(w) = slot.as_ref()
        {
            w.reload_now();
        }
    }

    /// Stops at once: open connections are dropped.
    pub fn stop(mut self) {
        self.shutdown(StopKind::Fast);
    }

    /// Stops accepting, lets in-flight requests finish for the grace period, then stops.
    pub fn stop_gracefully(mut self) {
        self.shutdown(StopKind::Graceful);
    }

    /// Blocks until the gateway stops (a signal, when `handle_signals` is on).
    pub fn wait(mut self) {
        if let Some(server) = self.server.take() {
            let _ = server.join();
        }
        self.shutdown(StopKind::Fast);
    }

    fn shutdown(&mut self, kind: StopKind) {
        self.shared.draining.store(true, Ordering::Relaxed);
        let _ = self.stop.send(Some(kind));
        if let Some(server) = self.server.take() {
            let _ = server.join();
        }
        if let Some(admin) = self.admin.take() {
            let _ = admin.join();
        }
        if let Ok(mut slot) = self.watcher.lock()
            && let Some(w) = slot.take()
        {
            w.stop();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown(StopKind::Fast);
    }
}

fn bind(addr: SocketAddr, which: &'static str) -> Result<StdListener, StartError> {
    StdListener::bind(addr).map_err(|source| StartError::Bind {
        which,
        addr,
        source,
    })
}

/// pingora binds the proxy listener itself and cannot report an ephemeral
/// port, so port 0 is resolved here: bind, read the port, release it.
fn reserve(addr: SocketAddr, which: &'static str) -> Result<SocketAddr, StartError> {
    let listener = bind(addr, which)?;
    listener.local_addr().map_err(|source| StartError::Bind {
        which,
        addr,
        source,
    })
}

fn wait_until_listening(addr: SocketAddr) -> Result<(), StartError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Err(StartError::NotReady(addr))
}

fn spawn_server(
    proxy_addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Receiver<Option<StopKind>>,
    options: &Options,
) -> Result<JoinHandle<()>, StartError> {
    let conf = ServerConf {
        threads: options.threads.max(1),
        grace_period_seconds: Some(options.grace_period.as_secs()),
        graceful_shutdown_timeout_seconds: Some(1),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None::<Opt>, conf);
    server.bootstrap();
    let gate = Gate {
        shared: shared.clone(),
    };
    let app = HeadDeadline::new(
        pingora::proxy::http_proxy(&server.configuration, gate),
        shared.clone(),
    );
    let mut proxy = Service::new("reqflo-gateway proxy".to_owned(), app);
    let listener_tls = shared.snapshot.load().settings.listener_tls.clone();
    match listener_tls {
        None => proxy.add_tcp(&proxy_addr.to_string()),
        Some(tls) => {
            let settings = crate::tls::settings(shared.snapshot.clone(), &tls)
                .map_err(|e| StartError::Tls(e.to_string()))?;
            proxy.add_tls_with_settings(&proxy_addr.to_string(), None, settings);
        }
    }
    server.add_service(proxy);
    let signal = StopSignal {
        stop,
        shared,
        handle_signals: options.handle_signals,
    };
    std::thread::Builder::new()
        .name("reqflo-gateway".into())
        .spawn(move || {
            server.run(RunArgs {
                shutdown_signal: Box::new(signal),
            })
        })
        .map_err(StartError::Thread)
}

fn spawn_admin(
    listener: StdListener,
    shared: Arc<Shared>,
    stop: watch::Receiver<Option<StopKind>>,
    watcher: Arc<Mutex<Option<WatchHandle>>>,
    handle_signals: bool,
) -> Result<JoinHandle<()>, StartError> {
    listener.set_nonblocking(true).map_err(StartError::Thread)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(StartError::Thread)?;
    std::thread::Builder::new()
        .name("reqflo-admin".into())
        .spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    tracing::error!(target: "reqflo_gateway::lifecycle", "cannot use the admin listener");
                    return;
                };
                let (admin_stop_tx, admin_stop) = watch::channel(false);
                let mut stop = stop;
                if handle_signals {
                    tokio::spawn(reload_on_hangup(watcher));
                }
                let server = crate::admin::serve(listener, shared, admin_stop);
                tokio::pin!(server);
                tokio::select! {
                    _ = &mut server => {}
                    _ = stop.wait_for(Option::is_some) => {
                        let _ = admin_stop_tx.send(true);
                        server.await;
                    }
                }
            });
        })
        .map_err(StartError::Thread)
}

async fn reload_on_hangup(watcher: Arc<Mutex<Option<WatchHandle>>>) {
    let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        return;
    };
    while hup.recv().await.is_some() {
        tracing::info!(target: "reqflo_gateway::reload", "SIGHUP: reloading now");
        if let Ok(slot) = watcher.lock()
            && let Some(w) = slot.as_ref()
        {
            w.reload_now();
        }
    }
}

/// Tells pingora when to stop: on [`Running::stop`]/[`Running::stop_gracefully`],
/// or on SIGTERM (graceful) and SIGINT (fast) when signals are handled.
struct StopSignal {
    stop: watch::Receiver<Option<StopKind>>,
    shared: Arc<Shared>,
    handle_signals: bool,
}

#[async_trait]
impl ShutdownSignalWatch for StopSignal {
    async fn recv(&self) -> ShutdownSignal {
        let mut stop = self.stop.clone();
        let requested = async move {
            match stop.wait_for(Option::is_some).await.map(|k| *k) {
                Ok(Some(StopKind::Graceful)) => StopKind::Graceful,
                _ => StopKind::Fast,
            }
        };
        let kind = if self.handle_signals {
            with_signals(requested).await
        } else {
            requested.await
        };
        self.shared.draining.store(true, Ordering::Relaxed);
        tracing::info!(target: "reqflo_gateway::lifecycle", graceful = kind == StopKind::Graceful, "gateway stopping");
        match kind {
            StopKind::Graceful => ShutdownSignal::GracefulTerminate,
            StopKind::Fast => ShutdownSignal::FastShutdown,
        }
    }
}

async fn with_signals(requested: impl std::future::Future<Output = StopKind>) -> StopKind {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return requested.await;
    };
    tokio::select! {
        kind = requested => kind,
        _ = term.recv() => StopKind::Graceful,
        _ = int.recv() => StopKind::Fast,
    }
}
