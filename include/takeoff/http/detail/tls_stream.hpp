#pragma once
// A client TLS stream of our own over OpenSSL, in place of boost::asio::ssl::stream (and
// beast::ssl_stream) in the HTTP transport.
//
// Why: an idle pooled TLS connection must cost at most 64 KiB. asio::ssl::stream keeps, for the
// whole life of every connection, two 17 KiB staging vectors plus a BIO pair with two 17 KiB
// buffers (~70 KB) on top of the SSL object. This stream gives OpenSSL a custom BIO that reads from
// and writes to two plain heap buffers of ours: an input buffer (ciphertext read off the socket,
// allocated on demand, big enough for a whole TLS record) and an output buffer (ciphertext waiting
// to be written, grown as needed). release_buffers() frees both when they hold no data and has
// OpenSSL free its record buffers, so an idle connection holds little more than the SSL object
// itself (~15-20 KB: session, peer certificate, keys).
//
// Threading and use: like every Asio I/O object, a tls_stream is not thread-safe; call it from
// one thread (or strand) at a time. Unlike asio::ssl::stream it is not full duplex either: at most
// ONE operation (handshake, read, write or shutdown) may be outstanding at a time, which is how an
// HTTP/1.1 client uses a connection (write the request, then read the response). Client mode only.
// Operations take any completion token and support terminal cancellation through the token's
// cancellation slot (the pending next-layer read or write is cancelled: operation_aborted).
// After an operation fails (other than with eof) or is cancelled the TLS state may be in the middle
// of a record: close the stream, do not use it again.

#include <takeoff/core/config.hpp>

#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace takeoff::http::detail {

namespace tls_stream_impl {

/// Ciphertext staged between OpenSSL (through the custom BIO) and the next layer.
struct staging {
    /// Size of the input buffer: a whole TLS record (5-byte header + up to 16 KiB + 2 KiB of
    /// expansion) fits, so one socket read usually brings a whole record.
    static constexpr std::size_t input_capacity = 18 * 1024 + 512;

    std::unique_ptr<unsigned char[]> input; ///< input_capacity bytes when allocated
    std::size_t input_begin = 0;            ///< first ciphertext byte OpenSSL has not read yet
    std::size_t input_end = 0;              ///< end of the ciphertext read off the socket
    std::vector<unsigned char> output;      ///< ciphertext OpenSSL wrote, not yet sent

    std::size_t input_pending() const noexcept { return input_end - input_begin; }
};

// BIO read: hands OpenSSL the ciphertext read off the socket; none left means "retry later".
inline int bio_read(BIO* bio, char* out, int length) {
    BIO_clear_retry_flags(bio);
    auto* s = static_cast<staging*>(BIO_get_data(bio));
    if (s == nullptr || out == nullptr || length <= 0) return 0;
    const std::size_t available = s->input_pending();
    if (available == 0) {
        BIO_set_retry_read(bio);
        return -1;
    }
    const std::size_t n = std::min(available, static_cast<std::size_t>(length));
    std::memcpy(out, s->input.get() + s->input_begin, n);
    s->input_begin += n;
    if (s->input_begin == s->input_end) s->input_begin = s->input_end = 0;
    return static_cast<int>(n);
}

// BIO write: appends to the output buffer (never blocks: the operation loop sends it).
inline int bio_write(BIO* bio, const char* in, int length) {
    BIO_clear_retry_flags(bio);
    auto* s = static_cast<staging*>(BIO_get_data(bio));
    if (s == nullptr || in == nullptr || length <= 0) return 0;
    try {
        s->output.insert(s->output.end(), in, in + length);
    } catch (...) { // std::bad_alloc must not cross OpenSSL's C frames
        return -1;
    }
    return length;
}

inline long bio_ctrl(BIO* bio, int command, long, void*) {
    auto* s = static_cast<staging*>(BIO_get_data(bio));
    switch (command) {
    case BIO_CTRL_FLUSH:
        return 1; // the operation loop writes the output buffer out
    case BIO_CTRL_PENDING:
        return s ? static_cast<long>(s->input_pending()) : 0;
    case BIO_CTRL_WPENDING:
        return s ? static_cast<long>(s->output.size()) : 0;
    default:
        return 0;
    }
}

/// The BIO method, made once and kept for the life of the process.
inline BIO_METHOD* bio_method() {
    static BIO_METHOD* const method = [] {
        const int index = BIO_get_new_index();
        BIO_METHOD* m = index == -1 ? nullptr : BIO_meth_new(index | BIO_TYPE_SOURCE_SINK, "takeoff tls_stream");
        if (m == nullptr || !BIO_meth_set_read(m, &bio_read) || !BIO_meth_set_write(m, &bio_write) ||
            !BIO_meth_set_ctrl(m, &bio_ctrl)) {
            const auto code = ::ERR_get_error();
            if (m != nullptr) BIO_meth_free(m);
            throw boost::system::system_error(
                boost::system::error_code(static_cast<int>(code), boost::asio::error::get_ssl_category()),
                "takeoff: cannot create the TLS BIO method");
        }
        return m;
    }();
    return method;
}

struct ssl_deleter {
    void operator()(SSL* ssl) const noexcept { SSL_free(ssl); }
};

enum class op_kind : unsigned char { handshake, read, write, shutdown };

} // namespace tls_stream_impl

