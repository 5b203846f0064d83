#!/usr/bin/env bash
# Runs every check and every test layer of tabworker.
#   bash scripts/test.sh
source "$(dirname "$0")/setup.sh"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "format"
cargo fmt --all -- --check

step "clippy (native, with the native backend host)"
cargo clippy --all-targets --features native -- -D warnings
step "clippy (wasm32)"
cargo clippy --target wasm32-unknown-unknown --all-targets -- -D warnings
step "clippy (wasm32, each role alone, as the package builds it)"
for role in tab backend coordinator; do
  cargo clippy --target wasm32-unknown-unknown --no-default-features --features "$role" -- -D warnings
done
step "clippy (the example backend in Rust, both builds: wasm32 and native)"
cargo clippy -p counter-backend --target wasm32-unknown-unknown -- -D warnings
cargo clippy -p counter-backend -- -D warnings

step "native tests (cargo test)"
cargo test --features native

step "browser glue tests (wasm-pack test, headless Chromium)"
web_tests=()
for f in tests/web_*.rs; do web_tests+=(--test "$(basename "$f" .rs)"); done
wasm-pack test --headless --chrome --chromedriver "$CHROMEDRIVER" --mode no-install -- "${web_tests[@]}"

step "build the package"
node scripts/build.mjs

step "build the example backend in Rust as a native executable (what the Plane cluster of the tests runs)"
cargo build -p counter-backend --release

step "TypeScript: the package's .d.ts against the seed's types"
npx tsc --noEmit -p tests/types/tsconfig.json

step "server helper tests (tabworker/server against a fake Plane controller)"
node --test tests/server/

step "multi-tab browser tests (Playwright)"
node --test --test-concurrency=1 tests/browser/
