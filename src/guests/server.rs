//! The guest page's HTTPS server: hyper (HTTP/1.1) over tokio-rustls, on `[guests] listen`.
//! It serves the page, checks the PIN at `/whip` and hands joins and leaves to the room's
//! event loop; it owns no meeting state. Connections are bounded in number and in time (a slow
//! or idle client is dropped), bodies in size; every refusal says why in plain text.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode, header};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::pin::{PinGate, Verdict};
use super::whip::{Route, bearer, guest_name, route};
use super::{GuestRequest, GuestsError, JoinReply};

const PAGE: &str = include_str!("page.html");
const SCRIPT: &str = include_str!("guest.js");
const STYLE: &str = include_str!("guest.css");
/// The largest offer taken (a browser's is 3-8 KB).
const MAX_BODY: usize = 64 * 1024;
/// Connections at once; more wait for one to close.
const MAX_CONNECTIONS: usize = 64;
/// A TLS handshake, and a request's headers, must arrive within this.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a join may take (building the guest's media and gathering candidates).
const JOIN_TIMEOUT: Duration = Duration::from_secs(20);

struct Door {
    gate: Mutex<PinGate>,
    requests: mpsc::Sender<GuestRequest>,
}

/// Serves the guest page on `listen` until the returned task is aborted.
pub async fn serve(
    listen: SocketAddr,
    pin: &str,
    acceptor: tokio_rustls::TlsAcceptor,
    requests: mpsc::Sender<GuestRequest>,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), GuestsError> {
    let listener = TcpListener::bind(listen).await.map_err(|source| GuestsError::Bind { addr: listen, source })?;
    let bound = listener.local_addr().map_err(|source| GuestsError::Bind { addr: listen, source })?;
    let door = Arc::new(Door { gate: Mutex::new(PinGate::new(pin)), requests });
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let task = tokio::spawn(async move {
        loop {
            let Ok(permit) = slots.clone().acquire_owned().await else { return };
            let (tcp, from) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!("guest page: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let (acceptor, door) = (acceptor.clone(), door.clone());
            tokio::spawn(async move {
                let _permit = permit;
                let tls = match tokio::time::timeout(CLIENT_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => return tracing::debug!(%from, "guest page: TLS handshake failed: {e}"),
                    Err(_) => return tracing::debug!(%from, "guest page: TLS handshake timed out"),
                };
                let service = hyper::service::service_fn(move |req| {
                    let door = door.clone();
                    async move { Ok::<_, Infallible>(handle(&door, from, req).await) }
                });
                let served = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(CLIENT_TIMEOUT)
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
                if let Err(e) = served {
                    tracing::debug!(%from, "guest page: connection ended: {e}");
                }
            });
        }
    });
    Ok((bound, task))
}

fn text(status: StatusCode, body: impl Into<String>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.into())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, header::HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

fn with_header(mut response: Response<Full<Bytes>>, name: header::HeaderName, value: &str) -> Response<Full<Bytes>> {
    if let Ok(value) = header::HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
    response
}

fn asset(body: &'static str, content_type: &str) -> Response<Full<Bytes>> {
    let response = with_header(text(StatusCode::OK, body), header::CONTENT_TYPE, content_type);
    let response = with_header(response, header::CACHE_CONTROL, "no-store");
    let response = with_header(response, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    with_header(response, header::CONTENT_SECURITY_POLICY, "default-src 'self'; media-src 'self' blob: mediastream:")
}

async fn handle(door: &Door, from: SocketAddr, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path_and_query().map_or_else(|| req.uri().path().to_owned(), |p| p.as_str().to_owned());
    match route(req.method().as_str(), &path) {
        Route::Page => asset(PAGE, "text/html; charset=utf-8"),
        Route::Script => asset(SCRIPT, "text/javascript; charset=utf-8"),
        Route::Style => asset(STYLE, "text/css; charset=utf-8"),
        Route::Icon => text(StatusCode::NO_CONTENT, ""),
        Route::Join => join(door, from, &path, req).await,
        Route::Leave(session) => {
            let (reply, answered) = oneshot::channel();
            if door.requests.send(GuestRequest::Leave { session, reply }).await.is_err() {
                return text(StatusCode::SERVICE_UNAVAILABLE, "the room is shutting down");
            }
            match answered.await {
                Ok(true) => text(StatusCode::OK, "left the meeting"),
                _ => text(StatusCode::NOT_FOUND, "no such guest session (it has ended)"),
            }
        }
        // WHIP (RFC 9725) lets a server without trickle answer PATCH with 405; `Allow` names
        // what the session resource does take.
        Route::Trickle => with_header(
            text(
                StatusCode::METHOD_NOT_ALLOWED,
                "candidates travel in the offer and the answer: gather them before POSTing the offer",
            ),
            header::ALLOW,
            "DELETE",
        ),
        Route::Options => with_header(
            text(StatusCode::NO_CONTENT, ""),
            header::HeaderName::from_static("accept-post"),
            "application/sdp",
        ),
        Route::WrongMethod(allowed) => {
            with_header(text(StatusCode::METHOD_NOT_ALLOWED, format!("use {allowed} here")), header::ALLOW, allowed)
        }
        Route::NotFound => text(StatusCode::NOT_FOUND, "nothing here: the guest page is at /"),
    }
}

async fn join(door: &Door, from: SocketAddr, path: &str, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let headers = req.headers();
    let value = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let Some(pin) = bearer(value("authorization")) else {
        let refused = text(StatusCode::UNAUTHORIZED, "the meeting PIN is missing (Authorization: Bearer <PIN>)");
        return with_header(refused, header::WWW_AUTHENTICATE, "Bearer");
    };
    let verdict = door.gate.lock().ok().map(|mut g| g.check(from.ip(), pin, Instant::now()));
    match verdict {
        Some(Verdict::Admitted) => {}
        Some(Verdict::Wrong { .. }) => {
            tracing::info!(%from, "guest page: wrong PIN");
            return text(StatusCode::FORBIDDEN, "wrong PIN: check the number shown in the room");
        }
        Some(Verdict::TooSoon { wait }) => {
            let secs = wait.as_secs().max(1);
            let refused = text(StatusCode::TOO_MANY_REQUESTS, format!("too many wrong PINs: try again in {secs} s"));
            return with_header(refused, header::RETRY_AFTER, &secs.to_string());
        }
        None => return text(StatusCode::INTERNAL_SERVER_ERROR, "the PIN check failed"),
    }
    if !value("content-type").is_some_and(|t| t.trim().to_ascii_lowercase().starts_with("application/sdp")) {
        return text(StatusCode::UNSUPPORTED_MEDIA_TYPE, "send the offer as Content-Type: application/sdp");
    }
    let name = guest_name(value("x-guest-name"), path);
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return text(StatusCode::PAYLOAD_TOO_LARGE, "the offer is larger than 64 KiB, or did not arrive"),
    };
    let Ok(offer) = String::from_utf8(Vec::from(body)) else {
        return text(StatusCode::BAD_REQUEST, "the offer is not text (UTF-8 SDP)");
    };
    tracing::debug!(%from, bytes = offer.len(), "guest page: an offer");
    let (reply, answered) = oneshot::channel();
    if door.requests.send(GuestRequest::Join { name, from, offer, reply }).await.is_err() {
        return text(StatusCode::SERVICE_UNAVAILABLE, "the room is shutting down");
    }
    match tokio::time::timeout(JOIN_TIMEOUT, answered).await {
        Ok(Ok(JoinReply::Joined { session, answer })) => {
            let joined = with_header(text(StatusCode::CREATED, answer), header::CONTENT_TYPE, "application/sdp");
            with_header(joined, header::LOCATION, &format!("/whip/{session}"))
        }
        Ok(Ok(JoinReply::Refused(reason))) => text(StatusCode::SERVICE_UNAVAILABLE, reason),
        Ok(Ok(JoinReply::Failed(reason))) => text(StatusCode::UNPROCESSABLE_ENTITY, reason),
        Ok(Err(_)) => text(StatusCode::INTERNAL_SERVER_ERROR, "the room dropped the join"),
        Err(_) => text(StatusCode::GATEWAY_TIMEOUT, "the room did not set up the media in time: try again"),
    }
}
