#pragma once
// takeoff::emulator::behaviours — ready-made route handlers: fixed answers and the scripted
// misbehaviours transport tests need (chunk drips, cuts mid-header or mid-body, garbage, slow
// bytes, hanging, holding until the gate opens, interim 1xx responses before the answer).

#include <takeoff_emulator/detail/wire.hpp>
#include <takeoff_emulator/exchange.hpp>
#include <takeoff_emulator/message.hpp>
#include <takeoff_emulator/router.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/status.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace takeoff::emulator {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;

// Coroutine bodies of the ready-made behaviours (emulator::behaviours).
namespace detail {

inline asio::awaitable<void> behaviour_respond(exchange& ex, http_response response)
{
    co_await ex.async_respond(std::move(response));
}

inline asio::awaitable<void> behaviour_chunked_drip(exchange& ex, std::vector<std::string> chunks,
                                          std::chrono::steady_clock::duration pause, std::string content_type)
{
    co_await ex.async_write_chunked_header(http::status::ok, content_type);
    bool first = true;
    for (std::string& chunk : chunks) {
        if (!first && pause > std::chrono::steady_clock::duration::zero())
            co_await exchange::async_delay(pause);
        first = false;
        co_await ex.async_write_chunk(std::move(chunk));
    }
    co_await ex.async_write_last_chunk();
}

inline asio::awaitable<void> behaviour_write_then_close(exchange& ex, std::string bytes)
{
    co_await ex.async_write_raw(std::move(bytes));
    ex.close();
}

inline asio::awaitable<void> behaviour_slow_bytes(exchange& ex, http_response response, std::chrono::steady_clock::duration pause)
{
    co_await ex.async_respond_slowly(std::move(response), pause);
}

inline asio::awaitable<void> behaviour_hang(exchange& ex)
{
    co_await ex.async_wait_peer_closed();
    ex.close();
}

inline asio::awaitable<void> behaviour_hold(exchange& ex, http_response response)
{
    co_await ex.async_wait_released();
    co_await ex.async_respond(std::move(response));
}

inline asio::awaitable<void> behaviour_interim_then(exchange& ex, std::vector<interim_response> interim,
                                                   http_response response)
{
    for (interim_response& each : interim)
        co_await ex.async_send_interim(std::move(each));
    co_await ex.async_respond(std::move(response));
}

} // namespace detail

/// Ready-made handlers, including the scripted misbehaviours transport tests need.
namespace behaviours {

// Each behaviour is a plain lambda that forwards to a coroutine function taking its data by value,
// so no coroutine frame ever refers to a lambda's captures.

/// Always answers with this response.
inline handler respond(http_response response)
{
    return [response = std::move(response)](exchange& ex) { return detail::behaviour_respond(ex, response); };
}

/// Always answers with this status, body and Content-Type.
inline handler respond(http::status status, std::string body, std::string content_type = "text/plain")
{
    return respond(make_response(status, std::move(body), content_type));
}

/// Always answers with this status and JSON text.
inline handler respond_json(http::status status, std::string json)
{
    return respond(make_json_response(status, std::move(json)));
}

/// A 200 chunked response whose chunks are written (and flushed) one by one, with an optional
/// server-side pause between them, then the last chunk. Keep-alive is honoured.
inline handler chunked_drip(std::vector<std::string> chunks, std::chrono::steady_clock::duration pause = {},
                            std::string content_type = "text/plain")
{
    return [chunks = std::move(chunks), pause, content_type = std::move(content_type)](exchange& ex) {
        return detail::behaviour_chunked_drip(ex, chunks, pause, content_type);
    };
}

/// Writes the start of a response header, then closes the connection (the client sees the stream
/// end inside the header: Beast reports http::error::partial_message).
inline handler close_mid_headers(std::string partial_header = "HTTP/1.1 200 OK\r\nContent-Type: text/pl")
{
    return [partial_header = std::move(partial_header)](exchange& ex) {
        return detail::behaviour_write_then_close(ex, partial_header);
    };
}

/// Sends a complete header announcing `content_length` bytes, then only `sent_body`, then closes
/// (the client sees a partial body: Beast reports http::error::partial_message).
inline handler close_mid_body(std::size_t content_length = 1000, std::string sent_body = "only part of the body")
{
    std::string wire = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                       std::to_string(content_length) + "\r\n\r\n" + sent_body;
    return [wire = std::move(wire)](exchange& ex) { return detail::behaviour_write_then_close(ex, wire); };
}

/// Sends bytes that are not HTTP instead of a status line, then closes (Beast reports
/// http::error::bad_version for the default bytes).
inline handler garbage(std::string bytes = "SSH-2.0-definitely-not-http\r\n\r\n")
{
    return [bytes = std::move(bytes)](exchange& ex) { return detail::behaviour_write_then_close(ex, bytes); };
}

/// Sends this response one byte per write, each write awaited, with an optional server-side
/// pause between bytes. Keep-alive is honoured.
inline handler slow_bytes(http_response response, std::chrono::steady_clock::duration pause = {})
{
    return [response = std::move(response), pause](exchange& ex) { return detail::behaviour_slow_bytes(ex, response, pause); };
}

/// Never answers: waits until the client closes the connection or the server stops, then closes.
inline handler hang()
{
    return [](exchange& ex) { return detail::behaviour_hang(ex); };
}

/// Waits on the server's hold gate (server::hold_gate().open() releases it), then responds.
inline handler hold(http_response response)
{
    return [response = std::move(response)](exchange& ex) { return detail::behaviour_hold(ex, response); };
}

/// Sends these interim (1xx) responses in order, then the final response, e.g.
/// `interim_then({{emulator::early_hints, {{"Link", "</a.css>; rel=preload"}}}}, response)`.
/// Throws std::invalid_argument at once for a status that is not 1xx or is 101. Keep-alive is
/// honoured; an HTTP/1.0 request gets a 500 instead, as 1xx must not be sent to it.
inline handler interim_then(std::vector<interim_response> interim, http_response response)
{
    for (const interim_response& each : interim)
        detail::check_interim_status(static_cast<unsigned>(each.status));
    return [interim = std::move(interim), response = std::move(response)](exchange& ex) {
        return detail::behaviour_interim_then(ex, interim, response);
    };
}

} // namespace behaviours

} // namespace takeoff::emulator
