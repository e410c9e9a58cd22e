// Ingress credentials on the wire, against the emulator: one fetch for a thousand waiting callers,
// one caller's cancellation leaving the others waiting, the credential header as sent, and the
// "rejected -> invalidate -> send once more" rule of snowflake::async_send.
#include <takeoff/http/client.hpp>
#include <takeoff/snowflake/credential.hpp>
#include <takeoff/snowflake/send.hpp>
#include <takeoff_emulator/server.hpp>

#include "../support/client_helpers.hpp"

#include <doctest/doctest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <atomic>
#include <future>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace asio = boost::asio;
namespace http = takeoff::http;
namespace emu = takeoff::emulator;
namespace snowflake = takeoff::snowflake;
using boost::beast::http::verb;
using bhttp_status = boost::beast::http::status;
using takeoff::errc;
using namespace std::chrono_literals;

namespace {

http::client_options client_defaults() {
    auto options = takeoff::test::direct_client_options();
    options.defaults.retries = http::retry_policy::none();
    return options;
}

// Each fetch GETs the emulator's /mint, whose body is the new token (living 600 s).
class minting_provider final : public snowflake::refreshing_token_provider {
public:
    minting_provider(http::client& client, std::string url,
                     snowflake::credential_header header = snowflake::credential_header::authorization)
        : refreshing_token_provider(client.get_executor(), {}, header), client_(client), url_(std::move(url)) {}

protected:
    takeoff::detail::task<snowflake::credential_result> fetch_task(takeoff::diagnostics& diag) override {
        const http::request req = http::request::get(boost::urls::url(url_));
        auto r = co_await client_.request_task(req, client_.defaults(), diag);
        if (r.ec) co_return snowflake::credential_result{r.ec, {}};
        co_return snowflake::credential_result{{}, snowflake::credential{takeoff::secret(r.value.body), now() + 600s, 0}};
    }

private:
    http::client& client_;
    std::string url_;
};

// /mint answers "tok-1", "tok-2", ...; with `held`, only once the hold gate opens.
void add_mint_route(emu::server& server, std::shared_ptr<std::atomic<int>> minted, bool held) {
    server.route(verb::get, "/mint", [minted, held](emu::exchange& ex) -> asio::awaitable<void> {
        if (held) co_await ex.async_wait_released();
        const int n = ++*minted;
        co_await ex.async_respond(emu::make_response(bhttp_status::ok, "tok-" + std::to_string(n), "text/plain"));
    });
}

// The emulator with /mint (held until the gate opens, or not), a client and a minting provider.
// Tests bind its members: `auto& [server, io, client, provider] = minting_setup;`.
struct minting {
    emu::server server;
    asio::io_context io;
    http::client client;
    minting_provider provider;

    explicit minting(bool held, snowflake::credential_header header = snowflake::credential_header::authorization)
        : client(io.get_executor(), client_defaults()), provider(client, server.url() + "/mint", header) {
        add_mint_route(server, std::make_shared<std::atomic<int>>(0), held);
    }
};

// /api accepts only `Snowflake Token="<accepted>"` in `header`; else 401 (or the ingress's login
// redirect with `redirect_when_rejected`).
void add_api_route(emu::server& server, std::string header, std::string accepted, bool redirect_when_rejected = false) {
    server.route(verb::get, "/api", [=](emu::exchange& ex) -> asio::awaitable<void> {
        const auto it = ex.request().find(header);
        if (it != ex.request().end() && it->value() == "Snowflake Token=\"" + accepted + "\"") {
            co_await ex.async_respond(emu::make_response(bhttp_status::ok, "hello", "text/plain"));
        } else if (redirect_when_rejected) {
            auto r = emu::make_response(bhttp_status::found, "", "text/plain");
            r.set(boost::beast::http::field::location,
                  "https://sfc-endpoint-login.snowflakecomputing.app/sfc-oauth-begin?x=1");
            co_await ex.async_respond(std::move(r));
        } else {
            co_await ex.async_respond(emu::make_json_response(
                bhttp_status::unauthorized,
                R"({"responseType":"ERROR_INVALID_TOKEN","requestId":"r-1","detail":"Invalid token"})"));
        }
    });
}

using send_result = std::tuple<boost::system::error_code, http::response>;

send_result send(asio::io_context& io, http::client& client, snowflake::token_provider& provider, http::request req,
                 takeoff::diagnostics& diag) {
    std::optional<send_result> out;
    snowflake::async_send(client, provider, std::move(req), diag,
                          [&out](boost::system::error_code ec, http::response r) { out.emplace(ec, std::move(r)); });
    io.restart();
    io.run();
    REQUIRE(out.has_value());
    return std::move(*out);
}

} // namespace

