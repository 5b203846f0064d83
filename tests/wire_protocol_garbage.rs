#![cfg(not(target_arch = "wasm32"))]
//! Decoding wire frames never panics: garbage becomes a typed `DecodeError`,
//! and whatever does decode re-encodes to a frame that decodes to the same
//! message.

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::panic::{AssertUnwindSafe, catch_unwind};

use serde_json::{Map, Value, json};
use tabworker::protocol::{
    BackendToLeader, CoordinatorToTab, DecodeError, LeaderClaim, LeaderToBackend, Leadership, PROTOCOL_VERSION,
    PortGrant, PortRequest, TabToCoordinator, WireMessage, decode, decode_json, frame,
};
use tabworker::{BackendId, ClientId, CoordinatorId, Epoch, ErrorCode, SessionId, Timestamp};

const SEED: u64 = 0x5EED_7AB0_0C0F_FEE1;

/// xorshift64*: small, deterministic, good enough to shake a decoder.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

// ------------------------------------------------------------------ corpus

/// Which direction's enum a frame belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Direction {
    TabToCoordinator,
    CoordinatorToTab,
    LeaderToBackend,
    BackendToLeader,
}

const DIRECTIONS: [Direction; 4] =
    [Direction::TabToCoordinator, Direction::CoordinatorToTab, Direction::LeaderToBackend, Direction::BackendToLeader];

/// A valid message of some direction, as the frame it travels as.
struct Example {
    direction: Direction,
    kind: &'static str,
    ports: usize,
    frame: Value,
}

fn example<T: WireMessage>(direction: Direction, message: T) -> Example {
    Example { direction, kind: message.kind(), ports: message.ports(), frame: Value::from(frame(&message)) }
}

/// One valid message of every `type` of every direction (`welcome` twice:
/// with and without a leader).
fn examples() -> Vec<Example> {
    let client_id = ClientId::new("c1").unwrap();
    let session_id = SessionId::new("s1").unwrap();
    let epoch = Epoch::new(3).unwrap();
    let leadership = Leadership {
        leader_id: ClientId::new("c0").unwrap(),
        epoch,
        liveness_key: "tabworker:a:liveness:w".into(),
        backend_id: None,
    };
    let claim = LeaderClaim {
        leader_id: ClientId::new("c0").unwrap(),
        liveness_key: "tabworker:a:liveness:w".into(),
        epoch: Some(epoch),
        backend_id: None,
        hosted: vec![BackendId::new("b1").unwrap()],
    };
    let request = PortRequest { client_id: client_id.clone(), session_id: session_id.clone(), backend_id: None };
    let grant = PortGrant { client_id: client_id.clone(), session_id: session_id.clone(), epoch, backend_id: None };
    let coordinator_id = CoordinatorId::new("k1").unwrap();
    use Direction as D;
    vec![
        example(
            D::TabToCoordinator,
            TabToCoordinator::Hello {
                client_id: client_id.clone(),
                build: "tabworker/0".into(),
                epoch: Some(epoch),
                proof: "p1".into(),
            },
        ),
        example(D::TabToCoordinator, TabToCoordinator::NewLeader(claim)),
        example(D::TabToCoordinator, TabToCoordinator::RequestPort(request.clone())),
        example(D::TabToCoordinator, TabToCoordinator::ProvidePort(grant.clone())),
        example(D::TabToCoordinator, TabToCoordinator::WhoLeads),
        example(D::TabToCoordinator, TabToCoordinator::Goodbye { client_id: client_id.clone() }),
        example(
            D::CoordinatorToTab,
            CoordinatorToTab::Welcome {
                coordinator_id: coordinator_id.clone(),
                leader: Some(leadership.clone()),
                tabs: 2,
            },
        ),
        example(D::CoordinatorToTab, CoordinatorToTab::Welcome { coordinator_id, leader: None, tabs: 1 }),
        example(D::CoordinatorToTab, CoordinatorToTab::NewLeader(leadership.clone())),
        example(D::CoordinatorToTab, CoordinatorToTab::RequestPort(request.clone())),
        example(D::CoordinatorToTab, CoordinatorToTab::ProvidePort(grant)),
        example(D::CoordinatorToTab, CoordinatorToTab::Rejected { code: ErrorCode::Malformed, detail: "no".into() }),
        example(
            D::CoordinatorToTab,
            CoordinatorToTab::Unhosted {
                backend_id: BackendId::new("b1").unwrap(),
                time: Timestamp::from_unix_millis(1_000_000),
            },
        ),
        example(
            D::LeaderToBackend,
            LeaderToBackend::Init { leader_id: leadership.leader_id, app: "a".into(), backend: None },
        ),
        example(D::LeaderToBackend, LeaderToBackend::StartSession(request.clone())),
        example(D::BackendToLeader, BackendToLeader::Listening),
        example(D::BackendToLeader, BackendToLeader::Ready { liveness_key: "tabworker/liveness/b1".into() }),
        example(D::BackendToLeader, BackendToLeader::Session(request)),
    ]
}