/// A client TLS stream over NextLayer (normally boost::asio::ip::tcp::socket; any
/// AsyncReadStream + AsyncWriteStream, or a reference to one that the caller owns, as with
/// asio::ssl::stream<tcp::socket&>). Satisfies Beast's AsyncReadStream / AsyncWriteStream.
/// One operation at a time, client mode only: see the comment at the top of this file.
template <class NextLayer>
class tls_stream {
public:
    /// The stream the ciphertext travels over (NextLayer without a reference).
    using next_layer_type = std::remove_reference_t<NextLayer>;
    /// The next layer's executor: every operation's I/O objects and default executor.
    using executor_type = typename next_layer_type::executor_type;

    /// Most plaintext bytes one async_write_some consumes (one full TLS record).
    static constexpr std::size_t max_write_size = 16 * 1024;

    /// Makes the SSL object from ctx (client mode; SSL_MODE_RELEASE_BUFFERS and SSL_MODE_AUTO_RETRY
    /// set) and constructs the next layer from next_layer_args. Throws boost::system::system_error
    /// if OpenSSL fails.
    template <class... Args>
    explicit tls_stream(boost::asio::ssl::context& ctx, Args&&... next_layer_args)
        : next_layer_(std::forward<Args>(next_layer_args)...), ssl_(make_ssl(ctx.native_handle(), &staging_)) {}

    tls_stream(const tls_stream&) = delete;
    tls_stream& operator=(const tls_stream&) = delete;

    /// Takes over other's next layer (or its reference), SSL object and buffers; other is left
    /// without an SSL object (only destruction or assignment remains valid). No operation may be
    /// outstanding on other.
    tls_stream(tls_stream&& other) noexcept(std::is_nothrow_constructible_v<NextLayer, NextLayer&&>)
        : next_layer_(std::forward<NextLayer>(other.next_layer_)), staging_(std::move(other.staging_)),
          ssl_(std::move(other.ssl_)) {
        other.staging_ = {};
        rebind_bio();
    }

    /// Same as the move constructor; this stream's own SSL object is freed first. Only for an
    /// owned, move-assignable next layer (tcp::socket is; beast::tcp_stream is not).
    tls_stream& operator=(tls_stream&& other) noexcept(std::is_nothrow_move_assignable_v<NextLayer>)
        requires(!std::is_reference_v<NextLayer> && std::is_move_assignable_v<NextLayer>)
    {
        if (this != &other) {
            ssl_.reset();
            next_layer_ = std::move(other.next_layer_);
            staging_ = std::move(other.staging_);
            other.staging_ = {};
            ssl_ = std::move(other.ssl_);
            rebind_bio();
        }
        return *this;
    }

    /// Frees the SSL object (and with it the BIO) and the buffers; does not send close_notify.
    ~tls_stream() = default;

    /// The next layer's executor.
    executor_type get_executor() noexcept { return next_layer_.get_executor(); }

    /// The stream the ciphertext travels over (connect and close it through this).
    next_layer_type& next_layer() noexcept { return next_layer_; }
    /// The stream the ciphertext travels over.
    const next_layer_type& next_layer() const noexcept { return next_layer_; }

    /// The OpenSSL connection object (for SNI, host checks, verify results).
    SSL* native_handle() noexcept { return ssl_.get(); }

    /// Performs the client handshake. Signature: void(error_code). Certificate and protocol
    /// failures come as OpenSSL codes in boost::asio::error::get_ssl_category().
    template <class Token>
    auto async_handshake(Token&& token) {
        return boost::asio::async_compose<Token, void(boost::system::error_code)>(
            io_op<false>{this, tls_stream_impl::op_kind::handshake}, token, next_layer_);
    }

