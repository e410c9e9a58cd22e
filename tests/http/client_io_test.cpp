// http::client against the emulator server on 127.0.0.1: plain and TLS, keep-alive, errors,
// timeouts, deadline, cancellation, redirects, retries, streaming bodies, concurrency.
#include <takeoff/http/client.hpp>
#include <takeoff/snowflake/ingress.hpp>
#include <takeoff/sse/parser.hpp>
#include <takeoff_emulator/certificates.hpp>
#include <takeoff_emulator/server.hpp>

#include "../support/client_helpers.hpp"
#include "../support/doctest_helpers.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/system_executor.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>

#include <array>
#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace http = takeoff::http;
namespace emu = takeoff::emulator;
using bhttp_status = boost::beast::http::status;
using boost::beast::http::verb;
using takeoff::errc;

namespace {

// Runs the io_context until the operation started by `start(token)` completes; returns its
// (error_code, value) tuple. The token is as_tuple(use_awaitable), one more token flavour.
template <class Start>
auto complete(asio::io_context& io, Start start) {
    using awaitable_type = decltype(std::declval<Start&>()(asio::as_tuple(asio::use_awaitable)));
    std::optional<typename awaitable_type::value_type> out;
    asio::co_spawn(
        io, [&]() -> asio::awaitable<void> { out.emplace(co_await start(asio::as_tuple(asio::use_awaitable))); },
        asio::detached);
    io.restart();
    io.run();
    REQUIRE(out.has_value());
    return std::move(*out);
}

using takeoff::test::get;

emu::server_options tls_options(emu::server_certificate certificate) {
    emu::server_options options;
    options.tls = std::move(certificate);
    return options;
}

// GET /late answers "late" after 300 ms.
void route_late(emu::server& server) {
    server.route(verb::get, "/late", [](emu::exchange& ex) -> asio::awaitable<void> {
        asio::steady_timer delay(co_await asio::this_coro::executor, std::chrono::milliseconds(300));
        co_await delay.async_wait(asio::use_awaitable);
        co_await ex.async_respond(emu::make_response(bhttp_status::ok, "late"));
    });
}

http::request_options no_retries() {
    http::request_options o;
    o.retries = http::retry_policy::none();
    return o;
}

} // namespace

TEST_CASE("GET and POST over plain HTTP, with the headers the transport sets") {
    emu::server server;
    server.route(verb::get, "/status", emu::behaviours::respond_json(bhttp_status::ok, R"({"live":true})"));
    server.route(verb::post, "/generate", emu::behaviours::respond_json(bhttp_status::ok, R"({"text":"hi"})"));
    asio::io_context io;
    http::client client(io.get_executor());
    takeoff::diagnostics diag;

    auto [ec, resp] = complete(io, [&](auto token) { return client.async_request(get(server, "/status"), token); });
    REQUIRE_FALSE(ec);
    CHECK(resp.status == 200);
    CHECK(resp.body == R"({"live":true})");
    CHECK(resp.media_type() == "application/json");

    auto post = http::request::post(boost::urls::url(server.url() + "/generate"), R"({"text":"x"})", "application/json");
    post.headers.set("X-Custom", "1");
    post.headers.set(boost::beast::http::field::host, "ignored.example"); // the transport's alone
    auto [ec2, resp2] = complete(io, [&](auto token) { return client.async_request(post, {}, diag, token); });
    REQUIRE_FALSE(ec2);
    CHECK(resp2.body == R"({"text":"hi"})");
    CHECK(diag.empty());

    const auto requests = server.requests();
    REQUIRE(requests.size() == 2);
    CHECK(requests[1].body == R"({"text":"x"})");
    CHECK(requests[1].header("content-type") == "application/json");
    CHECK(requests[1].header("content-length") == "12");
    CHECK(requests[1].header("x-custom") == "1");
    CHECK(requests[1].header("host") == "127.0.0.1:" + std::to_string(server.port()));
    CHECK(requests[1].header("user-agent") == std::string("takeoff-cpp/") + takeoff::version_string);

    auto custom_agent = get(server, "/status");
    custom_agent.headers.set(boost::beast::http::field::user_agent, "my-app/2");
    auto [ec3, resp3] = complete(io, [&](auto token) { return client.async_request(custom_agent, token); });
    CHECK_FALSE(ec3);
    CHECK(server.requests().at(2).header("user-agent") == "my-app/2");

    // A URL with an empty path goes out in origin form ("/", "/?q=1"); a header that would inject
    // another one is refused before anything is sent.
    server.route(verb::get, "/", emu::behaviours::respond(bhttp_status::ok, "root"));
    for (const std::string suffix : {"", "?q=1"}) {
        auto [ec4, resp4] = complete(io, [&](auto token) {
            return client.async_request(http::request::get(boost::urls::url(server.url() + suffix)), token);
        });
        CHECK_FALSE(ec4);
        CHECK(resp4.body == "root");
        CHECK(server.requests().back().target == "/" + suffix);
    }
    const auto sent = server.requests().size();
    auto injected = get(server, "/status");
    injected.headers.set("X-Token", "a\r\nX-Admin: yes");
    auto [ec5, resp5] = complete(io, [&](auto token) { return client.async_request(injected, {}, diag, token); });
    CHECK(ec5 == errc::invalid_argument);
    CHECK(diag.client_message().find("X-Token") != std::string::npos);
    CHECK(server.requests().size() == sent);
    CHECK(client.idle_connections() == 1); // the connection it had taken went back unused
}

