//! Connection-level defences that poem's `Server` does not offer: a bound on open connections
//! and a deadline for slow clients (slowloris). Both live in one acceptor wrapper, so they hold
//! for every protocol and every route, before any request is parsed.
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use poem::http::uri::Scheme;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;

use crate::sandbox::connections::{Connections, Registration};

/// The socket under a connection's IO: the sandbox looks at it to tell whether a client has
/// gone before its answer was ready.
pub trait SocketFd {
    fn socket_fd(&self) -> Option<std::os::fd::RawFd>;
}

impl SocketFd for tokio::net::TcpStream {
    fn socket_fd(&self) -> Option<std::os::fd::RawFd> {
        Some(std::os::fd::AsRawFd::as_raw_fd(self))
    }
}

/// Wraps an acceptor: at most `max_connections` connections are open at once (further clients
/// wait in the kernel's accept backlog until one closes), and each request must arrive within
/// `request_timeout` of its first byte.
pub struct GuardedAcceptor<A> {
    inner: A,
    permits: Arc<Semaphore>,
    request_timeout: Duration,
    /// With `--sandbox`: every connection registered, so a fault can close it (`sandbox`).
    connections: Option<Arc<Connections>>,
}

impl<A> GuardedAcceptor<A> {
    pub fn new(inner: A, max_connections: usize, request_timeout: Duration) -> Self {
        Self {
            inner,
            permits: Arc::new(Semaphore::new(max_connections.max(1))),
            request_timeout,
            connections: None,
        }
    }

    /// Registers every connection in `connections` (the sandbox's fault switches).
    pub fn with_connections(mut self, connections: Option<Arc<Connections>>) -> Self {
        self.connections = connections;
        self
    }
}

impl<A: Acceptor> Acceptor for GuardedAcceptor<A>
where
    A::Io: SocketFd,
{
    type Io = GuardedIo<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    async fn accept(&mut self) -> io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)> {
        // The permit is taken before `accept`, so a full server leaves new clients in the
        // backlog instead of accepting and dropping them. It is released when the IO drops.
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| io::Error::other("the connection limiter is closed"))?;
        let (io, local, remote, scheme) = self.inner.accept().await?;
        let fd = io.socket_fd();
        let mut io = GuardedIo::new(io, permit, self.request_timeout);
        if let (Some(connections), Some(peer)) = (&self.connections, remote.as_socket_addr()) {
            io.registration = Some(connections.register(*peer, fd));
        }
        Ok((io, local, remote, scheme))
    }
}

/// The answer given to an HTTP/1 client whose request did not arrive in time.
const TIMEOUT_RESPONSE: &[u8] = b"HTTP/1.1 408 Request Timeout\r\n\
content-type: application/json\r\n\
connection: close\r\n\
content-length: 69\r\n\
\r\n\
{\"message\":\"The request was not received in time; connection closed\"}";

/// A connection's IO with its connection permit and its request deadline.
///
/// The deadline is armed when the client sends the first byte of a request (or connects) and
/// disarmed when the server starts answering; if it passes first, reads fail with `TimedOut`
/// and hyper closes the connection. So a client may be slow to send the next request on a
/// kept-alive connection (poem's idle timeout governs that), but not slow within one.
pub struct GuardedIo<T> {
    /// The sandbox's switches for this connection (`None` without `--sandbox`). First, so it
    /// is dropped (deregistered) before the socket in `io` closes.
    registration: Option<Registration>,
    io: T,
    _permit: OwnedSemaphorePermit,
    timeout: Duration,
    deadline: Option<Pin<Box<Sleep>>>,
    /// Bytes received since the server last wrote: a request is under way.
    receiving: bool,
    /// An HTTP/2 connection (prior knowledge): never answered with HTTP/1 text.
    http2: bool,
    first_read: bool,
}

impl<T> GuardedIo<T> {
    fn new(io: T, permit: OwnedSemaphorePermit, timeout: Duration) -> Self {
        Self {
            io,
            _permit: permit,
            timeout,
            // A client that connects must start and finish a request in time, too.
            deadline: Some(Box::pin(tokio::time::sleep(timeout))),
            receiving: false,
            http2: false,
            first_read: true,
            registration: None,
        }
    }

    /// A sandbox fault closed the connection: every read and write fails.
    fn closed_by_fault(&self) -> Option<io::Error> {
        self.registration
            .as_ref()
            .filter(|r| r.switch().is_closed())
            .map(|_| {
                io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "closed by a sandbox fault",
                )
            })
    }

    /// A sandbox fault delays the answer: the request deadline waits for it.
    fn holding(&self) -> bool {
        self.registration
            .as_ref()
            .is_some_and(|r| r.switch().is_holding())
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for GuardedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let Some(e) = this.closed_by_fault() {
            return Poll::Ready(Err(e));
        }
        let holding = this.holding();
        if let Some(deadline) = this.deadline.as_mut().filter(|_| !holding) {
            if deadline.as_mut().poll(cx).is_ready() {
                if this.receiving && !this.http2 {
                    // Best effort: tell an HTTP/1 client why, if the socket takes it at once.
                    let _ = Pin::new(&mut this.io).poll_write(cx, TIMEOUT_RESPONSE);
                }
                tracing::debug!("closing a connection: request not received in time");
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "request not received in time",
                )));
            }
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.io).poll_read(cx, buf))?;
        let got = &buf.filled()[before..];
        if !got.is_empty() {
            if this.first_read {
                this.first_read = false;
                this.http2 = got.starts_with(b"PRI ");
            }
            this.receiving = true;
            if this.deadline.is_none() {
                this.deadline = Some(Box::pin(tokio::time::sleep(this.timeout)));
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> GuardedIo<T> {
    fn answered(&mut self) {
        self.deadline = None;
        self.receiving = false;
        if let Some(r) = &self.registration {
            r.switch().answered();
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for GuardedIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(e) = self.closed_by_fault() {
            return Poll::Ready(Err(e));
        }
        let n = ready!(Pin::new(&mut self.io).poll_write(cx, buf))?;
        if n > 0 {
            self.answered();
        }
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if let Some(e) = self.closed_by_fault() {
            return Poll::Ready(Err(e));
        }
        let n = ready!(Pin::new(&mut self.io).poll_write_vectored(cx, bufs))?;
        if n > 0 {
            self.answered();
        }
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(e) = self.closed_by_fault() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::TIMEOUT_RESPONSE;

    #[test]
    fn the_timeout_response_declares_its_length_and_is_json() {
        let text = std::str::from_utf8(TIMEOUT_RESPONSE).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let declared = format!("content-length: {}", body.len());
        assert!(head.split("\r\n").any(|l| l == declared), "{head}");
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert!(v["message"].is_string());
    }
}