    /// Reads some plaintext into buffers (into the first non-empty one). Signature:
    /// void(error_code, std::size_t). The peer's close_notify gives boost::asio::error::eof; the
    /// connection closing without one gives boost::asio::ssl::error::stream_truncated. Empty buffers
    /// complete at once with 0.
    template <class MutableBufferSequence, class Token>
    auto async_read_some(const MutableBufferSequence& buffers, Token&& token) {
        io_op<true> op{this, tls_stream_impl::op_kind::read};
        const auto end = boost::asio::buffer_sequence_end(buffers);
        for (auto it = boost::asio::buffer_sequence_begin(buffers); it != end; ++it) {
            const boost::asio::mutable_buffer b(*it);
            if (b.size() != 0) {
                op.read_data = b.data();
                op.size = std::min<std::size_t>(b.size(), INT_MAX);
                break;
            }
        }
        return boost::asio::async_compose<Token, void(boost::system::error_code, std::size_t)>(std::move(op), token,
                                                                                              next_layer_);
    }

    /// Encrypts and sends up to max_write_size bytes of buffers; small leading buffers are
    /// gathered into one record. Completes once the ciphertext is written to the next layer.
    /// Signature: void(error_code, std::size_t). Empty buffers complete at once with 0.
    template <class ConstBufferSequence, class Token>
    auto async_write_some(const ConstBufferSequence& buffers, Token&& token) {
        io_op<true> op{this, tls_stream_impl::op_kind::write};
        const std::size_t total = boost::asio::buffer_size(buffers);
        const auto end = boost::asio::buffer_sequence_end(buffers);
        for (auto it = boost::asio::buffer_sequence_begin(buffers); it != end; ++it) {
            const boost::asio::const_buffer b(*it);
            if (b.size() == 0) continue;
            if (b.size() >= total || b.size() >= max_write_size) { // no copy needed
                op.write_data = b.data();
                op.size = std::min(b.size(), max_write_size);
            } else { // several small buffers (e.g. a Beast header): one record, not one per piece
                op.size = std::min(total, max_write_size);
                op.scratch.reset(new unsigned char[op.size]);
                boost::asio::buffer_copy(boost::asio::mutable_buffer(op.scratch.get(), op.size), buffers);
                op.write_data = op.scratch.get();
            }
            break;
        }
        return boost::asio::async_compose<Token, void(boost::system::error_code, std::size_t)>(std::move(op), token,
                                                                                              next_layer_);
    }

    /// Sends close_notify and completes once it is written; does not wait for the peer's.
    /// Signature: void(error_code).
    template <class Token>
    auto async_shutdown(Token&& token) {
        return boost::asio::async_compose<Token, void(boost::system::error_code)>(
            io_op<false>{this, tls_stream_impl::op_kind::shutdown}, token, next_layer_);
    }

    /// For an idle stream (no operation outstanding): frees our input and output buffers if they
    /// hold no data and asks OpenSSL to free its record buffers (SSL_free_buffers). The next
    /// operation allocates what it needs again.
    void release_buffers() noexcept {
        if (staging_.input_pending() == 0) {
            staging_.input.reset();
            staging_.input_begin = staging_.input_end = 0;
        }
        if (staging_.output.empty()) std::vector<unsigned char>().swap(staging_.output);
        if (ssl_) SSL_free_buffers(ssl_.get());
    }

    /// Bytes received but not yet handed to a reader: ciphertext read off the next layer that
    /// OpenSSL has not consumed, plus decrypted bytes OpenSSL holds (SSL_pending). Nonzero on an
    /// idle connection means the peer sent something unexpected: do not reuse it.
    std::size_t buffered_bytes() const noexcept {
        const int decrypted = ssl_ ? SSL_pending(ssl_.get()) : 0;
        return staging_.input_pending() + static_cast<std::size_t>(decrypted > 0 ? decrypted : 0);
    }

    /// Heap bytes our own staging buffers hold (allocated capacity; OpenSSL's are not counted).
    /// Zero after release_buffers() on an idle stream.
    std::size_t staging_capacity() const noexcept {
        return (staging_.input ? tls_stream_impl::staging::input_capacity : 0) + staging_.output.capacity();
    }

private:
    using op_kind = tls_stream_impl::op_kind;