TEST_CASE("single flight: 1000 callers waiting for a credential cause one token request and all get its token") {
    minting setup(true);
    auto& [server, io, client, provider] = setup;

    constexpr int callers = 1000;
    std::vector<std::string> tokens(callers);
    std::vector<boost::system::error_code> errors(callers);
    for (int i = 0; i < callers; ++i)
        provider.async_get_token([&tokens, &errors, i](boost::system::error_code ec, snowflake::credential c) {
            errors[i] = ec;
            tokens[i] = std::string(c.token.reveal());
        });
    std::thread runner([&io] { io.run(); });
    REQUIRE(server.wait_for_requests(1, 10s));
    server.hold_gate().open();
    runner.join();

    CHECK(server.requests().size() == 1);
    CHECK(provider.fetch_count() == 1);
    int ok = 0;
    for (int i = 0; i < callers; ++i)
        if (!errors[i] && tokens[i] == "tok-1") ++ok;
    CHECK(ok == callers);
}

TEST_CASE("single flight: a cancelled waiter ends with operation_aborted, the fetch goes on and the others get its token") {
    minting setup(true);
    auto& [server, io, client, provider] = setup;

    asio::cancellation_signal cancel_first; // the caller whose wait started the fetch
    std::optional<boost::system::error_code> first;
    std::vector<std::string> others;
    provider.async_get_token(asio::bind_cancellation_slot(
        cancel_first.slot(), [&first](boost::system::error_code ec, snowflake::credential) { first = ec; }));
    for (int i = 0; i < 2; ++i)
        provider.async_get_token([&others](boost::system::error_code ec, snowflake::credential c) {
            others.push_back(ec ? "error: " + ec.message() : std::string(c.token.reveal()));
        });
    std::thread runner([&io] { io.run(); });
    REQUIRE(server.wait_for_requests(1, 10s));
    // Cancel from the io thread (a cancellation_signal is not thread-safe), then let the fetch finish.
    std::promise<void> cancelled;
    asio::post(io, [&] {
        cancel_first.emit(asio::cancellation_type::terminal);
        cancelled.set_value();
    });
    cancelled.get_future().wait();
    server.hold_gate().open();
    runner.join();

    REQUIRE(first.has_value());
    CHECK(*first == asio::error::operation_aborted);
    CHECK(others == std::vector<std::string>{"tok-1", "tok-1"});
    CHECK(server.requests().size() == 1);
}

TEST_CASE("async_send: the credential goes in Authorization as Snowflake Token=\"...\", fetched once for two requests") {
    minting setup(false);
    auto& [server, io, client, provider] = setup;
    add_api_route(server, "Authorization", "tok-1");

    for (int i = 0; i < 2; ++i) {
        takeoff::diagnostics diag;
        auto [ec, resp] = send(io, client, provider, takeoff::test::get(server, "/api"), diag);
        CHECK_FALSE(ec);
        CHECK(resp.body == "hello");
    }
    const auto log = server.requests();
    REQUIRE(log.size() == 3); // /mint, /api, /api
    CHECK(log[0].target == "/mint");
    CHECK_FALSE(log[0].header("authorization").has_value());
    CHECK(log[1].header("authorization") == "Snowflake Token=\"tok-1\"");
    CHECK(log[2].header("authorization") == "Snowflake Token=\"tok-1\"");
}

TEST_CASE("async_send: X-SF-SPCS-Authorization carries the credential when asked, Authorization stays unset") {
    minting setup(false, snowflake::credential_header::spcs_authorization);
    auto& [server, io, client, provider] = setup;
    add_api_route(server, "X-SF-SPCS-Authorization", "tok-1");

    takeoff::diagnostics diag;
    auto [ec, resp] = send(io, client, provider, takeoff::test::get(server, "/api"), diag);
    CHECK_FALSE(ec);
    const auto log = server.requests();
    REQUIRE(log.size() == 2);
    CHECK(log[1].header("x-sf-spcs-authorization") == "Snowflake Token=\"tok-1\"");
    CHECK_FALSE(log[1].header("authorization").has_value());
}

