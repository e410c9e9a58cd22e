// http::client's API for the layers above, on the wire against the emulator: request_options as
// overrides, the default token's takeoff::error, the task-level entry points, the per-attempt
// request decorator, credentials kept to their origin, interim responses, the stale-connection
// retry, the body_stream reading rule, and fault injection at every I/O operation in turn.
#include <takeoff/detail/async_op.hpp>
#include <takeoff/http/client.hpp>
#include <takeoff_emulator/certificates.hpp>
#include <takeoff_emulator/server.hpp>

#include "../support/client_helpers.hpp"
#include "../support/doctest_helpers.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace asio = boost::asio;
namespace http = takeoff::http;
namespace emu = takeoff::emulator;
using bhttp_status = boost::beast::http::status;
using boost::beast::http::verb;
using takeoff::errc;
using namespace std::chrono_literals;

namespace {

using takeoff::test::get;
using takeoff::test::send;

http::client_options client_defaults() {
    auto options = takeoff::test::direct_client_options();
    options.defaults.retries = http::retry_policy::none();
    return options;
}

emu::server_options tls(const emu::certificate_authority& ca) {
    emu::server_options options;
    options.tls = ca.issue();
    return options;
}

} // namespace

TEST_CASE("api: request_options override the client's defaults; {} keeps all of them") {
    emu::server server;
    server.route(verb::get, "/late", [](emu::exchange& ex) -> asio::awaitable<void> {
        asio::steady_timer delay(co_await asio::this_coro::executor, 300ms);
        co_await delay.async_wait(asio::use_awaitable);
        co_await ex.async_respond(emu::make_response(bhttp_status::ok, "late"));
    });
    asio::io_context io;
    auto options = client_defaults();
    options.defaults.timeouts.header_read = 100ms;
    http::client client(io.get_executor(), options);
    takeoff::diagnostics diag;

    auto [ec, r] = send(io, client, get(server, "/late"), {}, diag);
    CHECK(ec == boost::beast::error::timeout); // the client's 100 ms, not a built-in minute

    http::request_options longer;
    longer.timeouts.header_read = 2s;
    auto [ec2, r2] = send(io, client, get(server, "/late"), longer, diag);
    REQUIRE_FALSE(ec2);
    CHECK(r2.body == "late");

    // One override leaves the other members alone: the apply_to rule, exactly.
    http::request_settings defaults;
    defaults.timeouts.write = 7ms;
    defaults.body_limit = 11;
    http::request_options one;
    one.timeouts.connect = 5ms;
    const auto merged = one.apply_to(defaults);
    CHECK(merged.timeouts.connect == 5ms);
    CHECK(merged.timeouts.write == 7ms);
    CHECK(merged.body_limit == 11);
    CHECK(merged.timeouts.header_read == http::timeouts{}.header_read);
}

TEST_CASE("api: with the default token a failure throws takeoff::error carrying the diagnostics") {
    emu::server server;
    server.route(verb::get, "/missing",
                 emu::behaviours::respond_json(bhttp_status::not_found, R"({"detail":"no such reader"})"));
    server.route(verb::get, "/ok", emu::behaviours::respond(bhttp_status::ok, "fine"));
    asio::io_context io;
    http::client client(io.get_executor(), client_defaults());
    std::optional<takeoff::error> thrown;
    std::string body;
    takeoff::diagnostics mine;
    std::optional<takeoff::error> thrown_with_mine;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            try {
                co_await client.async_request(get(server, "/missing"));
            } catch (const takeoff::error& e) {
                thrown.emplace(e);
            }
            http::response ok = co_await client.async_request(get(server, "/ok"));
            body = ok.body;
            try {
                co_await client.async_request(get(server, "/missing"), mine);
            } catch (const takeoff::error& e) {
                thrown_with_mine.emplace(e);
            }
        },
        asio::detached);
    io.run();
    REQUIRE(thrown.has_value());
    CHECK(thrown->code() == errc::not_found);
    CHECK(thrown->get_diagnostics().http_status() == 404);
    CHECK(thrown->get_diagnostics().server_message() == R"({"detail":"no such reader"})");
    CHECK(thrown->get_diagnostics().client_message() == "HTTP 404 from " + server.url() + "/missing");
    CHECK(std::string(thrown->what()).find("HTTP 404 from " + server.url() + "/missing [HTTP 404]") == 0);
    CHECK(body == "fine");
    // The caller's own diagnostics are filled and go into the exception too.
    REQUIRE(thrown_with_mine.has_value());
    CHECK(mine.http_status() == 404);
    CHECK(thrown_with_mine->get_diagnostics() == mine);
}