    static SSL* make_ssl(SSL_CTX* ctx, tls_stream_impl::staging* buffers) {
        ::ERR_clear_error();
        BIO_METHOD* method = tls_stream_impl::bio_method();
        std::unique_ptr<SSL, tls_stream_impl::ssl_deleter> ssl(SSL_new(ctx));
        BIO* bio = ssl ? BIO_new(method) : nullptr;
        if (bio == nullptr) {
            const auto code = ::ERR_get_error();
            ::ERR_clear_error();
            throw boost::system::system_error(
                boost::system::error_code(static_cast<int>(code), boost::asio::error::get_ssl_category()),
                "takeoff: cannot create a TLS connection");
        }
        BIO_set_data(bio, buffers);
        BIO_set_init(bio, 1);
        SSL_set_bio(ssl.get(), bio, bio); // one reference, owned by the SSL object
        SSL_set_connect_state(ssl.get());
        SSL_set_mode(ssl.get(), SSL_MODE_RELEASE_BUFFERS | SSL_MODE_AUTO_RETRY);
        return ssl.release();
    }

    void rebind_bio() noexcept {
        if (ssl_) BIO_set_data(SSL_get_rbio(ssl_.get()), &staging_);
    }

    // eof from the next layer is a clean end only after the peer's close_notify.
    boost::system::error_code map_read_error(const boost::system::error_code& ec) const {
        if (ec != boost::asio::error::eof) return ec;
        if (SSL_get_shutdown(ssl_.get()) & SSL_RECEIVED_SHUTDOWN) return boost::asio::error::eof;
        return boost::asio::ssl::error::stream_truncated;
    }

    // One operation: call OpenSSL; send its output; read input when it wants some; retry. Same
    // shape as asio::ssl's io_op. WithSize: the completion signature carries a byte count.
    template <bool WithSize>
    struct io_op {
        enum class phase : unsigned char { start, flushing, reading, posted };

        tls_stream* stream;
        op_kind kind;
        void* read_data = nullptr;        // read: the destination
        const void* write_data = nullptr; // write: the plaintext (the caller's buffer or scratch)
        std::size_t size = 0;             // read / write: bytes offered to OpenSSL
        std::unique_ptr<unsigned char[]> scratch{}; // write: small buffers gathered into one
        phase state = phase::start;
        bool io_started = false;          // false while still inside the initiating function
        bool complete_after_flush = false;
        bool read_after_flush = false;
        boost::system::error_code result{};
        std::size_t result_bytes = 0;

        template <class Self>
        void operator()(Self& self, boost::system::error_code ec = {}, std::size_t n = 0) {
            switch (state) {
            case phase::start:
                if ((kind == op_kind::read || kind == op_kind::write) && size == 0) return finish(self, {}, 0);
                return run(self);
            case phase::flushing:
                stream->staging_.output.clear(); // sent, or the stream is broken either way
                if (complete_after_flush) {
                    if (result) return finish(self, result, 0); // the first error wins
                    return finish(self, ec, ec ? 0 : result_bytes);
                }
                if (ec) return finish(self, ec, 0);
                if (read_after_flush) {
                    read_after_flush = false;
                    return read_input(self);
                }
                return run(self);
            case phase::reading:
                if (ec) return finish(self, stream->map_read_error(ec), 0);
                stream->staging_.input_end += n;
                return run(self);
            case phase::posted:
                return complete(self, result, result_bytes);
            }
        }

