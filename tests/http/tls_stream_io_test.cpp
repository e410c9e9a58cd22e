// detail::tls_stream (our client TLS stream over OpenSSL) against an asio::ssl::stream server on
// 127.0.0.1, with certificates made at run time: handshake and verification failures, HTTP through
// Beast, bulk data both ways, close_notify and truncation, cancellation, buffered_bytes() and the
// memory an idle stream keeps after release_buffers().
#include <takeoff/http/detail/tls_stream.hpp>
#include <takeoff/http/tls.hpp>
#include <takeoff_emulator/certificates.hpp>

#include "../support/doctest_helpers.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <malloc.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
namespace emu = takeoff::emulator;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using takeoff::http::detail::tls_stream;

namespace {

using client_stream = tls_stream<tcp::socket>;
using server_stream = ssl::stream<tcp::socket>;
constexpr auto as_tuple_deferred = asio::as_tuple(asio::use_awaitable);

static_assert(beast::is_async_read_stream<client_stream>::value);
static_assert(beast::is_async_write_stream<client_stream>::value);
static_assert(beast::is_async_stream<tls_stream<beast::tcp_stream>>::value);

// The sanitizers' allocators bypass glibc's, whose figures mallinfo2 reports (ThreadSanitizer's
// leave them at zero).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool malloc_counts_are_real = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool malloc_counts_are_real = false;
#else
constexpr bool malloc_counts_are_real = true;
#endif
#else
constexpr bool malloc_counts_are_real = true;
#endif

/// A server certificate from a throw-away CA, an acceptor on 127.0.0.1:0, the server's TLS
/// context, and the client's context made by make_tls_context trusting only that CA.
struct tls_fixture {
    emu::certificate_authority ca;
    asio::io_context io;
    tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
    ssl::context server_context{ssl::context::tls_server};
    std::shared_ptr<ssl::context> client_context;

