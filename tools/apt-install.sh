#!/usr/bin/env bash
# Installs the Debian packages named on the command line that are not installed yet (apt-get, as
# root or through sudo). A name of the form `command=package` installs `package` only when
# `command` is not on PATH (a machine with its own node or npm keeps them). Used by the test
# command and the demo.
set -euo pipefail
missing=()
for want in "$@"; do
    if [[ $want == *=* ]]; then
        command -v "${want%%=*}" >/dev/null || missing+=("${want#*=}")
    else
        dpkg-query -W -f='${Status}' "$want" 2>/dev/null | grep -q "install ok installed" || missing+=("$want")
    fi
done
((${#missing[@]})) || exit 0
echo "$(basename "$0"): installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
