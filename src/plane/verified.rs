//! What Plane's proxy tells a backend about each session, in headers it
//! sets itself (dropping any the browser sent): `x-verified-username` (the
//! connect's `user`), `x-verified-user-data` (its `auth`, as JSON),
//! `x-verified-secret` (the backend's secret token), `x-verified-backend`
//! and `x-verified-path`.

use crate::model::value::Object;

/// A session's verified identity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verified {
    /// The connect's `user`.
    pub user: Option<String>,
    /// The connect's `auth` (an empty object when it had none).
    pub auth: Object,
    /// The backend's secret token.
    pub secret: Option<String>,
    /// The backend id the proxy routed to.
    pub backend: Option<String>,
    /// The path the browser asked for.
    pub path: Option<String>,
}

/// Why the verified headers could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("x-verified-user-data is not a JSON object: {0}")]
pub struct VerifiedError(String);

impl Verified {
    /// Reads the `x-verified-*` headers among `headers` (names in any case;
    /// the others are ignored).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_headers<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, VerifiedError> {
        use crate::model::value::Value;
        let mut verified = Verified::default();
        for (name, value) in headers {
            match name.to_ascii_lowercase().as_str() {
                "x-verified-username" => verified.user = Some(value.to_owned()),
                "x-verified-secret" => verified.secret = Some(value.to_owned()),
                "x-verified-backend" => verified.backend = Some(value.to_owned()),
                "x-verified-path" => verified.path = Some(value.to_owned()),
                "x-verified-user-data" => {
                    let data = crate::model::value::from_json_text::<Value>(value)
                        .map_err(|e| VerifiedError(e.to_string()))?;
                    match data {
                        Value::Object(auth) => verified.auth = auth,
                        Value::Null => {}
                        other => return Err(VerifiedError(format!("found {}", other.kind()))),
                    }
                }
                _ => {}
            }
        }
        Ok(verified)
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::model::value::Value;

    #[test]
    fn the_proxy_headers_give_user_auth_and_secret() {
        let headers = [
            ("X-Verified-Username", "alice"),
            ("x-verified-user-data", r#"{"role":"editor","n":2}"#),
            ("x-verified-secret", "st-1"),
            ("x-verified-backend", "ba-1"),
            ("x-verified-path", "/ak-1/"),
            ("x-other", "left alone"),
        ];
        let verified = Verified::from_headers(headers).unwrap();
        assert_eq!(verified.user.as_deref(), Some("alice"));
        assert_eq!(verified.auth.get("role"), Some(&Value::from("editor")));
        assert_eq!(verified.secret.as_deref(), Some("st-1"));
        assert_eq!(verified.backend.as_deref(), Some("ba-1"));
        assert_eq!(verified.path.as_deref(), Some("/ak-1/"));
        assert_eq!(Verified::from_headers([]).unwrap(), Verified::default());
    }

    #[test]
    fn user_data_that_is_not_an_object_is_refused() {
        for bad in ["[1]", "not json", "\"x\""] {
            assert!(Verified::from_headers([("x-verified-user-data", bad)]).is_err(), "{bad}");
        }
    }
}
