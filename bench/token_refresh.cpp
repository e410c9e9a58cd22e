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
//   from their start until the last one has its credential, and how many token requests the
//   account saw meanwhile (single flight: 1).
//
// Prints `BENCH token_refresh_requests_10k <n> count` (token-request calls during the crowd run),
// `BENCH token_refresh_added_latency_ms <x> ms` (crowd's last completion minus lone), and the two
// times it is made of. Run: `bash tools/bench.sh token_refresh`. The latest figures are in
// docs/benchmarks.md.

#include <takeoff/http/client.hpp>
#include <takeoff/oauth/token_store.hpp>
#include <takeoff/snowflake/providers.hpp>
#include <takeoff_emulator/certificates.hpp>
#include <takeoff_emulator/snowflake.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
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
constexpr const char* scope = "refresh_token session:role:ANALYST";

struct setup {
    emu::certificate_authority authority;
    emu::server server{emu::server_options{authority.issue()}};
    emu::snowflake_emulator account;
    asio::io_context io;
    http::client client;
    oauth::memory_token_store store;
    std::shared_ptr<std::chrono::seconds> offset = std::make_shared<std::chrono::seconds>(0);
    snowflake::account_url url;
    std::unique_ptr<snowflake::oauth_session> session;
    std::unique_ptr<snowflake::session_token_provider> provider;

    setup() : client(io.get_executor(), client_options()), url(snowflake::account_url::runtime(server.url()).value()) {
        account.install(server);
        const auto options = account.options();
        oauth::client_config config{url.authorization_endpoint(),
                                    url.token_endpoint(),
                                    options.client_id,
                                    takeoff::secret(options.client_secret),
                                    std::nullopt,
                                    oauth::client_auth_method::client_secret_post,
                                    scope,
                                    "http://127.0.0.1/cb",
                                    {}};
        session = std::make_unique<snowflake::oauth_session>(client, config, &store,
                                                             oauth::token_key{url.base(), options.client_id, scope});
        const auto issued = account.issue_tokens(scope);
        oauth::token_set tokens;
        tokens.access_token = takeoff::secret(issued.access_token);
        tokens.expires_at = oauth::token_clock::now() + 600s;
        tokens.refresh_token = takeoff::secret(*issued.refresh_token);
        takeoff::diagnostics diag;
        if (session->set_tokens(std::move(tokens), diag)) throw std::runtime_error("set_tokens failed");

        snowflake::refresh_settings refresh;
        refresh.clock = [offset = offset] { return oauth::token_clock::now() + *offset; };
        snowflake::login_parameters login;
        login.account_name = "EMULATOR";
        provider = std::make_unique<snowflake::session_token_provider>(client, *session, url, login, refresh);
    }

    http::client_options client_options() const {
        http::client_options o;
        o.proxy_from_environment = false;
        o.single_threaded_executor = true;
        o.tls.use_system_trust = false;
        o.tls.ca_pem = authority.certificate_pem();
        return o;
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

        s.expire();
        const std::size_t requests_before = s.account.token_requests();
        int completed = 0;
        int failed = 0;
        steady::time_point last{};
        const auto start = steady::now();
        for (int i = 0; i < crowd_size; ++i) {
            asio::co_spawn(
                s.io,
                [&s, &completed, &failed, &last]() -> asio::awaitable<void> {
                    auto [ec, credential] =
                        co_await s.provider->async_get_token(asio::as_tuple(asio::use_awaitable));
                    if (ec) ++failed;
                    ++completed;
                    last = steady::now();
                },
                asio::detached);
        }
        s.io.restart();
        s.io.run();
        const std::size_t requests = s.account.token_requests() - requests_before;
        const std::size_t logins = s.account.login_requests() - logins_before - 7;
        if (completed != crowd_size || failed != 0) {
            std::fprintf(stderr, "token_refresh: %d of %d completed, %d failed\n", completed, crowd_size, failed);
            return 1;
        }
        const double crowd_ms = ms(last - start);

        std::printf("BENCH token_refresh_requests_10k %zu count\n", requests);
        std::printf("BENCH token_refresh_added_latency_ms %.2f ms\n", crowd_ms - lone_ms);
        std::printf("BENCH token_refresh_logins_10k %zu count\n", logins);
        std::printf("BENCH token_refresh_lone_ms %.2f ms\n", lone_ms);
        std::printf("BENCH token_refresh_crowd_last_ms %.2f ms\n", crowd_ms);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "token_refresh: %s\n", e.what());
        return 1;
    }
}
