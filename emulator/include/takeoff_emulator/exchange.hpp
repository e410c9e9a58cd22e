#pragma once
// takeoff::emulator::exchange — one request and its answer on a connection, as a route handler
// sees it: the parsed request, ways to answer properly (keep-alive honoured, interim 1xx responses
// first if wanted), ways to misbehave on purpose (raw bytes, chunk-by-chunk or byte-by-byte writes,
// abrupt close) and ways to wait (hold gate, peer close, server-side timer).

#include <takeoff_emulator/detail/connection_io.hpp>
#include <takeoff_emulator/detail/wire.hpp>
#include <takeoff_emulator/gate.hpp>
#include <takeoff_emulator/message.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace takeoff::emulator {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;

class server;

/// One request/response exchange on a connection, handed to a route handler. The handler answers
/// with exactly one of: async_respond / async_respond_slowly; async_write_chunked_header +
/// async_write_chunk... + async_write_last_chunk; async_write_raw (any bytes; the connection is
/// closed after the handler); close(). If it returns without answering, the client gets a 500.
/// Any number of async_send_interim calls may come before that answer.
/// Write operations throw boost::system::system_error when the client has gone away.
class exchange {
public:
    /// Where the exchange is in its answer.
    enum class response_state {
        none,     ///< nothing written yet
        chunked,  ///< a chunked header is out; chunks may follow
        complete, ///< a whole, well-framed response is out
        raw,      ///< raw bytes are out; the framing is unknown, so the connection will close
    };

    exchange(const exchange&) = delete;
    exchange& operator=(const exchange&) = delete;

    /// The parsed request, body included.
    const http_request& request() const noexcept { return request_; }
    /// The request, changeable: for a handler that hands a changed request on to another handler
    /// (the emulated SPCS ingress strips the credential and adds Sf-Context-Current-User). The
    /// server's request log keeps the request as it arrived.
    http_request& mutable_request() noexcept { return request_; }
    /// The request target without its query string.
    std::string_view path() const noexcept
    {
        const std::string_view target(request_.target().data(), request_.target().size());
        return target.substr(0, target.find('?'));
    }
    /// The query string (without '?'), empty if none.
    std::string_view query() const noexcept
    {
        const std::string_view target(request_.target().data(), request_.target().size());
        const auto mark = target.find('?');
        return mark == std::string_view::npos ? std::string_view{} : target.substr(mark + 1);
    }
    /// The connection's number (1 for the first accepted connection).
    std::uint64_t connection_id() const noexcept { return connection_id_; }
    /// True when the connection is TLS.
    bool is_tls() const noexcept { return io_->is_tls(); }
    /// The SNI host name the client sent in its TLS hello; empty without SNI or over plain HTTP.
    std::string_view tls_server_name() const noexcept { return io_->tls_server_name(); }
    /// True until close() or a transport failure closed the connection.
    bool is_open() const noexcept { return io_->is_open(); }
    response_state state() const noexcept { return state_; }
    /// The status of the final response begun so far (async_respond, async_respond_slowly or a
    /// chunked header, whether or not it was then cut short); 0 while none was begun, e.g. after
    /// only raw bytes or a close().
    unsigned response_status() const noexcept { return response_status_; }
    /// True when the connection will serve another request after this handler.
    bool keep_alive_after() const noexcept { return state_ == response_state::complete && keep_alive_ && is_open(); }

    /// Sends an interim response (RFC 9110 §15.2), `HTTP/1.1 1xx Reason` and these fields (as given),
    /// before the final answer, which is then sent as usual; clients must skip it. Throws
    /// std::invalid_argument for a status that is not 1xx or is 101, and std::logic_error once the
    /// final answer has begun or when the request is HTTP/1.0 (a server must not send it 1xx).
    asio::awaitable<void> async_send_interim(http::status status, field_list fields = {})
    {
        const auto code = static_cast<unsigned>(status);
        detail::check_interim_status(code);
        expect_state(response_state::none, "async_send_interim");
        if (request_.version() < 11)
            throw std::logic_error("takeoff-emulator: exchange::async_send_interim on an HTTP/1.0 request");
        std::string wire = detail::serialize_interim(code, fields);
        std::vector<asio::const_buffer> buffers{asio::buffer(wire)};
        co_await io_->async_write(std::move(buffers));
    }

