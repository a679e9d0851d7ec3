//! The request-head deadline (`limits.head_timeout_ms`).
//!
//! pingora reads an HTTP/1 request head with a timeout per read (a fixed
//! 60 s for a connection's first request), so a client that sends a byte
//! now and then holds a connection for as long as it likes. This wraps
//! pingora's HTTP app with a deadline for the whole head, as nginx's
//! `client_header_timeout` does:
//!
//! - a connection's first request head must be complete within
//!   `head_timeout` of the connection being handed over (after any TLS
//!   handshake);
//! - a later request's head on a kept-alive connection within
//!   `keepalive_timeout + head_timeout` of the previous response (its idle
//!   wait is also bounded per read by the keep-alive timeout, as before).
//!
//! A connection past its deadline is closed without an answer (a client
//! that has not finished a head cannot be answered in its protocol) and
//! counted in `reqflo_gateway_head_timeouts_total`.
//!
//! The head is known to be read when pingora asks the proxy for a new
//! request context ([`head_read`], from `Gate::new_ctx`), and the next wait
//! starts when the request is logged ([`request_done`]); both run in the
//! connection's task, which carries its [`Clock`] as a task-local. HTTP/2
//! connections (their heads arrive as frames on streams of their own
//! tasks) carry no deadline.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use pingora::apps::ServerApp;
use pingora::protocols::{ALPN, Stream};
use pingora::proxy::HttpProxy;
use pingora::server::ShutdownWatch;
use tokio::time::{Instant, Sleep};

use super::Gate;
use crate::state::Shared;

tokio::task_local! {
    static CLOCK: Clock;
}

/// One connection's head deadline.
struct Clock {
    /// When the head being waited for must be complete; `None` while a
    /// request is being served.
    deadline: Cell<Option<Instant>>,
    /// The wait for a later request's head: keep-alive idle plus the head.
    next_head: Duration,
}

/// Called when a request head has been read: no deadline while it is served.
pub fn head_read() {
    let _ = CLOCK.try_with(|c| c.deadline.set(None));
}

/// Called when a request is done: the next head's wait starts now.
pub fn request_done() {
    let _ = CLOCK.try_with(|c| c.deadline.set(Some(Instant::now() + c.next_head)));
}

/// pingora's HTTP proxy app with the head deadline around each connection.
pub struct HeadDeadline {
    proxy: Arc<HttpProxy<Gate>>,
    shared: Arc<Shared>,
}

impl HeadDeadline {
    pub fn new(proxy: HttpProxy<Gate>, shared: Arc<Shared>) -> HeadDeadline {
        HeadDeadline {
            proxy: Arc::new(proxy),
            shared,
        }
    }
}

impl std::fmt::Debug for HeadDeadline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeadDeadline").finish_non_exhaustive()
    }
}

#[async_trait]
impl ServerApp for HeadDeadline {
    async fn process_new(
        self: &Arc<Self>,
        stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        if matches!(stream.selected_alpn_proto(), Some(ALPN::H2)) {
            return self.proxy.process_new(stream, shutdown).await;
        }
        let limits = self.shared.snapshot.load().settings.limits;
        let head = limits.head_timeout;
        let idle = Duration::from_secs(limits.keepalive_timeout_seconds.unwrap_or(0));
        let start = Instant::now();
        let clock = Clock {
            deadline: Cell::new(Some(start + head)),
            next_head: idle + head,
        };
        let connection = Deadline {
            inner: self.proxy.process_new(stream, shutdown),
            sleep: Box::pin(tokio::time::sleep_until(start + head)),
        };
        match CLOCK.scope(clock, connection).await {
            Ok(reused) => reused,
            Err(TimedOut) => {
                self.shared.metrics.head_timeouts.inc();
                tracing::debug!(
                    target: "reqflo_gateway::request",
                    timeout_ms = u64::try_from(head.as_millis()).unwrap_or(u64::MAX),
                    "request head not complete in time: connection closed"
                );
                None
            }
        }
    }

    async fn cleanup(&self) {
        self.proxy.cleanup().await;
    }
}

/// The head did not arrive in time.
struct TimedOut;

/// A connection's future, cut off when its clock's deadline passes while a
/// head is awaited (dropping it closes the connection).
///
/// Deadlines only move later (each is set from a later instant plus the
/// same or a longer wait), so the timer is not moved per request: it stays
/// armed at an earlier deadline, and when it fires before the current one
/// it is re-armed then. A kept-alive connection serving a stream of
/// requests touches the timer once per `head_timeout`, not per request.
struct Deadline<F> {
    inner: F,
    sleep: Pin<Box<Sleep>>,
}

impl<F: Future + Unpin> Future for Deadline<F> {
    type Output = Result<F::Output, TimedOut>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Poll::Ready(out) = Pin::new(&mut self.inner).poll(cx) {
            return Poll::Ready(Ok(out));
        }
        let Ok(Some(deadline)) = CLOCK.try_with(|c| c.deadline.get()) else {
            return Poll::Pending;
        };
        loop {
            if self.sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            if Instant::now() >= deadline {
                return Poll::Ready(Err(TimedOut));
            }
            self.sleep.as_mut().reset(deadline);
        }
    }
}