TEST_CASE("api: with_diagnostics over a callback gives an exception_ptr; error_code tokens are unchanged") {
    emu::server server;
    server.route(verb::get, "/gone", emu::behaviours::respond(bhttp_status::gone, "gone"));
    asio::io_context io;
    http::client client(io.get_executor(), client_defaults());
    std::exception_ptr failure;
    unsigned status = 0;
    client.async_request(get(server, "/gone"), takeoff::with_diagnostics([&](std::exception_ptr e, http::response r) {
                             failure = e;
                             status = r.status;
                         }));
    io.run();
    REQUIRE(failure);
    CHECK(status == 410); // the response still comes with the error
    try {
        std::rethrow_exception(failure);
    } catch (const takeoff::error& e) {
        CHECK(e.code() == errc::http_status);
        CHECK(e.get_diagnostics().http_status() == 410);
    }
}

namespace {

// Two requests in one operation of the layer above: request_task awaited twice (the same request
// object, sent again without a copy), then open_task and read_some_task to the end of the body.
takeoff::detail::task<takeoff::detail::op_result<std::string>> two_calls(const http::client& client,
                                                                         const http::request& req,
                                                                         const http::request& stream_req) {
    using result = takeoff::detail::op_result<std::string>;
    takeoff::diagnostics diag;
    std::string out;
    for (int i = 0; i < 2; ++i) {
        auto [ec, r] = co_await client.request_task(req, client.defaults(), diag);
        if (ec) co_return result{ec, {}};
        out += r.body + ";";
    }
    auto [open_ec, stream] = co_await client.open_task(stream_req, client.defaults(), diag);
    if (open_ec) co_return result{open_ec, {}};
    char buffer[4];
    for (;;) {
        auto [ec, n] = co_await stream.read_some_task(asio::buffer(buffer));
        out.append(buffer, n);
        if (ec == asio::error::eof) break;
        if (ec) co_return result{ec, {}};
    }
    co_return result{{}, out};
}

} // namespace

TEST_CASE("api: request_task, open_task and read_some_task run as steps of one operation") {
    emu::server server;
    server.route(verb::post, "/echo", [](emu::exchange& ex) -> asio::awaitable<void> {
        co_await ex.async_respond(emu::make_response(bhttp_status::ok, "got " + ex.request().body()));
    });
    server.route(verb::get, "/stream", emu::behaviours::chunked_drip({"abc", "defgh", "ij"}));
    asio::io_context io;
    http::client client(io.get_executor(), client_defaults());
    const auto req = http::request::post(boost::urls::url(server.url() + "/echo"), "body", "text/plain");
    const auto stream_req = get(server, "/stream");
    std::optional<std::pair<boost::system::error_code, std::string>> out;
    takeoff::detail::async_run<std::string>(
        client.get_executor(), false, {}, nullptr, [&] { return two_calls(client, req, stream_req); },
        [&](boost::system::error_code ec, std::string s) { out.emplace(ec, std::move(s)); });
    io.run();
    REQUIRE(out.has_value());
    CHECK_FALSE(out->first);
    CHECK(out->second == "got body;got body;abcdefghij");
    CHECK(req.body == "body"); // the caller's request is untouched
    CHECK(server.request_count() == 3);
    CHECK(client.connections_opened() == 1);
}