    /// Sends an interim response given as a status and its fields.
    asio::awaitable<void> async_send_interim(interim_response interim)
    {
        co_await async_send_interim(interim.status, std::move(interim.fields));
    }

    /// Sends a whole response. Content-Length is set from the body unless the response already has
    /// Content-Length or chunked framing (so a test may lie on purpose). Keep-alive follows the
    /// request unless the response says `Connection: close`.
    asio::awaitable<void> async_respond(http_response response)
    {
        std::string wire = prepare(response);
        std::vector<asio::const_buffer> buffers{asio::buffer(wire)};
        std::string chunk_head;
        if (!is_head_request()) {
            if (response.chunked()) {
                wire_chunked_body(response.body(), chunk_head, buffers);
            } else if (!response.body().empty()) {
                buffers.push_back(asio::buffer(response.body()));
            }
        }
        co_await io_->async_write(std::move(buffers)); // one gather write: header and body together
        state_ = response_state::complete;
    }

    /// Sends a whole response like async_respond, but one byte per write, each write awaited,
    /// with an optional pause between bytes (a server-side timer).
    asio::awaitable<void> async_respond_slowly(http_response response,
                                               std::chrono::steady_clock::duration pause = {})
    {
        std::string wire = prepare(response);
        if (!is_head_request()) {
            std::vector<asio::const_buffer> body_buffers;
            std::string chunk_head;
            if (response.chunked())
                wire_chunked_body(response.body(), chunk_head, body_buffers);
            else
                body_buffers.push_back(asio::buffer(response.body()));
            for (const auto& buffer : body_buffers)
                wire.append(static_cast<const char*>(buffer.data()), buffer.size());
        }
        state_ = response_state::raw; // until the last byte is out
        for (std::size_t i = 0; i < wire.size(); ++i) {
            if (i != 0 && pause > std::chrono::steady_clock::duration::zero())
                co_await async_delay(pause);
            std::vector<asio::const_buffer> one{asio::buffer(wire.data() + i, 1)};
            co_await io_->async_write(std::move(one));
        }
        state_ = response_state::complete;
    }

    /// Sends a response header with `Transfer-Encoding: chunked` (Content-Length removed).
    asio::awaitable<void> async_write_chunked_header(http::response_header<> header)
    {
        expect_state(response_state::none, "async_write_chunked_header");
        header.erase(http::field::content_length);
        header.set(http::field::transfer_encoding, "chunked");
        keep_alive_ = request_.keep_alive() && !detail::says_connection_close(header);
        if (!request_.keep_alive() && header.version() >= 11 && !detail::says_connection_close(header))
            header.set(http::field::connection, "close");
        std::string wire = detail::serialize_header(header);
        state_ = response_state::chunked;
        response_status_ = header.result_int();
        std::vector<asio::const_buffer> buffers{asio::buffer(wire)};
        co_await io_->async_write(std::move(buffers));
    }

    /// Sends a chunked response header with this status and Content-Type.
    asio::awaitable<void> async_write_chunked_header(http::status status, std::string_view content_type)
    {
        http::response_header<> header;
        header.version(11);
        header.result(status);
        header.set(http::field::content_type, content_type);
        co_await async_write_chunked_header(std::move(header));
    }

    /// Sends one chunk, flushed on its own. An empty chunk would end the body, so it is skipped.
    asio::awaitable<void> async_write_chunk(std::string data)
    {
        expect_state(response_state::chunked, "async_write_chunk");
        if (data.empty())
            co_return;
        std::string head = detail::chunk_size_line(data.size());
        static constexpr std::string_view crlf = "\r\n";
        std::vector<asio::const_buffer> buffers{asio::buffer(head), asio::buffer(data), asio::buffer(crlf)};
        co_await io_->async_write(std::move(buffers));
    }

