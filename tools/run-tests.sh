#!/usr/bin/env bash
# The test command: installs what the build and the tests need (Debian 12 packages) when missing,
# then configures, builds and runs every test with the `dev` preset. Prints ctest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake ninja-build g++ git python3 pkg-config openssl libssl-dev doctest-dev nginx-light tinyproxy wrk
          libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
    echo "run-tests: installing ${missing[*]}"
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

cmake --preset dev
cmake --build --preset dev
ctest --preset dev
