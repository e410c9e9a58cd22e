// Single-flight refresh under load: 10,000 coroutines ask one provider for a credential at once,
// when its credential has expired, against the emulated Snowflake account over HTTPS.
//
// The provider is the default one (OAuth -> session token). A first request warms it (one login
// with a fresh access token); then the provider's clock and the account's are both moved past the
// session's and the access token's lifetimes, so the next credential needs a refresh grant at
// /oauth/token-request and a login at /session/v1/login-request. The program measures:
//
// - lone: one caller's time to a credential in that state (the refresh round trips alone), the
//   median of 7 runs;
// - crowd: 10,000 coroutines started at once (co_spawn, one io_context on this thread); the time
//   from their start until the last one has its credential: once with a usable credential (what
//   the 10,000 callers cost by themselves), once with an expired one, and how many token requests
//   the account saw meanwhile (single flight: 1).
//
// Prints `BENCH token_refresh_requests_10k <n> count` (token-request calls during the expired
// crowd), `BENCH token_refresh_added_latency_ms <x> ms` (the expired crowd's last completion minus
// the usable crowd's: what the refresh adds for the callers), and the figures it is made of. Run: `bash tools/bench.sh token_refresh`. The latest figures are in
// docs/benchmarks.md.

#include <takeoff/http/client.hpp>
#include <takeoff/oauth/token_store.hpp>
#include <takeoff/snowflake/providers.hpp>
#include <takeoff_emulator/snowflake.hpp>

#include "../tests/support/emulated_account.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace http = takeoff::http;
namespace emu = takeoff::emulator;
namespace oauth = takeoff::oauth;
namespace snowflake = takeoff::snowflake;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

constexpr int crowd_size = 10'000;
// The emulated account (tests/support/emulated_account.hpp), signed in, and its default provider
// on a clock this program moves on.
struct setup : takeoff::test::emulated_account {
    oauth::memory_token_store store;
    std::shared_ptr<std::chrono::seconds> offset = std::make_shared<std::chrono::seconds>(0);
    std::unique_ptr<snowflake::oauth_session> session;
    std::unique_ptr<snowflake::session_token_provider> provider;

    setup() : emulated_account({}, [](http::client_options& o) { o.single_threaded_executor = true; }) {
        session = std::make_unique<snowflake::oauth_session>(client, oauth_client(), &store, key());
        takeoff::diagnostics diag;
        if (session->set_tokens(signed_in_tokens(), diag)) throw std::runtime_error("set_tokens failed");
        snowflake::refresh_settings refresh;
        refresh.clock = [offset = offset] { return oauth::token_clock::now() + *offset; };
        provider = std::make_unique<snowflake::session_token_provider>(client, *session, url(), login(), refresh);
    }

    // Both clocks past every lifetime: the next credential needs a refresh and a login.
    void expire() {
        *offset += 4000s;
        account.advance_clock(4000s);
    }

    // One credential, synchronously; throws on failure.
    void get_one() {
        bool done = false;
        takeoff::diagnostics diag;
        provider->async_get_token(diag, [&done, &diag](boost::system::error_code ec, snowflake::credential) {
            if (ec) throw std::runtime_error("async_get_token: " + ec.message() + ": " + diag.client_message());
            done = true;
        });
        io.restart();
        io.run();
        if (!done) throw std::runtime_error("async_get_token did not complete");
    }
};

double ms(steady::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// crowd_size coroutines (co_spawn on this thread's io_context) ask for a credential at once; the
// time from their start until the last one has it, or none when one failed.
std::optional<double> crowd(setup& s) {
    int completed = 0;
    int failed = 0;
    steady::time_point last{};
    const auto start = steady::now();
    for (int i = 0; i < crowd_size; ++i) {
        asio::co_spawn(
            s.io,
            [&s, &completed, &failed, &last]() -> asio::awaitable<void> {
                auto [ec, credential] = co_await s.provider->async_get_token(asio::as_tuple(asio::use_awaitable));
                if (ec) ++failed;
                ++completed;
                last = steady::now();
            },
            asio::detached);
    }
    s.io.restart();
    s.io.run();
    if (completed != crowd_size || failed != 0) {
        std::fprintf(stderr, "token_refresh: %d of %d completed, %d failed\n", completed, crowd_size, failed);
        return std::nullopt;
    }
    return ms(last - start);
}

} // namespace

int main() {
    try {
        setup s;
        s.get_one(); // warm: connection, TLS session, first login

        std::vector<double> lone;
        const std::size_t refreshes_before = s.account.refresh_grants();
        const std::size_t logins_before = s.account.login_requests();
        for (int i = 0; i < 7; ++i) {
            s.expire();
            const auto start = steady::now();
            s.get_one();
            lone.push_back(ms(steady::now() - start));
        }
        if (s.account.refresh_grants() - refreshes_before != 7 || s.account.login_requests() - logins_before != 7) {
            std::fprintf(stderr, "token_refresh: the lone runs did not each refresh and log in once\n");
            return 1;
        }
        std::sort(lone.begin(), lone.end());
        const double lone_ms = lone[lone.size() / 2];

        // The crowd with a usable credential (what 10,000 callers cost without a refresh), then
        // the crowd with an expired one.
        const auto cached = crowd(s);
        if (!cached) return 1;
        if (s.account.token_requests() != 7 || s.account.login_requests() - logins_before != 7) {
            std::fprintf(stderr, "token_refresh: the crowd with a usable credential made requests\n");
            return 1;
        }
        s.expire();
        const std::size_t requests_before = s.account.token_requests();
        const auto expired = crowd(s);
        if (!expired) return 1;
        const std::size_t requests = s.account.token_requests() - requests_before;
        const std::size_t logins = s.account.login_requests() - logins_before - 7;

        std::printf("BENCH token_refresh_requests_10k %zu count\n", requests);
        std::printf("BENCH token_refresh_added_latency_ms %.2f ms\n", *expired - *cached);
        std::printf("BENCH token_refresh_logins_10k %zu count\n", logins);
        std::printf("BENCH token_refresh_lone_ms %.2f ms\n", lone_ms);
        std::printf("BENCH token_refresh_crowd_cached_last_ms %.2f ms\n", *cached);
        std::printf("BENCH token_refresh_crowd_expired_last_ms %.2f ms\n", *expired);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "token_refresh: %s\n", e.what());
        return 1;
    }
}
