//! TLS for OTLP export to an `https://` endpoint: the PEM files of
//! `OTEL_EXPORTER_OTLP_CERTIFICATE`, `_CLIENT_KEY` and
//! `_CLIENT_CERTIFICATE` (and their per-signal variants) read and checked
//! at start-up, then handed to tonic (gRPC) or reqwest (http/protobuf).
//!
//! Both transports use rustls. Without a certificate file the server is
//! verified against the platform's roots (the operating system's trust
//! store, read by rustls-native-certs for gRPC and rustls-platform-verifier
//! for HTTP) rather than a bundled copy of the Mozilla roots: that store is
//! where operators add a company CA and where revoked roots are removed by
//! system updates, and a bundled list would silently ignore both. A
//! container without a CA bundle can name its CA with
//! `OTEL_EXPORTER_OTLP_CERTIFICATE`, which then is the only root trusted,
//! as in the other OpenTelemetry SDKs.

use std::path::PathBuf;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// One file setting and where it came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileSetting {
    /// The variable that named the file.
    pub(crate) var: String,
    pub(crate) path: PathBuf,
}

/// The TLS files of one signal, the per-signal variable already chosen over
/// the generic one (each file on its own).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct TlsFiles {
    /// `OTEL_EXPORTER_OTLP_CERTIFICATE`: the CA that signs the collector's
    /// certificate.
    pub(crate) certificate: Option<FileSetting>,
    /// `OTEL_EXPORTER_OTLP_CLIENT_KEY`: this client's private key (mTLS).
    pub(crate) client_key: Option<FileSetting>,
    /// `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE`: this client's certificate
    /// chain (mTLS).
    pub(crate) client_certificate: Option<FileSetting>,
}

impl TlsFiles {
    pub(crate) fn is_empty(&self) -> bool {
        self.certificate.is_none() && self.client_key.is_none() && self.client_certificate.is_none()
    }

    /// Reads and checks the files.
    pub(crate) fn load(&self) -> Result<TlsMaterial, TlsError> {
        let ca = match &self.certificate {
            Some(file) => Some(read_certificates(file)?),
            None => None,
        };
        let identity = match (&self.client_certificate, &self.client_key) {
            (None, None) => None,
            (Some(certificate), None) => {
                return Err(TlsError::CertificateWithoutKey {
                    var: certificate.var.clone(),
                });
            }
            (None, Some(key)) => {
                return Err(TlsError::KeyWithoutCertificate {
                    var: key.var.clone(),
                });
            }
            (Some(certificate), Some(key)) => Some(ClientIdentity {
                certificate: read_certificates(certificate)?,
                key: read_key(key)?,
            }),
        };
        Ok(TlsMaterial { ca, identity })
    }
}

/// The checked PEM text of the TLS files, ready for tonic or reqwest.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct TlsMaterial {
    /// PEM certificates trusted instead of the platform's roots.
    ca: Option<Vec<u8>>,
    identity: Option<ClientIdentity>,
}

#[derive(Clone, PartialEq, Eq)]
struct ClientIdentity {
    /// PEM certificate chain.
    certificate: Vec<u8>,
    /// PEM private key.
    key: Vec<u8>,
}

impl std::fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("ClientIdentity").finish_non_exhaustive()
    }
}

impl TlsMaterial {
    /// tonic's TLS settings for the gRPC exporter.
    #[cfg(feature = "grpc")]
    pub(crate) fn tonic_config(&self) -> tonic::transport::ClientTlsConfig {
        use tonic::transport::{Certificate, ClientTlsConfig, Identity};
        let config = ClientTlsConfig::new();
        let config = match &self.ca {
            Some(pem) => config.ca_certificate(Certificate::from_pem(pem)),
            None => config.with_native_roots(),
        };
        match &self.identity {
            Some(identity) => {
                config.identity(Identity::from_pem(&identity.certificate, &identity.key))
            }
            None => config,
        }
    }

    /// Sets the roots and the client identity on a blocking reqwest client
    /// for http/protobuf.
    pub(crate) fn apply_to(
        &self,
        builder: reqwest::blocking::ClientBuilder,
    ) -> Result<reqwest::blocking::ClientBuilder, reqwest::Error> {
        let builder = builder.tls_backend_rustls();
        let builder = match &self.ca {
            Some(pem) => builder.tls_certs_only(reqwest::Certificate::from_pem_bundle(pem)?),
            None => builder,
        };
        Ok(match &self.identity {
            Some(identity) => {
                let mut pem = identity.key.clone();
                pem.push(b'\n');
                pem.extend_from_slice(&identity.certificate);
                builder.identity(reqwest::Identity::from_pem(&pem)?)
            }
            None => builder,
        })
    }
}

/// Why the TLS files for an `https://` OTLP endpoint cannot be used (see
/// [`SetupError::Tls`](super::SetupError::Tls)).
///
/// ```
/// use std::collections::HashMap;
/// use tracetape::setup::{SetupError, Telemetry, TlsError};
///
/// let vars = HashMap::from([
///     ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector.example:4318"),
///     ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/ca.pem"),
///     ("OTEL_METRICS_EXPORTER", "none"),
/// ]);
/// let result = Telemetry::builder()
///     .with_env_lookup(move |name| vars.get(name).map(|value| value.to_string()))
///     .try_build();
/// assert!(matches!(result, Err(SetupError::Tls { err: TlsError::Read { .. }, .. })));
/// ```
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("failed to read {} (from {var})", path.display())]
    Read {
        /// The variable that named the file.
        var: String,
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        err: std::io::Error,
    },
    /// A file holds no usable PEM certificate or private key.
    #[error("failed to read {} (from {var}) as PEM: {reason}", path.display())]
    Pem {
        /// The variable that named the file.
        var: String,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A client key was given without a client certificate.
    #[error(
        "failed to use the client key of {var}: no client certificate is set (OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE)"
    )]
    KeyWithoutCertificate {
        /// The variable that named the key.
        var: String,
    },
    /// A client certificate was given without a client key.
    #[error(
        "failed to use the client certificate of {var}: no client key is set (OTEL_EXPORTER_OTLP_CLIENT_KEY)"
    )]
    CertificateWithoutKey {
        /// The variable that named the certificate.
        var: String,
    },
}