TEST_CASE("sequential requests reuse one keep-alive connection") {
    emu::server server;
    server.route(verb::get, "/", emu::behaviours::respond(bhttp_status::ok, "ok"));
    asio::io_context io;
    http::client client(io.get_executor());
    for (int i = 0; i < 5; ++i) {
        auto [ec, resp] = complete(io, [&](auto token) { return client.async_request(get(server, "/"), token); });
        REQUIRE_FALSE(ec);
    }
    CHECK(client.connections_opened() == 1);
    CHECK(server.connection_count() == 1);
    CHECK(client.idle_connections() == 1);
}

TEST_CASE("co_await with the default token, many concurrent requests share a bounded pool") {
    emu::server server;
    server.route(verb::get, "/", emu::behaviours::respond(bhttp_status::ok, "ok"));
    asio::io_context io;
    http::client_options options;
    options.pool.max_connections_per_origin = 4;
    http::client client(io.get_executor(), options);
    std::atomic<int> ok{0};
    const auto url = server.url() + "/";
    for (int i = 0; i < 50; ++i) {
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
                http::response r = co_await client.async_request(http::request::get(boost::urls::url(url)));
                if (r.status == 200 && r.body == "ok") ++ok;
            },
            asio::detached);
    }
    io.run();
    CHECK(ok == 50);
    CHECK(client.connections_opened() <= 4);
    CHECK(server.connection_count() <= 4);
    CHECK(server.request_count() == 50);
}

TEST_CASE("HTTPS: a trusted certificate works; wrong host, expired and untrusted ones are refused with the reason") {
    emu::certificate_authority ca;
    asio::io_context io;
    http::client_options options;
    options.tls.use_system_trust = false;
    options.tls.ca_pem = ca.certificate_pem();

    SUBCASE("trusted") {
        emu::server server(tls_options(ca.issue()));
        server.route(verb::get, "/", emu::behaviours::respond(bhttp_status::ok, "secure"));
        http::client client(io.get_executor(), options);
        CHECK(server.url().rfind("https://127.0.0.1:", 0) == 0);
        takeoff::diagnostics diag;
        auto [ec, resp] = complete(io, [&](auto token) { return client.async_request(get(server, "/"), {}, diag, token); });
        CAPTURE(diag.client_message());
        CAPTURE(diag.server_message());
        REQUIRE_FALSE(ec);
        CHECK(resp.body == "secure");
        auto [ec2, resp2] = complete(io, [&](auto token) { return client.async_request(get(server, "/"), token); });
        CHECK_FALSE(ec2);
        CHECK(client.connections_opened() == 1);
    }

    struct bad_case {
        const char* name;
        emu::certificate_options certificate;
        const char* reason;
    };
    emu::certificate_options wrong_host;
    wrong_host.dns_names = {"elsewhere.example"};
    wrong_host.ip_addresses = {"10.1.2.3"};
    emu::certificate_options expired;
    expired.validity = emu::validity_period::expired();
    for (const auto& c : {bad_case{"wrong host", wrong_host, "IP address mismatch"},
                          bad_case{"expired", expired, "certificate has expired"}}) {
        CAPTURE(c.name);
        emu::server server(tls_options(ca.issue(c.certificate)));
        server.route(verb::get, "/", emu::behaviours::respond(bhttp_status::ok, "never"));
        http::client client(io.get_executor(), options);
        takeoff::diagnostics diag;
        auto [ec, resp] = complete(io, [&](auto token) { return client.async_request(get(server, "/"), no_retries(), diag, token); });
        CHECK(ec.category() == asio::error::get_ssl_category());
        CHECK(diag.client_message().find(c.reason) != std::string::npos);
        CHECK(server.request_count() == 0);
    }

    SUBCASE("untrusted CA") {
        emu::certificate_authority other;
        emu::server server(tls_options(other.issue()));
        http::client client(io.get_executor(), options);
        takeoff::diagnostics diag;
        auto [ec, resp] = complete(io, [&](auto token) { return client.async_request(get(server, "/"), no_retries(), diag, token); });
        CHECK(ec);
        CHECK(diag.client_message().find("unable to get local issuer certificate") != std::string::npos);
    }
}