#[test]
fn the_corpus_covers_every_message_of_every_direction() {
    use Direction as D;
    let kinds: BTreeSet<(Direction, &str)> = examples().iter().map(|e| (e.direction, e.kind)).collect();
    let expected: BTreeSet<(Direction, &str)> = [
        (D::TabToCoordinator, "hello"),
        (D::TabToCoordinator, "new-leader"),
        (D::TabToCoordinator, "request-port"),
        (D::TabToCoordinator, "provide-port"),
        (D::TabToCoordinator, "who-leads"),
        (D::TabToCoordinator, "goodbye"),
        (D::CoordinatorToTab, "welcome"),
        (D::CoordinatorToTab, "new-leader"),
        (D::CoordinatorToTab, "request-port"),
        (D::CoordinatorToTab, "provide-port"),
        (D::CoordinatorToTab, "rejected"),
        (D::CoordinatorToTab, "unhosted"),
        (D::LeaderToBackend, "init"),
        (D::LeaderToBackend, "start-session"),
        (D::BackendToLeader, "listening"),
        (D::BackendToLeader, "ready"),
        (D::BackendToLeader, "session"),
    ]
    .into();
    assert_eq!(kinds, expected);
    for e in examples() {
        assert_eq!(e.frame["type"], json!(e.kind));
        assert_eq!(e.frame["protocol"], json!(PROTOCOL_VERSION));
        assert_eq!(decode_as(e.direction, &e.frame, e.ports), Ok(e.kind), "{}", e.frame);
    }
}

// ---------------------------------------------------------------- decoding

/// Decodes `value` as a `T`; when that succeeds, checks that the message
/// re-encodes with `frame` and decodes again to an equal message. Returns the
/// decoded message's `type`.
fn decode_and_recheck<T: WireMessage + PartialEq + Debug>(
    value: &Value,
    ports: usize,
) -> Result<&'static str, DecodeError> {
    let message = decode::<T>(&value.clone().into(), ports)?;
    let again = frame(&message);
    assert_eq!(decode::<T>(&again, message.ports()).as_ref(), Ok(&message), "{value} decoded but {again:?} did not");
    Ok(message.kind())
}

fn decode_as(direction: Direction, value: &Value, ports: usize) -> Result<&'static str, DecodeError> {
    match direction {
        Direction::TabToCoordinator => decode_and_recheck::<TabToCoordinator>(value, ports),
        Direction::CoordinatorToTab => decode_and_recheck::<CoordinatorToTab>(value, ports),
        Direction::LeaderToBackend => decode_and_recheck::<LeaderToBackend>(value, ports),
        Direction::BackendToLeader => decode_and_recheck::<BackendToLeader>(value, ports),
    }
}

