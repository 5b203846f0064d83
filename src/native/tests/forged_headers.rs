//! Who a session is: only what Plane's proxy would send for this backend
//! is taken, read as UTF-8, and a secret is believed only for the session
//! that showed it.

use super::*;

#[test]
fn a_handshake_without_the_proxys_headers_for_this_backend_is_refused() {
    local(async {
        let server = Server::start(Limits::default()).await;
        // Anyone who reaches the port: no headers, or a forged user without the backend's id.
        assert_eq!(refused_with(open(server.addr, &[]).await), 403);
        let forged = [("x-verified-username", b"admin".to_vec()), ("x-verified-secret", b"s".to_vec())];
        assert_eq!(refused_with(open(server.addr, &forged).await), 403);
        // Routed for another backend.
        let other = [("x-verified-backend", b"ba-other".to_vec()), ("x-verified-secret", b"s".to_vec())];
        assert_eq!(refused_with(open(server.addr, &other).await), 403);
        // The proxy always sends the secret.
        let no_secret = [("x-verified-backend", BACKEND.as_bytes().to_vec())];
        assert_eq!(refused_with(open(server.addr, &no_secret).await), 403);
        // A header twice: which one would be the proxy's?
        let mut twice = from_proxy("s");
        twice.extend([("x-verified-username", b"alice".to_vec()), ("x-verified-username", b"admin".to_vec())]);
        assert_eq!(refused_with(open(server.addr, &twice).await), 400);
        for code in ["no-backend-header", "other-backend", "no-secret-header", "repeated-header"] {
            assert!(
                !server.logged(&format!("handshake refused ({code})")).is_empty(),
                "{code} logged: {:#?}",
                server.lines
            );
        }
        // What the proxy sends is taken.
        let mut alice = from_proxy("s");
        alice.push(("x-verified-username", b"alice".to_vec()));
        let mut session = open(server.addr, &alice).await.expect("the proxy's handshake");
        let whoami = ask(&mut session, 1, "whoami", Value::Null).await;
        assert_eq!(whoami.get("user"), Some(&Value::from("alice")));
        assert_eq!(ask(&mut session, 2, "sessions", Value::Null).await, Value::from(1.0), "no refused one counts");
        drop(session);
        server.stop().await;
    });
}

#[test]
fn a_secret_is_believed_only_for_the_session_that_showed_it() {
    local(async {
        let server = Server::start(Limits::default()).await;
        let mut first = open(server.addr, &from_proxy("secret-a")).await.expect("first");
        assert_eq!(ask(&mut first, 1, "is_secret", "secret-a".into()).await, Value::from(true), "its own");
        // A second connection that once showed "secret-b" learns nothing of "secret-a", nor teaches it.
        let mut second = open(server.addr, &from_proxy("secret-b")).await.expect("second");
        assert_eq!(ask(&mut second, 1, "is_secret", "secret-a".into()).await, Value::from(false), "another's");
        assert_eq!(ask(&mut second, 2, "is_secret", "secret-b".into()).await, Value::from(true));
        assert_eq!(ask(&mut first, 2, "is_secret", "secret-b".into()).await, Value::from(false));
        drop(second);
        // A forged secret is no secret for any later session either.
        let mut later = open(server.addr, &from_proxy("secret-c")).await.expect("later");
        for (seq, secret) in [(1, "secret-a"), (2, "secret-b"), (3, "")] {
            assert_eq!(ask(&mut later, seq, "is_secret", secret.into()).await, Value::from(false), "{secret:?}");
        }
        // A static token's connection: the proxy sends an empty secret, which is nobody's.
        let mut unsecret = open(server.addr, &from_proxy("")).await.expect("an empty secret");
        assert_eq!(ask(&mut unsecret, 1, "is_secret", "".into()).await, Value::from(false));
        drop((first, later, unsecret));
        server.stop().await;
    });
}

#[test]
fn verified_headers_are_read_as_utf8_and_refused_otherwise() {
    local(async {
        let server = Server::start(Limits::default()).await;
        let mut jose = from_proxy("s");
        jose.push(("x-verified-username", "José".into()));
        jose.push(("x-verified-user-data", r#"{"city":"Zürich"}"#.into()));
        let mut session = open(server.addr, &jose).await.expect("a user outside ASCII");
        let whoami = ask(&mut session, 1, "whoami", Value::Null).await;
        assert_eq!(whoami.get("user"), Some(&Value::from("José")), "not silently no user");
        assert_eq!(whoami.get("auth").and_then(|a| a.get("city")), Some(&Value::from("Zürich")));
        drop(session);
        // Bytes that are not UTF-8 (here Latin-1) are refused, with a reason logged.
        let mut latin1 = from_proxy("s");
        latin1.push(("x-verified-username", b"Jos\xe9".to_vec()));
        assert_eq!(refused_with(open(server.addr, &latin1).await), 400);
        let line = server.until_logged("handshake refused (not-utf8)").await;
        assert!(line.contains("x-verified-username is not UTF-8"), "{line}");
        server.stop().await;
    });
}
