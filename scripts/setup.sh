# Installs what building and testing tabworker needs, skipping whatever is
# already there. Sourced by scripts/test.sh and scripts/demo.sh; it only uses
# the package registries (crates.io, Debian, npm).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="$HOME/.cargo/bin:$PATH"

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
have() { command -v "$1" >/dev/null 2>&1; }

if ! have cargo || ! have rustup; then
  echo "tabworker needs Rust installed with rustup (https://rustup.rs)" >&2
  exit 1
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# wasm-bindgen-cli must match the wasm-bindgen in Cargo.lock exactly.
want=$(awk '$0 == "name = \"wasm-bindgen\"" { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$want" ]; then
  say "installing wasm-bindgen-cli $want"
  cargo install wasm-bindgen-cli --version "$want" --locked || cargo install wasm-bindgen-cli --version "$want"
fi
if ! have wasm-pack; then
  say "installing wasm-pack"
  cargo install wasm-pack --locked || cargo install wasm-pack
fi

# Plane, for the local cluster of the tests (scripts/plane/cluster.mjs), whose
# process executor speaks exactly this version's protocol. `plane version`
# prints "Client version: X"; the crate does not build without tracing's
# unstable features.
plane_version=0.5.5
if [ "$(plane version 2>/dev/null | sed -n 's/\x1b\[[0-9;]*m//g; s/^Client version: *//p')" != "$plane_version" ]; then
  say "installing plane $plane_version"
  RUSTFLAGS="--cfg tracing_unstable" cargo install plane --version "$plane_version" --locked
fi

missing=()
have chromium || missing+=(chromium)
have chromedriver || missing+=(chromium-driver)
have node || missing+=(nodejs)
have npm || missing+=(npm)
# Postgres for the Plane cluster; Debian keeps initdb off PATH, in /usr/lib/postgresql/N/bin.
have initdb || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y "${missing[@]}"
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages from package-lock.json"
  npm ci --no-audit --no-fund
fi

# wasm-pack and wasm-bindgen-test-runner use these instead of downloading.
export CHROMEDRIVER=/usr/bin/chromedriver
export WASM_BINDGEN_TEST_WEBDRIVER_JSON="$PWD/tests/webdriver.json"
export CHROMIUM=/usr/bin/chromium
