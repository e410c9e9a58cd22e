// Ingress credentials without a socket: the refresh margin and its clamp, a failed refresh that
// keeps the old credential, invalidation by generation, the static provider, and what prints.
#include <takeoff/snowflake/credential.hpp>

#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>

namespace asio = boost::asio;
namespace snowflake = takeoff::snowflake;
using takeoff::errc;
using namespace std::chrono_literals;
using time_point = takeoff::oauth::token_clock::time_point;

namespace {

const time_point t0 = time_point(std::chrono::seconds(1'800'000'000));

struct fake_clock {
    std::shared_ptr<time_point> now = std::make_shared<time_point>(t0);
    snowflake::refresh_settings settings() const {
        snowflake::refresh_settings s;
        s.clock = [now = now] { return *now; };
        return s;
    }
    void set(std::chrono::seconds since_t0) const { *now = t0 + since_t0; }
};

// Each fetch takes the next step: a token living `lifetime`, or a failure.
struct step {
    std::string token;
    std::chrono::seconds lifetime{0};
    bool fail = false;
};

class scripted_provider final : public snowflake::refreshing_token_provider {
public:
    scripted_provider(asio::any_io_executor ex, snowflake::refresh_settings s)
        : refreshing_token_provider(std::move(ex), std::move(s)) {}

    std::deque<step> steps;

protected:
    takeoff::detail::task<snowflake::credential_result>
    fetch_task(takeoff::diagnostics& diag) override {
        REQUIRE_FALSE(steps.empty());
        step s = steps.front();
        steps.pop_front();
        if (s.fail) {
            diag.set_client_message("scripted refresh failure");
            co_return snowflake::credential_result{make_error_code(errc::invalid_grant), {}};
        }
        co_return snowflake::credential_result{{}, snowflake::credential{takeoff::secret(s.token), now() + s.lifetime, 0}};
    }
};

struct got {
    boost::system::error_code ec;
    snowflake::credential credential;
    std::string message;
};

got get(asio::io_context& io, snowflake::token_provider& provider) {
    std::optional<got> out;
    auto diag = std::make_shared<takeoff::diagnostics>();
    provider.async_get_token(*diag, [&out, diag](boost::system::error_code ec, snowflake::credential c) {
        out.emplace(got{ec, std::move(c), diag->client_message()});
    });
    io.restart();
    io.run();
    REQUIRE(out.has_value());
    return std::move(*out);
}

} // namespace

TEST_CASE("refreshing provider: a 600 s token is reused until 120 s before expiry, then fetched again") {
    asio::io_context io;
    fake_clock clock;
    scripted_provider provider(io.get_executor(), clock.settings());
    provider.steps = {{"first", 600s}, {"second", 600s}};

    auto a = get(io, provider);
    REQUIRE_FALSE(a.ec);
    CHECK(a.credential.token.reveal() == "first");
    CHECK(a.credential.generation == 1);
    CHECK(a.credential.expires_at == t0 + 600s);

    clock.set(479s);
    auto b = get(io, provider);
    CHECK(b.credential.token.reveal() == "first");
    CHECK(provider.fetch_count() == 1);

    clock.set(480s); // 120 s left: renewed
    auto c = get(io, provider);
    CHECK(c.credential.token.reveal() == "second");
    CHECK(c.credential.generation == 2);
    CHECK(c.credential.expires_at == t0 + 480s + 600s);
    CHECK(provider.fetch_count() == 2);
}

TEST_CASE("refreshing provider: the margin is clamped to half the lifetime of a 60 s token") {
    asio::io_context io;
    fake_clock clock;
    scripted_provider provider(io.get_executor(), clock.settings());
    provider.steps = {{"short", 60s}, {"next", 60s}};

    CHECK(get(io, provider).credential.token.reveal() == "short");
    clock.set(29s);
    CHECK(get(io, provider).credential.token.reveal() == "short");
    CHECK(provider.cached().has_value());
    clock.set(30s);
    CHECK_FALSE(provider.cached().has_value());
    CHECK(get(io, provider).credential.token.reveal() == "next");
    CHECK(provider.fetch_count() == 2);
}

TEST_CASE("refreshing provider: a failed refresh keeps the old credential until it expires, then fails with the fetch's diagnostics") {
    asio::io_context io;
    fake_clock clock;
    scripted_provider provider(io.get_executor(), clock.settings());
    provider.steps = {{"old", 600s}, {"", 0s, true}, {"", 0s, true}};

    CHECK(get(io, provider).credential.token.reveal() == "old");

    clock.set(500s); // expiring, still valid: the refresh fails, the old one is served
    auto kept = get(io, provider);
    CHECK_FALSE(kept.ec);
    CHECK(kept.credential.token.reveal() == "old");
    CHECK(kept.credential.generation == 1);
    CHECK(provider.fetch_count() == 2);

    clock.set(600s); // expired: the failure is the result
    auto failed = get(io, provider);
    CHECK(failed.ec == errc::invalid_grant);
    CHECK(failed.message == "scripted refresh failure");
    CHECK(provider.fetch_count() == 3);
}

TEST_CASE("refreshing provider: invalidating the current credential fetches a new one; an older generation changes nothing") {
    asio::io_context io;
    fake_clock clock;
    scripted_provider provider(io.get_executor(), clock.settings());
    provider.steps = {{"one", 600s}, {"two", 600s}};

    auto one = get(io, provider);
    CHECK(provider.invalidate(one.credential));
    auto two = get(io, provider);
    CHECK(two.credential.token.reveal() == "two");
    CHECK(two.credential.generation == 2);

    CHECK(provider.invalidate(one.credential)); // stale generation: "two" stays
    CHECK(get(io, provider).credential.token.reveal() == "two");
    CHECK(provider.fetch_count() == 2);
}

TEST_CASE("refreshing provider: a token of unknown lifetime is kept until invalidated") {
    asio::io_context io;
    fake_clock clock;
    class forever final : public snowflake::refreshing_token_provider {
    public:
        using refreshing_token_provider::refreshing_token_provider;
        int fetches = 0;

    protected:
        takeoff::detail::task<snowflake::credential_result>
        fetch_task(takeoff::diagnostics&) override {
            ++fetches;
            co_return snowflake::credential_result{{}, snowflake::credential{takeoff::secret("t" + std::to_string(fetches)), std::nullopt, 0}};
        }
    } provider(io.get_executor(), clock.settings());

    CHECK(get(io, provider).credential.token.reveal() == "t1");
    clock.set(std::chrono::hours(24 * 365));
    CHECK(get(io, provider).credential.token.reveal() == "t1");
    provider.invalidate(*provider.cached());
    CHECK(get(io, provider).credential.token.reveal() == "t2");
}

TEST_CASE("static provider: gives its token until the ingress rejects it, then token_unavailable saying what to replace") {
    asio::io_context io;
    snowflake::static_token_provider pat(io.get_executor(), takeoff::secret("pat-value"), "the programmatic access token");
    auto first = get(io, pat);
    REQUIRE_FALSE(first.ec);
    CHECK(first.credential.token.reveal() == "pat-value");
    CHECK(first.credential.header_value().reveal() == "Snowflake Token=\"pat-value\"");
    CHECK_FALSE(first.credential.expires_at.has_value());

    CHECK_FALSE(pat.invalidate(first.credential));
    auto after = get(io, pat);
    CHECK(after.ec == errc::token_unavailable);
    CHECK(after.message ==
          "the ingress rejected the programmatic access token; it cannot be renewed here: replace it and try again");

    snowflake::static_token_provider empty(io.get_executor(), takeoff::secret(""), "the PAT");
    auto none = get(io, empty);
    CHECK(none.ec == errc::token_unavailable);
    CHECK(none.message == "the PAT is empty");
}

TEST_CASE("credential: the header names, and operator<< never shows the token") {
    CHECK(snowflake::header_name(snowflake::credential_header::authorization) == "Authorization");
    CHECK(snowflake::header_name(snowflake::credential_header::spcs_authorization) == "X-SF-SPCS-Authorization");
    snowflake::credential c{takeoff::secret("very-secret"), t0, 7};
    std::ostringstream os;
    os << c;
    CHECK(os.str() == "credential{token=[redacted], generation=7, expires_at=1800000000}");
}