TEST_CASE("the TLS context is made at the first HTTPS request: a CA file that does not load fails it, plain HTTP works") {
    emu::server plain;
    plain.route(verb::get, "/", emu::behaviours::respond(bhttp_status::ok, "plain"));
    emu::certificate_authority ca;
    emu::server secure(tls_options(ca.issue()));
    secure.route(verb::get, "/", emu::behaviours::respond(bhttp_status::ok, "secure"));
    asio::io_context io;
    http::client_options options;
    options.tls.ca_file = "/nonexistent/ca.pem";
    options.defaults.retries = http::retry_policy::none();
    http::client client(io.get_executor(), options); // does not throw: nothing is loaded yet

    auto [ec, resp] = complete(io, [&](auto token) { return client.async_request(get(plain, "/"), token); });
    REQUIRE_FALSE(ec);
    CHECK(resp.body == "plain");

    for (int i = 0; i < 2; ++i) { // the failure is remembered: the same error and message each time
        takeoff::diagnostics diag;
        auto [ec2, resp2] = complete(io, [&](auto token) { return client.async_request(get(secure, "/"), {}, diag, token); });
        CHECK(ec2);
        CHECK(diag.client_message().find("cannot load the CA file '/nonexistent/ca.pem'") == 0);
    }
    CHECK(secure.request_count() == 0);
    CHECK(secure.connection_count() == 0);
}

TEST_CASE("non-2xx statuses complete with their errc, the response and diagnostics") {
    emu::server server;
    auto not_found = emu::make_json_response(bhttp_status::not_found, R"({"detail":"no reader","access_token":"leak"})");
    not_found.set("X-Request-Id", "req-7");
    server.route(verb::get, "/missing", emu::behaviours::respond(not_found));
    asio::io_context io;
    http::client client(io.get_executor());
    takeoff::diagnostics diag;
    auto [ec, resp] = complete(io, [&](auto token) { return client.async_request(get(server, "/missing?code=secret"), {}, diag, token); });
    CHECK(ec == errc::not_found);
    CHECK(resp.status == 404);
    CHECK(diag.http_status() == 404);
    CHECK(diag.request_id() == "req-7");
    CHECK(diag.client_message() == "HTTP 404 from http://127.0.0.1:" + std::to_string(server.port()) + "/missing");
    CHECK(diag.server_message().find("no reader") != std::string::npos);
    CHECK(diag.server_message().find("leak") == std::string::npos);
    CHECK(server.request_count() == 1); // 404 is not retried
}

TEST_CASE("503 and 429 are retried with Retry-After; the policy bounds the attempts") {
    emu::server server;
    std::atomic<int> calls{0};
    server.route(verb::post, "/generate", [&](emu::exchange& ex) -> asio::awaitable<void> {
        auto response = ++calls < 3 ? emu::make_json_response(bhttp_status::service_unavailable, "{}")
                                    : emu::make_json_response(bhttp_status::ok, R"({"text":"done"})");
        response.set("Retry-After", "0");
        co_await ex.async_respond(std::move(response));
    });
    server.route(verb::get, "/busy", emu::behaviours::respond(bhttp_status::too_many_requests, "slow down"));
    asio::io_context io;
    http::client client(io.get_executor());
    auto post = http::request::post(boost::urls::url(server.url() + "/generate"), "{}", "application/json");
    auto [ec, resp] = complete(io, [&](auto token) { return client.async_request(post, token); });
    REQUIRE_FALSE(ec);
    CHECK(resp.body == R"({"text":"done"})");
    CHECK(calls == 3);

    http::retry_policy two_attempts;
    two_attempts.max_attempts = 2;
    two_attempts.initial_backoff = std::chrono::milliseconds(1);
    http::request_options options;
    options.retries = two_attempts;
    takeoff::diagnostics diag;
    auto [ec2, resp2] = complete(io, [&](auto token) { return client.async_request(get(server, "/busy"), options, diag, token); });
    CHECK(ec2 == errc::too_many_requests);
    CHECK(takeoff::is_retryable(ec2));
    CHECK(resp2.status == 429);
    CHECK(server.request_count() == 3 + 2);
}