    tls_fixture() : tls_fixture(emu::certificate_options{}) {}
    explicit tls_fixture(const emu::certificate_options& options) { init(ca.issue(options)); }
    explicit tls_fixture(const emu::server_certificate& certificate) { init(certificate); }

private:
    void init(const emu::server_certificate& certificate) {
        server_context.use_certificate_chain(asio::buffer(certificate.certificate_pem));
        server_context.use_private_key(asio::buffer(certificate.private_key_pem), ssl::context::pem);
        takeoff::http::tls_options options;
        options.use_system_trust = false;
        options.ca_pem = ca.certificate_pem();
        takeoff::diagnostics diag;
        auto made = takeoff::http::make_tls_context(options, diag);
        REQUIRE(made);
        client_context = *made;
    }
};

struct handshake_outcome {
    error_code client;
    error_code server;
};

/// Connects client to the fixture's acceptor, accepts into server and runs both handshakes;
/// host is what the client's certificate check expects (and its SNI for a name).
template <class Client>
handshake_outcome handshake(tls_fixture& f, Client& client, server_stream& server, const std::string& host) {
    handshake_outcome out;
    bool client_done = false;
    bool server_done = false;
    f.acceptor.async_accept(server.next_layer(), [&](error_code ec) {
        if (ec) {
            out.server = ec;
            server_done = true;
            return;
        }
        server.async_handshake(ssl::stream_base::server, [&](error_code handshake_ec) {
            out.server = handshake_ec;
            server_done = true;
        });
    });
    beast::get_lowest_layer(client).async_connect(f.acceptor.local_endpoint(), [&](error_code ec) {
        if (!ec) ec = takeoff::http::prepare_tls_session(client.native_handle(), host);
        if (ec) {
            out.client = ec;
            client_done = true;
            return;
        }
        client.async_handshake([&](error_code handshake_ec) {
            out.client = handshake_ec;
            client_done = true;
            // A failed client has sent its alert by now; closing makes a server still waiting
            // for our Finished (no alert sent) fail instead of waiting forever.
            if (handshake_ec) beast::close_socket(beast::get_lowest_layer(client));
        });
        CHECK_FALSE(client_done); // never completes inside the initiating function
    });
    f.io.restart();
    f.io.run();
    REQUIRE(client_done);
    REQUIRE(server_done);
    return out;
}

/// Runs a coroutine on io; what it throws (a failed REQUIRE) comes out of io.run().
template <class Coroutine>
void spawn(asio::io_context& io, Coroutine coroutine) {
    asio::co_spawn(io, std::move(coroutine), [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
    });
}

void run(asio::io_context& io) {
    io.restart();
    io.run();
}

struct io_result {
    error_code ec;
    std::size_t bytes = 0;
};

/// Starts an (error_code, size_t) operation with a callback, checks it does not complete inside
/// the initiating function, and runs io until it completes (other work may remain pending).
template <class Start>
io_result run_op(asio::io_context& io, Start start) {
    std::optional<io_result> out;
    start([&](error_code ec, std::size_t n) { out.emplace(io_result{ec, n}); });
    CHECK_FALSE(out.has_value());
    io.restart();
    while (!out && io.run_one() != 0) {
    }
    REQUIRE(out.has_value());
    return *out;
}

/// Reads exactly n bytes of plaintext from the client stream.
template <class Client>
std::string client_read(tls_fixture& f, Client& client, std::size_t n) {
    std::string text(n, '\0');
    auto [ec, bytes] = run_op(f.io, [&](auto handler) { asio::async_read(client, asio::buffer(text), handler); });
    REQUIRE_FALSE(ec);
    REQUIRE(bytes == n);
    return text;
}

/// The server writes text (one TLS record per write); the io_context runs until it is sent.
void server_write(tls_fixture& f, server_stream& server, const std::string& text) {
    auto [ec, bytes] = run_op(f.io, [&](auto handler) { asio::async_write(server, asio::buffer(text), handler); });
    REQUIRE_FALSE(ec);
    REQUIRE(bytes == text.size());
}

/// One message each way: client writes `up`, server reads it and answers `down`.
template <class Client>
void ping_pong(tls_fixture& f, Client& client, server_stream& server, const std::string& up,
               const std::string& down) {
    std::string received(up.size(), '\0');
    spawn(f.io, [&]() -> asio::awaitable<void> {
        auto [ec, n] = co_await asio::async_read(server, asio::buffer(received), as_tuple_deferred);
        REQUIRE_FALSE(ec);
        auto [write_ec, written] = co_await asio::async_write(server, asio::buffer(down), as_tuple_deferred);
        REQUIRE_FALSE(write_ec);
    });
    auto [ec, n] = run_op(f.io, [&](auto handler) { asio::async_write(client, asio::buffer(up), handler); });
    REQUIRE_FALSE(ec);
    CHECK(n == up.size());
    const bool down_intact = client_read(f, client, down.size()) == down; // the server has read `up` by now
    CHECK(down_intact);
    const bool up_intact = received == up;
    CHECK(up_intact);
}

std::vector<unsigned char> random_bytes(std::size_t n, unsigned seed) {
    std::mt19937 generator(seed);
    std::vector<unsigned char> bytes(n);
    for (auto& b : bytes) b = static_cast<unsigned char>(generator());
    return bytes;
}

std::size_t heap_in_use() { return ::mallinfo2().uordblks; }

} // namespace

