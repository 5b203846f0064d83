//! A server out of file descriptors: its listener stays readable while
//! every accept fails, so without a wait between tries it spins a core and
//! logs each failure. It runs here in a child process (this test binary,
//! running [`serve_under_a_low_descriptor_limit`]) under `ulimit -n 64`, as
//! the process does, logging to its standard error.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};

use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use super::*;

/// The environment variable that makes the child serve.
const CHILD: &str = "TABWORKER_TEST_SERVE_OUT_OF_DESCRIPTORS";
/// The child's test, by its full name.
const CHILD_TEST: &str = "native::tests::out_of_descriptors::serve_under_a_low_descriptor_limit";
/// How many descriptors the child may hold.
const DESCRIPTORS: usize = 64;
/// How long the child is watched while it is out of descriptors.
const WINDOW: Duration = Duration::from_millis(1500);

/// Not a test of its own: the server the test below runs in a child
/// process. It serves until killed.
#[test]
#[ignore = "run only by failed_accepts_back_off_instead_of_spinning, in a child process"]
fn serve_under_a_low_descriptor_limit() {
    assert!(std::env::var_os(CHILD).is_some(), "run by failed_accepts_back_off_instead_of_spinning only");
    let limits = Limits { handshake: Duration::from_secs(120), connections: 100_000, ..Limits::default() };
    let options =
        Options { addr: SocketAddr::from(([127, 0, 0, 1], 0)), backend_id: BACKEND.into(), key: "key".into(), limits };
    let log: Log = Rc::new(|line| eprintln!("tabworker native backend: {line}"));
    local(async {
        run(probe(), options, log, std::future::pending(), |addr| println!("listening {addr}")).await.expect("served");
    });
}

/// The child, killed (it is ours, by its handle) whatever the test's outcome.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The CPU time process `pid` has used (user and system, every thread).
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the child's /proc stat");
    // The fields after the command name, which is in parentheses: utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat.rsplit_once(')').expect("a stat line").1.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    let per_second = Command::new("getconf").arg("CLK_TCK").output().ok();
    let per_second =
        per_second.and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse::<u64>().ok()).unwrap_or(100);
    Duration::from_millis(ticks * 1000 / per_second)
}

/// Waits (at most [`PATIENCE`]) for a line of `lines` containing `part`.
fn wait_for_line(lines: &Mutex<Vec<String>>, part: &str) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(line) = lines.lock().expect("the lines").iter().find(|l| l.contains(part)) {
            return line.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no line with {part:?} within {PATIENCE:?}: {:#?}",
            lines.lock().map(|l| l.len())
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn failed_accepts_back_off_instead_of_spinning() {
    let exe = std::env::current_exe().expect("this test binary");
    let script = format!("ulimit -n {DESCRIPTORS} && exec \"$0\" \"$@\"");
    let child = Command::new("sh")
        .args(["-c", &script])
        .arg(exe)
        .args(["--exact", CHILD_TEST, "--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the child started");
    let mut child = Killed(child);
    let pid = child.0.id();
    // Its standard error, line by line, read all along (a child writing to a full pipe would stall, not spin).
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let stderr = child.0.stderr.take().expect("piped");
    let kept = errors.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            kept.lock().expect("the lines").push(line);
        }
    });
    let (said, listening) = mpsc::channel();
    let stdout = child.0.stdout.take().expect("piped");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            // libtest may have written the test's name on the same line.
            if let Some((_, addr)) = line.split_once("listening ") {
                let _ = said.send(addr.trim().to_string());
            }
        }
    });
    let addr: SocketAddr = listening.recv_timeout(PATIENCE).expect("the child listens").parse().expect("an address");

    // Connections that never finish their handshake, more than the child has descriptors for.
    let held: Vec<std::net::TcpStream> =
        (0..DESCRIPTORS + 40).map(|_| std::net::TcpStream::connect(addr).expect("connected to the backlog")).collect();
    wait_for_line(&errors, "accept failed");
    let (cpu_before, lines_before) = (cpu_time(pid), errors.lock().expect("the lines").len());
    // The measurement: how busy and how loud the child is over a window while out of descriptors.
    std::thread::sleep(WINDOW);
    let busy = cpu_time(pid).saturating_sub(cpu_before);
    let failures_logged = errors.lock().expect("the lines").iter().filter(|l| l.contains("accept failed")).count();
    let lines_meanwhile = errors.lock().expect("the lines").len() - lines_before;
    assert_eq!(failures_logged, 1, "one line for a run of failed accepts ({lines_meanwhile} lines in {WINDOW:?})");
    assert!(busy < WINDOW / 5, "the child used {busy:?} of CPU in {WINDOW:?} out of descriptors: it spins");

    // Descriptors freed, the child accepts again and says so once, and serves.
    drop(held);
    let line = wait_for_line(&errors, "accepting again");
    assert!(line.contains("failed accept(s)"), "{line}");
    let deadline = Instant::now() + PATIENCE;
    let mut socket = loop {
        let mut request = format!("ws://{addr}/t/").into_client_request().expect("a request");
        for (name, value) in from_proxy("s") {
            request.headers_mut().insert(name, HeaderValue::from_bytes(&value).expect("a value"));
        }
        let stream = std::net::TcpStream::connect(addr).expect("connected");
        stream.set_read_timeout(Some(PATIENCE)).expect("a read timeout");
        match tungstenite::client(request, stream) {
            Ok((socket, _)) => break socket,
            Err(e) => assert!(Instant::now() < deadline, "the child does not serve again: {e}"),
        }
    };
    socket.send(request(1, "sessions", Value::Null)).expect("asked");
    let answer = loop {
        let Message::Text(text) = socket.read().expect("an answer") else { continue };
        if let Ok(ChannelFrame::Result { payload, .. }) = decode(&text) {
            break payload;
        }
    };
    assert_eq!(answer, Value::from(1.0));
    assert!(child.0.try_wait().expect("the child's status").is_none(), "the child still runs");
}
