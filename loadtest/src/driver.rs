//! The load itself: one keep-alive HTTP/1.1 connection per worker, reused,
//! closed-loop (send, wait, send) or open-loop (send on a fixed schedule and
//! count latency from the scheduled time).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http::header::HOST;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::mix::{Mix, Template};
use crate::report::{Latency, RunReport, new_histogram};
use crate::rng::Rng;
use crate::schedule::{Schedule, latency_from_schedule};

/// A request without a response by then counts as a transport error and its
/// connection is replaced.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What to send, where, and for how long.
#[derive(Clone, Debug)]
pub struct LoadSpec {
    pub addr: SocketAddr,
    /// `Host` header value.
    pub host: String,
    pub mix: Arc<Mix>,
    pub connections: usize,
    pub duration: Duration,
    /// Open-loop total rate (requests per second); closed-loop when `None`.
    pub rate: Option<f64>,
    pub seed: u64,
    /// Prefix for the per-second progress line on stderr; none when `None`.
    pub progress: Option<String>,
    /// Speak TLS with this client config (server name `localhost`).
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

/// Raw results of one load run.
#[derive(Debug)]
pub struct Outcome {
    pub histogram: Histogram<u64>,
    pub requests: u64,
    pub transport_errors: u64,
    pub statuses: BTreeMap<u16, u64>,
    pub errors_by_status: BTreeMap<u16, u64>,
    pub per_template: Vec<u64>,
    pub elapsed: Duration,
}

impl Outcome {
    fn empty(templates: usize) -> Self {
        Outcome {
            histogram: new_histogram(),
            requests: 0,
            transport_errors: 0,
            statuses: BTreeMap::new(),
            errors_by_status: BTreeMap::new(),
            per_template: vec![0; templates],
            elapsed: Duration::ZERO,
        }
    }

    /// Adds another outcome's counts into this one (elapsed times add up).
    pub fn merge(&mut self, other: &Outcome) {
        let _ = self.histogram.add(&other.histogram);
        self.requests += other.requests;
        self.transport_errors += other.transport_errors;
        for (s, n) in &other.statuses {
            *self.statuses.entry(*s).or_default() += n;
        }
        for (s, n) in &other.errors_by_status {
            *self.errors_by_status.entry(*s).or_default() += n;
        }
        for (a, b) in self.per_template.iter_mut().zip(&other.per_template) {
            *a += b;
        }
        self.elapsed += other.elapsed;
    }

    /// The report for these counts (without the target's usage).
    pub fn report(&self, label: &str, mix: &Mix, rate: Option<f64>) -> RunReport {
        let seconds = self.elapsed.as_secs_f64().max(1e-9);
        RunReport {
            label: label.to_owned(),
            requests: self.requests,
            duration_s: self.elapsed.as_secs_f64(),
            throughput_rps: self.requests as f64 / seconds,
            ok: self.requests - self.errors(),
            errors: self.errors(),
            transport_errors: self.transport_errors,
            statuses: self.statuses.clone(),
            errors_by_status: self.errors_by_status.clone(),
            per_template: mix
                .templates
                .iter()
                .zip(&self.per_template)
                .map(|(t, n)| (t.name.clone(), *n))
                .collect(),
            latency: Latency::of(&self.histogram),
            target: None,
            rate_rps: rate,
        }
    }