fn read(file: &FileSetting) -> Result<Vec<u8>, TlsError> {
    std::fs::read(&file.path).map_err(|err| TlsError::Read {
        var: file.var.clone(),
        path: file.path.clone(),
        err,
    })
}

fn pem_error(file: &FileSetting, reason: impl Into<String>) -> TlsError {
    TlsError::Pem {
        var: file.var.clone(),
        path: file.path.clone(),
        reason: reason.into(),
    }
}

/// The file's text, once it is known to hold at least one certificate and
/// only well-formed PEM sections.
fn read_certificates(file: &FileSetting) -> Result<Vec<u8>, TlsError> {
    let pem = read(file)?;
    let mut count = 0;
    for certificate in CertificateDer::pem_slice_iter(&pem) {
        certificate.map_err(|err| pem_error(file, err.to_string()))?;
        count += 1;
    }
    if count == 0 {
        return Err(pem_error(file, "it holds no CERTIFICATE section"));
    }
    Ok(pem)
}

/// The file's text, once it is known to hold a private key.
fn read_key(file: &FileSetting) -> Result<Vec<u8>, TlsError> {
    let pem = read(file)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|err| match err {
        rustls_pki_types::pem::Error::NoItemsFound => {
            pem_error(file, "it holds no PRIVATE KEY section")
        }
        err => pem_error(file, err.to_string()),
    })?;
    Ok(pem)
}

/// Whether `url` asks for TLS.
pub(crate) fn is_https(url: &str) -> bool {
    url.get(..8)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"))
}

/// The file the variable `var` names with `value`.
pub(crate) fn file_setting(var: &str, value: String) -> FileSetting {
    FileSetting {
        var: var.to_owned(),
        path: PathBuf::from(value),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::path::Path;

    use super::*;

    fn file(dir: &Path, name: &str, text: &str) -> FileSetting {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        FileSetting {
            var: format!("VAR_{name}"),
            path,
        }
    }

    fn self_signed() -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        let certificate = params.self_signed(&key).unwrap();
        (certificate.pem(), key.serialize_pem())
    }

    #[test]
    fn a_certificate_and_an_identity_load() {
        let dir = tempfile::tempdir().unwrap();
        let (certificate, key) = self_signed();
        let files = TlsFiles {
            certificate: Some(file(dir.path(), "ca.pem", &certificate)),
            client_certificate: Some(file(dir.path(), "client.pem", &certificate)),
            client_key: Some(file(dir.path(), "client.key", &key)),
        };
        let material = files.load().unwrap();
        assert_eq!(material.ca.as_deref(), Some(certificate.as_bytes()));
        // reqwest accepts what was checked.
        material
            .apply_to(reqwest::blocking::Client::builder())
            .unwrap()
            .build()
            .unwrap();
    }

    #[test]
    fn a_missing_file_names_its_variable() {
        let files = TlsFiles {
            certificate: Some(FileSetting {
                var: "OTEL_EXPORTER_OTLP_CERTIFICATE".into(),
                path: "/nonexistent/ca.pem".into(),
            }),
            ..TlsFiles::default()
        };
        let err = files.load().unwrap_err();
        assert!(matches!(err, TlsError::Read { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "failed to read /nonexistent/ca.pem (from OTEL_EXPORTER_OTLP_CERTIFICATE)"
        );
    }

    #[test]
    fn a_file_without_pem_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let files = TlsFiles {
            certificate: Some(file(dir.path(), "ca.pem", "not a certificate\n")),
            ..TlsFiles::default()
        };
        let err = files.load().unwrap_err();
        assert!(
            err.to_string().contains("holds no CERTIFICATE section"),
            "{err}"
        );
    }

    #[test]
    fn a_certificate_file_given_as_the_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (certificate, _key) = self_signed();
        let files = TlsFiles {
            client_certificate: Some(file(dir.path(), "client.pem", &certificate)),
            client_key: Some(file(dir.path(), "client.key", &certificate)),
            ..TlsFiles::default()
        };
        let err = files.load().unwrap_err();
        assert!(
            err.to_string().contains("holds no PRIVATE KEY section"),
            "{err}"
        );
    }

    #[test]
    fn half_an_identity_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (certificate, key) = self_signed();
        let key_only = TlsFiles {
            client_key: Some(file(dir.path(), "client.key", &key)),
            ..TlsFiles::default()
        };
        assert!(matches!(
            key_only.load(),
            Err(TlsError::KeyWithoutCertificate { .. })
        ));
        let certificate_only = TlsFiles {
            client_certificate: Some(file(dir.path(), "client.pem", &certificate)),
            ..TlsFiles::default()
        };
        assert!(matches!(
            certificate_only.load(),
            Err(TlsError::CertificateWithoutKey { .. })
        ));
    }

    #[test]
    fn https_is_told_from_http() {
        assert!(is_https("https://collector:4317"));
        assert!(is_https("HTTPS://collector:4317"));
        assert!(!is_https("http://collector:4317"));
        assert!(!is_https("http"));
    }
}
