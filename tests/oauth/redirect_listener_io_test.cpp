// oauth::redirect_listener on real loopback sockets: binding (ephemeral and fixed ports, [::1],
// localhost, refused URIs, a port in use), what each kind of browser request gets, the outcomes of
// the callback (code, state mismatch, an OAuth error page), a silent connection, the timeout,
// cancellation, close() and one wait at a time. The browser is an Asio client in the test.
#include <takeoff/oauth/redirect_listener.hpp>

#include "../support/doctest_helpers.hpp"

#include <doctest/doctest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>

namespace asio = boost::asio;
namespace oauth = takeoff::oauth;
using asio::ip::tcp;
using boost::system::error_code;
using takeoff::errc;
using namespace std::chrono_literals;

namespace {

const takeoff::secret expected_state("s7aTe-0123456789abcdefghijklmnopqrstuvwxyzABC");

// What a wait completed with.
struct outcome {
    bool done = false;
    error_code ec;
    oauth::authorization_response response;
};

auto record(outcome& out) {
    return [&out](error_code ec, oauth::authorization_response r) {
        out.done = true;
        out.ec = ec;
        out.response = std::move(r);
    };
}

// An HTTP answer as the browser got it.
struct answer {
    std::string text;
    std::string status_line() const { return text.substr(0, text.find("\r\n")); }
    std::string head() const { return text.substr(0, text.find("\r\n\r\n") + 2); }
    std::string body() const {
        const auto at = text.find("\r\n\r\n");
        return at == std::string::npos ? std::string() : text.substr(at + 4);
    }
    bool has_header(const std::string& line) const { return head().find("\r\n" + line + "\r\n") != std::string::npos; }
};

std::string get_request(const std::string& target) {
    return "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: test\r\n\r\n";
}

// Connects, sends raw, reads until the listener closes.
asio::awaitable<answer> fetch(tcp::endpoint to, std::string raw) {
    tcp::socket socket(co_await asio::this_coro::executor);
    co_await socket.async_connect(to, asio::use_awaitable);
    co_await asio::async_write(socket, asio::buffer(raw), asio::use_awaitable);
    answer a;
    auto [ec, n] = co_await asio::async_read(socket, asio::dynamic_buffer(a.text), asio::as_tuple(asio::use_awaitable));
    (void)n;
    CHECK((ec == asio::error::eof || !ec));
    co_return a;
}

// Runs the browser's part as a coroutine on io; an exception in it fails the test.
void browse(asio::io_context& io, std::function<asio::awaitable<void>()> steps) {
    asio::co_spawn(io, std::move(steps), [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
    });
}

oauth::redirect_listener open_listener(asio::io_context& io, std::string_view uri) {
    takeoff::diagnostics diag;
    auto listener = oauth::redirect_listener::open(io.get_executor(), uri, diag);
    REQUIRE_MESSAGE(listener.has_value(), diag.client_message());
    return std::move(*listener);
}

std::string callback_target(std::string_view query) { return "/cb?" + std::string(query); }

std::string good_callback() {
    return callback_target("code=C0DE-xyz&state=" + std::string(expected_state.reveal()) +
                           "&scope=session%3Arole%3AANALYST");
}

std::uint16_t free_port(asio::io_context& io) {
    tcp::acceptor probe(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    return probe.local_endpoint().port();
}

} // namespace

TEST_CASE("redirect_listener: no port, or port 0, binds an ephemeral port written back into the redirect URI") {
    asio::io_context io;
    for (std::string_view uri : {"http://127.0.0.1/cb", "http://127.0.0.1:0/cb"}) {
        CAPTURE(uri);
        auto listener = open_listener(io, uri);
        CHECK(listener.port() != 0);
        CHECK(listener.redirect_uri() == "http://127.0.0.1:" + std::to_string(listener.port()) + "/cb");
        CHECK(listener.local_endpoint() == tcp::endpoint(asio::ip::address_v4::loopback(), listener.port()));
    }
    // Without a path the callback path is "/", and the URI is kept as written.
    auto bare = open_listener(io, "http://127.0.0.1");
    CHECK(bare.redirect_uri() == "http://127.0.0.1:" + std::to_string(bare.port()));
}

TEST_CASE("redirect_listener: a fixed port is bound as given and the redirect URI is unchanged") {
    asio::io_context io;
    const std::uint16_t port = free_port(io);
    const std::string uri = "http://127.0.0.1:" + std::to_string(port) + "/oauth/callback?authType=snowflake";
    auto listener = open_listener(io, uri);
    CHECK(listener.port() == port);
    CHECK(listener.redirect_uri() == uri);

    // The query of the registered URI comes back on the callback and is ignored.
    outcome out;
    takeoff::diagnostics diag;
    listener.async_wait(expected_state, diag, record(out));
    answer a;
    browse(io, [&]() -> asio::awaitable<void> {
        a = co_await fetch(listener.local_endpoint(),
                           get_request("/oauth/callback?authType=snowflake&code=abc&state=" +
                                       std::string(expected_state.reveal())));
    });
    io.run();
    REQUIRE(out.done);
    CHECK_FALSE(out.ec);
    CHECK(out.response.code.reveal() == "abc");
    CHECK(a.status_line() == "HTTP/1.1 200 OK");
}

TEST_CASE("redirect_listener: localhost binds 127.0.0.1 and the redirect URI keeps localhost") {
    asio::io_context io;
    auto listener = open_listener(io, "http://localhost/cb");
    CHECK(listener.redirect_uri() == "http://localhost:" + std::to_string(listener.port()) + "/cb");
    CHECK(listener.local_endpoint().address() == asio::ip::address(asio::ip::address_v4::loopback()));
    auto upper = open_listener(io, "http://LocalHost:0/cb");
    CHECK(upper.redirect_uri() == "http://LocalHost:" + std::to_string(upper.port()) + "/cb");
}

TEST_CASE("redirect_listener: [::1] binds the IPv6 loopback only") {
    asio::io_context io;
    {
        tcp::acceptor probe(io);
        error_code ec;
        probe.open(tcp::v6(), ec);
        if (!ec) probe.bind(tcp::endpoint(asio::ip::address_v6::loopback(), 0), ec);
        if (ec) {
            MESSAGE("skipped: no IPv6 loopback on this machine (" << ec.message() << ")");
            return;
        }
    }
    auto listener = open_listener(io, "http://[::1]/cb");
    CHECK(listener.redirect_uri() == "http://[::1]:" + std::to_string(listener.port()) + "/cb");
    CHECK(listener.local_endpoint() == tcp::endpoint(asio::ip::address_v6::loopback(), listener.port()));

    outcome out;
    takeoff::diagnostics diag;
    listener.async_wait(expected_state, diag, record(out));
    browse(io, [&]() -> asio::awaitable<void> { co_await fetch(listener.local_endpoint(), get_request(good_callback())); });
    io.run();
    REQUIRE(out.done);
    CHECK_FALSE(out.ec);
    CHECK(out.response.code.reveal() == "C0DE-xyz");
}

TEST_CASE("redirect_listener: refuses https, other hosts, userinfo, a fragment and a bad port with invalid_url") {
    asio::io_context io;
    struct refused {
        std::string_view uri;
        std::string_view message;
    };
    const std::string_view not_loopback = "the redirect URI's host must be 127.0.0.1, [::1] or localhost (the listener "
                                          "binds the loopback address only)";
    for (const refused& r : {
             refused{"https://127.0.0.1/cb", "the redirect URI must be http://127.0.0.1, http://[::1] or "
                                             "http://localhost (a loopback listener speaks plain HTTP)"},
             refused{"http://example.com/cb", not_loopback},
             refused{"http://10.1.2.3:8080/cb", not_loopback},
             refused{"http://127.0.0.2/cb", not_loopback},
             refused{"http://0.0.0.0/cb", not_loopback},
             refused{"http://[::]/cb", not_loopback},
             refused{"http://localhost.example.com/cb", not_loopback},
             refused{"http://user@127.0.0.1/cb", "the redirect URI must not have userinfo (user@)"},
             refused{"http://127.0.0.1/cb#top", "the redirect URI must not have a fragment (#)"},
             refused{"http://127.0.0.1:99999/cb", "the redirect URI's port is not a number from 0 to 65535"},
             refused{"/cb", "the redirect URI is not an absolute URI"},
             refused{"not a url", "the redirect URI is not an absolute URI"},
         }) {
        CAPTURE(r.uri);
        takeoff::diagnostics diag;
        auto listener = oauth::redirect_listener::open(io.get_executor(), r.uri, diag);
        REQUIRE_FALSE(listener.has_value());
        CHECK(listener.error() == errc::invalid_url);
        CHECK(diag.client_message() == r.message);
    }
}

TEST_CASE("redirect_listener: a port in use fails with address_in_use and the diagnostics name the address") {
    asio::io_context io;
    auto first = open_listener(io, "http://127.0.0.1/cb");
    const std::string port = std::to_string(first.port());
    takeoff::diagnostics diag;
    auto second = oauth::redirect_listener::open(io.get_executor(), "http://127.0.0.1:" + port + "/cb", diag);
    REQUIRE_FALSE(second.has_value());
    CHECK(second.error() == asio::error::address_in_use);
    CHECK(diag.client_message() == "cannot listen on 127.0.0.1:" + port + " (bind): " +
                                       make_error_code(asio::error::address_in_use).message());
}

TEST_CASE("redirect_listener: stray requests get 404, 405, 431 or 400 and the wait goes on until the callback's code") {
    asio::io_context io;
    auto listener = open_listener(io, "http://127.0.0.1/cb");
    oauth::redirect_listener_options options;
    options.max_request_bytes = 1024;
    outcome out;
    takeoff::diagnostics diag;
    listener.async_wait(expected_state, options, diag, record(out));

    answer favicon, post, big, garbage, other_form, callback;
    bool waiting_after_strays = false;
    browse(io, [&]() -> asio::awaitable<void> {
        const auto to = listener.local_endpoint();
        favicon = co_await fetch(to, get_request("/favicon.ico"));
        post = co_await fetch(to, "POST /cb HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n");
        big = co_await fetch(to, "GET /cb HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + std::string(2000, 'a') +
                                     "\r\n\r\n");
        garbage = co_await fetch(to, "HELLO\r\n\r\n");
        other_form = co_await fetch(to, "GET cb HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        waiting_after_strays = !out.done;
        callback = co_await fetch(to, get_request(good_callback()));
    });
    io.run();

    CHECK(favicon.status_line() == "HTTP/1.1 404 Not Found");
    CHECK(post.status_line() == "HTTP/1.1 405 Method Not Allowed");
    CHECK(post.has_header("Allow: GET"));
    CHECK(big.status_line() == "HTTP/1.1 431 Request Header Fields Too Large");
    CHECK(garbage.status_line() == "HTTP/1.1 400 Bad Request");
    CHECK(other_form.status_line() == "HTTP/1.1 400 Bad Request");
    CHECK(waiting_after_strays);

    REQUIRE(out.done);
    CHECK_FALSE(out.ec);
    CHECK(out.response.code.reveal() == "C0DE-xyz");
    CHECK(out.response.scope == "session:role:ANALYST");
    CHECK(diag.empty());
    CHECK(callback.status_line() == "HTTP/1.1 200 OK");
    for (const answer* a : {&favicon, &callback}) {
        CHECK(a->has_header("Content-Type: text/html; charset=utf-8"));
        CHECK(a->has_header("Cache-Control: no-store"));
        CHECK(a->has_header("Connection: close"));
        CHECK(a->has_header("Content-Length: " + std::to_string(a->body().size())));
    }
    CHECK(callback.body().find("<p>Signed in. You can close this window.</p>") != std::string::npos);
    CHECK(callback.body().find("C0DE-xyz") == std::string::npos);
    CHECK(callback.body().find(std::string(expected_state.reveal())) == std::string::npos);
}

TEST_CASE("redirect_listener: a wrong state completes with state_mismatch and the page says so without code or state") {
    asio::io_context io;
    auto listener = open_listener(io, "http://127.0.0.1/cb");
    outcome out;
    takeoff::diagnostics diag;
    listener.async_wait(expected_state, diag, record(out));
    answer a;
    browse(io, [&]() -> asio::awaitable<void> {
        a = co_await fetch(listener.local_endpoint(), get_request(callback_target("code=SECRETCODE&state=forged-state")));
    });
    io.run();
    REQUIRE(out.done);
    CHECK(out.ec == errc::state_mismatch);
    CHECK(out.response.code.empty());
    CHECK(diag.client_message() == "the authorization callback's state does not match the one sent");
    CHECK(a.status_line() == "HTTP/1.1 400 Bad Request");
    const std::string body = a.body();
    CHECK(body.find("<p>Sign-in failed: OAuth: the redirect&#39;s state does not match.</p>") != std::string::npos);
    CHECK(body.find("<p>the authorization callback&#39;s state does not match the one sent.</p>") != std::string::npos);
    CHECK(body.find("SECRETCODE") == std::string::npos);
    CHECK(body.find("forged-state") == std::string::npos);
    CHECK(body.find(std::string(expected_state.reveal())) == std::string::npos);
}

TEST_CASE("redirect_listener: error=access_denied completes with access_denied; the description is HTML-escaped") {
    asio::io_context io;
    auto listener = open_listener(io, "http://127.0.0.1/cb");
    outcome out;
    takeoff::diagnostics diag;
    listener.async_wait(expected_state, diag, record(out));
    answer a;
    browse(io, [&]() -> asio::awaitable<void> {
        a = co_await fetch(listener.local_endpoint(),
                           get_request(callback_target("error=access_denied&error_description=%3Cscript%3Ealert(1)%3C%2F"
                                                       "script%3E+%26+more&state=" +
                                                       std::string(expected_state.reveal()))));
    });
    io.run();
    REQUIRE(out.done);
    CHECK(out.ec == errc::access_denied);
    CHECK(diag.server_error_code() == "access_denied");
    CHECK(diag.server_message() == "<script>alert(1)</script> & more");
    CHECK(a.status_line() == "HTTP/1.1 400 Bad Request");
    const std::string body = a.body();
    CHECK(body.find("<p>Sign-in failed: OAuth: access_denied.</p>") != std::string::npos);
    CHECK(body.find("<p>The authorization server said: access_denied: &lt;script&gt;alert(1)&lt;/script&gt; &amp; "
                    "more</p>") != std::string::npos);
    CHECK(body.find("<script>") == std::string::npos);
    CHECK(body.find(std::string(expected_state.reveal())) == std::string::npos);
}

TEST_CASE("redirect_listener: a silent connection opened first does not hold up the callback, and is closed at the end") {
    asio::io_context io;
    auto listener = open_listener(io, "http://127.0.0.1/cb");
    tcp::socket silent(io);
    silent.connect(listener.local_endpoint()); // completed by the kernel; accepted when the wait starts

    oauth::redirect_listener_options options;
    options.connection_timeout = 300s; // served one at a time, the callback would wait this long
    outcome out;
    takeoff::diagnostics diag;
    listener.async_wait(expected_state, options, diag, record(out));

    std::optional<error_code> silent_ec;
    bool silent_closed_after_completion = false;
    char byte = 0;
    silent.async_read_some(asio::buffer(&byte, 1), [&](error_code ec, std::size_t) {
        silent_ec = ec;
        silent_closed_after_completion = out.done;
    });
    browse(io, [&]() -> asio::awaitable<void> { co_await fetch(listener.local_endpoint(), get_request(good_callback())); });
    io.run();
    REQUIRE(out.done);
    CHECK_FALSE(out.ec);
    CHECK(out.response.code.reveal() == "C0DE-xyz");
    CHECK(silent_ec == asio::error::eof);
    CHECK(silent_closed_after_completion);
}

TEST_CASE("redirect_listener: no callback within the timeout completes with request_timeout") {
    asio::io_context io;
    auto listener = open_listener(io, "http://127.0.0.1/cb");
    oauth::redirect_listener_options options;
    options.timeout = 1s;
    outcome out;
    takeoff::diagnostics diag;
    const auto started = std::chrono::steady_clock::now();
    listener.async_wait(expected_state, options, diag, record(out));
    io.run();
    REQUIRE(out.done);
    CHECK(out.ec == errc::request_timeout);
    CHECK(diag.client_message() ==
          "no sign-in arrived at http://127.0.0.1:" + std::to_string(listener.port()) + "/cb within 1 s");
    CHECK(std::chrono::steady_clock::now() - started >= 1s);
}

TEST_CASE("redirect_listener: cancellation completes with operation_aborted, and the listener can wait again") {
    asio::io_context io;
    auto listener = open_listener(io, "http://127.0.0.1/cb");
    asio::cancellation_signal signal;
    outcome out;
    takeoff::diagnostics diag;
    listener.async_wait(expected_state, diag, asio::bind_cancellation_slot(signal.slot(), record(out)));
    answer favicon;
    browse(io, [&]() -> asio::awaitable<void> {
        favicon = co_await fetch(listener.local_endpoint(), get_request("/favicon.ico"));
        signal.emit(asio::cancellation_type::terminal);
    });
    io.run();
    REQUIRE(out.done);
    CHECK(favicon.status_line() == "HTTP/1.1 404 Not Found");
    CHECK(out.ec == asio::error::operation_aborted);
    CHECK(diag.client_message() == "the wait for the sign-in at " + listener.redirect_uri() + " was cancelled");

    outcome again;
    listener.async_wait(expected_state, diag, record(again));
    browse(io, [&]() -> asio::awaitable<void> { co_await fetch(listener.local_endpoint(), get_request(good_callback())); });
    io.restart();
    io.run();
    REQUIRE(again.done);
    CHECK_FALSE(again.ec);
    CHECK(again.response.code.reveal() == "C0DE-xyz");
}

TEST_CASE("redirect_listener: a second wait at once fails with operation_in_progress; close() ends the first") {
    asio::io_context io;
    auto listener = open_listener(io, "http://127.0.0.1/cb");
    outcome first, second;
    takeoff::diagnostics diag1, diag2;
    listener.async_wait(expected_state, diag1, record(first));
    listener.async_wait(expected_state, diag2, record(second));
    browse(io, [&]() -> asio::awaitable<void> {
        co_await fetch(listener.local_endpoint(), get_request("/favicon.ico"));
        listener.close();
    });
    io.run();
    REQUIRE(second.done);
    CHECK(second.ec == errc::operation_in_progress);
    CHECK(diag2.client_message() == "another wait is already in progress on the redirect listener at 127.0.0.1:" +
                                        std::to_string(listener.port()));
    REQUIRE(first.done);
    CHECK(first.ec == asio::error::operation_aborted);
    CHECK(diag1.client_message() == "the redirect listener at 127.0.0.1:" + std::to_string(listener.port()) +
                                        " was closed");
    CHECK_FALSE(listener.is_open());

    outcome closed;
    listener.async_wait(expected_state, diag1, record(closed));
    io.restart();
    io.run();
    REQUIRE(closed.done);
    CHECK(closed.ec == asio::error::bad_descriptor);
    CHECK(diag1.client_message() == "the redirect listener at 127.0.0.1:" + std::to_string(listener.port()) +
                                        " is closed");
}

TEST_CASE("redirect_listener: with the default token co_await gives the response, and a failure throws takeoff::error") {
    asio::io_context io;
    auto listener = open_listener(io, "http://127.0.0.1/cb");
    std::optional<oauth::authorization_response> got;
    std::optional<takeoff::error> thrown;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            got = co_await listener.async_wait(expected_state);
            try {
                co_await listener.async_wait(expected_state);
            } catch (const takeoff::error& e) {
                thrown.emplace(e);
            }
        },
        [](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
        });
    browse(io, [&]() -> asio::awaitable<void> {
        co_await fetch(listener.local_endpoint(), get_request(good_callback()));
        co_await fetch(listener.local_endpoint(), get_request(callback_target("code=x&state=nope")));
    });
    io.run();
    REQUIRE(got.has_value());
    CHECK(got->code.reveal() == "C0DE-xyz");
    REQUIRE(thrown.has_value());
    CHECK(thrown->code() == errc::state_mismatch);
    CHECK(thrown->get_diagnostics().client_message() ==
          "the authorization callback's state does not match the one sent");
}

