#!/usr/bin/env bash
# The README demo, on a fresh Debian 12 machine (as root, or with sudo): installs what it needs,
# builds the `takeoff` command-line tool and `takeoff-emulator`, starts the emulator over HTTPS
# (an emulated Snowflake account, SPCS ingress and Takeoff on 127.0.0.1, with a CA made for the
# run), then signs in with `takeoff login` (curl plays the browser) and calls Takeoff with
# `takeoff generate`, `takeoff generate --stream` and `takeoff embed`, saying what happens at
# each step (tools/demo-steps.sh). Nothing is left running; the tokens and certificates of the
# run are in a temporary directory that is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }

say "Checking the Debian packages it needs (installing what is missing): cmake, ninja, g++, OpenSSL, Boost 1.81 (JSON, URL), curl (Debian packages)"
bash tools/apt-install.sh cmake ninja-build g++ pkg-config libssl-dev curl libboost1.81-dev libboost-json1.81-dev \
    libboost-url1.81-dev

say "Building the takeoff tool and takeoff-emulator (build/demo, Release; a few minutes the first time)"
cmake -S . -B build/demo -G Ninja -DCMAKE_BUILD_TYPE=Release -DTAKEOFF_WARNINGS_AS_ERRORS=OFF \
      -DTAKEOFF_BUILD_TESTS=OFF -DTAKEOFF_BUILD_EXAMPLES=OFF -DTAKEOFF_BUILD_BENCH=OFF > build-demo-configure.log \
    || { cat build-demo-configure.log; exit 1; }
rm -f build-demo-configure.log
cmake --build build/demo --target takeoff_cli takeoff-emulator

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
say "Starting takeoff-emulator over HTTPS: it makes a CA ($work/ca.pem) and a server certificate, listens on 127.0.0.1, writes a takeoff configuration pointing at itself ($work/config.json, with the emulated account's client id and secret), runs the steps below, and stops"
build/demo/emulator/takeoff-emulator --https --quiet --token-interval-ms 40 --cert-dir "$work" \
    --print-config "$work/config.json" -- bash tools/demo-steps.sh "$PWD/build/demo/cli" "$work"
