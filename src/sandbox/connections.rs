//! How a fault closes a connection without an answer. poem answers every request (its service is
//! infallible), so the close happens below it: the acceptor (`net::GuardedAcceptor`) registers
//! each connection under its peer address, which is also the request's `RemoteAddr`; a fault
//! trips the connection's switch, its IO then fails every read and write, and hyper drops the
//! socket before a byte of the answer is written. The same switch lets a delayed answer wait
//! past the per-request deadline (`--request-timeout-seconds`) without being cut off by it.
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// One connection's switches.
#[derive(Debug, Default)]
pub struct Switch {
    closed: AtomicBool,
    holding: AtomicBool,
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
    /// Registers a connection; it stays registered until the returned guard drops.
    pub fn register(self: &Arc<Self>, peer: SocketAddr) -> Registration {
        let switch = Arc::new(Switch::default());
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
        let a = connections.register(peer(1));
        let b = connections.register(peer(2));
        assert!(connections.close(peer(1)));
        assert!(a.switch().is_closed());
        assert!(!b.switch().is_closed());
        assert!(!connections.close(peer(3)));
    }

    #[test]
    fn hold_lasts_until_the_answer_starts() {
        let connections = Arc::new(Connections::default());
        let a = connections.register(peer(1));
        assert!(connections.hold(peer(1)));
        assert!(a.switch().is_holding());
        a.switch().answered();
        assert!(!a.switch().is_holding());
    }

    #[test]
    fn a_dropped_connection_is_forgotten_but_not_its_successor() {
        let connections = Arc::new(Connections::default());
        let old = connections.register(peer(1));
        let new = connections.register(peer(1));
        drop(old);
        assert_eq!(connections.len(), 1);
        assert!(connections.close(peer(1)));
        assert!(new.switch().is_closed());
        drop(new);
        assert!(connections.is_empty());
    }
}