TEST_CASE("api: the decorator adds fields before every attempt, from an async source, current at each") {
    emu::server server;
    std::atomic<int> calls{0};
    // 503 with Retry-After: 1 once, then 200; a redirect first.
    server.route(verb::get, "/start", [](emu::exchange& ex) -> asio::awaitable<void> {
        auto r = emu::make_response(bhttp_status::found, "");
        r.set("Location", "/busy");
        co_await ex.async_respond(r);
    });
    server.route(verb::get, "/busy", [&](emu::exchange& ex) -> asio::awaitable<void> {
        if (calls++ == 0) {
            auto r = emu::make_response(bhttp_status::service_unavailable, "wait");
            r.set("Retry-After", "1");
            co_await ex.async_respond(r);
        } else {
            co_await ex.async_respond(emu::make_response(bhttp_status::ok, "done"));
        }
    });
    asio::io_context io;
    auto options = client_defaults();
    options.defaults.retries = http::retry_policy{};
    http::client client(io.get_executor(), options);

    // The credential comes from another thread (as a token provider's refresh might), numbered.
    std::vector<std::tuple<std::string, unsigned, unsigned>> seen; // url path, attempt, redirects
    int issued = 0;
    std::vector<std::thread> threads;
    http::request_options decorated;
    decorated.decorate = [&](http::attempt_context& context, http::decorate_handler done) {
        seen.emplace_back(std::string(context.url.path()), context.attempt, context.redirects);
        context.headers.set("Authorization", "Snowflake Token=\"t" + std::to_string(++issued) + "\"");
        threads.emplace_back([done = std::move(done)]() mutable { std::move(done)(boost::system::error_code{}); });
    };
    takeoff::diagnostics diag;
    const auto started = std::chrono::steady_clock::now();
    auto [ec, r] = send(io, client, get(server, "/start"), decorated, diag);
    const auto elapsed = std::chrono::steady_clock::now() - started;
    for (auto& t : threads) t.join();
    REQUIRE_FALSE(ec);
    CHECK(r.body == "done");
    CHECK(elapsed >= 1s); // the Retry-After wait came between the second and third attempt
    REQUIRE(seen.size() == 3);
    CHECK(seen[0] == std::tuple<std::string, unsigned, unsigned>{"/start", 1, 0});
    CHECK(seen[1] == std::tuple<std::string, unsigned, unsigned>{"/busy", 1, 1});
    CHECK(seen[2] == std::tuple<std::string, unsigned, unsigned>{"/busy", 2, 1});
    const auto requests = server.requests();
    REQUIRE(requests.size() == 3);
    CHECK(requests[0].header("authorization") == "Snowflake Token=\"t1\"");
    CHECK(requests[1].header("authorization") == "Snowflake Token=\"t2\"");
    CHECK(requests[2].header("authorization") == "Snowflake Token=\"t3\""); // current after the wait
}

TEST_CASE("api: a failing decorator fails the request with its error, unsent and not retried") {
    emu::server server;
    server.route(verb::get, "/", emu::behaviours::respond(bhttp_status::ok, "ok"));
    asio::io_context io;
    auto options = client_defaults();
    options.defaults.retries = http::retry_policy{};
    options.defaults.decorate = [](http::attempt_context& context, http::decorate_handler done) {
        context.diag.set_client_message("no token: sign in again");
        std::move(done)(make_error_code(errc::token_unavailable)); // inline, inside the initiating call
    };
    http::client client(io.get_executor(), options);
    takeoff::diagnostics diag;
    auto [ec, r] = send(io, client, get(server, "/"), {}, diag);
    CHECK(ec == errc::token_unavailable);
    CHECK(diag.client_message() == "no token: sign in again");
    CHECK(server.request_count() == 0);
    CHECK(client.connections_opened() == 0);
}

