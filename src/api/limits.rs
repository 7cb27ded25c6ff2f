//! Request-body limits, enforced while reading: a client that claims or streams more than the
//! limit is cut off after `limit + 1` bytes, never buffered whole.
use poem::http::{header, StatusCode};
use poem::{Body, Request, Response};
use tokio::io::AsyncReadExt;

/// Bodies over 64 KiB are refused (docs/contract.md §1).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum BodyLimitError {
    #[error("Request body is too large: the limit is 65536 bytes (64 KiB)")]
    TooLarge,
    #[error("The request body could not be read: {0}")]
    Unreadable(String),
}

impl BodyLimitError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unreadable(_) => StatusCode::BAD_REQUEST,
        }
    }
}

/// Reads the body up to the limit and puts it back on the request as bytes.
pub async fn buffer_body(req: &mut Request, limit: usize) -> Result<(), BodyLimitError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(BodyLimitError::TooLarge);
    }
    let mut buf = Vec::with_capacity(declared.unwrap_or(0).min(limit as u64) as usize);
    req.take_body()
        .into_async_read()
        .take(limit as u64 + 1)
        .read_to_end(&mut buf)
        .await
        .map_err(|e| BodyLimitError::Unreadable(e.to_string()))?;
    if buf.len() > limit {
        return Err(BodyLimitError::TooLarge);
    }
    req.set_body(Body::from(buf));
    Ok(())
}

/// Marks an answer whose request body was read to its end, so the connection stays usable.
#[derive(Debug, Clone, Copy)]
pub struct BodyDrained;

/// Reads and discards the body of a request refused before its body mattered (401, 403), so a
/// keep-alive client can send its next request on the same connection. A body over the limit is
/// not read further; the outermost layer then answers `Connection: close`.
pub async fn drain_body(req: &mut Request, mut resp: Response) -> Response {
    if buffer_body(req, MAX_BODY_BYTES).await.is_ok() {
        resp.extensions_mut().insert(BodyDrained);
    }
    resp
}