TEST_CASE("tls_stream: handshake, HTTP/1.1 exchanges through Beast, then close_notify reaches the server") {
    tls_fixture f;
    client_stream client(*f.client_context, f.io);
    server_stream server(f.io, f.server_context);
    const auto hs = handshake(f, client, server, "localhost");
    REQUIRE_FALSE(hs.client);
    REQUIRE_FALSE(hs.server);
    CHECK(SSL_get_verify_result(client.native_handle()) == X509_V_OK);
    const char* sni = SSL_get_servername(server.native_handle(), TLSEXT_NAMETYPE_host_name);
    REQUIRE(sni != nullptr);
    CHECK(std::string(sni) == "localhost");

    // Server: reads each request and answers it, until the client's close_notify ends the reads.
    std::vector<std::string> request_bodies;
    error_code server_end;
    spawn(f.io, [&]() -> asio::awaitable<void> {
        beast::flat_buffer buffer;
        for (;;) {
            bhttp::request<bhttp::string_body> request;
            auto [ec, n] = co_await bhttp::async_read(server, buffer, request, as_tuple_deferred);
            if (ec) {
                server_end = ec;
                co_return;
            }
            request_bodies.push_back(request.body());
            bhttp::response<bhttp::string_body> response{bhttp::status::ok, 11};
            response.set(bhttp::field::content_type, "application/json");
            response.body() = R"({"echo":")" + std::string(request.target()) + R"("})";
            response.prepare_payload();
            auto [write_ec, written] = co_await bhttp::async_write(server, response, as_tuple_deferred);
            REQUIRE_FALSE(write_ec);
        }
    });

    beast::flat_buffer buffer;
    std::vector<std::string> response_bodies;
    bool client_finished = false;
    spawn(f.io, [&]() -> asio::awaitable<void> {
        // 1: async_write, then async_read_header and async_read.
        bhttp::request<bhttp::string_body> request{bhttp::verb::post, "/generate", 11};
        request.set(bhttp::field::host, "localhost");
        request.set(bhttp::field::content_type, "application/json");
        request.body() = R"({"text":"hello"})";
        request.prepare_payload();
        auto [ec, n] = co_await bhttp::async_write(client, request, as_tuple_deferred);
        REQUIRE_FALSE(ec);
        bhttp::response_parser<bhttp::string_body> parser;
        std::tie(ec, n) = co_await bhttp::async_read_header(client, buffer, parser, as_tuple_deferred);
        REQUIRE_FALSE(ec);
        CHECK(parser.get().result_int() == 200);
        CHECK(parser.get()[bhttp::field::content_type] == "application/json");
        std::tie(ec, n) = co_await bhttp::async_read(client, buffer, parser, as_tuple_deferred);
        REQUIRE_FALSE(ec);
        response_bodies.push_back(parser.get().body());

        // 2: the same connection again, the body read with async_read_some until done.
        bhttp::request<bhttp::string_body> second{bhttp::verb::get, "/status", 11};
        second.set(bhttp::field::host, "localhost");
        std::tie(ec, n) = co_await bhttp::async_write(client, second, as_tuple_deferred);
        REQUIRE_FALSE(ec);
        bhttp::response_parser<bhttp::string_body> parser2;
        while (!parser2.is_done()) {
            std::tie(ec, n) = co_await bhttp::async_read_some(client, buffer, parser2, as_tuple_deferred);
            REQUIRE_FALSE(ec);
        }
        response_bodies.push_back(parser2.get().body());
        CHECK(client.buffered_bytes() == 0);

        auto [shutdown_ec] = co_await client.async_shutdown(as_tuple_deferred);
        CHECK_FALSE(shutdown_ec);
        client_finished = true;
    });
    run(f.io);

    CHECK(client_finished);
    REQUIRE(request_bodies.size() == 2);
    CHECK(request_bodies[0] == R"({"text":"hello"})");
    CHECK(request_bodies[1].empty());
    REQUIRE(response_bodies.size() == 2);
    CHECK(response_bodies[0] == R"({"echo":"/generate"})");
    CHECK(response_bodies[1] == R"({"echo":"/status"})");
    CHECK(server_end == bhttp::error::end_of_stream); // the server's read saw our close_notify
    CHECK((SSL_get_shutdown(server.native_handle()) & SSL_RECEIVED_SHUTDOWN) != 0);
}