fn decode_json_and_recheck<T: WireMessage + PartialEq + Debug>(bytes: &[u8], ports: usize) -> Result<(), DecodeError> {
    let message = decode_json::<T>(bytes, ports)?;
    let again = Value::from(frame(&message)).to_string().into_bytes();
    assert_eq!(decode_json::<T>(&again, message.ports()).as_ref(), Ok(&message), "{bytes:?} decoded");
    Ok(())
}

fn decode_json_as(direction: Direction, bytes: &[u8], ports: usize) -> Result<(), DecodeError> {
    match direction {
        Direction::TabToCoordinator => decode_json_and_recheck::<TabToCoordinator>(bytes, ports),
        Direction::CoordinatorToTab => decode_json_and_recheck::<CoordinatorToTab>(bytes, ports),
        Direction::LeaderToBackend => decode_json_and_recheck::<LeaderToBackend>(bytes, ports),
        Direction::BackendToLeader => decode_json_and_recheck::<BackendToLeader>(bytes, ports),
    }
}

/// Runs `f`, turning a panic into a test failure that names the seed, round
/// and input.
fn no_panic<R>(round: usize, input: &dyn Debug, f: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(_) => panic!("decoding panicked or failed to re-encode (seed {SEED:#x}, round {round}) on {input:?}"),
    }
}

// ------------------------------------------------------------- random input

fn random_bytes(rng: &mut Rng) -> Vec<u8> {
    let len = rng.below(64);
    (0..len).map(|_| rng.next() as u8).collect()
}

/// Pieces of JSON spliced into frame text.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "\"",
    "\"protocol\":1,",
    "\"type\":",
    "1e999",
    "9007199254740992",
    "-0",
    "null",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "\u{fffd}",
    "\\",
    "\u{0}",
    "\u{7f}",
];

/// JSON text of a frame-like object (this protocol version, a known or
/// unknown `type`, random fields), often corrupted at the byte level: a
/// truncation, or a token spliced in.
fn random_frame_text(rng: &mut Rng) -> Vec<u8> {
    let mut map = match random_json(rng, 3) {
        Value::Object(map) => map,
        other => Map::from_iter([("x".to_owned(), other)]),
    };
    map.insert("protocol".into(), json!(PROTOCOL_VERSION));
    map.insert("type".into(), json!(rng.pick(TYPES)));
    let mut bytes = serde_json::to_vec(&Value::Object(map)).unwrap();
    for _ in 0..rng.below(3) {
        let at = rng.below(bytes.len() + 1);
        if rng.chance(3) {
            bytes.truncate(at);
        } else {
            bytes.splice(at..at, rng.pick(TOKENS).bytes());
        }
    }
    bytes
}

const KEYS: &[&str] = &[
    "protocol",
    "type",
    "client_id",
    "session_id",
    "epoch",
    "leader_id",
    "leader",
    "tabs",
    "build",
    "code",
    "detail",
    "coordinator_id",
    "liveness_key",
    "",
    "x",
];
const TYPES: &[&str] = &[
    "hello",
    "new-leader",
    "request-port",
    "provide-port",
    "goodbye",
    "who-leads",
    "welcome",
    "rejected",
    "init",
    "start-session",
    "listening",
    "ready",
    "session",
    "Hello",
    "new_leader",
    "",
];

fn random_string(rng: &mut Rng) -> String {
    match rng.below(5) {
        0 => String::new(),
        1 => rng.pick(TYPES).to_string(),
        2 => "x".repeat(120 + rng.below(20)),
        3 => "a\u{0}b".into(),
        _ => format!("id-{}", rng.below(100)),
    }
}

fn random_number(rng: &mut Rng) -> Value {
    match rng.below(8) {
        0 => json!(0),
        1 => json!(1),
        2 => json!(PROTOCOL_VERSION + 1),
        3 => json!(-1),
        4 => json!(1.5),
        5 => json!(1u64 << 53),
        6 => json!(u64::MAX),
        _ => json!(rng.next() % 1000),
    }
}

