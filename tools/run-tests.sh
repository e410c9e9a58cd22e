#!/usr/bin/env bash
# The test command: installs what the build and the tests need (Debian 12 packages, and the pinned
# npm packages of the OAuth interop tests) when missing, then configures, builds and runs every test
# with the `dev` preset. Prints ctest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."

# The OAuth interop tests run oidc-provider (npm) under Node: Debian's nodejs and npm when the
# machine has no node or npm of its own.
bash tools/apt-install.sh cmake ninja-build g++ git python3 pkg-config openssl libssl-dev doctest-dev nginx-light \
    tinyproxy wrk curl libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev node=nodejs npm=npm

# The pinned npm packages of the interop tests, when missing or older than the lock file (npm
# writes node_modules/.package-lock.json last, so an interrupted install is redone).
oidc=tests/support/oidc
if [ ! -f "$oidc/node_modules/.package-lock.json" ] || [ "$oidc/package-lock.json" -nt "$oidc/node_modules/.package-lock.json" ]; then
    echo "run-tests: npm ci in $oidc"
    npm ci --prefix "$oidc" --no-audit --no-fund --loglevel=error
fi

cmake --preset dev
cmake --build --preset dev
ctest --preset dev