TEST_CASE("tls_stream: 1 MiB each way in odd-sized pieces arrives intact") {
    tls_fixture f;
    client_stream client(*f.client_context, f.io);
    server_stream server(f.io, f.server_context);
    REQUIRE_FALSE(handshake(f, client, server, "127.0.0.1").client);

    constexpr std::size_t total = 1024 * 1024;
    const auto up = random_bytes(total, 1);
    const auto down = random_bytes(total, 2);
    const std::array<std::size_t, 9> pieces{1, 7, 1000, 4099, 16383, 16384, 16385, 65537, 3};

    std::vector<unsigned char> server_received(total);
    spawn(f.io, [&]() -> asio::awaitable<void> {
        auto [ec, n] = co_await asio::async_read(server, asio::buffer(server_received), as_tuple_deferred);
        REQUIRE_FALSE(ec);
        for (std::size_t offset = 0, i = 0; offset < total; ++i) {
            const std::size_t size = std::min(pieces[(i + 4) % pieces.size()], total - offset);
            auto [write_ec, written] =
                co_await asio::async_write(server, asio::buffer(down.data() + offset, size), as_tuple_deferred);
            REQUIRE_FALSE(write_ec);
            offset += written;
        }
    });

    std::vector<unsigned char> client_received(total);
    std::size_t largest_write = 0;
    std::size_t write_calls = 0;
    spawn(f.io, [&]() -> asio::awaitable<void> {
        for (std::size_t offset = 0, i = 0; offset < total; ++i) {
            const std::size_t size = std::min(pieces[i % pieces.size()], total - offset);
            if (i % 2 == 0) { // asio::async_write over our async_write_some
                auto [ec, n] = co_await asio::async_write(client, asio::buffer(up.data() + offset, size),
                                                          as_tuple_deferred);
                REQUIRE_FALSE(ec);
                REQUIRE(n == size);
                offset += n;
            } else { // async_write_some directly, the piece split into three buffers
                std::size_t done = 0;
                while (done < size) {
                    const std::size_t left = size - done;
                    const unsigned char* p = up.data() + offset + done;
                    const std::array<asio::const_buffer, 3> buffers{
                        asio::buffer(p, left / 3), asio::buffer(p + left / 3, left / 3),
                        asio::buffer(p + 2 * (left / 3), left - 2 * (left / 3))};
                    auto [ec, n] = co_await client.async_write_some(buffers, as_tuple_deferred);
                    REQUIRE_FALSE(ec);
                    REQUIRE(n > 0);
                    largest_write = std::max(largest_write, n);
                    ++write_calls;
                    done += n;
                }
                offset += size;
            }
        }
        for (std::size_t offset = 0, i = 0; offset < total; ++i) {
            const std::size_t size = std::min(pieces[(i + 2) % pieces.size()], total - offset);
            auto [ec, n] =
                co_await client.async_read_some(asio::buffer(client_received.data() + offset, size), as_tuple_deferred);
            REQUIRE_FALSE(ec);
            REQUIRE(n > 0);
            REQUIRE(n <= size);
            offset += n;
        }
    });
    run(f.io);

    CHECK(write_calls > 0);
    CHECK(largest_write <= client_stream::max_write_size);
    const bool up_intact = server_received == up; // bools: no megabyte dumps on failure
    const bool down_intact = client_received == down;
    CHECK(up_intact);
    CHECK(down_intact);
    CHECK(client.buffered_bytes() == 0);
}

