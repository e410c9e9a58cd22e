#pragma once
// takeoff::emulator::detail::connection_io — the byte-level view of one accepted connection
// (plain TCP or TLS) that an exchange writes to and the server closes, so the exchange is not a
// template over the stream type; it also tells what the TLS handshake learnt (the SNI name).

#include <takeoff/core/config.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/system/error_code.hpp>

#include <openssl/ssl.h>

#include <chrono>
#include <cstddef>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

namespace takeoff::emulator {

namespace asio = boost::asio;
namespace beast = boost::beast;

namespace detail {

// The byte-level view of one connection that an exchange writes to, whatever the transport.
class connection_io {
public:
    virtual ~connection_io() = default;
    virtual asio::awaitable<void> async_write(std::vector<asio::const_buffer> buffers) = 0;
    virtual asio::awaitable<std::tuple<boost::system::error_code, std::size_t>>
    async_read_some(asio::mutable_buffer buffer) = 0;
    virtual asio::awaitable<void> async_graceful_close() = 0;
    virtual void close() noexcept = 0;
    virtual bool is_open() const noexcept = 0;
    virtual bool is_tls() const noexcept = 0;
    // The SNI host name from the client's hello; empty before the handshake, without SNI, or plain.
    virtual std::string_view tls_server_name() const noexcept = 0;
};

template <class Stream>
class stream_io final : public connection_io {
public:
    static constexpr bool tls = !std::is_same_v<Stream, beast::tcp_stream>;

    explicit stream_io(Stream& stream) : stream_(stream) {}

    asio::awaitable<void> async_write(std::vector<asio::const_buffer> buffers) override
    {
        co_await asio::async_write(stream_, buffers, asio::use_awaitable);
    }

    asio::awaitable<std::tuple<boost::system::error_code, std::size_t>>
    async_read_some(asio::mutable_buffer buffer) override
    {
        auto result = co_await stream_.async_read_some(buffer, asio::as_tuple(asio::use_awaitable));
        co_return result;
    }

    // Plain: FIN after everything written. TLS: close_notify, waiting briefly for the peer's reply.
    asio::awaitable<void> async_graceful_close() override
    {
        if (!is_open())
            co_return;
        if constexpr (tls) {
            beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(2));
            auto result = co_await stream_.async_shutdown(asio::as_tuple(asio::use_awaitable));
            (void)result; // the peer may already be gone; nothing to do about it
        } else {
            boost::system::error_code ignored;
            stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
        }
        close();
    }

    void close() noexcept override
    {
        open_ = false;
        beast::get_lowest_layer(stream_).close();
    }

    bool is_open() const noexcept override
    {
        return open_ && beast::get_lowest_layer(stream_).socket().is_open();
    }

    bool is_tls() const noexcept override { return tls; }

    std::string_view tls_server_name() const noexcept override
    {
        if constexpr (tls) {
            // OpenSSL owns the string for as long as the SSL object, i.e. the connection.
            const char* name = SSL_get_servername(stream_.native_handle(), TLSEXT_NAMETYPE_host_name);
            return name ? std::string_view(name) : std::string_view{};
        } else {
            return {};
        }
    }

private:
    Stream& stream_;
    bool open_ = true;
};

} // namespace detail

} // namespace takeoff::emulator