    /// Sends the last chunk (`0\r\n\r\n`); the response is then complete.
    asio::awaitable<void> async_write_last_chunk()
    {
        expect_state(response_state::chunked, "async_write_last_chunk");
        static constexpr std::string_view last = "0\r\n\r\n";
        std::vector<asio::const_buffer> buffers{asio::buffer(last)};
        co_await io_->async_write(std::move(buffers));
        state_ = response_state::complete;
    }

    /// Writes bytes as they are. The connection is closed once the handler returns.
    asio::awaitable<void> async_write_raw(std::string bytes)
    {
        state_ = response_state::raw;
        std::vector<asio::const_buffer> buffers{asio::buffer(bytes)};
        co_await io_->async_write(std::move(buffers));
    }

    /// Closes the connection at once: no more bytes, no TLS close_notify (the client sees the
    /// stream end wherever the handler stopped writing).
    void close() noexcept
    {
        io_->close();
        if (state_ != response_state::complete)
            state_ = response_state::raw;
    }

    /// Waits on the server's hold gate (server::hold_gate()): until a test opens it, or the server
    /// stops (then it throws operation_aborted).
    asio::awaitable<void> async_wait_released() { co_await hold_gate_->async_wait(); }

    /// Waits until the client closes the connection or the server stops, discarding anything the
    /// client sends meanwhile. Never answers.
    asio::awaitable<void> async_wait_peer_closed()
    {
        std::array<char, 1024> scratch{};
        while (io_->is_open()) {
            auto result = co_await io_->async_read_some(asio::buffer(scratch));
            if (std::get<0>(result))
                co_return;
        }
    }

    /// Waits for a duration on a server-side timer (cancelled by server stop).
    static asio::awaitable<void> async_delay(std::chrono::steady_clock::duration duration)
    {
        asio::steady_timer timer(co_await asio::this_coro::executor, duration);
        co_await timer.async_wait(asio::use_awaitable);
    }

private:
    friend class server;

    exchange(detail::connection_io& io, gate& hold_gate, http_request request, std::uint64_t connection_id)
        : io_(&io), hold_gate_(&hold_gate), request_(std::move(request)), connection_id_(connection_id) {}

    bool is_head_request() const noexcept { return request_.method() == http::verb::head; }

    void expect_state(response_state expected, const char* operation) const
    {
        if (state_ != expected)
            throw std::logic_error(std::string("takeoff-emulator: exchange::") + operation +
                                   " called in the wrong state");
    }

    // Fixes framing and keep-alive, marks the exchange as answering, returns the header bytes.
    std::string prepare(http_response& response)
    {
        expect_state(response_state::none, "async_respond");
        if (!response.chunked() && !response.has_content_length())
            response.prepare_payload();
        keep_alive_ = request_.keep_alive() && !detail::says_connection_close(response.base());
        if (!keep_alive_ && response.version() >= 11 && !detail::says_connection_close(response.base()))
            response.set(http::field::connection, "close");
        response_status_ = response.result_int();
        return detail::serialize_header(response.base());
    }

    static void wire_chunked_body(const std::string& body, std::string& head, std::vector<asio::const_buffer>& buffers)
    {
        static constexpr std::string_view crlf = "\r\n";
        static constexpr std::string_view last = "0\r\n\r\n";
        if (!body.empty()) {
            head = detail::chunk_size_line(body.size());
            buffers.push_back(asio::buffer(head));
            buffers.push_back(asio::buffer(body));
            buffers.push_back(asio::buffer(crlf));
        }
        buffers.push_back(asio::buffer(last));
    }

    detail::connection_io* io_;
    gate* hold_gate_;
    http_request request_;
    std::uint64_t connection_id_;
    response_state state_ = response_state::none;
    unsigned response_status_ = 0;
    bool keep_alive_ = false;
};

} // namespace takeoff::emulator