TEST_CASE("tls_stream: the server's close_notify ends reads with eof; our shutdown answers it") {
    tls_fixture f;
    client_stream client(*f.client_context, f.io);
    server_stream server(f.io, f.server_context);
    REQUIRE_FALSE(handshake(f, client, server, "localhost").client);

    std::optional<error_code> server_shutdown;
    spawn(f.io, [&]() -> asio::awaitable<void> {
        const std::string bye = "bye";
        auto [ec, n] = co_await asio::async_write(server, asio::buffer(bye), as_tuple_deferred);
        REQUIRE_FALSE(ec);
        auto [shutdown_ec] = co_await server.async_shutdown(as_tuple_deferred); // waits for ours
        server_shutdown = shutdown_ec;
    });
    CHECK(client_read(f, client, 3) == "bye");
    CHECK_FALSE(server_shutdown.has_value()); // the server still waits for our close_notify

    std::array<char, 16> buffer{};
    auto first = run_op(f.io, [&](auto handler) { client.async_read_some(asio::buffer(buffer), handler); });
    CHECK(first.ec == asio::error::eof);
    CHECK(first.bytes == 0);
    auto again = run_op(f.io, [&](auto handler) { client.async_read_some(asio::buffer(buffer), handler); });
    CHECK(again.ec == asio::error::eof);

    std::optional<error_code> client_shutdown;
    client.async_shutdown([&](error_code ec) { client_shutdown = ec; });
    run(f.io);
    REQUIRE(client_shutdown.has_value());
    CHECK_FALSE(*client_shutdown);
    REQUIRE(server_shutdown.has_value());
    CHECK_FALSE(*server_shutdown);
}

TEST_CASE("tls_stream: the connection closing without close_notify gives stream_truncated") {
    tls_fixture f;
    client_stream client(*f.client_context, f.io);
    server_stream server(f.io, f.server_context);
    REQUIRE_FALSE(handshake(f, client, server, "localhost").client);
    std::array<char, 64> buffer{};

    SUBCASE("between records") {
        server_write(f, server, "partial");
        server.next_layer().close();
        CHECK(client_read(f, client, 7) == "partial");
        auto r = run_op(f.io, [&](auto handler) { client.async_read_some(asio::buffer(buffer), handler); });
        CHECK(r.ec == ssl::error::stream_truncated);
        CHECK(r.bytes == 0);
    }
    SUBCASE("inside a record") {
        server_write(f, server, "whole");
        CHECK(client_read(f, client, 5) == "whole");
        // An application-data record header announcing 64 bytes, then 10 of them, then FIN.
        const std::string torn("\x17\x03\x03\x00\x40"
                               "0123456789",
                               15);
        auto [ec, n] = run_op(f.io, [&](auto handler) { asio::async_write(server.next_layer(), asio::buffer(torn), handler); });
        REQUIRE_FALSE(ec);
        server.next_layer().close();
        auto r = run_op(f.io, [&](auto handler) { client.async_read_some(asio::buffer(buffer), handler); });
        CHECK(r.ec == ssl::error::stream_truncated);
        CHECK(r.bytes == 0);
    }
}

TEST_CASE("tls_stream: wrong host, expired and untrusted certificates fail the handshake with the reason") {
    struct bad_case {
        const char* name;
        std::optional<emu::certificate_options> certificate; // nullopt: self-signed
        const char* host;
        long verify_result;
    };
    emu::certificate_options wrong_names;
    wrong_names.dns_names = {"elsewhere.example"};
    wrong_names.ip_addresses = {"10.1.2.3"};
    emu::certificate_options expired;
    expired.validity = emu::validity_period::expired();

    for (const auto& c : {bad_case{"wrong IP address", wrong_names, "127.0.0.1", X509_V_ERR_IP_ADDRESS_MISMATCH},
                          bad_case{"wrong host name", wrong_names, "localhost", X509_V_ERR_HOSTNAME_MISMATCH},
                          bad_case{"expired", expired, "localhost", X509_V_ERR_CERT_HAS_EXPIRED},
                          bad_case{"self-signed", std::nullopt, "localhost", X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT}}) {
        CAPTURE(c.name);
        auto f = c.certificate ? std::make_unique<tls_fixture>(*c.certificate)
                               : std::make_unique<tls_fixture>(emu::make_self_signed_certificate());
        client_stream client(*f->client_context, f->io);
        server_stream server(f->io, f->server_context);
        const auto hs = handshake(*f, client, server, c.host);
        CAPTURE(hs.client.message());
        CHECK(hs.client.category() == asio::error::get_ssl_category());
        CHECK(hs.client.message().find("certificate verify failed") != std::string::npos);
        CHECK(SSL_get_verify_result(client.native_handle()) == c.verify_result);
        const std::string description = takeoff::http::describe_tls_failure(client.native_handle(), hs.client);
        CHECK(description == std::string("TLS certificate verification failed: ") +
                                 X509_verify_cert_error_string(c.verify_result));
        // Our alert went out before the handshake completed: the server's handshake fails on it.
        CAPTURE(hs.server.message());
        CHECK(hs.server.category() == asio::error::get_ssl_category());
        CHECK(hs.server.message().find("alert") != std::string::npos);
    }
}