fn random_json(rng: &mut Rng, depth: usize) -> Value {
    let leaf_only = depth == 0;
    match rng.below(if leaf_only { 4 } else { 6 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.chance(2)),
        2 => random_number(rng),
        3 => Value::String(random_string(rng)),
        4 => Value::Array((0..rng.below(4)).map(|_| random_json(rng, depth - 1)).collect()),
        _ => {
            let mut map = Map::new();
            for _ in 0..rng.below(5) {
                map.insert(rng.pick(KEYS).to_string(), random_json(rng, depth - 1));
            }
            Value::Object(map)
        }
    }
}

#[test]
fn random_bytes_never_panic_and_are_refused_as_not_a_frame() {
    let mut rng = Rng::new(SEED);
    for round in 0..20_000 {
        let bytes = random_bytes(&mut rng);
        let ports = rng.below(3);
        for direction in DIRECTIONS {
            let result = no_panic(round, &bytes, || decode_json_as(direction, &bytes, ports));
            // Random bytes are, in practice, never an object with a `protocol`.
            assert!(
                matches!(result, Err(DecodeError::NotAFrame { .. })),
                "seed {SEED:#x} round {round}: {bytes:?} as {direction:?} gave {result:?}"
            );
        }
    }
}

#[test]
fn random_frame_like_bytes_never_panic_and_any_decoded_message_re_encodes() {
    let mut rng = Rng::new(SEED ^ 1);
    let mut codes = BTreeSet::new();
    for round in 0..20_000 {
        let bytes = random_frame_text(&mut rng);
        let ports = rng.below(3);
        for direction in DIRECTIONS {
            // `decode_json_as` itself checks that an Ok re-encodes.
            if let Err(e) =
                no_panic(round, &String::from_utf8_lossy(&bytes), || decode_json_as(direction, &bytes, ports))
            {
                codes.insert(e.code());
            }
        }
    }
    assert!(codes.contains(&ErrorCode::NotAFrame), "seed {SEED:#x}: errors seen {codes:?}");
    assert!(
        codes.contains(&ErrorCode::Malformed),
        "seed {SEED:#x}: the token soup never reached the message decoder: {codes:?}"
    );
}

#[test]
fn random_json_values_never_panic_and_any_decoded_message_re_encodes() {
    let mut rng = Rng::new(SEED ^ 2);
    let mut codes = BTreeSet::new();
    for round in 0..20_000 {
        let mut value = random_json(&mut rng, 4);
        // Make half of them look like frames of this version, so that the
        // message decoder sees them too.
        if rng.chance(2) {
            let mut map = match value {
                Value::Object(map) => map,
                other => Map::from_iter([("x".to_owned(), other)]),
            };
            map.insert("protocol".into(), json!(PROTOCOL_VERSION));
            map.insert("type".into(), json!(rng.pick(TYPES)));
            value = Value::Object(map);
        }
        let ports = rng.below(3);
        for direction in DIRECTIONS {
            if let Err(e) = no_panic(round, &value, || decode_as(direction, &value, ports)) {
                codes.insert(e.code());
            }
        }
    }
    for code in [ErrorCode::NotAFrame, ErrorCode::Malformed, ErrorCode::ProtocolMismatch] {
        assert!(codes.contains(&code), "seed {SEED:#x}: never saw {code}: {codes:?}");
    }
}

// -------------------------------------------------------- targeted mutations

fn with(frame: &Value, key: &str, replacement: Value) -> Value {
    let mut frame = frame.clone();
    frame[key] = replacement;
    frame
}

fn without(frame: &Value, key: &str) -> Value {
    let mut frame = frame.clone();
    frame.as_object_mut().unwrap().remove(key);
    frame
}

fn assert_malformed(e: &Example, mutated: &Value, what: &str) {
    let result = decode_as(e.direction, mutated, e.ports);
    assert!(
        matches!(result, Err(DecodeError::Malformed { .. })),
        "{what} of `{}` ({:?}): {mutated} gave {result:?}",
        e.kind,
        e.direction
    );
}