TEST_CASE("timeouts per step and the whole-request deadline") {
    emu::server server;
    server.route(verb::get, "/hang", emu::behaviours::hang());
    server.route(verb::get, "/drip", emu::behaviours::chunked_drip({"a", "b"}, std::chrono::seconds(5)));
    asio::io_context io;
    http::client client(io.get_executor());

    takeoff::diagnostics diag;
    http::request_options header_timeout = no_retries();
    header_timeout.timeouts.header_read = std::chrono::milliseconds(50);
    auto [ec, resp] = complete(io, [&](auto token) { return client.async_request(get(server, "/hang"), header_timeout, diag, token); });
    CHECK(ec == boost::beast::error::timeout);

    http::request_options body_timeout = no_retries();
    body_timeout.timeouts.body_read = std::chrono::milliseconds(50);
    auto [ec2, resp2] = complete(io, [&](auto token) { return client.async_request(get(server, "/drip"), body_timeout, diag, token); });
    CHECK(ec2 == boost::beast::error::timeout);

    http::request_options deadline = no_retries();
    deadline.deadline = std::chrono::milliseconds(50);
    auto [ec3, resp3] = complete(io, [&](auto token) { return client.async_request(get(server, "/hang"), deadline, diag, token); });
    CHECK(ec3 == errc::request_timeout);
    CHECK(client.idle_connections() == 0); // a connection whose exchange failed is never kept
}

TEST_CASE("a step's own limit counts, not an earlier step's: the timer waits again when it fires early") {
    // The write's 100 ms limit arms the pool's timer; the header may take 2 s; the answer comes after
    // 300 ms, when the timer has fired once for the write's deadline and waited again. (Wide margins:
    // a loaded CI machine must not turn this into a timeout.)
    emu::server server;
    route_late(server);
    asio::io_context io;
    http::client client(io.get_executor());
    takeoff::diagnostics diag;
    http::request_options limits = no_retries();
    limits.timeouts.write = std::chrono::milliseconds(100);
    limits.timeouts.header_read = std::chrono::milliseconds(2000);
    auto [ec, r] = complete(io, [&](auto token) { return client.async_request(get(server, "/late"), limits, diag, token); });
    CHECK_FALSE(ec);
    CHECK(r.body == "late");
    CHECK(client.idle_connections() == 1);

    // The same connection, now with a header limit shorter than the delay: a timeout.
    limits.timeouts.header_read = std::chrono::milliseconds(100);
    auto [ec2, r2] = complete(io, [&](auto token) { return client.async_request(get(server, "/late"), limits, diag, token); });
    CHECK(ec2 == boost::beast::error::timeout);
    CHECK(client.connections_opened() == 1);
    CHECK(client.idle_connections() == 0);
}

TEST_CASE("a host name goes through the resolver, with and without a resolve limit") {
    // "127.1" is not an IP literal to the URL or to the transport, so it is resolved; getaddrinfo
    // reads it as the short form of 127.0.0.1 without asking DNS, so the test stays on loopback.
    emu::server server;
    server.route(verb::get, "/status", emu::behaviours::respond_json(bhttp_status::ok, R"({"live":true})"));
    asio::io_context io(1);
    takeoff::diagnostics diag;
    for (const auto limit : {std::chrono::milliseconds(0), std::chrono::milliseconds(5000)}) {
        CAPTURE(limit.count());
        http::client client(io.get_executor()); // a new connection, resolved, each time
        http::request_options options = no_retries();
        options.timeouts.resolve = limit;
        const auto url = "http://127.1:" + std::to_string(server.port()) + "/status";
        auto [ec, resp] = complete(io, [&](auto token) {
            return client.async_request(http::request::get(boost::urls::url(url)), options, diag, token);
        });
        CHECK_FALSE(ec);
        CHECK(resp.status == 200);
        CHECK(diag.client_message().empty());
        CHECK(client.connections_opened() == 1);
    }
}

