//! Where and as what the process serves, read from its environment, and
//! why it could not.

use std::net::SocketAddr;

use super::limits::Limits;

/// Why a native backend could not serve.
#[derive(Debug, thiserror::Error)]
pub enum NativeError {
    /// `PORT` is not a port number.
    #[error("PORT must be a port number, not `{0}`")]
    Port(String),
    /// `HOST` is not an IP address.
    #[error("HOST must be an IP address, not `{0}`")]
    Host(String),
    /// Neither `PLANE_BACKEND_ID` nor `SESSION_BACKEND_ID` names the backend.
    #[error(
        "PLANE_BACKEND_ID (or SESSION_BACKEND_ID, as Plane's Docker runtime names it) must give the backend's id: \
         only handshakes whose x-verified-backend names it are taken"
    )]
    BackendId,
    /// An event or method name of the backend is not one a tab can send.
    #[error("{0}")]
    Name(String),
    /// The backend's `start` failed.
    #[error("start failed: {0}")]
    Start(String),
    /// The runtime, the listener or a signal handler could not be set up.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Where and as what the process serves, from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The address it listens on: `$HOST:$PORT`; without them `0.0.0.0`
    /// (every interface, as in a container) and 8080.
    pub addr: SocketAddr,
    /// `PLANE_BACKEND_ID` (or `SESSION_BACKEND_ID`): required, since a
    /// handshake is taken only when its `x-verified-backend` names it.
    pub backend_id: String,
    /// `PLANE_KEY`, if given.
    pub key: String,
    /// The server's bounds.
    pub limits: Limits,
}

impl Options {
    /// Reads `HOST`, `PORT`, `PLANE_BACKEND_ID` (else `SESSION_BACKEND_ID`)
    /// and `PLANE_KEY` through `var`.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, NativeError> {
        let port = match var("PORT") {
            None => 8080,
            Some(text) => text.parse::<u16>().map_err(|_| NativeError::Port(text))?,
        };
        let host = match var("HOST") {
            None => std::net::IpAddr::from([0, 0, 0, 0]),
            Some(text) => text.parse().map_err(|_| NativeError::Host(text))?,
        };
        let backend_id = ["PLANE_BACKEND_ID", "SESSION_BACKEND_ID"]
            .into_iter()
            .find_map(|name| var(name).filter(|id| !id.is_empty()))
            .ok_or(NativeError::BackendId)?;
        Ok(Options {
            addr: SocketAddr::new(host, port),
            backend_id,
            key: var("PLANE_KEY").unwrap_or_default(),
            limits: Limits::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_come_from_the_environment() {
        let vars = |port: Option<&'static str>| {
            move |name: &str| match name {
                "PORT" => port.map(String::from),
                "HOST" if port == Some("9002") => Some("127.0.0.1".to_string()),
                "HOST" if port == Some("9003") => Some("localhost".to_string()),
                "PLANE_BACKEND_ID" => Some("ba-1".to_string()),
                _ => None,
            }
        };
        let options = Options::from_vars(vars(Some("9001"))).unwrap();
        assert_eq!(options.addr.port(), 9001);
        assert_eq!((options.backend_id.as_str(), options.key.as_str()), ("ba-1", ""));
        assert_eq!(options.limits, Limits::default());
        assert_eq!(Options::from_vars(vars(None)).unwrap().addr.port(), 8080);
        assert!(matches!(Options::from_vars(vars(Some("99999"))), Err(NativeError::Port(_))));
        assert!(options.addr.ip().is_unspecified(), "every interface without HOST");
        assert_eq!(Options::from_vars(vars(Some("9002"))).unwrap().addr.to_string(), "127.0.0.1:9002");
        assert!(matches!(Options::from_vars(vars(Some("9003"))), Err(NativeError::Host(_))));
    }

    #[test]
    fn a_process_without_a_backend_id_does_not_serve() {
        let only = |given: &'static [(&'static str, &'static str)]| {
            move |name: &str| given.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string())
        };
        assert!(matches!(Options::from_vars(only(&[("PORT", "9001")])), Err(NativeError::BackendId)));
        assert!(matches!(Options::from_vars(only(&[("PLANE_BACKEND_ID", "")])), Err(NativeError::BackendId)));
        // Plane's Docker runtime names it SESSION_BACKEND_ID.
        let docker = Options::from_vars(only(&[("SESSION_BACKEND_ID", "ba-d")])).unwrap();
        assert_eq!(docker.backend_id, "ba-d");
        let both = Options::from_vars(only(&[("PLANE_BACKEND_ID", "ba-p"), ("SESSION_BACKEND_ID", "ba-d")])).unwrap();
        assert_eq!(both.backend_id, "ba-p");
    }
}