/// Fields that may be left out: `welcome`'s `leader` is `null` or absent
/// before a leader has announced itself.
/// Whether `key` may be absent (or null) in a message of `e`'s kind: the
/// leader of a welcome, the known epoch of a hello and of a tab's claim.
fn is_optional(e: &Example, key: &str) -> bool {
    key == "leader"
        || (key == "epoch"
            && (e.kind == "hello" || (e.kind == "new-leader" && e.direction == Direction::TabToCoordinator)))
}

#[test]
fn removing_a_required_field_is_malformed_and_removing_protocol_is_not_a_frame() {
    for e in examples() {
        for key in e.frame.as_object().unwrap().keys() {
            let mutated = without(&e.frame, key);
            let result = decode_as(e.direction, &mutated, e.ports);
            match key.as_str() {
                "protocol" => {
                    assert!(matches!(result, Err(DecodeError::NotAFrame { .. })), "{mutated} gave {result:?}")
                }
                k if is_optional(&e, k) => assert_eq!(result, Ok(e.kind), "{mutated}"),
                _ => assert_malformed(&e, &mutated, &format!("removing `{key}`")),
            }
        }
    }
}

#[test]
fn an_unknown_message_type_is_malformed() {
    for e in examples() {
        for tag in ["no-such-message", "Hello", "request_port", "", "hello ", "HELLO"] {
            assert_malformed(&e, &with(&e.frame, "type", json!(tag)), &format!("type {tag:?}"));
        }
    }
}

#[test]
fn a_message_type_of_another_direction_is_malformed() {
    let all = examples();
    for e in &all {
        for other in all.iter().filter(|o| o.direction != e.direction) {
            let mutated = with(&e.frame, "type", json!(other.kind));
            let same_tag_here = all.iter().any(|x| x.direction == e.direction && x.kind == other.kind);
            if !same_tag_here {
                assert_malformed(e, &mutated, &format!("type {:?} of {:?}", other.kind, other.direction));
            }
        }
    }
}

#[test]
fn another_protocol_version_is_a_protocol_mismatch() {
    for e in examples() {
        for found in [0, u64::from(PROTOCOL_VERSION) + 1, u64::MAX] {
            let result = decode_as(e.direction, &with(&e.frame, "protocol", json!(found)), e.ports);
            assert_eq!(result, Err(DecodeError::ProtocolMismatch { found, supported: PROTOCOL_VERSION }), "{}", e.kind);
        }
        // Version checks come first: a frame of another version with a broken
        // message is still reported as a version mismatch.
        let broken = with(&without(&e.frame, "type"), "protocol", json!(PROTOCOL_VERSION + 1));
        assert!(matches!(decode_as(e.direction, &broken, 7), Err(DecodeError::ProtocolMismatch { .. })));
    }
}

#[test]
fn a_protocol_that_is_not_an_unsigned_integer_is_not_a_frame() {
    for e in examples() {
        for protocol in [json!("1"), json!(1.5), json!(-1), json!(null), json!(true), json!([1]), json!({"v": 1})] {
            let mutated = with(&e.frame, "protocol", protocol);
            let result = decode_as(e.direction, &mutated, e.ports);
            assert!(matches!(result, Err(DecodeError::NotAFrame { .. })), "{mutated} gave {result:?}");
        }
    }
    for not_an_object in [json!(null), json!(1), json!("frame"), json!([1, "hello"])] {
        for direction in DIRECTIONS {
            let result = decode_as(direction, &not_an_object, 0);
            assert!(matches!(result, Err(DecodeError::NotAFrame { .. })), "{not_an_object} gave {result:?}");
        }
    }
}

/// Values of another JSON type than `original`. `null` is left out for
/// optional fields, where it means "absent".
fn wrong_typed(original: &Value, optional: bool) -> Vec<Value> {
    let same_type = |v: &Value| std::mem::discriminant(v) == std::mem::discriminant(original);
    [json!(null), json!(true), json!(7), json!("x"), json!([]), json!({})]
        .into_iter()
        .filter(|v| !same_type(v))
        .filter(|v| !(optional && v.is_null()))
        .collect()
}

