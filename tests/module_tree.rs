//! The shape of `src/`: no module imports from a module that imports it
//! (directly or through others), no source file holds more than
//! [`MAX_LINES`] lines outside its tests, and a type's own methods (its
//! inherent `impl` blocks) live in the file that defines it: a type that
//! grows is split into parts that own their state, not spread over files.
//!
//! Both rules are read from the source text: a module's imports are the
//! `crate::…`, `super::…`, `self::…` and `child::…` paths outside its tests
//! and comments. What breaks a rule today is listed in [`KNOWN`]; the list
//! may only shrink: a new breach fails, and so does a listed one that is
//! gone (take it off the list).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The most lines a source file may hold before its `#[cfg(test)]`.
const MAX_LINES: usize = 600;

/// Breaches still to mend: import circles (by their modules, sorted), files
/// over [`MAX_LINES`], and types with methods in another file than their own.
const KNOWN: &[&str] = &[];

/// The most of the crate's non-test Rust that the browser glue
/// (`src/web/`) may hold, in whole percent (rounded down) of the lines
/// before tests. It may only go down, to 20.
const MAX_GLUE_PERCENT: usize = 25;

/// Every module of the crate, by path (`""` is the crate root), with its
/// source outside tests and comments.
fn modules() -> BTreeMap<String, (String, String)> {
    fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&root, &mut files);
    let mut modules = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(&root).unwrap().with_extension("");
        let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
        if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
            parts.pop();
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let code: String =
            code.lines().map(|l| l.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n");
        let shown = format!("src/{}", file.strip_prefix(&root).unwrap().display());
        modules.insert(parts.join("::"), (shown, code));
    }
    modules
}

/// Every `a::b::c` path in `code`, as its segments (a path that ends in
/// `::{` keeps the segments before the brace).
fn paths(code: &str) -> Vec<Vec<String>> {
    let bytes = code.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let starts = ident(bytes[i]) && (i == 0 || !(ident(bytes[i - 1]) || bytes[i - 1] == b':'));
        if !starts {
            i += 1;
            continue;
        }
        let mut segments = Vec::new();
        loop {
            let start = i;
            while i < bytes.len() && ident(bytes[i]) {
                i += 1;
            }
            segments.push(code[start..i].to_owned());
            if code[i..].starts_with("::") && code[i + 2..].starts_with(|c: char| c.is_alphanumeric() || c == '_') {
                i += 2;
            } else {
                break;
            }
        }
        let braced = code[i..].starts_with("::{");
        if segments.len() > 1 || braced {
            found.push(segments);
        }
    }
    found
}

/// The modules `module` imports from.
fn imports(module: &str, code: &str, all: &BTreeMap<String, (String, String)>) -> BTreeSet<String> {
    let join = |parts: &[String]| parts.join("::");
    let here: Vec<String> =
        if module.is_empty() { Vec::new() } else { module.split("::").map(str::to_owned).collect() };
    let mut targets = BTreeSet::new();
    for path in paths(code) {
        let (mut base, mut rest) = (Vec::new(), path.as_slice());
        match rest[0].as_str() {
            "crate" => rest = &rest[1..],
            "self" => (base, rest) = (here.clone(), &rest[1..]),
            "super" => {
                base = here.clone();
                while rest.first().is_some_and(|s| s == "super") {
                    base.pop();
                    rest = &rest[1..];
                }
            }
            first => {
                let child = join(&[here.clone(), vec![first.to_owned()]].concat());
                if !all.contains_key(&child) {
                    continue;
                }
                base = here.clone();
            }
        }
        let best = (0..=rest.len())
            .rev()
            .map(|n| join(&[base.clone(), rest[..n].to_vec()].concat()))
            .find(|m| all.contains_key(m));
        if let Some(target) = best {
            if target != module && !target.is_empty() {
                targets.insert(target);
            }
        }
    }
    targets
}