TEST_CASE("async_send: a 401 invalidates the credential and the request is sent once more with a new one") {
    minting setup(false);
    auto& [server, io, client, provider] = setup;
    add_api_route(server, "Authorization", "tok-2");

    takeoff::diagnostics diag;
    auto [ec, resp] = send(io, client, provider, takeoff::test::get(server, "/api"), diag);
    CHECK_FALSE(ec);
    CHECK(resp.body == "hello");
    const auto log = server.requests();
    REQUIRE(log.size() == 4); // /mint, /api (401), /mint, /api
    CHECK(log[1].header("authorization") == "Snowflake Token=\"tok-1\"");
    CHECK(log[3].header("authorization") == "Snowflake Token=\"tok-2\"");
    CHECK(provider.fetch_count() == 2);
}

TEST_CASE("async_send: the ingress's login redirect is not followed; the request is sent once more with a new credential") {
    minting setup(false);
    auto& [server, io, client, provider] = setup;
    add_api_route(server, "Authorization", "tok-2", true);

    takeoff::diagnostics diag;
    auto [ec, resp] = send(io, client, provider, takeoff::test::get(server, "/api"), diag);
    CHECK_FALSE(ec);
    CHECK(resp.body == "hello");
    CHECK(server.requests().size() == 4);
}

TEST_CASE("async_send: rejected twice, the second rejection is the result (no third attempt)") {
    minting setup(false);
    auto& [server, io, client, provider] = setup;
    add_api_route(server, "Authorization", "never");

    takeoff::diagnostics diag;
    auto [ec, resp] = send(io, client, provider, takeoff::test::get(server, "/api"), diag);
    CHECK(ec == errc::unauthorized);
    CHECK(resp.status == 401);
    CHECK(diag.http_status() == 401);
    CHECK(server.requests().size() == 4);
}

TEST_CASE("async_send: a static token the ingress rejects is not sent twice") {
    emu::server server;
    add_api_route(server, "Authorization", "good-pat");
    asio::io_context io;
    http::client client(io.get_executor(), client_defaults());
    snowflake::static_token_provider pat(io.get_executor(), takeoff::secret("bad-pat"), "the PAT");

    takeoff::diagnostics diag;
    auto [ec, resp] = send(io, client, pat, takeoff::test::get(server, "/api"), diag);
    CHECK(ec == errc::unauthorized);
    const auto log = server.requests();
    REQUIRE(log.size() == 1);
    CHECK(log[0].header("authorization") == "Snowflake Token=\"bad-pat\"");
}

TEST_CASE("async_send: a provider that cannot fetch fails the request unsent, with the provider's diagnostics") {
    emu::server server;
    add_api_route(server, "Authorization", "x");
    asio::io_context io;
    http::client client(io.get_executor(), client_defaults());
    snowflake::static_token_provider empty(io.get_executor(), takeoff::secret(""), "the PAT");

    takeoff::diagnostics diag;
    auto [ec, resp] = send(io, client, empty, takeoff::test::get(server, "/api"), diag);
    CHECK(ec == errc::token_unavailable);
    CHECK(diag.client_message() == "the PAT is empty");
    CHECK(server.requests().empty());
}

TEST_CASE("async_send: a 403 with the ingress's ERROR_ body is a rejected credential (sent once more); the service's own 403 is returned as it is") {
    minting setup(false);
    auto& [server, io, client, provider] = setup;
    auto calls = std::make_shared<std::atomic<int>>(0);
    server.route(verb::get, "/policy", [calls](emu::exchange& ex) -> asio::awaitable<void> {
        if (++*calls == 1)
            co_await ex.async_respond(emu::make_json_response(
                bhttp_status::forbidden,
                R"({"responseType":"ERROR_NETWORK_POLICY","requestId":"r-2","detail":"Blocked by network policy"})"));
        else
            co_await ex.async_respond(emu::make_response(bhttp_status::ok, "allowed", "text/plain"));
    });
    server.route(verb::get, "/own", emu::behaviours::respond_json(bhttp_status::forbidden, R"({"detail":"not yours"})"));

    takeoff::diagnostics diag;
    auto [ec, resp] = send(io, client, provider, takeoff::test::get(server, "/policy"), diag);
    CHECK_FALSE(ec);
    CHECK(resp.body == "allowed");
    CHECK(provider.fetch_count() == 2);

    auto [own_ec, own] = send(io, client, provider, takeoff::test::get(server, "/own"), diag);
    CHECK(own_ec == errc::forbidden);
    CHECK(own.status == 403);
    CHECK(provider.fetch_count() == 2);
    CHECK(server.requests().size() == 5); // /mint, /policy, /mint, /policy, /own
}
