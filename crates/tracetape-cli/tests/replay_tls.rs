//! `tracetape replay --url https://...`: the `replay_target` example in
//! replay mode behind a TLS front on 127.0.0.1 whose self-signed
//! certificate the test makes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod replay_support;

use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use replay_support::{Fixture, both, listening_url, stderr, stdout, stop};
use tokio::runtime::Runtime;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// Listens on 127.0.0.1 with TLS (a self-signed certificate for
/// 127.0.0.1) and passes each connection's plain bytes on to `backend`
/// (`host:port`); returns its `https://` URL.
fn tls_front(runtime: &Runtime, backend: String) -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let certificate = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![certificate.der().clone()], key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    runtime.spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let backend = backend.clone();
            tokio::spawn(async move {
                // A client that refuses the certificate ends here.
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let Ok(mut plain) = tokio::net::TcpStream::connect(&backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    url
}

/// Runs `tracetape replay --url {url}` with `args` against the fixture's
/// recordings.
fn replay(fixture: &Fixture, url: &str, args: &[&str]) -> Output {
    let mut replay = Command::new(env!("CARGO_BIN_EXE_tracetape"));
    let recordings = fixture.recordings();
    replay
        .args(["replay", "--url", url])
        .args(["--recordings", recordings.to_str().unwrap()])
        .args(args);
    fixture.env(&mut replay, "").output().unwrap()
}

/// The example, killed if the test fails before stopping it.
struct Service(std::process::Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn replay_over_https_needs_insecure_for_a_self_signed_certificate() {
    let fixture = Fixture::record(&["o-1"]);
    let mut service = Service(
        fixture
            .env(&mut Command::new(replay_support::target_exe()), "")
            .env("TRACETAPE_MODE", "replay")
            .env("TRACETAPE_RECORD_DIR", fixture.recordings())
            .env("PORT", "0")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let backend = listening_url(&mut service.0);
    let url = tls_front(
        &fixture.runtime,
        backend.trim_start_matches("http://").to_owned(),
    );

    // Verified against the platform's roots, the certificate is refused at
    // once (not retried until the startup timeout), saying what to do.
    let refused = replay(&fixture, &url, &[]);
    assert_eq!(refused.status.code(), Some(2), "{}", both(&refused));
    let error = stderr(&refused);
    assert!(
        error.contains(&format!("GET {url}/: ")) && error.contains("invalid peer certificate"),
        "{}",
        both(&refused)
    );
    assert!(error.contains("add --insecure"), "{}", both(&refused));

    // Accepted with the flag: the recording replays through the TLS front.
    let accepted = replay(&fixture, &url, &["--insecure"]);
    assert_eq!(accepted.status.code(), Some(0), "{}", both(&accepted));
    assert!(
        stdout(&accepted).contains(&format!(
            "1 of 1 recording of orders replayed against {url}/ in "
        )),
        "{}",
        both(&accepted)
    );

    // And with the key of tracetape.toml.
    let config = fixture.dir.path().join("tracetape.toml");
    std::fs::write(&config, "[replay]\ninsecure = true\n").unwrap();
    let keyed = replay(&fixture, &url, &["--config", config.to_str().unwrap()]);
    assert_eq!(keyed.status.code(), Some(0), "{}", both(&keyed));

    stop(&mut service.0);
}
