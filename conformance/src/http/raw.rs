//! HTTP/1.1 over a plain socket, for the answer of a server that refuses a large body unread
//! and closes (hyper's client then reports only the broken pipe).
use super::client::Target;
use super::wire::{now_epoch_seconds, Auth, Request, Response};

impl Target {
    fn authorization(&self, auth: &Auth) -> Option<String> {
        match auth {
            Auth::None => None,
            Auth::Secret { scheme, secret } => Some(format!("{scheme} {}", self.secret(*secret))),
            Auth::Literal(v) => Some(v.clone()),
        }
    }

    /// HTTP/1.1 over a plain socket: writes what it can, then reads the answer whatever happened
    /// to the write. Only for `http://` targets and large bodies.
    pub(super) async fn send_raw(&self, req: &Request) -> Result<Response, String> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let url = url::Url::parse(&self.url(&req.path)).map_err(|e| e.to_string())?;
        let host = url.host_str().ok_or("no host")?.to_string();
        let port = url.port_or_known_default().ok_or("no port")?;
        let timeout = self.timeout;
        let started = std::time::Instant::now();
        let work = async {
            let mut stream = tokio::net::TcpStream::connect((host.as_str(), port))
                .await
                .map_err(|e| e.to_string())?;
            let mut head = format!(
                "{} {} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n",
                req.method,
                &url[url::Position::BeforePath..]
            );
            if let Some(a) = self.authorization(&req.auth) {
                head.push_str(&format!("Authorization: {a}\r\n"));
            }
            if let Some(ct) = &req.content_type {
                head.push_str(&format!("Content-Type: {ct}\r\n"));
            }
            let body = req.body.clone().unwrap_or_default();
            head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
            stream
                .write_all(head.as_bytes())
                .await
                .map_err(|e| e.to_string())?;
            let _ = stream.write_all(&body).await;
            let mut raw = Vec::new();
            let read = stream.read_to_end(&mut raw).await;
            if raw.is_empty() {
                return Err(match read {
                    Ok(_) => "no answer: the connection closed".to_string(),
                    Err(e) => format!("no answer: {e}"),
                });
            }
            Ok::<_, String>(raw)
        };
        let raw = tokio::time::timeout(timeout, work)
            .await
            .map_err(|_| "timed out".to_string())??;
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut parsed = httparse::Response::new(&mut headers);
        let header_len = match parsed.parse(&raw).map_err(|e| e.to_string())? {
            httparse::Status::Complete(n) => n,
            httparse::Status::Partial => return Err("a partial answer".into()),
        };
        let status = parsed.code.ok_or("no status")?;
        let headers: Vec<(String, String)> = parsed
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_ascii_lowercase(),
                    String::from_utf8_lossy(h.value).into_owned(),
                )
            })
            .collect();
        let mut body = raw[header_len..].to_vec();
        if let Some(len) = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        {
            body.truncate(len);
        }
        let json = serde_json::from_slice(&body).ok();
        Ok(Response {
            status,
            headers,
            body,
            json,
            elapsed: started.elapsed(),
            received_at: now_epoch_seconds(),
            retried: Vec::new(),
            retry_withheld: false,
        })
    }
}