    /// Unexpected statuses plus transport errors.
    pub fn errors(&self) -> u64 {
        self.transport_errors + self.errors_by_status.values().sum::<u64>()
    }
}

/// Why one request failed before it had a status.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("connect failed: {0}")]
    Connect(#[from] std::io::Error),
    #[error("http error: {0}")]
    Http(#[from] hyper::Error),
    #[error("invalid request: {0}")]
    Request(#[from] http::Error),
    #[error("no response within {} s", REQUEST_TIMEOUT.as_secs())]
    Timeout,
}

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    errors: AtomicU64,
    done: AtomicBool,
}

/// Runs the load and returns when every worker has finished its last request.
pub async fn drive(spec: &LoadSpec) -> Outcome {
    let counters = Arc::new(Counters::default());
    let start = Instant::now();
    let deadline = start + spec.duration;
    let progress = spec
        .progress
        .clone()
        .map(|label| tokio::spawn(progress_line(label, counters.clone(), start)));
    let workers: Vec<_> = (0..spec.connections.max(1))
        .map(|id| tokio::spawn(worker(id, spec.clone(), counters.clone(), start, deadline)))
        .collect();
    let mut total = Outcome::empty(spec.mix.templates.len());
    for w in workers {
        if let Ok(outcome) = w.await {
            total.merge(&outcome);
        }
    }
    total.elapsed = start.elapsed();
    counters.done.store(true, Ordering::Relaxed);
    if let Some(p) = progress {
        p.abort();
    }
    total
}

async fn progress_line(label: String, counters: Arc<Counters>, start: Instant) {
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::from_std(start) + Duration::from_secs(1),
        Duration::from_secs(1),
    );
    let mut last = 0;
    loop {
        tick.tick().await;
        if counters.done.load(Ordering::Relaxed) {
            return;
        }
        let n = counters.requests.load(Ordering::Relaxed);
        let errors = counters.errors.load(Ordering::Relaxed);
        eprintln!(
            "{label} {:>4.0}s  {n:>9} req  {:>7} req/s  {errors} errors",
            start.elapsed().as_secs_f64(),
            n - last
        );
        last = n;
    }
}

async fn worker(
    id: usize,
    spec: LoadSpec,
    counters: Arc<Counters>,
    start: Instant,
    deadline: Instant,
) -> Outcome {
    let mut out = Outcome::empty(spec.mix.templates.len());
    let mut rng = Rng::new(spec.seed ^ (id as u64).wrapping_mul(0xA24B_AED4_963E_E407));
    let schedule = spec.rate.map(|r| Schedule::new(id, spec.connections, r));
    let mut conn = None;
    let mut k = 0;
    loop {
        let due = match schedule {
            Some(s) => {
                let due = s.due(k);
                k += 1;
                if start + due >= deadline {
                    break;
                }
                tokio::time::sleep_until((start + due).into()).await;
                Some(due)
            }
            None if Instant::now() >= deadline => break,
            None => None,
        };
        let index = spec.mix.pick(&mut rng);
        let template = &spec.mix.templates[index];
        let sent = start.elapsed();
        // A hung target cannot hold the run past its bound.
        let result =
            match tokio::time::timeout(REQUEST_TIMEOUT, send(&mut conn, &spec, template)).await {
                Ok(result) => result,
                Err(_) => Err(SendError::Timeout),
            };
        let latency = latency_from_schedule(due.unwrap_or(sent), start.elapsed());
        out.histogram
            .saturating_record((latency.as_micros() as u64).max(1));
        out.requests += 1;
        out.per_template[index] += 1;
        counters.requests.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(status) => {
                *out.statuses.entry(status).or_default() += 1;
                if !template.is_expected(status) {
                    *out.errors_by_status.entry(status).or_default() += 1;
                    counters.errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(_) => {
                out.transport_errors += 1;
                counters.errors.fetch_add(1, Ordering::Relaxed);
                conn = None;
                // Do not spin on a target that refuses connections.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    out
}

type Conn = SendRequest<Full<Bytes>>;

async fn connect(
    addr: SocketAddr,
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> Result<Conn, SendError> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let Some(config) = tls else {
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        // Ends when the sender is dropped or the peer closes.
        tokio::spawn(connection);
        return Ok(sender);
    };
    let name = rustls::pki_types::ServerName::try_from("localhost")
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let stream = tokio_rustls::TlsConnector::from(config.clone())
        .connect(name, stream)
        .await?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    Ok(sender)
}

/// Sends one request on the worker's connection (opening it if needed) and
/// reads the whole response body.
pub async fn send(
    conn: &mut Option<Conn>,
    spec: &LoadSpec,
    template: &Template,
) -> Result<u16, SendError> {
    let sender = match conn {
        Some(s) if !s.is_closed() => s,
        _ => conn.insert(connect(spec.addr, spec.tls.as_ref()).await?),
    };
    sender.ready().await?;
    let mut builder = http::Request::builder()
        .method(template.method.clone())
        .uri(template.path.as_str())
        .header(HOST, spec.host.as_str());
    for (k, v) in &template.headers {
        builder = builder.header(k, v);
    }
    let request = builder.body(Full::new(template.body.clone()))?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    response.into_body().collect().await?;
    Ok(status)
}
