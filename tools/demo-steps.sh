#!/usr/bin/env bash
# The demo's steps, run by takeoff-emulator once it serves (`takeoff-emulator ... -- demo-steps.sh
# BIN_DIR CERT_DIR`): TAKEOFF_CONFIG names the configuration it wrote. Used by tools/demo.sh and
# by ctest (cli.demo_steps), so the README demo is tested on every run.
set -euo pipefail
bin=$1
certs=$2
export PATH="$bin:$PATH"
# Keep the tokens of the demo apart from the user's own.
export XDG_CACHE_HOME="$certs/cache"
# The scripted browser: curl follows the account's redirect to takeoff's loopback listener, as a
# browser does after the user signed in (the emulated account signs in at once).
export BROWSER="curl -fsS -L --cacert $certs/ca.pem -o /dev/null %s"

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
# Shows a command as one would type it (words with spaces or quotes in single quotes), then runs it.
run() {
    local shown="$" word
    for word in "$@"; do
        if [[ $word =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then shown+=" $word"; else shown+=" '${word//\'/\'\\\'\'}'"; fi
    done
    printf '%s\n' "$shown"
    "$@"
}

say "1. Sign in. takeoff opens the account's /oauth/authorize in \$BROWSER (here curl) with a PKCE challenge, waits on a loopback port for the redirect, and exchanges the code for tokens:"
run takeoff login
say "2. Who am I? (the tokens' lifetimes; a token is never printed)"
run takeoff whoami
say "3. Generate. The OAuth token becomes a Snowflake session token, sent as Authorization: Snowflake Token=\"...\" through the emulated SPCS ingress to Takeoff's /generate:"
run takeoff generate --max-new-tokens 24 "List three things to do in London: "
say "4. Stream. The tokens arrive one by one from /generate_stream (server-sent events):"
run takeoff generate --stream --max-new-tokens 32 "Tell me a story about a snowflake."
say "5. Embed. One vector per text from /embed:"
run takeoff embed --consumer-group embed "Snowflake" "Takeoff"
say "6. The same, machine-readable:"
run takeoff --json generate --max-new-tokens 8 "Hello"
say "Done: signed in once, then three kinds of Takeoff call through the ingress."
