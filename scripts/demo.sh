#!/usr/bin/env bash
# Builds the package and serves the demo in www/ on localhost.
#   bash scripts/demo.sh [port]
source "$(dirname "$0")/setup.sh"
node scripts/build.mjs
exec node scripts/serve.mjs "${1:-8080}"
