//! HTTPS: `--tls-cert` / `--tls-key` served with rustls, HTTP/2 and HTTP/1.1 offered by ALPN.
//!
//! The pair is loaded and checked (the key must be the certificate's) before the server starts,
//! so a missing or mismatched pair is an error at start. On SIGHUP the files are read again; a
//! good new pair is used for every connection accepted from then on, while open connections
//! keep the session they negotiated. A bad new pair is logged and the old one stays.
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use poem::http::uri::Scheme;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::watch;

/// Where the certificate and key live; read at start and on every SIGHUP.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TlsFiles {
    /// Reads and checks the pair.
    pub fn load(&self) -> anyhow::Result<Arc<ServerConfig>> {
        let (cert_path, key_path) = (self.cert.display(), self.key.display());
        let read = |path: &Path, what: &str| {
            std::fs::read(path)
                .map_err(|e| anyhow::anyhow!("cannot read the TLS {what} {}: {e}", path.display()))
        };
        let cert_pem = read(&self.cert, "certificate (--tls-cert)")?;
        let key_pem = read(&self.key, "private key (--tls-key)")?;
        let chain = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("{cert_path} is not a PEM certificate chain: {e}"))?;
        if chain.is_empty() {
            anyhow::bail!("{cert_path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
        }
        let key = PrivateKeyDer::from_pem_slice(&key_pem)
            .map_err(|e| anyhow::anyhow!("{key_path} holds no PEM private key: {e}"))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| anyhow::anyhow!("TLS setup: {e}"))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| match e {
                rustls::Error::InconsistentKeys(_) => anyhow::anyhow!(
                    "the TLS private key {key_path} does not belong to the certificate {cert_path}"
                ),
                e => anyhow::anyhow!("the TLS pair {cert_path} / {key_path} is unusable: {e}"),
            })?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// Loads the pair now, and again on every SIGHUP for as long as the returned receiver (or a
    /// clone of it) lives. The signal handler is installed before this returns.
    pub fn load_and_watch(self) -> anyhow::Result<watch::Receiver<Arc<ServerConfig>>> {
        let config = self.load()?;
        let (tx, rx) = watch::channel(config);
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let mut hangup = signal(SignalKind::hangup())
                .map_err(|e| anyhow::anyhow!("cannot watch SIGHUP: {e}"))?;
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        got = hangup.recv() => if got.is_none() { return },
                        _ = tx.closed() => return,
                    }
                    match self.load() {
                        Ok(config) => {
                            let _ = tx.send(config);
                            tracing::info!(cert = %self.cert.display(), "SIGHUP: TLS certificate reloaded");
                        }
                        Err(e) => tracing::error!(
                            error = %e,
                            "SIGHUP: TLS certificate not reloaded; the previous one stays in use"
                        ),
                    }
                }
            });
        }
        Ok(rx)
    }
}

/// Without TLS there is nothing to re-read: SIGHUP (`systemctl reload`) is logged instead of
/// ending the process, its default action.
pub fn ignore_hangup() {
    #[cfg(unix)]
    if let Ok(mut hangup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        tokio::spawn(async move {
            while hangup.recv().await.is_some() {
                tracing::info!("SIGHUP: nothing to reload (no --tls-cert)");
            }
        });
    }
}

/// Wraps an acceptor: every connection is TLS with the current configuration. The handshake
/// runs on the connection's own task (on first read or write), never in the accept loop.
pub struct TlsAcceptor<A> {
    inner: A,
    config: watch::Receiver<Arc<ServerConfig>>,
}

impl<A> TlsAcceptor<A> {
    pub fn new(inner: A, config: watch::Receiver<Arc<ServerConfig>>) -> Self {
        Self { inner, config }
    }
}

impl<A: Acceptor> Acceptor for TlsAcceptor<A> {
    type Io = TlsIo<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    async fn accept(&mut self) -> io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)> {
        let (io, local, remote, _) = self.inner.accept().await?;
        let config = self.config.borrow().clone();
        let handshake = tokio_rustls::TlsAcceptor::from(config).accept(io);
        Ok((
            TlsIo::Handshaking(Box::new(handshake)),
            local,
            remote,
            Scheme::HTTPS,
        ))
    }
}

impl<T: crate::net::SocketFd> crate::net::SocketFd for TlsIo<T> {
    fn socket_fd(&self) -> Option<std::os::fd::RawFd> {
        match self {
            TlsIo::Handshaking(accept) => accept.get_ref()?.socket_fd(),
            TlsIo::Ready(stream) => stream.get_ref().0.socket_fd(),
            TlsIo::Failed => None,
        }
    }
}

/// A server-side TLS connection, handshaking until its first use.
pub enum TlsIo<T> {
    Handshaking(Box<tokio_rustls::Accept<T>>),
    Ready(Box<tokio_rustls::server::TlsStream<T>>),
    Failed,
}

impl<T: AsyncRead + AsyncWrite + Unpin> TlsIo<T> {
    fn poll_ready(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<&mut tokio_rustls::server::TlsStream<T>>> {
        if let TlsIo::Handshaking(accept) = self {
            match Pin::new(accept.as_mut()).poll(cx) {
                Poll::Ready(Ok(stream)) => *self = TlsIo::Ready(Box::new(stream)),
                Poll::Ready(Err(e)) => {
                    *self = TlsIo::Failed;
                    tracing::debug!(error = %e, "TLS handshake failed");
                    return Poll::Ready(Err(e));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
        match self {
            TlsIo::Ready(stream) => Poll::Ready(Ok(stream.as_mut())),
            _ => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "TLS handshake failed",
            ))),
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut().poll_ready(cx) {
            Poll::Ready(Ok(stream)) => Pin::new(stream).poll_read(cx, buf),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut().poll_ready(cx) {
            Poll::Ready(Ok(stream)) => Pin::new(stream).poll_write(cx, buf),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().poll_ready(cx) {
            Poll::Ready(Ok(stream)) => Pin::new(stream).poll_flush(cx),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            TlsIo::Ready(stream) => Pin::new(stream.as_mut()).poll_shutdown(cx),
            _ => Poll::Ready(Ok(())),
        }
    }
}
