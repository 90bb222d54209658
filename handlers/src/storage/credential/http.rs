//! One HTTP client for everything Azure: the reqwest 0.12 client (rustls,
//! webpki roots) that the 0.21 storage crates already use, handed to them as
//! their transport and, through a small adapter, to the `azure_core` 1.x
//! pipelines of the identity crate. So the identity crate brings no reqwest
//! 0.13 and no second TLS library into the build.
//!
//! Extra trusted roots are for Azurite over HTTPS (its OAuth mode needs TLS);
//! production trusts the public roots only.

use std::sync::Arc;

use async_trait::async_trait;
use azure_core_v1::error::{Error as V1Error, ErrorKind as V1ErrorKind};
use azure_core_v1::http::headers::Headers;
use azure_core_v1::http::response::PinnedStream;
use azure_core_v1::http::{AsyncRawResponse, Body, HttpClient, Method, Request, Transport};
use futures::TryStreamExt;

use super::CredentialError;

/// The shared HTTP client.
#[derive(Debug, Clone)]
pub struct AzureHttp {
    client: reqwest::Client,
}

impl AzureHttp {
    /// A client trusting the public roots and, in addition, each PEM
    /// certificate in `extra_roots`.
    pub fn new(extra_roots: &[Vec<u8>]) -> Result<Self, CredentialError> {
        // As the 0.21 crates' own client: no idle connections kept (their
        // workaround for hyper#2312), so behaviour does not change with it.
        let mut builder = reqwest::Client::builder().pool_max_idle_per_host(0);
        for pem in extra_roots {
            let certificate = reqwest::Certificate::from_pem(pem)
                .map_err(|e| CredentialError::Setting(format!("a trusted root certificate is not PEM: {e}")))?;
            builder = builder.add_root_certificate(certificate);
        }
        let client = builder.build().map_err(|e| CredentialError::Setting(format!("building the HTTP client: {e}")))?;
        Ok(Self { client })
    }

    /// The transport for the 0.21 storage clients.
    pub fn legacy_transport(&self) -> azure_core::TransportOptions {
        azure_core::TransportOptions::new(Arc::new(self.client.clone()))
    }

    /// The transport for `azure_core` 1.x pipelines.
    pub fn v1_transport(&self) -> Transport {
        Transport::new(Arc::new(V1Client(self.client.clone())))
    }
}

impl Default for AzureHttp {
    fn default() -> Self {
        Self { client: reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap_or_default() }
    }
}

/// reqwest 0.12 as an `azure_core` 1.x [`HttpClient`].
#[derive(Debug)]
struct V1Client(reqwest::Client);

fn method(method: Method) -> azure_core_v1::Result<reqwest::Method> {
    reqwest::Method::from_bytes(method.to_string().as_bytes())
        .map_err(|e| V1Error::with_error(V1ErrorKind::Other, e, "an HTTP method reqwest does not know"))
}

#[async_trait]
impl HttpClient for V1Client {
    async fn execute_request(&self, request: &Request) -> azure_core_v1::Result<AsyncRawResponse> {
        let mut builder = self.0.request(method(request.method())?, request.url().clone());
        for (name, value) in request.headers().iter() {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let builder = match request.body() {
            Body::Bytes(bytes) => builder.body(bytes.clone()),
            // Token requests are small forms or queries; nothing here streams.
            Body::SeekableStream(_) => {
                return Err(V1Error::with_message(
                    V1ErrorKind::Other,
                    "streamed request bodies are not supported by this transport",
                ));
            }
        };
        let response = builder.send().await.map_err(|e| {
            let kind = if e.is_connect() { V1ErrorKind::Connection } else { V1ErrorKind::Io };
            V1Error::with_error(kind, e, "sending the request")
        })?;
        let status = response.status().as_u16().into();
        let mut headers = Headers::new();
        for (name, value) in response.headers() {
            if let Ok(value) = value.to_str() {
                headers.insert(name.as_str().to_owned(), value.to_owned());
            }
        }
        let body: PinnedStream = Box::pin(
            response.bytes_stream().map_err(|e| V1Error::with_error(V1ErrorKind::Io, e, "reading the response")),
        );
        Ok(AsyncRawResponse::new(status, headers, body))
    }
}