        // Calls OpenSSL until it either finishes or needs I/O; returns once I/O is started or the
        // operation is finished.
        template <class Self>
        void run(Self& self) {
            for (;;) {
                SSL* ssl = stream->ssl_.get();
                const std::size_t input_before = stream->staging_.input_pending();
                ::ERR_clear_error();
                int ret = 0;
                switch (kind) {
                case op_kind::handshake:
                    ret = SSL_do_handshake(ssl);
                    break;
                case op_kind::read:
                    ret = SSL_read(ssl, read_data, static_cast<int>(size));
                    break;
                case op_kind::write:
                    ret = SSL_write(ssl, write_data, static_cast<int>(size));
                    break;
                case op_kind::shutdown:
                    ret = SSL_shutdown(ssl); // 0: close_notify sent, the peer's not yet received
                    break;
                }
                const bool ok = kind == op_kind::shutdown ? ret >= 0 : ret > 0;
                const int error = ok ? SSL_ERROR_NONE : SSL_get_error(ssl, ret);
                const bool output_pending = !stream->staging_.output.empty();
                switch (error) {
                case SSL_ERROR_NONE: {
                    const bool counts = kind == op_kind::read || kind == op_kind::write;
                    return complete_after_output(self, {}, counts ? static_cast<std::size_t>(ret) : 0);
                }
                case SSL_ERROR_WANT_READ:
                    if (kind == op_kind::shutdown) // close_notify is out; we do not wait for the peer's
                        return complete_after_output(self, {}, 0);
                    if (stream->staging_.input_pending() != 0 && stream->staging_.input_pending() < input_before)
                        continue; // stopped after a non-data record (no SSL_MODE_AUTO_RETRY): go on
                    if (output_pending) {
                        read_after_flush = true;
                        return flush(self);
                    }
                    return read_input(self);
                case SSL_ERROR_WANT_WRITE: // our BIO takes every byte; only if output is pending
                    if (output_pending) return flush(self);
                    ::ERR_clear_error();
                    return complete_after_output(self, boost::asio::ssl::error::unexpected_result, 0);
                case SSL_ERROR_ZERO_RETURN: // the peer's close_notify
                    ::ERR_clear_error();
                    return complete_after_output(self, boost::asio::error::eof, 0);
                case SSL_ERROR_SSL:
                case SSL_ERROR_SYSCALL: {
                    const auto code = ::ERR_get_error();
                    ::ERR_clear_error();
                    boost::system::error_code failure;
                    if (code != 0)
                        failure.assign(static_cast<int>(code), boost::asio::error::get_ssl_category());
                    else if (error == SSL_ERROR_SYSCALL)
                        failure = boost::asio::ssl::error::unspecified_system_error;
                    else
                        failure = boost::asio::ssl::error::unexpected_result;
                    return complete_after_output(self, failure, 0); // sends the alert OpenSSL wrote
                }
                default:
                    ::ERR_clear_error();
                    return complete_after_output(self, boost::asio::ssl::error::unexpected_result, 0);
                }
            }
        }

        // Sends what OpenSSL wrote (an alert, the handshake's last flight, a key update) before
        // completing with ec / bytes.
        template <class Self>
        void complete_after_output(Self& self, const boost::system::error_code& ec, std::size_t bytes) {
            if (stream->staging_.output.empty()) return finish(self, ec, bytes);
            complete_after_flush = true;
            result = ec;
            result_bytes = bytes;
            flush(self);
        }

        template <class Self>
        bool cancelled(Self& self) {
            if (self.cancelled() == boost::asio::cancellation_type::none) return false;
            finish(self, boost::asio::error::operation_aborted, 0);
            return true;
        }

        template <class Self>
        void flush(Self& self) {
            if (cancelled(self)) return;
            state = phase::flushing;
            io_started = true;
            tls_stream& s = *stream;
            boost::asio::async_write(s.next_layer_, boost::asio::buffer(s.staging_.output), std::move(self));
        }

        template <class Self>
        void read_input(Self& self) {
            if (cancelled(self)) return;
            tls_stream_impl::staging& in = stream->staging_;
            constexpr std::size_t capacity = tls_stream_impl::staging::input_capacity;
            if (!in.input) {
                in.input.reset(new (std::nothrow) unsigned char[capacity]);
                if (!in.input) return finish(self, boost::asio::error::no_memory, 0);
                in.input_begin = in.input_end = 0;
            } else if (in.input_begin == in.input_end) {
                in.input_begin = in.input_end = 0;
            } else if (in.input_end == capacity) { // a partial record at the end: move it to the front
                std::memmove(in.input.get(), in.input.get() + in.input_begin, in.input_pending());
                in.input_end -= in.input_begin;
                in.input_begin = 0;
            }
            if (in.input_end == capacity) // a "record" larger than any TLS record: never read 0 bytes in a loop
                return finish(self, boost::asio::ssl::error::unexpected_result, 0);
            state = phase::reading;
            io_started = true;
            tls_stream& s = *stream;
            s.next_layer_.async_read_some(boost::asio::buffer(in.input.get() + in.input_end, capacity - in.input_end),
                                          std::move(self));
        }

        // Completes; never from inside the initiating function (posts instead, as Asio requires).
        template <class Self>
        void finish(Self& self, const boost::system::error_code& ec, std::size_t bytes) {
            if (!io_started) {
                io_started = true;
                state = phase::posted;
                result = ec;
                result_bytes = bytes;
                auto executor = self.get_executor();
                boost::asio::post(executor, std::move(self));
                return;
            }
            complete(self, ec, bytes);
        }

        template <class Self>
        static void complete(Self& self, const boost::system::error_code& ec, std::size_t bytes) {
            if constexpr (WithSize)
                self.complete(ec, bytes);
            else
                self.complete(ec);
        }
    };

    NextLayer next_layer_;
    tls_stream_impl::staging staging_;
    std::unique_ptr<SSL, tls_stream_impl::ssl_deleter> ssl_;
};

} // namespace takeoff::http::detail