TEST_CASE("api: credentials go only to the request's origin; https -> http is refused on the wire") {
    emu::server other; // another origin (another port)
    other.route(verb::get, "/landing", emu::behaviours::respond(bhttp_status::ok, "landed"));
    emu::server home;
    home.route(verb::get, "/away", [&](emu::exchange& ex) -> asio::awaitable<void> {
        auto r = emu::make_response(bhttp_status::found, "");
        r.set("Location", other.url() + "/landing");
        co_await ex.async_respond(r);
    });
    home.route(verb::get, "/here", [](emu::exchange& ex) -> asio::awaitable<void> {
        auto r = emu::make_response(bhttp_status::temporary_redirect, "");
        r.set("Location", "/landing");
        co_await ex.async_respond(r);
    });
    home.route(verb::get, "/landing", emu::behaviours::respond(bhttp_status::ok, "home"));
    asio::io_context io;
    auto options = client_defaults();
    options.defaults.decorate = [](http::attempt_context& context, http::decorate_handler done) {
        context.headers.set("X-SF-SPCS-Authorization", "Snowflake Token=\"from-decorator\"");
        std::move(done)(boost::system::error_code{});
    };
    http::client client(io.get_executor(), options);
    auto with_credentials = [](http::request req) {
        req.headers.set("Authorization", "Bearer secret");
        req.headers.set("Cookie", "session=1");
        req.headers.set("Proxy-Authorization", "Basic eDp5");
        req.headers.set("X-Trace", "kept");
        return req;
    };
    takeoff::diagnostics diag;

    auto [ec, r] = send(io, client, with_credentials(get(home, "/away")), {}, diag);
    REQUIRE_FALSE(ec);
    CHECK(r.body == "landed");
    auto landed = other.requests();
    REQUIRE(landed.size() == 1);
    CHECK_FALSE(landed[0].header("authorization").has_value());
    CHECK_FALSE(landed[0].header("x-sf-spcs-authorization").has_value());
    CHECK_FALSE(landed[0].header("cookie").has_value());
    CHECK_FALSE(landed[0].header("proxy-authorization").has_value());
    CHECK(landed[0].header("x-trace") == "kept");
    CHECK(home.requests().at(0).header("authorization") == "Bearer secret");
    CHECK(home.requests().at(0).header("x-sf-spcs-authorization") == "Snowflake Token=\"from-decorator\"");

    // Within the origin they stay.
    auto [ec2, r2] = send(io, client, with_credentials(get(home, "/here")), {}, diag);
    REQUIRE_FALSE(ec2);
    CHECK(r2.body == "home");
    const auto again = home.requests();
    REQUIRE(again.size() == 3);
    CHECK(again[2].target == "/landing");
    CHECK(again[2].header("authorization") == "Bearer secret");
    CHECK(again[2].header("cookie") == "session=1");
    CHECK(again[2].header("x-sf-spcs-authorization") == "Snowflake Token=\"from-decorator\"");

    // https -> http: refused, and the http server hears nothing.
    emu::certificate_authority ca;
    emu::server secure(tls(ca));
    secure.route(verb::get, "/down", [&](emu::exchange& ex) -> asio::awaitable<void> {
        auto resp = emu::make_response(bhttp_status::found, "");
        resp.set("Location", other.url() + "/landing");
        co_await ex.async_respond(resp);
    });
    auto secure_options = client_defaults();
    secure_options.tls.ca_pem = ca.certificate_pem();
    http::client secure_client(io.get_executor(), secure_options);
    other.clear_requests();
    auto [ec3, r3] = send(io, secure_client, with_credentials(get(secure, "/down")), {}, diag);
    CHECK(ec3 == errc::insecure_redirect);
    CHECK(diag.client_message() == "refused a redirect from https to http");
    CHECK(other.request_count() == 0);
}