TEST_CASE("idle connections older than pool.idle_timeout are closed, not reused") {
    emu::server server;
    server.route(verb::get, "/status", emu::behaviours::respond_json(bhttp_status::ok, R"({"live":true})"));
    route_late(server); // answers after 300 ms
    asio::io_context io(1);
    http::client_options options;
    options.pool.idle_timeout = std::chrono::milliseconds(150);
    http::client client(io.get_executor(), options);

    // A fast request and a slow one at once, on two connections: when the slow one is released,
    // the fast one's connection has been idle for about 300 ms and is closed then (only the one
    // just released stays).
    std::vector<boost::system::error_code> results;
    for (const char* path : {"/status", "/late"}) {
        asio::co_spawn(
            io,
            [&, path]() -> asio::awaitable<void> {
                auto [ec, resp] = co_await client.async_request(get(server, path), asio::as_tuple(asio::deferred));
                results.push_back(ec);
            },
            asio::detached);
    }
    io.run();
    REQUIRE(results.size() == 2);
    CHECK_FALSE(results[0]);
    CHECK_FALSE(results[1]);
    CHECK(client.connections_opened() == 2);
    CHECK(client.idle_connections() == 1);

    // The one left goes idle past the limit too: the next request opens a new connection.
    io.restart();
    asio::steady_timer wait(io, std::chrono::milliseconds(200));
    wait.async_wait([](boost::system::error_code) {});
    io.run();
    auto [ec, r] = complete(io, [&](auto token) { return client.async_request(get(server, "/status"), token); });
    CHECK_FALSE(ec);
    CHECK(client.connections_opened() == 3);
    CHECK(client.idle_connections() == 1);
}

TEST_CASE("one timer for the pool: concurrent steps with different limits, and nothing left waiting after") {
    // Four requests at once on four connections: two to a server that never answers, with header
    // limits of 150 ms and 400 ms, and two to one that answers after 300 ms, with no limit and
    // with a 2 s limit. The shared timer must fire for the short limits without touching the
    // others, and once everything is done the io_context must run out of work at once (no timer
    // left waiting for the 30 s write or 60 s header defaults).
    emu::server server;
    server.route(verb::get, "/hang", emu::behaviours::hang());
    route_late(server);
    asio::io_context io;
    http::client client(io.get_executor());
    auto limited = [](int header_ms) {
        http::request_options o = no_retries();
        o.timeouts.header_read = std::chrono::milliseconds(header_ms);
        return o;
    };
    struct run {
        std::string path;
        http::request_options options;
        boost::system::error_code ec;
        std::string body;
        bool done = false;
    };
    std::vector<run> runs{{"/hang", limited(150), {}, {}, false},
                          {"/hang", limited(400), {}, {}, false},
                          {"/late", limited(0), {}, {}, false},
                          {"/late", limited(2000), {}, {}, false}};
    std::vector<takeoff::diagnostics> diags(runs.size());
    for (std::size_t i = 0; i < runs.size(); ++i) {
        asio::co_spawn(
            io,
            [&, i]() -> asio::awaitable<void> {
                auto [ec, resp] = co_await client.async_request(get(server, runs[i].path), runs[i].options, diags[i],
                                                                asio::as_tuple(asio::deferred));
                runs[i].ec = ec;
                runs[i].body = resp.body;
                runs[i].done = true;
            },
            asio::detached);
    }
    // run_for returns early when the io_context runs out of work: all four must be done then,
    // and the io_context stopped (a timer still waiting would keep it running for 30 s).
    io.run_for(std::chrono::seconds(20));
    CHECK(io.stopped());
    for (const auto& r : runs) CHECK(r.done);
    CHECK(runs[0].ec == boost::beast::error::timeout);
    CHECK(runs[1].ec == boost::beast::error::timeout);
    CHECK_FALSE(runs[2].ec);
    CHECK(runs[2].body == "late");
    CHECK_FALSE(runs[3].ec);
    CHECK(runs[3].body == "late");
    CHECK(client.connections_opened() == 4);
    CHECK(client.idle_connections() == 2);

    // Requests one after another keep using the connections; the io_context again stops at once.
    for (int i = 0; i < 3; ++i) {
        auto [ec, r] = complete(io, [&](auto token) { return client.async_request(get(server, "/late"), token); });
        CHECK_FALSE(ec);
    }
    CHECK(client.connections_opened() == 4);
}

TEST_CASE("operations run on a strand of their own unless the executor is already serialised") {
    using takeoff::detail::is_serialised;
    asio::io_context many;
    // Strands are recognised by type; an io_context run by one thread only through
    // client_options::single_threaded_executor (its concurrency hint is Asio's private business).
    CHECK_FALSE(is_serialised(many.get_executor()));
    CHECK(is_serialised(asio::make_strand(many.get_executor())));
    CHECK(is_serialised(asio::make_strand(asio::any_io_executor(many.get_executor()))));
    CHECK_FALSE(is_serialised(asio::system_executor()));
    const auto own = takeoff::detail::operation_executor(many.get_executor(), is_serialised(many.get_executor()));
    CHECK(own.target<asio::strand<asio::any_io_executor>>() != nullptr);
    CHECK(takeoff::detail::operation_executor(many.get_executor(), true) == asio::any_io_executor(many.get_executor()));
}

