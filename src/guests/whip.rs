//! Reading a guest page request, without doing anything: which route it is, the bearer token
//! (the PIN), and the guest's name, cleaned up for captions and logs.

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Page,
    Script,
    Style,
    /// The browser's icon: none, and no error for it.
    Icon,
    /// POST /whip: join with an SDP offer.
    Join,
    /// DELETE /whip/<session>: leave.
    Leave(String),
    /// PATCH /whip/<session>: trickled candidates (not needed: they travel in offer and answer).
    Trickle,
    /// OPTIONS on /whip: what the endpoint takes.
    Options,
    /// A path that exists, asked with a method it does not take.
    WrongMethod(&'static str),
    NotFound,
}

/// The route of `method` on `path` (the query is ignored).
pub fn route(method: &str, path: &str) -> Route {
    let path = path.split('?').next().unwrap_or_default();
    match (method, path) {
        ("GET" | "HEAD", "/" | "/index.html") => Route::Page,
        ("GET" | "HEAD", "/guest.js") => Route::Script,
        ("GET" | "HEAD", "/guest.css") => Route::Style,
        ("GET" | "HEAD", "/favicon.ico") => Route::Icon,
        ("POST", "/whip") => Route::Join,
        ("OPTIONS", "/whip") => Route::Options,
        (_, "/" | "/index.html" | "/guest.js" | "/guest.css") => Route::WrongMethod("GET"),
        (_, "/whip") => Route::WrongMethod("POST"),
        (method, p) if p.starts_with("/whip/") => {
            let session = &p["/whip/".len()..];
            let valid = !session.is_empty() && session.len() <= 64 && session.bytes().all(|b| b.is_ascii_hexdigit());
            match method {
                "DELETE" if valid => Route::Leave(session.to_owned()),
                "PATCH" if valid => Route::Trickle,
                _ if valid => Route::WrongMethod("DELETE"),
                _ => Route::NotFound,
            }
        }
        _ => Route::NotFound,
    }
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer(authorization: Option<&str>) -> Option<&str> {
    let (scheme, token) = authorization?.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// The longest name a guest's caption shows.
pub const MAX_NAME: usize = 32;

/// The guest's name from the `X-Guest-Name` header (percent-encoded UTF-8, as the page sends
/// it) or the `name` query parameter: control characters dropped, spaces collapsed, at most
/// [`MAX_NAME`] characters; "Guest" when nothing is left.
pub fn guest_name(header: Option<&str>, path_and_query: &str) -> String {
    let from_query = path_and_query
        .split_once('?')
        .and_then(|(_, q)| q.split('&').find_map(|kv| kv.strip_prefix("name=")).map(|v| v.replace('+', " ")));
    let raw = header.map(str::to_owned).or(from_query).unwrap_or_default();
    let decoded = percent_decode(&raw);
    let clean: String = decoded
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let name: String = clean.chars().take(MAX_NAME).collect();
    if name.is_empty() { "Guest".to_owned() } else { name }
}

/// `%XX` escapes to bytes, read as UTF-8 (invalid sequences become U+FFFD).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(route("GET", "/"), Route::Page);
        assert_eq!(route("GET", "/guest.js?v=1"), Route::Script);
        assert_eq!(route("POST", "/whip"), Route::Join);
        assert_eq!(route("DELETE", "/whip/00ff"), Route::Leave("00ff".into()));
        assert_eq!(route("PATCH", "/whip/00ff"), Route::Trickle);
        assert_eq!(route("GET", "/whip"), Route::WrongMethod("POST"));
        assert_eq!(route("POST", "/"), Route::WrongMethod("GET"));
        assert_eq!(route("DELETE", "/whip/../etc/passwd"), Route::NotFound);
        assert_eq!(route("GET", "/etc/passwd"), Route::NotFound);
        assert_eq!(route("GET", "/control.sock"), Route::NotFound);
    }

    #[test]
    fn bearer_tokens() {
        assert_eq!(bearer(Some("Bearer 482913")), Some("482913"));
        assert_eq!(bearer(Some("bearer  482913 ")), Some("482913"));
        assert_eq!(bearer(Some("Basic abc")), None);
        assert_eq!(bearer(Some("Bearer ")), None);
        assert_eq!(bearer(None), None);
    }

    #[test]
    fn names_are_cleaned() {
        assert_eq!(guest_name(Some("Ingrid%20Berg%C3%A5s"), "/whip"), "Ingrid Bergås");
        assert_eq!(guest_name(None, "/whip?name=Ola+Nordmann&x=1"), "Ola Nordmann");
        assert_eq!(guest_name(Some("%0A%1B[31m%20"), "/whip"), "[31m");
        assert_eq!(guest_name(Some("  "), "/whip"), "Guest");
        assert_eq!(guest_name(None, "/whip"), "Guest");
        assert_eq!(guest_name(Some(&"x".repeat(100)), "/whip").len(), MAX_NAME);
        assert_eq!(guest_name(Some("%ZZ%"), "/whip"), "%ZZ%");
    }
}