TEST_CASE("api: interim 1xx responses are skipped; the pooled connection stays in step") {
    emu::server server;
    server.route(verb::post, "/upload", [](emu::exchange& ex) -> asio::awaitable<void> {
        co_await ex.async_respond(emu::make_response(bhttp_status::ok, "stored " + ex.request().body()));
    });
    server.route(verb::get, "/next", emu::behaviours::respond(bhttp_status::ok, "next"));
    // 103 Early Hints, then the final response (raw: the connection closes after it).
    server.route(verb::get, "/hints", [](emu::exchange& ex) -> asio::awaitable<void> {
        co_await ex.async_write_raw("HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
                                    "HTTP/1.1 100 Continue\r\n\r\n"
                                    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Final: yes\r\n\r\nfinal");
    });
    server.route(verb::get, "/switch", [](emu::exchange& ex) -> asio::awaitable<void> {
        co_await ex.async_write_raw("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n");
    });
    asio::io_context io;
    http::client client(io.get_executor(), client_defaults());
    takeoff::diagnostics diag;

    // Expect: 100-continue: the emulator answers 100 Continue before the body, then 200.
    auto post = http::request::post(boost::urls::url(server.url() + "/upload"), "data", "text/plain");
    post.headers.set("Expect", "100-continue");
    auto [ec, r] = send(io, client, post, {}, diag);
    REQUIRE_FALSE(ec);
    CHECK(r.status == 200);
    CHECK(r.body == "stored data");
    // The next request on the same connection gets its own response, not the rest of the last one.
    auto [ec2, r2] = send(io, client, get(server, "/next"), {}, diag);
    REQUIRE_FALSE(ec2);
    CHECK(r2.body == "next");
    CHECK(client.connections_opened() == 1);

    auto [ec3, r3] = send(io, client, get(server, "/hints"), {}, diag);
    REQUIRE_FALSE(ec3);
    CHECK(r3.status == 200);
    CHECK(r3.body == "final");
    CHECK(r3.headers["x-final"] == "yes");
    CHECK_FALSE(r3.headers.contains("link")); // the interim fields are not the response's

    auto [ec4, r4] = send(io, client, get(server, "/switch"), {}, diag);
    CHECK(ec4 == errc::invalid_response); // never asked for an upgrade

    // 102 and 103 on a kept-alive connection, then the final response; the next request on the
    // same connection gets its own answer.
    emu::server keep;
    keep.route(verb::get, "/early",
               emu::behaviours::interim_then({bhttp_status::processing, {emu::early_hints, {{"Link", "</a.css>"}}}},
                                             emu::make_response(bhttp_status::ok, "after hints")));
    keep.route(verb::get, "/next", emu::behaviours::respond(bhttp_status::ok, "next"));
    http::client keep_client(io.get_executor(), client_defaults());
    for (const char* path : {"/early", "/next", "/early", "/next"}) {
        CAPTURE(path);
        auto [e, resp] = send(io, keep_client, get(keep, path), {}, diag);
        REQUIRE_FALSE(e);
        CHECK(resp.body == (std::string_view(path) == "/early" ? "after hints" : "next"));
    }
    CHECK(keep_client.connections_opened() == 1);
    CHECK(keep.connection_count() == 1);
}

TEST_CASE("api: a stale pooled connection is retried on a new connection, not on another idle one") {
    emu::server server;
    // Keeps the connection open until released, then answers and closes it after the response.
    server.route(verb::get, "/", [](emu::exchange& ex) -> asio::awaitable<void> {
        co_await ex.async_wait_released();
        co_await ex.async_respond(emu::make_response(bhttp_status::ok, "once"));
        ex.close();
    });
    asio::io_context io;
    auto options = client_defaults();
    options.pool.check_idle_after = 60s; // reused without a peek: the exchange finds out
    http::client client(io.get_executor(), options);
    // Two requests at once: two connections, both idle (and closed by the server) afterwards.
    int done = 0;
    for (int i = 0; i < 2; ++i)
        client.async_request(get(server, "/"), asio::as_tuple([&](auto...) { ++done; }));
    asio::post(io, [&] { asio::post(io, [&] { server.hold_gate().open(); }); });
    io.run();
    REQUIRE(done == 2);
    REQUIRE(client.idle_connections() == 2);
    REQUIRE(client.connections_opened() == 2);

    takeoff::diagnostics diag;
    auto [ec, r] = send(io, client, get(server, "/"), {}, diag);
    REQUIRE_FALSE(ec);
    CHECK(r.body == "once");
    CHECK(client.connections_opened() == 3); // one new connection; the second stale one untried
    CHECK(server.connection_count() == 3);
}

TEST_CASE("api: a reader that follows body_stream's documented loop loses no byte when the body is cut") {
    emu::server server;
    // Content-Length 1000 but 600 bytes, in three writes, then the connection closes.
    server.route(verb::get, "/cut", [](emu::exchange& ex) -> asio::awaitable<void> {
        co_await ex.async_write_raw("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + std::string(200, 'a'));
        co_await emu::exchange::async_delay(20ms);
        co_await ex.async_write_raw(std::string(200, 'b'));
        co_await emu::exchange::async_delay(20ms);
        co_await ex.async_write_raw(std::string(200, 'c'));
        ex.close();
    });
    asio::io_context io;
    http::client client(io.get_executor(), client_defaults());
    std::string received;
    boost::system::error_code last;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            auto [ec, stream] = co_await client.async_open(get(server, "/cut"), asio::as_tuple(asio::deferred));
            REQUIRE_FALSE(ec);
            char buffer[256];
            for (;;) {
                auto [read_ec, n] = co_await stream.async_read_some(asio::buffer(buffer), asio::as_tuple(asio::deferred));
                received.append(buffer, n);
                if (read_ec) {
                    last = read_ec;
                    break;
                }
            }
        },
        asio::detached);
    io.run();
    CHECK(last == errc::stream_truncated);
    CHECK(received == std::string(200, 'a') + std::string(200, 'b') + std::string(200, 'c'));
}