TEST_CASE("tls_stream: cancelling a pending read through its cancellation slot gives operation_aborted") {
    tls_fixture f;
    client_stream client(*f.client_context, f.io);
    server_stream server(f.io, f.server_context);
    REQUIRE_FALSE(handshake(f, client, server, "localhost").client);

    asio::cancellation_signal signal;
    std::array<char, 32> buffer{};
    std::optional<io_result> result;
    client.async_read_some(asio::buffer(buffer), asio::bind_cancellation_slot(signal.slot(), [&](error_code ec, std::size_t n) {
                               result.emplace(io_result{ec, n});
                           }));
    f.io.restart();
    f.io.poll(); // consumes whatever the server sent after its handshake; the read now waits on the socket
    REQUIRE_FALSE(result.has_value());
    signal.emit(asio::cancellation_type::terminal);
    run(f.io);
    REQUIRE(result.has_value());
    CHECK(result->ec == asio::error::operation_aborted);
    CHECK(result->bytes == 0);
}

TEST_CASE("tls_stream: empty buffers complete at once with 0, never inside the initiating function") {
    tls_fixture f;
    client_stream client(*f.client_context, f.io);
    server_stream server(f.io, f.server_context);
    REQUIRE_FALSE(handshake(f, client, server, "localhost").client);

    auto read = run_op(f.io, [&](auto handler) { client.async_read_some(asio::mutable_buffer(), handler); });
    CHECK_FALSE(read.ec);
    CHECK(read.bytes == 0);
    const std::array<asio::const_buffer, 2> empties{asio::const_buffer(), asio::const_buffer()};
    auto write = run_op(f.io, [&](auto handler) { client.async_write_some(empties, handler); });
    CHECK_FALSE(write.ec);
    CHECK(write.bytes == 0);
    ping_pong(f, client, server, "still", "fine");
}

TEST_CASE("tls_stream: buffered_bytes() counts what arrived but was not read yet; release_buffers() keeps it") {
    tls_fixture f;
    client_stream client(*f.client_context, f.io);
    server_stream server(f.io, f.server_context);
    REQUIRE_FALSE(handshake(f, client, server, "localhost").client);
    ping_pong(f, client, server, "x", "y"); // the server's session tickets are read by now
    CHECK(client.buffered_bytes() == 0);

    // Two records, both on the client's socket before it reads (loopback delivers within send).
    server_write(f, server, "hello");
    server_write(f, server, "world");
    char one = 0;
    auto r = run_op(f.io, [&](auto handler) { client.async_read_some(asio::buffer(&one, 1), handler); });
    REQUIRE_FALSE(r.ec);
    CHECK(one == 'h');
    CHECK(client.buffered_bytes() >= 4); // "ello" decrypted in OpenSSL (+ the second record)

    std::array<char, 4> four{};
    r = run_op(f.io, [&](auto handler) { client.async_read_some(asio::buffer(four), handler); }); // posted, not inline
    REQUIRE_FALSE(r.ec);
    CHECK(std::string(four.data(), r.bytes) == "ello");
    const std::size_t ciphertext = client.buffered_bytes(); // the whole "world" record, still encrypted
    CHECK(ciphertext > 5);
    client.release_buffers();                       // must keep the input buffer that holds it
    CHECK(client.staging_capacity() >= ciphertext);
    CHECK(client.buffered_bytes() == ciphertext);
    CHECK(client_read(f, client, 5) == "world");
    CHECK(client.buffered_bytes() == 0);
}