TEST_CASE("redirect_listener: a wait on an io_context run by two threads completes with the callback's code") {
    asio::io_context io;
    auto listener = open_listener(io, "http://127.0.0.1/cb");
    outcome out;
    takeoff::diagnostics diag;
    listener.async_wait(expected_state, diag, record(out));
    answer favicon, callback;
    browse(io, [&]() -> asio::awaitable<void> {
        favicon = co_await fetch(listener.local_endpoint(), get_request("/favicon.ico"));
        callback = co_await fetch(listener.local_endpoint(), get_request(good_callback()));
    });
    std::thread other([&io] { io.run(); });
    io.run();
    other.join();
    REQUIRE(out.done);
    CHECK_FALSE(out.ec);
    CHECK(out.response.code.reveal() == "C0DE-xyz");
    CHECK(favicon.status_line() == "HTTP/1.1 404 Not Found");
    CHECK(callback.status_line() == "HTTP/1.1 200 OK");
}

TEST_CASE("redirect_listener: an io_context destroyed with a wait pending destroys it without calling the handler") {
    bool called = false;
    answer favicon;
    {
        asio::io_context io; // destroyed last, with the wait (and a connection it serves) pending
        auto listener = open_listener(io, "http://127.0.0.1/cb");
        tcp::socket silent(io);
        silent.connect(listener.local_endpoint());
        takeoff::diagnostics diag;
        listener.async_wait(expected_state, diag, [&called](error_code, oauth::authorization_response) { called = true; });
        browse(io, [&]() -> asio::awaitable<void> {
            favicon = co_await fetch(listener.local_endpoint(), get_request("/favicon.ico"));
            io.stop();
        });
        io.run();
    }
    CHECK(favicon.status_line() == "HTTP/1.1 404 Not Found");
    CHECK_FALSE(called);
}

TEST_CASE("redirect_listener: destroying the listener ends its wait with operation_aborted") {
    asio::io_context io;
    std::optional<oauth::redirect_listener> listener(open_listener(io, "http://127.0.0.1/cb"));
    const auto to = listener->local_endpoint();
    outcome out;
    takeoff::diagnostics diag;
    listener->async_wait(expected_state, diag, record(out));
    browse(io, [&]() -> asio::awaitable<void> {
        co_await fetch(to, get_request("/favicon.ico"));
        listener.reset();
    });
    io.run();
    REQUIRE(out.done);
    CHECK(out.ec == asio::error::operation_aborted);
    CHECK(diag.client_message() == "the redirect listener at 127.0.0.1:" + std::to_string(to.port()) + " was closed");
    tcp::socket probe(io);
    error_code ec;
    probe.connect(to, ec);
    CHECK(ec == asio::error::connection_refused);
}