#[test]
fn a_field_of_the_wrong_json_type_is_malformed() {
    for e in examples() {
        for (key, original) in e.frame.as_object().unwrap() {
            if key == "protocol" {
                continue; // covered by a_protocol_that_is_not_an_unsigned_integer_is_not_a_frame
            }
            for wrong in wrong_typed(original, is_optional(&e, key)) {
                assert_malformed(&e, &with(&e.frame, key, wrong.clone()), &format!("`{key}` = {wrong}"));
            }
        }
    }
}

#[test]
fn a_nested_leadership_field_of_the_wrong_json_type_is_malformed() {
    for e in examples().into_iter().filter(|e| e.frame["leader"].is_object()) {
        for key in ["leader_id", "epoch"] {
            for wrong in wrong_typed(&e.frame["leader"][key], false) {
                let mut mutated = e.frame.clone();
                mutated["leader"][key] = wrong.clone();
                assert_malformed(&e, &mutated, &format!("`leader.{key}` = {wrong}"));
            }
        }
    }
}

#[test]
fn numbers_out_of_their_range_are_malformed() {
    for e in examples() {
        for key in ["tabs", "epoch"] {
            if e.frame.get(key).is_some() {
                for bad in [json!(-1), json!(1.5), json!(u64::MAX), json!(1e300)] {
                    assert_malformed(&e, &with(&e.frame, key, bad.clone()), &format!("`{key}` = {bad}"));
                }
            }
        }
        if e.frame.get("tabs").is_some() {
            assert_malformed(&e, &with(&e.frame, "tabs", json!(u64::from(u32::MAX) + 1)), "tabs above u32");
        }
    }
}

fn id_keys(frame: &Value) -> Vec<Vec<&'static str>> {
    let mut paths = Vec::new();
    for key in ["client_id", "session_id", "leader_id", "coordinator_id"] {
        if frame.get(key).is_some() {
            paths.push(vec![key]);
        }
    }
    if frame["leader"].is_object() {
        paths.push(vec!["leader", "leader_id"]);
    }
    paths
}

fn set_path(frame: &Value, path: &[&str], value: Value) -> Value {
    let mut frame = frame.clone();
    let mut slot = &mut frame;
    for key in path {
        slot = &mut slot[*key];
    }
    *slot = value;
    frame
}

#[test]
fn empty_long_or_control_character_ids_are_malformed() {
    let mut seen = 0;
    for e in examples() {
        for path in id_keys(&e.frame) {
            for bad in [json!(""), json!("x".repeat(129)), json!("c\u{0}1"), json!("c\n1")] {
                assert_malformed(&e, &set_path(&e.frame, &path, bad), &format!("id {path:?}"));
            }
            seen += 1;
        }
    }
    // client_id ×8, session_id ×6, leader_id ×4 (new-leader ×2, init,
    // welcome's leader), coordinator_id ×2.
    assert_eq!(seen, 20);
}

#[test]
fn an_epoch_beyond_javascript_safe_integers_is_malformed() {
    let mut seen = 0;
    for e in examples() {
        for path in [vec!["epoch"], vec!["leader", "epoch"]] {
            let present = path.iter().try_fold(&e.frame, |v, k| v.get(*k)).is_some();
            if !present {
                continue;
            }
            seen += 1;
            assert_malformed(&e, &set_path(&e.frame, &path, json!(1u64 << 53)), &format!("{path:?} = 2^53"));
            let largest = set_path(&e.frame, &path, json!((1u64 << 53) - 1));
            assert_eq!(decode_as(e.direction, &largest, e.ports), Ok(e.kind), "{largest}");
        }
    }
    // provide-port ×2, hello, new-leader ×2 (a claim and the coordinator's
    // answer), welcome's leader.
    assert_eq!(seen, 6);
}

