#pragma once
// An emulated Takeoff for the client tests: the emulator's inference and OpenAI routes at the
// root of one server and its management routes under /management (a base URL with a path), over
// plain HTTP or HTTPS with a test CA; the options of a takeoff::client pointed at it; and a way to
// run a test coroutine on an io_context to its end, exceptions included.

#include <takeoff/client.hpp>
#include <takeoff_emulator/certificates.hpp>
#include <takeoff_emulator/server.hpp>
#include <takeoff_emulator/takeoff.hpp>

#include <doctest/doctest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>
#include <optional>
#include <string>
#include <utility>

namespace takeoff::test {

/// The completion token of the tests that look at the error code: as_tuple(deferred).
inline constexpr auto tuple = boost::asio::as_tuple(boost::asio::deferred);

/// How the site speaks.
enum class scheme { http, https };

inline const char* to_string(scheme s) { return s == scheme::http ? "http" : "https"; }

/// The emulated Takeoff (see the file comment).
struct takeoff_site {
    emulator::certificate_authority authority;
    emulator::server server;
    emulator::takeoff_emulator takeoff;

    explicit takeoff_site(scheme s = scheme::http, emulator::takeoff_options options = {},
                          emulator::takeoff_emulator::wrapper wrap = {})
        : server(s == scheme::https ? emulator::server_options{authority.issue()} : emulator::server_options{}),
          takeoff(std::move(options)) {
        takeoff.install_inference(server, "", wrap);
        takeoff.install_openai(server, "", wrap);
        takeoff.install_management(server, "/management", wrap);
    }

    /// Options of a client of this site: straight to it (no proxy from the environment), trusting
    /// the test CA, retrying with short backoffs (the emulator's Retry-After is 0).
    takeoff::client_options client_options() const {
        takeoff::client_options o;
        o.inference_url = api::inference_url::runtime(server.url()).value();
        o.openai_url = api::openai_url::runtime(server.url()).value();
        o.management_url = api::management_url::runtime(server.url() + "/management").value();
        o.http.proxy_from_environment = false;
        o.http.tls.use_system_trust = false;
        o.http.tls.ca_pem = authority.certificate_pem();
        o.http.defaults.retries.initial_backoff = std::chrono::milliseconds(1);
        o.http.defaults.retries.max_backoff = std::chrono::milliseconds(2);
        return o;
    }
};

/// Runs `body` (a callable returning asio::awaitable<void>) on io until everything on io is done;
/// an exception it throws fails the test with its message.
template <class Body>
void run(boost::asio::io_context& io, Body body) {
    std::exception_ptr failure;
    bool finished = false;
    boost::asio::co_spawn(io, std::move(body), [&](std::exception_ptr e) {
        failure = e;
        finished = true;
    });
    io.restart();
    io.run();
    REQUIRE(finished);
    if (failure) {
        try {
            std::rethrow_exception(failure);
        } catch (const std::exception& e) {
            FAIL("the test coroutine threw: " << e.what());
        }
    }
}

} // namespace takeoff::test
