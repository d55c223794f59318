//! HTTPS served by the relay itself (rustls), for operators without a TLS-terminating proxy: the
//! certificate chain and key are read from PEM files and read again when they change (a renewal by
//! certbot or acme.sh), without a restart; a file that does not load keeps the previous pair.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;

/// How often the files are looked at for a renewal.
const RELOAD_EVERY: Duration = Duration::from_secs(2);
/// How long a client has to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the relay's certificate chain and private key are (PEM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first (`fullchain.pem`).
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

impl TlsFiles {
    /// Reads both files into a key rustls can serve; the error names the file at fault.
    pub fn load(&self) -> anyhow::Result<(CertifiedKey, Vec<u8>)> {
        let cert_pem = std::fs::read(&self.cert).map_err(|e| {
            anyhow::anyhow!(
                "could not read the certificate {}: {e}",
                self.cert.display()
            )
        })?;
        let key_pem = std::fs::read(&self.key)
            .map_err(|e| anyhow::anyhow!("could not read the key {}: {e}", self.key.display()))?;
        let certs = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                anyhow::anyhow!("{}: not a PEM certificate chain ({e})", self.cert.display())
            })?;
        if certs.is_empty() {
            anyhow::bail!("{}: no certificate in it", self.cert.display());
        }
        let key = PrivateKeyDer::from_pem_slice(&key_pem)
            .map_err(|e| anyhow::anyhow!("{}: not a PEM private key ({e})", self.key.display()))?;
        let signing = rustls::crypto::ring::sign::any_supported_type(&key)
            .map_err(|e| anyhow::anyhow!("{}: unusable key ({e})", self.key.display()))?;
        let certified = CertifiedKey::new(certs, signing);
        certified.keys_match().map_err(|e| {
            anyhow::anyhow!(
                "{} and {} do not belong together ({e})",
                self.cert.display(),
                self.key.display()
            )
        })?;
        let mut stamp = cert_pem;
        stamp.extend_from_slice(&key_pem);
        Ok((certified, stamp))
    }
}

/// The pair being served, swapped when the files change.
#[derive(Debug)]
struct Current(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for Current {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.0.read().ok().map(|k| k.clone())
    }
}

/// Connections that finished their TLS handshake, for `axum::serve`.
pub struct TlsListener {
    accepted: tokio::sync::mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    /// Serves TLS on `listener` with the pair in `files` (which must load now), reloading it when
    /// the files change, until `stop`.
    pub fn start(
        listener: TcpListener,
        files: TlsFiles,
        stop: CancellationToken,
    ) -> anyhow::Result<Self> {
        let (first, stamp) = files.load()?;
        let current = Arc::new(Current(RwLock::new(Arc::new(first))));
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(current.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let local = listener.local_addr()?;
        let (sender, accepted) = tokio::sync::mpsc::channel(64);

        tokio::spawn(reload_when_changed(files, stamp, current, stop.clone()));
        tokio::spawn(accept_connections(listener, acceptor, sender, stop));
        Ok(Self { accepted, local })
    }
}

/// Every [`RELOAD_EVERY`], loads the pair again and serves it when the files changed (a renewal),
/// until `stop`; a pair that does not load leaves the previous one served.
async fn reload_when_changed(
    files: TlsFiles,
    mut stamp: Vec<u8>,
    current: Arc<Current>,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(RELOAD_EVERY) => {}
            _ = stop.cancelled() => return,
        }
        let files = files.clone();
        let loaded = tokio::task::spawn_blocking(move || files.load()).await;
        match loaded {
            Ok(Ok((pair, new_stamp))) if new_stamp != stamp => {
                stamp = new_stamp;
                if let Ok(mut slot) = current.0.write() {
                    *slot = Arc::new(pair);
                }
                tracing::info!("TLS certificate reloaded");
            }
            Ok(Ok(_)) => {}
            Ok(Err(error)) => {
                tracing::warn!(%error, "TLS certificate not reloaded; serving the previous one")
            }
            Err(_) => {}
        }
    }
}

/// Accepts connections until `stop`, each handshake in its own task (bounded by
/// [`HANDSHAKE_TIMEOUT`]); sends the established ones to `sender`.
async fn accept_connections(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    sender: tokio::sync::mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
    stop: CancellationToken,
) {
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(error) => {
                    tracing::debug!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.cancelled() => return,
        };
        let acceptor = acceptor.clone();
        let sender = sender.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => {
                    let _ = sender.send((tls, peer)).await;
                }
                Ok(Err(error)) => tracing::debug!(%error, "TLS handshake failed"),
                Err(_) => tracing::debug!("TLS handshake timed out"),
            }
        });
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.accepted.recv().await {
            Some(connection) => connection,
            // The acceptor stopped: the relay is shutting down; wait for it.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}
