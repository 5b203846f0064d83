//! What Plane's proxy tells a backend about each session, in headers it
//! sets itself. Plane 0.5.5's proxy (`proxy_server.rs`, `prepare_request`)
//! first removes every `x-verified-*` header the browser sent, then sets
//! `x-verified-username` (the connect's `user`, when it had one),
//! `x-verified-user-data` (its `auth` as JSON, when it had one),
//! `x-verified-path`, `x-verified-backend` (the backend's id) and
//! `x-verified-secret` (the connect's secret token; empty for a static
//! token).
//!
//! The headers are only as true as the path they came by: whoever reaches
//! the backend's port directly can write them. So a handshake is taken only
//! when it carries what the proxy always sends — `x-verified-backend` naming
//! this very backend and `x-verified-secret` — each `x-verified-*` header at
//! most once and as UTF-8 text; anything else is refused, never read as
//! "no user" ([`Verified::from_headers`]). And a secret is checked only
//! against the asking session's own ([`Verified::is_secret`]): a secret one
//! connection shows is never believed for another.

use crate::model::value::Object;

/// A session's verified identity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verified {
    /// The connect's `user`.
    pub user: Option<String>,
    /// The connect's `auth` (an empty object when it had none).
    pub auth: Object,
    /// The connect's secret token (`None` when the proxy sent an empty one,
    /// as it does for a static token).
    pub secret: Option<String>,
    /// The backend id the proxy routed to: the one the process serves.
    pub backend: String,
    /// The path the browser asked for.
    pub path: Option<String>,
}

/// The headers Plane's proxy sets, as they are named on the wire (read
/// natively only: a browser build meets no proxy).
#[cfg(not(target_arch = "wasm32"))]
mod names {
    pub const USERNAME: &str = "x-verified-username";
    pub const USER_DATA: &str = "x-verified-user-data";
    pub const SECRET: &str = "x-verified-secret";
    pub const BACKEND: &str = "x-verified-backend";
    pub const PATH: &str = "x-verified-path";
    pub const KNOWN: [&str; 5] = [USERNAME, USER_DATA, SECRET, BACKEND, PATH];
    /// At most this much of a refused header's value is quoted in an error
    /// (it is logged, and written by whoever connected).
    pub const QUOTED: usize = 64;
}
#[cfg(not(target_arch = "wasm32"))]
use names::*;

/// Why a handshake's verified headers were refused: a handshake that does
/// not carry what Plane's proxy sends is not a session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifiedError {
    /// No `x-verified-backend`: the connection did not come through Plane's proxy.
    #[error("no x-verified-backend header: not a connection through Plane's proxy")]
    NoBackend,
    /// `x-verified-backend` names another backend than the one served here.
    #[error("x-verified-backend names {found:?}, not this backend")]
    OtherBackend {
        /// What it named (at most 64 characters of it).
        found: String,
    },
    /// No `x-verified-secret`, which the proxy always sends.
    #[error("no x-verified-secret header: not a connection through Plane's proxy")]
    NoSecret,
    /// A verified header came twice (the proxy sets each once).
    #[error("{header} is sent more than once")]
    Repeated {
        /// The header.
        header: &'static str,
    },
    /// A verified header's value is not UTF-8 text.
    #[error("{header} is not UTF-8 text")]
    NotUtf8 {
        /// The header.
        header: &'static str,
    },
    /// `x-verified-user-data` is not a JSON object (nor `null`).
    #[error("x-verified-user-data is not a JSON object: {0}")]
    UserData(String),
}

impl VerifiedError {
    /// A stable code for the refusal.
    pub fn code(&self) -> &'static str {
        match self {
            VerifiedError::NoBackend => "no-backend-header",
            VerifiedError::OtherBackend { .. } => "other-backend",
            VerifiedError::NoSecret => "no-secret-header",
            VerifiedError::Repeated { .. } => "repeated-header",
            VerifiedError::NotUtf8 { .. } => "not-utf8",
            VerifiedError::UserData(_) => "malformed-user-data",
        }
    }

    /// Whether the handshake was refused as not coming from the proxy for
    /// this backend (HTTP 403), rather than as malformed (HTTP 400).
    pub fn is_forbidden(&self) -> bool {
        matches!(self, VerifiedError::NoBackend | VerifiedError::OtherBackend { .. } | VerifiedError::NoSecret)
    }
}

