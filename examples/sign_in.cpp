// Browser sign-in (auth "oauth"): the first run opens the browser once and keeps the tokens in the
// file token store ($XDG_CACHE_HOME/takeoff/tokens.json, else ~/.cache/takeoff/tokens.json); later
// runs reuse them (refreshed when they expire) and say so. Then GET /status through the SPCS
// ingress, with the session token the OAuth tokens are exchanged for.
//
//   A real account:    example_sign_in --config takeoff.json    (auth "oauth", docs/configuration.md)
//   The emulator:      takeoff-emulator --https --cert-dir /tmp/emu -- example_sign_in
//                      (the browser is $BROWSER, else xdg-open; `BROWSER='curl -fsS -L --cacert
//                      /tmp/emu/ca.pem -o /dev/null %s'` signs in without one: the emulator approves)
//
// `example_sign_in sign-out` forgets the stored tokens first, so the browser opens again.
#include "harness.hpp"

#include <iostream>
#include <string>

boost::asio::awaitable<void> run(example::context& ex) {
    example::expect(ex.connection.session() != nullptr, "this example is for auth \"oauth\" or \"oauth-direct\"");
    if (ex.arg(0, "") == "sign-out") {
        ex.step = "sign out";
        takeoff::diagnostics diag;
        takeoff::throw_if_error(ex.connection.sign_out(diag), diag);
    }

    // signed_in() looks in the token store: tokens of this account, client and scope from an
    // earlier run (an expired access token is fine: the refresh token renews it when needed).
    if (ex.connection.signed_in()) {
        std::cout << "using the cached tokens" << std::endl;
    } else {
        ex.step = "sign in";
        std::cout << "signing in with the browser ..." << std::endl;
        takeoff::oauth::token_set tokens = co_await ex.connection.async_sign_in();
        std::cout << "signed in as " << tokens.username << "; the tokens are stored for the next run" << std::endl;
    }

    // Every request through the ingress carries Authorization: Snowflake Token="<session token>".
    ex.step = "GET /status";
    takeoff::api::inference_status status = co_await ex.client().async_status();
    std::cout << "status: " << status.live_readers.size() << " live readers" << std::endl;
    for (const auto& [id, reader] : status.live_readers) std::cout << "  " << id << '\n';
    example::expect(!status.live_readers.empty(), "the server has no live reader");
}

// false: this program signs in itself (the harness would do it before run()).
int main(int argc, char** argv) { return example::main(argc, argv, "[sign-out]", run, false); }