TEST_CASE("api: fault injection fails every I/O operation in turn with its error and leaves the client sound") {
    emu::certificate_authority ca;
    emu::server server(tls(ca));
    server.route(verb::post, "/echo", [](emu::exchange& ex) -> asio::awaitable<void> {
        co_await ex.async_respond(emu::make_response(bhttp_status::ok, ex.request().body()));
    });
    server.route(verb::get, "/stream", emu::behaviours::chunked_drip({"one", "two", "three"}, 5ms));
    const auto injected = make_error_code(boost::system::errc::io_error);
    for (const bool streaming : {false, true}) {
        CAPTURE(streaming);
        std::size_t failures = 0;
        for (std::size_t n = 0;; ++n) {
            CAPTURE(n);
            REQUIRE(n < 64);
            asio::io_context io;
            auto options = client_defaults();
            options.tls.ca_pem = ca.certificate_pem();
            http::client client(io.get_executor(), options);
            auto faults = std::make_shared<http::detail::fault_injector>(n, injected);
            http::detail::inject_faults(client, faults);
            boost::system::error_code ec;
            std::string body;
            takeoff::diagnostics diag;
            asio::co_spawn(
                io,
                [&]() -> asio::awaitable<void> {
                    if (!streaming) {
                        auto req = http::request::post(boost::urls::url(server.url() + "/echo"), "payload", "text/plain");
                        auto [e, r] = co_await client.async_request(req, {}, diag, asio::as_tuple(asio::deferred));
                        ec = e;
                        body = r.body;
                        co_return;
                    }
                    auto [e, stream] = co_await client.async_open(http::request::get(boost::urls::url(server.url() + "/stream")),
                                                                  {}, diag, asio::as_tuple(asio::deferred));
                    ec = e;
                    char buffer[64];
                    while (!ec) {
                        auto [read_ec, got] =
                            co_await stream.async_read_some(asio::buffer(buffer), diag, asio::as_tuple(asio::deferred));
                        body.append(buffer, got);
                        ec = read_ec;
                    }
                    if (ec == asio::error::eof) ec = {};
                },
                asio::detached);
            io.run(); // returns: nothing is left waiting
            if (faults->count() <= n) { // every operation ran: this is the complete exchange
                REQUIRE_FALSE(ec);
                CHECK(body == (streaming ? "onetwothree" : "payload"));
                break;
            }
            ++failures;
            CHECK(ec == injected);
            CHECK_FALSE(diag.client_message().empty()); // says which step failed
            CHECK(client.idle_connections() == 0);      // the failed connection is not pooled

            // The client is still sound: the same request without faults succeeds.
            http::detail::inject_faults(client, nullptr);
            io.restart();
            boost::system::error_code again;
            client.async_request(http::request::post(boost::urls::url(server.url() + "/echo"), "x", "text/plain"),
                                 [&](boost::system::error_code e, http::response) { again = e; });
            io.run();
            CHECK_FALSE(again);
        }
        // connect, handshake, write, and at least one read each; streaming reads more.
        CHECK(failures >= 4);
    }
}
