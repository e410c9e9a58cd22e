#pragma once
// What the http::client socket tests share: starting a request or a stream with a plain callback
// and running the io_context until it (and whatever else runs on it) is done, and the options of
// a client that goes straight to the loopback peers of the tests.

#include <takeoff/http/client.hpp>
#include <takeoff_emulator/server.hpp>

#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>

#include <optional>
#include <string>
#include <tuple>
#include <utility>

namespace takeoff::test {

using request_result = std::tuple<boost::system::error_code, http::response>;
using open_result = std::tuple<boost::system::error_code, http::body_stream>;

/// Sends req and runs io until everything on it is done.
inline request_result send(boost::asio::io_context& io, http::client& client, http::request req,
                           const http::request_options& options, diagnostics& diag) {
    std::optional<request_result> out;
    client.async_request(std::move(req), options, diag,
                         [&out](boost::system::error_code ec, http::response resp) { out.emplace(ec, std::move(resp)); });
    io.restart();
    io.run();
    REQUIRE(out.has_value());
    return std::move(*out);
}

/// async_open, run as send() runs.
inline open_result open(boost::asio::io_context& io, http::client& client, http::request req,
                        const http::request_options& options, diagnostics& diag) {
    std::optional<open_result> out;
    client.async_open(std::move(req), options, diag,
                      [&out](boost::system::error_code ec, http::body_stream s) { out.emplace(ec, std::move(s)); });
    io.restart();
    io.run();
    REQUIRE(out.has_value());
    return std::move(*out);
}

/// Client options whose requests go straight to the peer: the environment's proxy variables do not
/// decide where a loopback test connects.
inline http::client_options direct_client_options() {
    http::client_options o;
    o.proxy_from_environment = false;
    return o;
}

/// A GET of path on the emulator server.
inline http::request get(const emulator::server& server, const std::string& path) {
    return http::request::get(boost::urls::url(server.url() + path));
}

} // namespace takeoff::test