TEST_CASE("cancellation: terminal and partial end the request with operation_aborted, the client stays usable") {
    // Each type, with and without a deadline (two paths in async_run), on an executor that gets a
    // strand per operation and on one the client is told only one thread runs.
    for (const auto type : {asio::cancellation_type::terminal, asio::cancellation_type::partial,
                            asio::cancellation_type::terminal | asio::cancellation_type::total}) {
        for (const auto deadline : {std::chrono::milliseconds(0), std::chrono::milliseconds(60'000)}) {
            for (const bool single_threaded : {false, true}) {
                CAPTURE(static_cast<int>(type));
                CAPTURE(deadline.count());
                CAPTURE(single_threaded);
                asio::io_context io;
                asio::cancellation_signal cancel;
                emu::server server;
                // When the server has the request, it asks the client's io_context to cancel.
                server.route(verb::get, "/slow", [&](emu::exchange& ex) -> asio::awaitable<void> {
                    asio::post(io, [&] { cancel.emit(type); });
                    co_await ex.async_wait_peer_closed();
                });
                http::client_options client_options;
                client_options.single_threaded_executor = single_threaded;
                http::client client(io.get_executor(), client_options);
                http::request_options options = no_retries();
                options.deadline = deadline;
                takeoff::diagnostics diag;
                // A plain callback as the completion token, with a bound cancellation slot.
                std::optional<boost::system::error_code> ec;
                client.async_request(get(server, "/slow"), options, diag,
                                     asio::bind_cancellation_slot(cancel.slot(),
                                                                  [&](boost::system::error_code e, http::response) {
                                                                      ec = e;
                                                                  }));
                io.run();
                REQUIRE(ec.has_value());
                CHECK(*ec == asio::error::operation_aborted);
                CHECK(client.idle_connections() == 0);

                // The client is still usable.
                io.restart();
                server.route(verb::get, "/ok", emu::behaviours::respond(bhttp_status::ok, "ok"));
                auto [ec2, resp2] = complete(io, [&](auto token) { return client.async_request(get(server, "/ok"), token); });
                CHECK_FALSE(ec2);
            }
        }
    }
}

TEST_CASE("cancellation: total is honoured before the request is written, ignored after") {
    for (const bool single_threaded : {false, true}) {
        CAPTURE(single_threaded);
        asio::io_context io;
        emu::server server;
        emu::gate release(server.get_executor());
        asio::cancellation_signal cancel_written;
        // Once the request is at the server, a total-only cancellation reaches the client first
        // (posted to the client's io_context before the gate opens), then the server answers.
        server.route(verb::get, "/written", [&](emu::exchange& ex) -> asio::awaitable<void> {
            asio::post(io, [&] {
                cancel_written.emit(asio::cancellation_type::total);
                asio::post(io, [&] { release.open(); });
            });
            co_await release.async_wait();
            co_await ex.async_respond(emu::make_response(bhttp_status::ok, "answered"));
        });
        http::client_options client_options;
        client_options.single_threaded_executor = single_threaded;
        client_options.pool.max_connections_per_origin = 1;
        http::client client(io.get_executor(), client_options);

        std::optional<boost::system::error_code> written_ec;
        std::string written_body;
        client.async_request(get(server, "/written"), no_retries(),
                             asio::bind_cancellation_slot(cancel_written.slot(),
                                                          [&](boost::system::error_code e, http::response r) {
                                                              written_ec = e;
                                                              written_body = r.body;
                                                          }));
        // A second request waits for the one connection: nothing of it is written yet, so a
        // total cancellation ends it at once.
        asio::cancellation_signal cancel_waiting;
        std::optional<boost::system::error_code> waiting_ec;
        client.async_request(get(server, "/written"), no_retries(),
                             asio::bind_cancellation_slot(cancel_waiting.slot(),
                                                          [&](boost::system::error_code e, http::response) {
                                                              waiting_ec = e;
                                                          }));
        asio::post(io, [&] { asio::post(io, [&] { cancel_waiting.emit(asio::cancellation_type::total); }); });
        io.run();
        REQUIRE(waiting_ec.has_value());
        CHECK(*waiting_ec == asio::error::operation_aborted);
        REQUIRE(written_ec.has_value());
        CHECK_FALSE(*written_ec);
        CHECK(written_body == "answered");
        CHECK(server.request_count() == 1);
        CHECK(client.idle_connections() == 1); // the answered request's connection went back
    }
}

TEST_CASE("redirects: followed for GET, refused to the ingress login host by its classifier, not followed for POST") {
    emu::server server;
    auto redirect = [](bhttp_status status, std::string location) {
        auto r = emu::make_response(status, "");
        r.set("Location", location);
        return emu::behaviours::respond(r);
    };
    server.route(verb::get, "/old", redirect(bhttp_status::found, "/new"));
    server.route(verb::get, "/new", emu::behaviours::respond(bhttp_status::ok, "moved here"));
    server.route(verb::get, "/login",
                 redirect(bhttp_status::found, "https://sfc-endpoint-login.snowflakecomputing.app/sfc-oauth-begin?x=1"));
    server.route(verb::post, "/post", redirect(bhttp_status::found, "/new"));
    server.route(verb::get, "/loop", redirect(bhttp_status::temporary_redirect, "/loop"));
    asio::io_context io;
    http::client client(io.get_executor());
    takeoff::diagnostics diag;

    auto [ec, r] = complete(io, [&](auto token) { return client.async_request(get(server, "/old"), token); });
    REQUIRE_FALSE(ec);
    CHECK(r.body == "moved here");

    // The Snowflake layer's classifier (the transport itself knows nothing of the ingress).
    http::request_options snowflake;
    snowflake.classify = takeoff::snowflake::classify_ingress_response;
    auto [ec2, r2] = complete(io, [&](auto token) { return client.async_request(get(server, "/login"), snowflake, diag, token); });
    CHECK(ec2 == errc::ingress_unauthenticated);
    CHECK(diag.http_status() == 302);
    CHECK(r2.status == 302);
    CHECK(server.request_count() == 3); // /old, /new, /login: the login host was not asked

    auto post = http::request::post(boost::urls::url(server.url() + "/post"), "{}", "application/json");
    auto [ec3, r3] = complete(io, [&](auto token) { return client.async_request(post, {}, diag, token); });
    CHECK(ec3 == errc::http_status);
    CHECK(r3.status == 302);

    auto [ec4, r4] = complete(io, [&](auto token) { return client.async_request(get(server, "/loop"), {}, diag, token); });
    CHECK(ec4 == errc::redirect_limit);
}

TEST_CASE("a pooled connection the server closed is replaced without failing the request") {
    // Checked before reuse (check_idle_after 0: peek) or reused at once and replaced when the
    // exchange fails before any response byte (check_idle_after 60 s).
    for (const auto check_after : {std::chrono::milliseconds(0), std::chrono::milliseconds(60'000)}) {
        CAPTURE(check_after.count());
        emu::server server;
        // Answers with keep-alive, then drops the connection anyway.
        server.route(verb::get, "/", [](emu::exchange& ex) -> asio::awaitable<void> {
            co_await ex.async_respond(emu::make_response(bhttp_status::ok, "once"));
            ex.close();
        });
        asio::io_context io;
        http::client_options options;
        options.pool.check_idle_after = check_after;
        http::client client(io.get_executor(), options);
        takeoff::diagnostics diag;
        for (int i = 0; i < 3; ++i) {
            auto [ec, r] = complete(io, [&](auto token) {
                return client.async_request(get(server, "/"), no_retries(), diag, token);
            });
            CHECK_FALSE(ec);
            CHECK(r.body == "once");
        }
        CHECK(server.connection_count() == 3);
        CHECK(client.connections_opened() == 3);
    }
}

TEST_CASE("streaming: a chunked SSE body is read as it arrives and the connection goes back to the pool") {
    emu::server server;
    server.route(verb::post, "/generate_stream",
                 emu::behaviours::chunked_drip({"data: Hel", "lo\n\ndata: wor", "ld\n\n", "data: !\n\n"}, {},
                                               "text/event-stream"));
    asio::io_context io;
    http::client client(io.get_executor());
    std::vector<std::string> events;
    boost::system::error_code final_ec;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            auto req = http::request::post(boost::urls::url(server.url() + "/generate_stream"), "{}", "application/json");
            http::body_stream stream = co_await client.async_open(std::move(req));
            CHECK(stream.status() == 200);
            takeoff::sse::parser parser;
            std::array<char, 7> buffer{}; // small on purpose: events span reads
            for (;;) {
                auto [ec, n] = co_await stream.async_read_some(asio::buffer(buffer), asio::as_tuple(asio::deferred));
                if (ec) {
                    final_ec = ec;
                    break;
                }
                std::string_view input(buffer.data(), n);
                boost::system::error_code parse_ec;
                while (auto ev = parser.next(input, parse_ec)) events.emplace_back(ev->data);
            }
            CHECK(stream.done());
        },
        asio::detached);
    io.run();
    CHECK(final_ec == asio::error::eof);
    CHECK(events == std::vector<std::string>{"Hello", "world", "!"});
    CHECK(client.idle_connections() == 1);
}

TEST_CASE("streaming: a body cut short is errc::stream_truncated; a non-2xx status fails before the stream") {
    emu::server server;
    server.route(verb::get, "/cut", emu::behaviours::close_mid_body(1000, "data: x\n\n"));
    server.route(verb::get, "/down", emu::behaviours::respond(bhttp_status::unprocessable_entity, R"({"detail":"bad"})"));
    asio::io_context io;
    http::client client(io.get_executor());
    takeoff::diagnostics diag;

    auto [ec, stream] = complete(io, [&](auto token) { return client.async_open(get(server, "/cut"), no_retries(), diag, token); });
    REQUIRE_FALSE(ec);
    std::string received;
    boost::system::error_code read_ec;
    for (;;) {
        std::array<char, 64> buffer{};
        auto [e, n] = complete(io, [&](auto token) { return stream.async_read_some(asio::buffer(buffer), token); });
        received.append(buffer.data(), n);
        if (e) {
            read_ec = e;
            break;
        }
    }
    CHECK(received == "data: x\n\n");
    CHECK(read_ec == errc::stream_truncated);

    auto [ec2, stream2] = complete(io, [&](auto token) { return client.async_open(get(server, "/down"), no_retries(), diag, token); });
    CHECK(ec2 == errc::http_status);
    CHECK(diag.http_status() == 422);
    CHECK(diag.server_message() == R"({"detail":"bad"})");
}

TEST_CASE("a default-constructed body_stream is at its end") {
    asio::io_context io;
    http::body_stream stream;
    CHECK(stream.done());
    CHECK(stream.status() == 0);
    std::array<char, 4> buffer{};
    auto [ec, n] = complete(io, [&](auto token) { return stream.async_read_some(asio::buffer(buffer), token); });
    CHECK(ec == asio::error::eof);
    CHECK(n == 0);
}

TEST_CASE("oversize headers and bad chunk framing are errors") {
    emu::server server;
    server.route(verb::get, "/huge-header",
                 emu::behaviours::garbage("HTTP/1.1 200 OK\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n"));
    server.route(verb::get, "/bad-chunk",
                 emu::behaviours::garbage("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nhello\r\n0\r\n\r\n"));
    asio::io_context io;
    http::client client(io.get_executor());
    takeoff::diagnostics diag;
    auto [ec, r] = complete(io, [&](auto token) { return client.async_request(get(server, "/huge-header"), no_retries(), diag, token); });
    CHECK(ec == errc::invalid_response);
    CHECK(diag.client_message().find("header") != std::string::npos);
    auto [ec2, r2] = complete(io, [&](auto token) { return client.async_request(get(server, "/bad-chunk"), no_retries(), diag, token); });
    CHECK(ec2 == boost::beast::http::error::bad_chunk);
}

TEST_CASE("one client shared by coroutines on two threads") {
    emu::server server;
    server.route(verb::post, "/embed", [](emu::exchange& ex) -> asio::awaitable<void> {
        co_await ex.async_respond(emu::make_json_response(bhttp_status::ok, ex.request().body()));
    });
    asio::io_context io;
    http::client_options options;
    options.pool.max_connections_per_origin = 8;
    http::client client(io.get_executor(), options);
    std::atomic<int> ok{0};
    const auto url = server.url() + "/embed";
    for (int i = 0; i < 200; ++i) {
        asio::co_spawn(
            io,
            [&, i]() -> asio::awaitable<void> {
                const std::string body = "{\"n\":" + std::to_string(i) + "}";
                auto req = http::request::post(boost::urls::url(url), body, "application/json");
                auto [ec, r] = co_await client.async_request(std::move(req), asio::as_tuple(asio::deferred));
                if (!ec && r.body == body) ++ok;
            },
            asio::detached);
    }
    std::thread second([&] { io.run(); });
    io.run();
    second.join();
    CHECK(ok == 200);
    CHECK(server.connection_count() <= 8);
}