fn breaches() -> BTreeSet<String> {
    let all = modules();
    let edges: BTreeMap<&str, BTreeSet<String>> =
        all.iter().map(|(m, (_, code))| (m.as_str(), imports(m, code, &all))).collect();
    let reach = |from: &str| {
        let (mut seen, mut todo) = (BTreeSet::new(), vec![from.to_owned()]);
        while let Some(m) = todo.pop() {
            for next in &edges[m.as_str()] {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let reached: BTreeMap<&str, BTreeSet<String>> = all.keys().map(|m| (m.as_str(), reach(m))).collect();
    let mut found = BTreeSet::new();
    for m in all.keys() {
        if reached[m.as_str()].contains(m) {
            let circle: Vec<&str> = all
                .keys()
                .filter(|o| reached[m.as_str()].contains(*o) && reached[o.as_str()].contains(m))
                .map(String::as_str)
                .collect();
            found.insert(format!("circle: {}", circle.join(", ")));
        }
    }
    for (file, code) in all.values() {
        if code.lines().count() > MAX_LINES {
            found.insert(format!("long: {file}"));
        }
    }
    // Each type's inherent impls, in the files that define it (a type of one
    // name in two files, as two private `Inner`s, counts as defined in both).
    let mut defined: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    let mut implemented: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for (file, code) in all.values() {
        for name in definitions(code) {
            defined.entry(name).or_default().insert(file);
        }
        for name in inherent_impls(code) {
            implemented.entry(name).or_default().insert(file);
        }
    }
    for (name, files) in &implemented {
        let home = defined.get(name).cloned().unwrap_or_default();
        for file in files.iter().filter(|f| !home.contains(*f)) {
            found.insert(format!("spread: {name} in {file}"));
        }
    }
    found
}

/// The names of the structs, enums and unions `code` defines, and of the
/// types its `string_id!` macro calls make.
fn definitions(code: &str) -> Vec<String> {
    let mut names = Vec::new();
    let lines: Vec<&str> = code.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let words: Vec<&str> =
            line.split(|c: char| !(c.is_alphanumeric() || c == '_')).filter(|w| !w.is_empty()).collect();
        if let Some(at) = words.iter().position(|w| matches!(*w, "struct" | "enum" | "union")) {
            if let Some(name) = words.get(at + 1) {
                names.push((*name).to_owned());
            }
        }
        if line.trim_start().starts_with("string_id!(") {
            // The type's name is the first line after its doc comments.
            let name = lines[i + 1..]
                .iter()
                .map(|l| l.trim())
                .find(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with("//"));
            if let Some(name) = name {
                names.push(name.trim_end_matches(',').to_owned());
            }
        }
    }
    names
}

/// The types of the inherent `impl` blocks of `code` (`impl T {`,
/// `impl<…> T<…> {`; not `impl Trait for T`).
fn inherent_impls(code: &str) -> Vec<String> {
    let mut names = Vec::new();
    for line in code.lines() {
        let Some(rest) = line.trim_start().strip_prefix("impl") else { continue };
        let rest = if rest.starts_with('<') { skip_generics(rest) } else { rest };
        if !rest.starts_with(' ') || !line.trim_end().ends_with('{') || line.contains(" for ") {
            continue;
        }
        let name: String = rest.trim_start().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if name.starts_with(|c: char| c.is_ascii_uppercase()) {
            names.push(name);
        }
    }
    names
}

/// `text` past the generic parameters it starts with.
fn skip_generics(text: &str) -> &str {
    let mut depth = 0;
    for (i, c) in text.char_indices() {
        match c {
            '<' => depth += 1,
            '>' => {
                depth -= 1;
                if depth == 0 {
                    return &text[i + 1..];
                }
            }
            _ => {}
        }
    }
    ""
}

#[test]
fn no_module_imports_from_one_that_imports_it_no_file_is_too_long_and_no_type_is_spread() {
    let found = breaches();
    let known: BTreeSet<String> = KNOWN.iter().map(|s| s.to_string()).collect();
    let new: Vec<&String> = found.difference(&known).collect();
    let mended: Vec<&String> = known.difference(&found).collect();
    assert!(new.is_empty(), "new breaches of the module rules: {new:#?}");
    assert!(mended.is_empty(), "mended, take them off KNOWN: {mended:#?}");
}

/// The lines of the glue (`src/web/`) and of the whole crate, before their
/// tests (test modules in files of their own, `*_tests.rs` and `tests/`, aside).
fn glue_and_all_lines() -> (usize, usize) {
    let (mut glue, mut all) = (0, 0);
    for (file, code) in modules().values() {
        if file.ends_with("_tests.rs") || file.contains("/tests/") {
            continue;
        }
        let lines = code.lines().count();
        all += lines;
        if file.starts_with("src/web/") {
            glue += lines;
        }
    }
    (glue, all)
}

#[test]
fn the_browser_glue_stays_thin() {
    let (glue, all) = glue_and_all_lines();
    let percent = glue * 100 / all;
    assert!(percent <= MAX_GLUE_PERCENT, "the glue is {glue} of {all} lines ({percent}%), over {MAX_GLUE_PERCENT}%");
    assert!(percent >= MAX_GLUE_PERCENT, "the glue is down to {percent}%: lower MAX_GLUE_PERCENT to {percent}");
}

#[test]
fn the_reader_sees_definitions_and_inherent_impls() {
    let code =
        "pub struct Tab {\n}\nenum Stage { A }\nstring_id!(\n    /// doc\n    ClientId,\n    \"client id\"\n);\n";
    assert_eq!(definitions(code), ["Tab", "Stage", "ClientId"]);
    let code = "impl Tab {\nimpl<P> Caller<P> {\nimpl fmt::Display for Tab {\nimpl<K: Ord> LockTable<K> {\n";
    assert_eq!(inherent_impls(code), ["Tab", "Caller", "LockTable"]);
}

#[test]
fn the_reader_sees_each_kind_of_import() {
    let all: BTreeMap<String, (String, String)> =
        ["", "a", "a::b", "c"].iter().map(|m| (m.to_string(), (String::new(), String::new()))).collect();
    let seen = |module: &str, code: &str| imports(module, code, &all).into_iter().collect::<Vec<_>>();
    assert_eq!(seen("a", "use crate::c::X;"), ["c"]);
    assert_eq!(seen("a::b", "use super::{X, Y};"), ["a"]);
    assert_eq!(seen("a::b", "use super::super::c::Z;"), ["c"]);
    assert_eq!(seen("a", "let x: b::T = 1;"), ["a::b"]);
    assert_eq!(seen("a", "use std::fmt; let y = Vec::<u8>::new();"), Vec::<String>::new());
    assert_eq!(seen("a", "use self::b::T;"), ["a::b"]);
}
