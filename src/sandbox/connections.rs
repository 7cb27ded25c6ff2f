//! How a fault closes a connection without an answer. poem answers every request (its service is
//! infallible), so the close happens below it: the acceptor (`net::GuardedAcceptor`) registers
//! each connection under its peer address, which is also the request's `RemoteAddr`; a fault
//! trips the connection's switch, its IO then fails every read and write, and hyper drops the
//! socket before a byte of the answer is written. The same switch lets a delayed answer wait
//! past the per-request deadline (`--request-timeout-seconds`) without being cut off by it.
use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// One connection's switches.
#[derive(Debug, Default)]
pub struct Switch {
    closed: AtomicBool,
    holding: AtomicBool,
    /// The connection's socket, to look whether the client has closed it.
    fd: Option<RawFd>,
}

impl Switch {
    /// Set: every read and write of the connection fails from now on.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Set while a fault delays the answer: the request deadline does not apply.
    pub fn is_holding(&self) -> bool {
        self.holding.load(Ordering::SeqCst)
    }

    /// The answer has started: a later request on the connection has its deadline again.
    pub fn answered(&self) {
        self.holding.store(false, Ordering::SeqCst);
    }
}

/// The open connections, by peer address.
#[derive(Debug, Default)]
pub struct Connections {
    open: Mutex<HashMap<SocketAddr, Arc<Switch>>>,
}

impl Connections {
    /// Registers a connection (with its socket, when known); it stays registered until the
    /// returned guard drops, which must happen before the socket is closed.
    pub fn register(self: &Arc<Self>, peer: SocketAddr, fd: Option<RawFd>) -> Registration {
        let switch = Arc::new(Switch {
            fd,
            ..Switch::default()
        });
        self.lock().insert(peer, switch.clone());
        Registration {
            connections: self.clone(),
            peer,
            switch,
        }
    }

    /// Trips the switch of the connection from `peer`; `false` when none is open.
    pub fn close(&self, peer: SocketAddr) -> bool {
        self.with(peer, |s| s.closed.store(true, Ordering::SeqCst))
    }

    /// Lifts the request deadline of the connection from `peer` until its answer starts.
    pub fn hold(&self, peer: SocketAddr) -> bool {
        self.with(peer, |s| s.holding.store(true, Ordering::SeqCst))
    }

    /// Whether the client from `peer` has closed its connection (or reset it): then an answer
    /// written now reaches nobody. A look at the socket that takes nothing from it (a peek that
    /// does not wait), made under the lock that the connection's deregistration takes before its
    /// socket closes, so the descriptor is this connection's.
    pub fn client_gone(&self, peer: SocketAddr) -> bool {
        let open = self.lock();
        let Some(fd) = open.get(&peer).and_then(|s| s.fd) else {
            return false;
        };
        let mut byte = 0u8;
        // SAFETY: `fd` is the registered connection's open socket (see above); one byte of
        // our own buffer, peeked without waiting.
        let n = unsafe {
            libc::recv(
                fd,
                (&mut byte as *mut u8).cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        match n {
            0 => true,
            n if n > 0 => false,
            _ => !matches!(
                std::io::Error::last_os_error().kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
            ),
        }
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn with(&self, peer: SocketAddr, f: impl FnOnce(&Switch)) -> bool {
        match self.lock().get(&peer) {
            Some(switch) => {
                f(switch);
                true
            }
            None => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, Arc<Switch>>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A registered connection; deregisters it when dropped (with the connection's IO).
#[derive(Debug)]
pub struct Registration {
    connections: Arc<Connections>,
    peer: SocketAddr,
    switch: Arc<Switch>,
}

impl Registration {
    pub fn switch(&self) -> &Switch {
        &self.switch
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut open = self.connections.lock();
        // A new connection from the same address may have replaced this one already.
        if open
            .get(&self.peer)
            .is_some_and(|s| Arc::ptr_eq(s, &self.switch))
        {
            open.remove(&self.peer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn a_close_reaches_only_that_connection() {
        let connections = Arc::new(Connections::default());
        let a = connections.register(peer(1), None);
        let b = connections.register(peer(2), None);
        assert!(connections.close(peer(1)));
        assert!(a.switch().is_closed());
        assert!(!b.switch().is_closed());
        assert!(!connections.close(peer(3)));
    }

    #[test]
    fn hold_lasts_until_the_answer_starts() {
        let connections = Arc::new(Connections::default());
        let a = connections.register(peer(1), None);
        assert!(connections.hold(peer(1)));
        assert!(a.switch().is_holding());
        a.switch().answered();
        assert!(!a.switch().is_holding());
    }

    #[test]
    fn a_client_that_closed_its_socket_is_gone() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, from) = listener.accept().unwrap();
        let connections = Arc::new(Connections::default());
        let _registered =
            connections.register(from, Some(std::os::fd::AsRawFd::as_raw_fd(&server)));
        assert!(!connections.client_gone(from), "an open connection");
        drop(client);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !connections.client_gone(from) {
            assert!(
                std::time::Instant::now() < deadline,
                "the close was never seen"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(
            !connections.client_gone(peer(9)),
            "an unknown peer is not said gone"
        );
    }

    #[test]
    fn a_dropped_connection_is_forgotten_but_not_its_successor() {
        let connections = Arc::new(Connections::default());
        let old = connections.register(peer(1), None);
        let new = connections.register(peer(1), None);
        drop(old);
        assert_eq!(connections.len(), 1);
        assert!(connections.close(peer(1)));
        assert!(new.switch().is_closed());
        drop(new);
        assert!(connections.is_empty());
    }
}