TEST_CASE("tls_stream: release_buffers() frees the staging buffers of an idle stream; traffic goes on after it") {
    tls_fixture f;
    client_stream client(*f.client_context, f.io);
    server_stream server(f.io, f.server_context);
    REQUIRE_FALSE(handshake(f, client, server, "localhost").client);
    CHECK(client.staging_capacity() > 0);

    for (int round = 0; round < 3; ++round) {
        CAPTURE(round);
        ping_pong(f, client, server, std::string(20000, 'a' + static_cast<char>(round)), std::string(30000, 'z'));
        CHECK(client.staging_capacity() > 0);
        CHECK(client.buffered_bytes() == 0);
        client.release_buffers();
        CHECK(client.staging_capacity() == 0);
        client.release_buffers(); // idempotent
        CHECK(client.staging_capacity() == 0);
    }

    // Move assignment (tcp::socket is move-assignable) hands over the connection and the BIO.
    client_stream assigned(*f.client_context, f.io);
    assigned = std::move(client);
    CHECK(client.native_handle() == nullptr);
    ping_pong(f, assigned, server, "after the move", "still the same TLS session");
}

TEST_CASE("tls_stream: memory an idle stream keeps after release_buffers()") {
    tls_fixture f;
    auto client = std::make_unique<client_stream>(*f.client_context, f.io);
    server_stream server(f.io, f.server_context);
    REQUIRE_FALSE(handshake(f, *client, server, "localhost").client);
    ping_pong(f, *client, server, "GET / HTTP/1.1\r\n\r\n", std::string(4000, 'r'));

    const std::size_t before_release = heap_in_use();
    client->release_buffers();
    const std::size_t after_release = heap_in_use();
    CHECK(client->staging_capacity() == 0);
    client.reset(); // frees the SSL object (session, peer certificate, keys) and the stream
    const std::size_t after_destroy = heap_in_use();
    if (malloc_counts_are_real) {
        const auto released = static_cast<long long>(before_release) - static_cast<long long>(after_release);
        const auto idle = static_cast<long long>(after_release) - static_cast<long long>(after_destroy);
        // mallinfo2 counts small blocks parked in glibc's tcache as in use, so both figures are
        // lower bounds (an exact count with OpenSSL's allocator replaced: ~18.6 KB idle).
        MESSAGE("release_buffers() freed " << released << " bytes; an idle tls_stream + SSL holds " << idle
                                           << " bytes (heap, measured by destroying it)");
        CHECK(released >= static_cast<long long>(takeoff::http::detail::tls_stream_impl::staging::input_capacity));
        CHECK(idle > 0);
        CHECK(idle <= 64 * 1024);
    }
}

TEST_CASE("tls_stream over beast::tcp_stream: a moved stream keeps working; Beast's timeout ends a silent read") {
    tls_fixture f;
    tls_stream<beast::tcp_stream> original(*f.client_context, f.io);
    server_stream server(f.io, f.server_context);
    REQUIRE_FALSE(handshake(f, original, server, "127.0.0.1").client);
    static_assert(std::is_same_v<decltype(beast::get_lowest_layer(original)), beast::tcp_stream&>);

    tls_stream<beast::tcp_stream> client(std::move(original));
    CHECK(original.native_handle() == nullptr);
    std::string received(4, '\0');
    spawn(f.io, [&]() -> asio::awaitable<void> {
        auto [ec, n] = co_await asio::async_read(server, asio::buffer(received), as_tuple_deferred);
        REQUIRE_FALSE(ec);
        const std::string pong = "pong";
        auto [write_ec, written] = co_await asio::async_write(server, asio::buffer(pong), as_tuple_deferred);
        REQUIRE_FALSE(write_ec);
    });
    const std::string ping = "ping";
    auto w = run_op(f.io, [&](auto handler) { asio::async_write(client, asio::buffer(ping), handler); });
    REQUIRE_FALSE(w.ec);
    std::string answer(4, '\0');
    auto r = run_op(f.io, [&](auto handler) { asio::async_read(client, asio::buffer(answer), handler); });
    REQUIRE_FALSE(r.ec);
    CHECK(received == "ping");
    CHECK(answer == "pong");

    beast::get_lowest_layer(client).expires_after(std::chrono::milliseconds(50));
    std::array<char, 8> buffer{};
    auto silent = run_op(f.io, [&](auto handler) { client.async_read_some(asio::buffer(buffer), handler); });
    CHECK(silent.ec == beast::error::timeout);
}