#[test]
fn the_wrong_number_of_ports_is_a_port_count_error() {
    for e in examples() {
        let expected = usize::from(matches!(e.kind, "provide-port" | "session"));
        assert_eq!(e.ports, expected, "{}", e.kind);
        for found in [0, 1, 2, 16].into_iter().filter(|&n| n != expected) {
            assert_eq!(
                decode_as(e.direction, &e.frame, found),
                Err(DecodeError::PortCount { kind: e.kind, expected, found }),
                "{:?} `{}` with {found} ports",
                e.direction,
                e.kind
            );
        }
    }
}

#[test]
fn unknown_extra_fields_do_not_change_the_decoded_message() {
    for e in examples() {
        let mut mutated = e.frame.clone();
        mutated["x-extra"] = json!({"nested": [1, 2, 3]});
        assert_eq!(decode_as(e.direction, &mutated, e.ports), Ok(e.kind), "{mutated}");
    }
}

// ----------------------------------------------------------- random mutation

fn random_mutation(rng: &mut Rng, value: &mut Value) {
    let Some(map) = value.as_object_mut() else {
        *value = random_json(rng, 2);
        return;
    };
    let keys: Vec<String> = map.keys().cloned().collect();
    match rng.below(5) {
        0 if !keys.is_empty() => {
            map.remove(rng.pick(&keys));
        }
        1 => {
            let key = if rng.chance(2) { rng.pick(KEYS).to_string() } else { random_string(rng) };
            map.insert(key, random_json(rng, 3));
        }
        2 if !keys.is_empty() => {
            let key = rng.pick(&keys).clone();
            map.insert(key, random_json(rng, 3));
        }
        3 => {
            map.insert("type".into(), json!(rng.pick(TYPES)));
        }
        _ => {
            // Mutate inside a nested object, if there is one.
            if let Some(inner) = map.values_mut().find(|v| v.is_object()) {
                random_mutation(rng, inner);
            } else if let Some(key) = keys.first() {
                map.insert(key.clone(), random_json(rng, 1));
            }
        }
    }
}

#[test]
fn randomly_mutated_frames_never_panic_and_any_decoded_message_re_encodes() {
    let corpus = examples();
    let mut rng = Rng::new(SEED ^ 3);
    let (mut decoded, mut codes) = (0, BTreeSet::new());
    for round in 0..5_000 {
        let e = rng.pick(&corpus);
        let mut value = e.frame.clone();
        for _ in 0..1 + rng.below(3) {
            random_mutation(&mut rng, &mut value);
        }
        let ports = if rng.chance(4) { rng.below(3) } else { e.ports };
        // Decode as every direction: a frame of one direction sent on
        // another's channel must not panic either.
        for direction in DIRECTIONS {
            match no_panic(round, &value, || decode_as(direction, &value, ports)) {
                Ok(_) => decoded += 1,
                Err(err) => {
                    codes.insert(err.code());
                }
            }
        }
    }
    assert!(decoded > 0, "seed {SEED:#x}: no mutated frame decoded, so re-encoding was never checked");
    assert_eq!(
        codes,
        [ErrorCode::NotAFrame, ErrorCode::ProtocolMismatch, ErrorCode::Malformed, ErrorCode::PortCount].into(),
        "seed {SEED:#x}: the mutations did not reach every error"
    );
}

#[test]
fn decode_error_codes_are_distinct_and_stable() {
    let errors = [
        (DecodeError::NotAFrame { detail: "x".into() }, "not-a-frame"),
        (DecodeError::ProtocolMismatch { found: 2, supported: PROTOCOL_VERSION }, "protocol-mismatch"),
        (DecodeError::Malformed { detail: "x".into() }, "malformed"),
        (DecodeError::PortCount { kind: "session", expected: 1, found: 0 }, "port-count"),
    ];
    for (error, code) in &errors {
        assert_eq!(error.code().as_str(), *code, "{error}");
        assert!(!error.to_string().is_empty());
    }
    let codes: BTreeSet<ErrorCode> = errors.iter().map(|(e, _)| e.code()).collect();
    assert_eq!(codes.len(), errors.len(), "{codes:?}");
}