impl Verified {
    /// Reads the `x-verified-*` headers among `headers` (names in any case,
    /// values as raw bytes; the other headers are ignored) of a handshake to
    /// the backend `backend_id`. Refused: a missing `x-verified-backend` or
    /// `x-verified-secret`, an `x-verified-backend` other than `backend_id`
    /// (an empty `backend_id` matches nothing), an `x-verified-*` header
    /// sent twice or whose value is not UTF-8, and user data that is not a
    /// JSON object.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_headers<'a>(
        headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
        backend_id: &str,
    ) -> Result<Self, VerifiedError> {
        use crate::model::value::Value;
        let mut seen: [Option<String>; KNOWN.len()] = Default::default();
        for (name, value) in headers {
            let name = name.to_ascii_lowercase();
            let Some(index) = KNOWN.iter().position(|known| *known == name) else { continue };
            let header = KNOWN[index];
            if seen[index].is_some() {
                return Err(VerifiedError::Repeated { header });
            }
            let text = std::str::from_utf8(value).map_err(|_| VerifiedError::NotUtf8 { header })?;
            seen[index] = Some(text.to_owned());
        }
        let [user, data, secret, backend, path] = seen;
        let backend = backend.ok_or(VerifiedError::NoBackend)?;
        if backend_id.is_empty() || backend != backend_id {
            return Err(VerifiedError::OtherBackend { found: backend.chars().take(QUOTED).collect() });
        }
        let secret = secret.ok_or(VerifiedError::NoSecret)?;
        let auth = match data {
            None => Object::new(),
            Some(data) => {
                match crate::model::value::from_json_text::<Value>(&data)
                    .map_err(|e| VerifiedError::UserData(e.to_string()))?
                {
                    Value::Object(auth) => auth,
                    Value::Null => Object::new(),
                    other => return Err(VerifiedError::UserData(format!("found {}", other.kind()))),
                }
            }
        };
        Ok(Verified { user, auth, secret: Some(secret).filter(|s| !s.is_empty()), backend, path })
    }

    /// Whether `candidate` is this session's own secret token (compared in
    /// time that does not depend on where they differ). An empty secret is
    /// nobody's: the proxy sends one for a static token.
    pub fn is_secret(&self, candidate: &str) -> bool {
        let Some(secret) = self.secret.as_deref() else { return false };
        let (a, b) = (secret.as_bytes(), candidate.as_bytes());
        !a.is_empty() && a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::model::value::Value;

    /// What Plane 0.5.5's proxy sends for a connect with a user and auth.
    fn from_proxy() -> Vec<(&'static str, &'static [u8])> {
        vec![
            ("X-Verified-Username", b"alice"),
            ("x-verified-user-data", br#"{"role":"editor","n":2}"#),
            ("x-verified-path", b"/ak-1/"),
            ("x-verified-backend", b"ba-1"),
            ("x-verified-secret", b"st-1"),
            ("x-other", b"left alone"),
        ]
    }

    fn without(name: &str) -> Vec<(&'static str, &'static [u8])> {
        from_proxy().into_iter().filter(|(n, _)| !n.eq_ignore_ascii_case(name)).collect()
    }

    #[test]
    fn the_proxy_headers_give_user_auth_and_secret() {
        let verified = Verified::from_headers(from_proxy(), "ba-1").unwrap();
        assert_eq!(verified.user.as_deref(), Some("alice"));
        assert_eq!(verified.auth.get("role"), Some(&Value::from("editor")));
        assert_eq!(verified.secret.as_deref(), Some("st-1"));
        assert_eq!(verified.backend, "ba-1");
        assert_eq!(verified.path.as_deref(), Some("/ak-1/"));
        // A connect without user and auth: the proxy sends neither header.
        let bare =
            Verified::from_headers(without("x-verified-username").into_iter().filter(|(n, _)| *n != USER_DATA), "ba-1")
                .unwrap();
        assert_eq!((bare.user, bare.auth), (None, Object::new()));
    }

    #[test]
    fn a_handshake_without_the_proxys_headers_for_this_backend_is_refused() {
        assert_eq!(Verified::from_headers([], "ba-1"), Err(VerifiedError::NoBackend));
        // A forged identity with no backend header, as anyone reaching the port could send.
        let forged: [(&str, &[u8]); 2] = [("x-verified-username", b"admin"), ("x-verified-secret", b"s")];
        assert_eq!(Verified::from_headers(forged, "ba-1"), Err(VerifiedError::NoBackend));
        assert_eq!(Verified::from_headers(without("x-verified-backend"), "ba-1"), Err(VerifiedError::NoBackend));
        let other = Verified::from_headers(from_proxy(), "ba-2").unwrap_err();
        assert_eq!(other, VerifiedError::OtherBackend { found: "ba-1".into() });
        assert!(other.is_forbidden());
        assert_eq!(other.code(), "other-backend");
        // A process that knows no id of its own matches nothing, not an empty header.
        let empty: Vec<(&str, &[u8])> = vec![("x-verified-backend", b""), ("x-verified-secret", b"s")];
        assert!(matches!(Verified::from_headers(empty, ""), Err(VerifiedError::OtherBackend { .. })));
        assert_eq!(Verified::from_headers(without("x-verified-secret"), "ba-1"), Err(VerifiedError::NoSecret));
        // What is quoted of a forged value is bounded.
        let long = "b".repeat(10_000);
        let refused = Verified::from_headers([("x-verified-backend", long.as_bytes())], "ba-1").unwrap_err();
        assert!(refused.to_string().len() < 200, "{refused}");
    }

    #[test]
    fn a_verified_header_sent_twice_is_refused() {
        for header in KNOWN {
            let mut headers = from_proxy();
            headers.push((header, b"again"));
            let refused = Verified::from_headers(headers, "ba-1").unwrap_err();
            assert_eq!(refused, VerifiedError::Repeated { header }, "{header}");
            assert_eq!(refused.code(), "repeated-header");
        }
        // Case does not make two headers of one.
        let mut headers = from_proxy();
        headers.push(("X-VERIFIED-USERNAME", b"admin"));
        assert_eq!(Verified::from_headers(headers, "ba-1"), Err(VerifiedError::Repeated { header: USERNAME }));
    }

    #[test]
    fn verified_headers_are_read_as_utf8_and_refused_otherwise() {
        let mut headers = without("x-verified-username");
        headers.push(("x-verified-username", "José".as_bytes()));
        headers.retain(|(n, _)| *n != USER_DATA);
        headers.push((USER_DATA, r#"{"city":"Zürich"}"#.as_bytes()));
        let verified = Verified::from_headers(headers, "ba-1").unwrap();
        assert_eq!(verified.user.as_deref(), Some("José"), "a user outside ASCII keeps their name");
        assert_eq!(verified.auth.get("city"), Some(&Value::from("Zürich")));
        for header in KNOWN {
            let mut headers = without(header);
            headers.push((header, b"Jos\xe9")); // Latin-1, not UTF-8
            let refused = Verified::from_headers(headers, "ba-1").unwrap_err();
            assert_eq!(refused, VerifiedError::NotUtf8 { header }, "{header}");
            assert!(!refused.is_forbidden() && refused.code() == "not-utf8");
        }
        // Other headers are none of this layer's business.
        let mut headers = from_proxy();
        headers.push(("x-other", b"\xff"));
        assert!(Verified::from_headers(headers, "ba-1").is_ok());
    }

    #[test]
    fn user_data_that_is_not_an_object_is_refused() {
        for bad in ["[1]", "not json", "\"x\""] {
            let mut headers = without(USER_DATA);
            headers.push((USER_DATA, bad.as_bytes()));
            let refused = Verified::from_headers(headers, "ba-1").unwrap_err();
            assert!(matches!(refused, VerifiedError::UserData(_)), "{bad}");
            assert_eq!(refused.code(), "malformed-user-data");
        }
        let mut headers = without(USER_DATA);
        headers.push((USER_DATA, b"null"));
        assert_eq!(Verified::from_headers(headers, "ba-1").unwrap().auth, Object::new());
    }

    #[test]
    fn a_secret_is_only_the_asking_sessions_own() {
        let verified = Verified::from_headers(from_proxy(), "ba-1").unwrap();
        assert!(verified.is_secret("st-1"));
        for other in ["st-2", "st-", "st-11", "", "ST-1"] {
            assert!(!verified.is_secret(other), "{other}");
        }
        // A static token's connection: the proxy sends an empty secret, which matches nothing.
        let mut headers = without(SECRET);
        headers.push((SECRET, b""));
        let stat = Verified::from_headers(headers, "ba-1").unwrap();
        assert_eq!(stat.secret, None);
        assert!(!stat.is_secret("") && !stat.is_secret("st-1"));
    }
}