TEST_CASE("tls_stream over a tcp::socket& it does not own, as the transport holds its socket") {
    tls_fixture f;
    tcp::socket socket(f.io);
    static_assert(!std::is_move_assignable_v<tls_stream<tcp::socket&>>);
    auto client = std::make_unique<tls_stream<tcp::socket&>>(*f.client_context, socket);
    static_assert(std::is_same_v<decltype(client->next_layer()), tcp::socket&>);
    CHECK(&client->next_layer() == &socket);
    server_stream server(f.io, f.server_context);
    REQUIRE_FALSE(handshake(f, *client, server, "localhost").client);

    tls_stream<tcp::socket&> moved(std::move(*client));
    CHECK(&moved.next_layer() == &socket);
    client.reset(); // the moved-from stream goes; the socket and the TLS session stay
    CHECK(socket.is_open());
    ping_pong(f, moved, server, "one", "two");
    moved.release_buffers();
    CHECK(moved.staging_capacity() == 0);
    ping_pong(f, moved, server, std::string(40000, 'u'), std::string(50000, 'd'));
}

TEST_CASE("tls_stream: a TLS 1.3 key update requested by the server is answered; traffic goes on") {
    tls_fixture f;
    client_stream client(*f.client_context, f.io);
    server_stream server(f.io, f.server_context);
    REQUIRE_FALSE(handshake(f, client, server, "localhost").client);
    REQUIRE(SSL_version(client.native_handle()) == TLS1_3_VERSION);
    ping_pong(f, client, server, "before", "the update");

    // Counts the KeyUpdate messages the server receives from the client.
    int key_updates_received = 0;
    SSL_set_msg_callback_arg(server.native_handle(), &key_updates_received);
    SSL_set_msg_callback(server.native_handle(), [](int write_p, int, int content_type, const void* buf, std::size_t len,
                                                    SSL*, void* arg) {
        if (!write_p && content_type == SSL3_RT_HANDSHAKE && len > 0 &&
            static_cast<const unsigned char*>(buf)[0] == SSL3_MT_KEY_UPDATE)
            ++*static_cast<int*>(arg);
    });
    REQUIRE(SSL_key_update(server.native_handle(), SSL_KEY_UPDATE_REQUESTED) == 1);
    const std::string text = "sent after the server's key update";
    server_write(f, server, text); // the KeyUpdate record, then the data under the new keys
    CHECK(client_read(f, client, text.size()) == text);
    ping_pong(f, client, server, "the client's data under its new keys", "understood");
    CHECK(key_updates_received == 1);
    ping_pong(f, client, server, std::string(30000, 'k'), std::string(30000, 'K'));
    SSL_set_msg_callback(server.native_handle(), nullptr);
}

TEST_CASE("tls_stream: data behind a session ticket in the same read is not stranded without SSL_MODE_AUTO_RETRY") {
    tls_fixture f;
    client_stream client(*f.client_context, f.io);
    SSL_clear_mode(client.native_handle(), SSL_MODE_AUTO_RETRY); // SSL_read stops after each ticket
    server_stream server(f.io, f.server_context);
    REQUIRE_FALSE(handshake(f, client, server, "localhost").client);
    // The server's session tickets and this record reach the client's socket before it reads;
    // then the server closes, so a read that waited for more from the socket would fail.
    server_write(f, server, "behind the tickets");
    server.next_layer().close();
    CHECK(client_read(f, client, 18) == "behind the tickets");
}
