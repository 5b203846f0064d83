//! What one peer can make the server hold: a handshake for at most its
//! timeout, at most the cap of connections, and a session's unsent frames
//! up to its outbox bound, past which the session is closed.

use super::*;

/// Whether the server closed `stream` (end of stream or reset) within [`PATIENCE`].
async fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut buffer = [0u8; 1024];
    let read = async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    };
    tokio::time::timeout(PATIENCE, read).await.is_ok()
}

#[test]
fn a_stalled_handshake_is_closed_at_the_timeout() {
    local(async {
        let limits = Limits { handshake: Duration::from_millis(300), ..Limits::default() };
        let server = Server::start(limits).await;
        // A connection that says nothing, and one that stops halfway through its request.
        let mut silent = TcpStream::connect(server.addr).await.expect("connected");
        let mut halfway = TcpStream::connect(server.addr).await.expect("connected");
        halfway.write_all(b"GET /t/ HTTP/1.1\r\nHost: x\r\n").await.expect("written");
        let since = Instant::now();
        assert!(closed_by_server(&mut silent).await, "a silent connection is closed");
        assert!(closed_by_server(&mut halfway).await, "a half-sent handshake is closed");
        assert!(since.elapsed() >= Duration::from_millis(250), "not before the timeout: {:?}", since.elapsed());
        assert_eq!(server.logged("no WebSocket handshake within 300 ms").len(), 2, "{:#?}", server.lines);
        // A handshake in time is taken.
        let mut session = open(server.addr, &from_proxy("s")).await.expect("a prompt handshake");
        assert_eq!(ask(&mut session, 1, "sessions", Value::Null).await, Value::from(1.0));
        drop(session);
        server.stop().await;
    });
}

#[test]
fn connections_past_the_cap_are_refused_503_until_one_ends() {
    local(async {
        let limits = Limits { connections: 2, ..Limits::default() };
        let server = Server::start(limits).await;
        let mut session = open(server.addr, &from_proxy("s")).await.expect("the first");
        // A connection still in its handshake counts too (connections are accepted in the order
        // they came: it is held before the next).
        let stalled = TcpStream::connect(server.addr).await.expect("connected");
        for _ in 0..21 {
            assert_eq!(refused_with(open(server.addr, &from_proxy("s")).await), 503);
        }
        assert_eq!(server.logged("refusing new ones").len(), 1, "one line for a run of refusals: {:#?}", server.lines);
        // The first session still works; when the stalled connection ends, a new one is taken.
        assert_eq!(ask(&mut session, 1, "sessions", Value::Null).await, Value::from(1.0));
        drop(stalled);
        let line = server.until_logged("below 2 connections again").await;
        assert!(line.ends_with("after refusing 21"), "{line}");
        let mut next = open(server.addr, &from_proxy("s")).await.expect("taken once one ended");
        assert_eq!(ask(&mut next, 1, "sessions", Value::Null).await, Value::from(2.0));
        drop((session, next));
        server.stop().await;
    });
}

#[test]
fn a_session_that_does_not_read_is_closed_when_its_outbox_is_full() {
    local(async {
        let limits = Limits { outbox_frames: 64, outbox_bytes: 1 << 20, ..Limits::default() };
        let server = Server::start(limits).await;
        let mut watcher = open(server.addr, &from_proxy("w")).await.expect("the watcher");
        let stalled = open_unread(server.addr, &from_proxy("s")).await.expect("the slow reader");
        assert_eq!(ask(&mut watcher, 1, "sessions", Value::Null).await, Value::from(2.0));
        // 64 answers of 256 KiB (16 MiB) asked for, none read: more than the sockets'
        // buffers take, so the rest waits in the session's outbox.
        let (mut sink, unread) = stalled.split();
        for seq in 1..=64 {
            sink.send(request(seq, "text", Value::from(262_144.0))).await.expect("asked");
        }
        let line = server.until_logged("closed: its outbox is full").await;
        assert!(line.starts_with("session ws-2 closed"), "{line}");
        assert_eq!(ask(&mut watcher, 2, "sessions", Value::Null).await, Value::from(1.0), "the slow reader is gone");
        // Its socket was dropped: reading what reached it ends, not waits.
        let mut unread = unread;
        let drained = tokio::time::timeout(PATIENCE, async { while let Some(Ok(_)) = unread.next().await {} }).await;
        assert!(drained.is_ok(), "the slow reader's connection ended");
        drop((watcher, sink, unread));
        server.stop().await;
    });
}
