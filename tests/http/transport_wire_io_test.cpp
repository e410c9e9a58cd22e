// http::client on the wire, for what client_io_test.cpp does not reach: connect and resolve
// failures, IPv6, TLS by host name (SNI, name checks, a CA file), timeouts that really fire,
// responses that must not be pooled, bodiless responses on a kept-alive connection, an abandoned
// body_stream, a client destroyed mid-flight, and Retry-After against the deadline.
//
// Peers are the emulator (127.0.0.1) or small raw Asio servers on 127.0.0.1 / [::1], run on the
// client's own io_context so that one io.run() drives both sides and returns when both are done.
#include <takeoff/http/client.hpp>
#include <takeoff_emulator/certificates.hpp>
#include <takeoff_emulator/server.hpp>

#include "../support/client_helpers.hpp"
#include "../support/doctest_helpers.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address_v6.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/string.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <array>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

namespace asio = boost::asio;
namespace http = takeoff::http;
namespace emu = takeoff::emulator;
using bhttp_status = boost::beast::http::status;
using boost::beast::http::verb;
using tcp = asio::ip::tcp;
using takeoff::errc;
using namespace std::chrono_literals;

namespace {

using takeoff::test::open;
using takeoff::test::open_result;
using takeoff::test::request_result;
using takeoff::test::send;

// The environment's proxy variables must not decide where a loopback test connects.
http::client_options client_defaults() { return takeoff::test::direct_client_options(); }

http::request_options no_retries() {
    http::request_options o;
    o.retries = http::retry_policy::none();
    return o;
}

http::request get(const std::string& url) { return http::request::get(boost::urls::url(url)); }

// ---- Raw peers. ----

tcp::acceptor listen_on(asio::io_context& io, const asio::ip::address& address,
                        int backlog = asio::socket_base::max_listen_connections) {
    tcp::acceptor acceptor(io);
    const tcp::endpoint endpoint(address, 0);
    acceptor.open(endpoint.protocol());
    acceptor.bind(endpoint);
    acceptor.listen(backlog);
    return acceptor;
}

const asio::ip::address loopback_v4 = asio::ip::address_v4::loopback();

// The value of the first header called `name` (ASCII case-insensitive) in a raw request head.
std::optional<std::string> header_of(const std::string& head, std::string_view name) {
    std::size_t line = head.find("\r\n");
    while (line != std::string::npos && line + 2 < head.size()) {
        const std::size_t start = line + 2;
        const std::size_t end = head.find("\r\n", start);
        if (end == std::string::npos || end == start) break;
        const std::string_view text(head.data() + start, end - start);
        const std::size_t colon = text.find(':');
        if (colon == name.size() && boost::beast::iequals(text.substr(0, colon), name)) {
            std::string_view value = text.substr(colon + 1);
            while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
            return std::string(value);
        }
        line = end;
    }
    return std::nullopt;
}

// Accepts one connection, reads one request head into `head`, writes `response`, then ends (the
// socket closes with the coroutine; the client has its whole answer by Content-Length by then).
asio::awaitable<void> serve_one_plain(tcp::acceptor& acceptor, std::string response, std::string& head) {
    auto [accept_ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (accept_ec) co_return;
    auto [read_ec, n] =
        co_await asio::async_read_until(socket, asio::dynamic_buffer(head), "\r\n\r\n", asio::as_tuple(asio::use_awaitable));
    if (read_ec) co_return;
    auto [write_ec, written] = co_await asio::async_write(socket, asio::buffer(response), asio::as_tuple(asio::use_awaitable));
    (void)write_ec;
    (void)written;
}

// What a raw TLS peer saw.
struct tls_peer_record {
    std::string server_name; // the SNI, empty when none was sent
    bool handshake_done = false;
    std::string head;
};

// As serve_one_plain, over TLS, recording the SNI the client sent.
asio::awaitable<void> serve_one_tls(tcp::acceptor& acceptor, asio::ssl::context& context, std::string response,
                                    tls_peer_record& record) {
    auto [accept_ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (accept_ec) co_return;
    asio::ssl::stream<tcp::socket> stream(std::move(socket), context);
    auto [handshake_ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, asio::as_tuple(asio::use_awaitable));
    // Known once the ClientHello was read, whether or not the handshake went on to succeed.
    if (const char* name = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name)) record.server_name = name;
    if (handshake_ec) co_return;
    record.handshake_done = true;
    auto [read_ec, n] = co_await asio::async_read_until(stream, asio::dynamic_buffer(record.head), "\r\n\r\n",
                                                        asio::as_tuple(asio::use_awaitable));
    if (read_ec) co_return;
    auto [write_ec, written] = co_await asio::async_write(stream, asio::buffer(response), asio::as_tuple(asio::use_awaitable));
    (void)write_ec;
    (void)written;
}

// Accepts one connection and keeps it open without ever reading from it or answering (no TLS
// handshake either): the socket is parked in `parked`, which the test owns.
asio::awaitable<void> accept_and_park(tcp::acceptor& acceptor, std::optional<tcp::socket>& parked) {
    auto [accept_ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (!accept_ec) parked.emplace(std::move(socket));
}

asio::ssl::context server_tls_context(const emu::server_certificate& certificate) {
    asio::ssl::context context(asio::ssl::context::tls_server);
    context.use_certificate_chain(asio::buffer(certificate.certificate_pem));
    context.use_private_key(asio::buffer(certificate.private_key_pem), asio::ssl::context::pem);
    return context;
}

// A directory of its own under the system temp directory, removed at the end of the scope.
struct temp_directory {
    std::filesystem::path path;
    temp_directory() {
        std::random_device random;
        path = std::filesystem::temp_directory_path() /
               ("takeoff-wire-" + std::to_string(random()) + "-" + std::to_string(random()));
        std::filesystem::create_directories(path);
    }
    temp_directory(const temp_directory&) = delete;
    temp_directory& operator=(const temp_directory&) = delete;
    ~temp_directory() {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
};

bool starts_with(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

} // namespace

TEST_CASE("wire: a refused connection is asio::error::connection_refused, diagnostics say cannot connect") {
    asio::io_context io;
    std::uint16_t port = 0;
    {
        // Bound then closed: nothing listens there, so the SYN is answered with a reset.
        tcp::acceptor probe(io, tcp::endpoint(loopback_v4, 0));
        port = probe.local_endpoint().port();
    }
    http::client client(io.get_executor(), client_defaults());
    takeoff::diagnostics diag;
    auto [ec, resp] = send(io, client, get("http://127.0.0.1:" + std::to_string(port) + "/"), no_retries(), diag);
    CHECK(ec == asio::error::connection_refused);
    CHECK(diag.client_message() == "cannot connect to 127.0.0.1:" + std::to_string(port) + ": " +
                                       boost::system::error_code(asio::error::connection_refused).message());
    CHECK(resp.status == 0);
    CHECK(client.connections_opened() == 0);
    CHECK(client.idle_connections() == 0);
}

TEST_CASE("wire: a host name that does not resolve is asio::error::host_not_found, diagnostics say cannot resolve") {
    // The empty label makes getaddrinfo fail before it sends any query (checked with strace: no
    // connect or sendto leaves the process for this test).
    asio::io_context io;
    http::client client(io.get_executor(), client_defaults());
    takeoff::diagnostics diag;
    auto [ec, resp] = send(io, client, get("http://no..such.host:8080/"), no_retries(), diag);
    CHECK(ec == asio::error::host_not_found);
    CHECK(diag.client_message() == "cannot resolve no..such.host: " + ec.message());
    CHECK(client.connections_opened() == 0);
}

TEST_CASE("wire: http://[::1]:port/ reaches a server on the IPv6 loopback with Host: [::1]:port") {
    asio::io_context io;
    tcp::acceptor acceptor = listen_on(io, asio::ip::address_v6::loopback());
    const auto port = std::to_string(acceptor.local_endpoint().port());
    std::string head;
    asio::co_spawn(io, serve_one_plain(acceptor, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nsix!", head), asio::detached);

    http::client client(io.get_executor(), client_defaults());
    takeoff::diagnostics diag;
    auto [ec, resp] = send(io, client, get("http://[::1]:" + port + "/v6?x=1"), no_retries(), diag);
    CAPTURE(diag.client_message());
    REQUIRE_FALSE(ec);
    CHECK(resp.status == 200);
    CHECK(resp.body == "six!");
    CHECK(starts_with(head, "GET /v6?x=1 HTTP/1.1\r\n"));
    CHECK(header_of(head, "host") == "[::1]:" + port);
    CHECK(client.connections_opened() == 1);
}

TEST_CASE("wire: https://localhost sends SNI localhost and checks the name; a certificate for another name is refused") {
    emu::certificate_authority ca;
    asio::io_context io;
    http::client_options options = client_defaults();
    options.tls.use_system_trust = false;
    options.tls.ca_pem = ca.certificate_pem();

    SUBCASE("a certificate whose only name is DNS:localhost") {
        emu::certificate_options names;
        names.dns_names = {"localhost"};
        names.ip_addresses = {}; // so that only the DNS name can match
        asio::ssl::context server_context = server_tls_context(ca.issue(names));
        tcp::acceptor acceptor = listen_on(io, loopback_v4);
        const auto port = std::to_string(acceptor.local_endpoint().port());
        tls_peer_record record;
        asio::co_spawn(io,
                       serve_one_tls(acceptor, server_context,
                                     "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecure", record),
                       asio::detached);

        http::client client(io.get_executor(), options);
        takeoff::diagnostics diag;
        auto [ec, resp] = send(io, client, get("https://localhost:" + port + "/"), no_retries(), diag);
        CAPTURE(diag.client_message());
        REQUIRE_FALSE(ec);
        CHECK(resp.body == "secure");
        CHECK(record.server_name == "localhost");
        CHECK(header_of(record.head, "host") == "localhost:" + port);
        CHECK(client.connections_opened() == 1);
    }

    SUBCASE("a certificate for other.test") {
        emu::certificate_options names;
        names.common_name = "other.test";
        names.dns_names = {"other.test"};
        names.ip_addresses = {};
        asio::ssl::context server_context = server_tls_context(ca.issue(names));
        tcp::acceptor acceptor = listen_on(io, loopback_v4);
        const auto port = std::to_string(acceptor.local_endpoint().port());
        tls_peer_record record;
        asio::co_spawn(io, serve_one_tls(acceptor, server_context, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nnever", record),
                       asio::detached);

        http::client client(io.get_executor(), options);
        takeoff::diagnostics diag;
        auto [ec, resp] = send(io, client, get("https://localhost:" + port + "/"), no_retries(), diag);
        CHECK(ec.category() == asio::error::get_ssl_category());
        CHECK(ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_CERTIFICATE_VERIFY_FAILED);
        CHECK(diag.client_message() ==
              "TLS certificate verification failed: hostname mismatch (https://localhost:" + port + ")");
        CHECK(record.server_name == "localhost");
        CHECK_FALSE(record.handshake_done);
        CHECK(record.head.empty());
        CHECK(client.connections_opened() == 0);
    }
}

TEST_CASE("wire: tls.ca_file with system trust off: the CA loads from the file and is trusted") {
    emu::certificate_authority ca;
    const emu::server_certificate certificate = ca.issue();
    temp_directory directory;
    const emu::certificate_files files = certificate.write_files(directory.path);

    emu::server_options server_options;
    server_options.tls = certificate;
    emu::server server(server_options);
    server.route(verb::get, "/", emu::behaviours::respond(bhttp_status::ok, "trusted by file"));

    asio::io_context io;
    http::client_options options = client_defaults();
    options.tls.use_system_trust = false;
    options.tls.ca_file = files.ca_certificate.string();
    http::client client(io.get_executor(), options);
    takeoff::diagnostics diag;
    auto [ec, resp] = send(io, client, get(server.url() + "/"), no_retries(), diag);
    CAPTURE(diag.client_message());
    REQUIRE_FALSE(ec);
    CHECK(resp.body == "trusted by file");
    CHECK(server.request_count() == 1);

    // Without the file the same server is not trusted: the file is what made the difference.
    http::client_options untrusting = client_defaults();
    untrusting.tls.use_system_trust = false;
    http::client without(io.get_executor(), untrusting);
    auto [ec2, resp2] = send(io, without, get(server.url() + "/"), no_retries(), diag);
    CHECK(ec2.category() == asio::error::get_ssl_category());
    CHECK(diag.client_message().find("unable to get local issuer certificate") != std::string::npos);
    CHECK(server.request_count() == 1);
}

TEST_CASE("wire: the connect timeout fires against a listener whose accept queue is full") {
    // backlog 0 holds one connection on Linux (and gVisor); the filler takes it and is never
    // accepted, so the client's SYN is dropped and its connect hangs until the limit.
    asio::io_context io;
    tcp::acceptor acceptor = listen_on(io, loopback_v4, 0);
    const auto endpoint = acceptor.local_endpoint();
    tcp::socket filler(io);
    filler.connect(endpoint);

    http::client client(io.get_executor(), client_defaults());
    http::request_options options = no_retries();
    options.timeouts.connect = 200ms;
    takeoff::diagnostics diag;
    const auto started = std::chrono::steady_clock::now();
    auto [ec, resp] = send(io, client, get("http://127.0.0.1:" + std::to_string(endpoint.port()) + "/"), options, diag);
    const auto elapsed = std::chrono::steady_clock::now() - started;
    CHECK(ec == boost::beast::error::timeout);
    CHECK(diag.client_message() == "cannot connect to 127.0.0.1:" + std::to_string(endpoint.port()) + ": " +
                                       make_error_code(boost::beast::error::timeout).message());
    CHECK(elapsed >= 200ms);
    CHECK(client.connections_opened() == 0);
}

TEST_CASE("wire: the TLS handshake timeout fires against a peer that accepts and never handshakes") {
    emu::certificate_authority ca;
    asio::io_context io;
    tcp::acceptor acceptor = listen_on(io, loopback_v4);
    const auto port = std::to_string(acceptor.local_endpoint().port());
    std::optional<tcp::socket> parked;
    asio::co_spawn(io, accept_and_park(acceptor, parked), asio::detached);

    http::client_options client_options = client_defaults();
    client_options.tls.use_system_trust = false;
    client_options.tls.ca_pem = ca.certificate_pem();
    http::client client(io.get_executor(), client_options);
    http::request_options options = no_retries();
    options.timeouts.tls_handshake = 200ms;
    takeoff::diagnostics diag;
    const auto started = std::chrono::steady_clock::now();
    auto [ec, resp] = send(io, client, get("https://127.0.0.1:" + port + "/"), options, diag);
    const auto elapsed = std::chrono::steady_clock::now() - started;
    CHECK(parked.has_value()); // the TCP connection was made: the handshake is what timed out
    CHECK(ec == boost::beast::error::timeout);
    CHECK(diag.client_message() == "TLS handshake failed: " + make_error_code(boost::beast::error::timeout).message() +
                                       " (https://127.0.0.1:" + port + ")");
    CHECK(elapsed >= 200ms);
    CHECK(client.connections_opened() == 0);
}

TEST_CASE("wire: the write timeout fires while a 32 MiB body goes to a peer that stopped reading") {
    asio::io_context io;
    tcp::acceptor acceptor = listen_on(io, loopback_v4);
    const auto port = std::to_string(acceptor.local_endpoint().port());
    std::optional<tcp::socket> parked;
    asio::co_spawn(io, accept_and_park(acceptor, parked), asio::detached);

    http::client client(io.get_executor(), client_defaults());
    http::request_options options = no_retries();
    options.timeouts.write = 200ms;
    takeoff::diagnostics diag;
    // More than loopback's socket buffers on both sides can take, so the write must block.
    auto req = http::request::post(boost::urls::url("http://127.0.0.1:" + port + "/upload"),
                                   std::string(32 * 1024 * 1024, 'x'), "application/octet-stream");
    const auto started = std::chrono::steady_clock::now();
    auto [ec, resp] = send(io, client, std::move(req), options, diag);
    const auto elapsed = std::chrono::steady_clock::now() - started;
    CHECK(parked.has_value());
    CHECK(ec == boost::beast::error::timeout);
    CHECK(diag.client_message() == "cannot send the request to http://127.0.0.1:" + port + "/upload: " +
                                       make_error_code(boost::beast::error::timeout).message());
    CHECK(elapsed >= 200ms);
    CHECK(client.connections_opened() == 1);
    CHECK(client.idle_connections() == 0);
}

TEST_CASE("wire: responses with Connection: close, and HTTP/1.0 ones, are not pooled") {
    emu::server server;
    auto closing = emu::make_response(bhttp_status::ok, "closing");
    closing.set(boost::beast::http::field::connection, "close");
    server.route(verb::get, "/close", emu::behaviours::respond(closing));
    // HTTP/1.0 without "Connection: keep-alive" is not persistent; the emulator itself would
    // keep the connection (the request was 1.1), so only the client's own rule can close it.
    emu::http_response old{bhttp_status::ok, 10};
    old.set(boost::beast::http::field::content_type, "text/plain");
    old.body() = "one-oh";
    server.route(verb::get, "/http10", emu::behaviours::respond(old));
    server.route(verb::get, "/ok", emu::behaviours::respond(bhttp_status::ok, "ok"));

    asio::io_context io;
    http::client client(io.get_executor(), client_defaults());
    takeoff::diagnostics diag;
    const std::vector<std::pair<std::string, std::string>> sequence{
        {"/close", "closing"}, {"/ok", "ok"}, {"/http10", "one-oh"}, {"/ok", "ok"}, {"/ok", "ok"}};
    for (const auto& [path, body] : sequence) {
        CAPTURE(path);
        auto [ec, resp] = send(io, client, get(server.url() + path), no_retries(), diag);
        REQUIRE_FALSE(ec);
        CHECK(resp.body == body);
    }
    // /close and /http10 each end their connection; the /ok after each opens a new one, and the
    // last /ok reuses the one before it.
    CHECK(client.connections_opened() == 3);
    CHECK(server.connection_count() == 3);
    const auto requests = server.requests();
    REQUIRE(requests.size() == 5);
    CHECK(requests[0].connection_id == 1);
    CHECK(requests[1].connection_id == 2);
    CHECK(requests[2].connection_id == 2);
    CHECK(requests[3].connection_id == 3);
    CHECK(requests[4].connection_id == 3);
    CHECK(client.idle_connections() == 1);
}

TEST_CASE("wire: GET, HEAD, 204, 304, GET on one kept-alive connection") {
    emu::server server;
    server.route(verb::get, "/", emu::behaviours::respond(bhttp_status::ok, "hello"));
    server.route(verb::head, "/", emu::behaviours::respond(bhttp_status::ok, "hello")); // header only, Content-Length: 5
    server.route(verb::get, "/empty", emu::behaviours::respond(bhttp_status::no_content, ""));
    // A 304 may carry the Content-Length of the representation it stands for, with no body.
    auto not_modified = emu::make_response(bhttp_status::not_modified, "");
    not_modified.set(boost::beast::http::field::content_length, "5");
    not_modified.set(boost::beast::http::field::etag, "\"v1\"");
    server.route(verb::get, "/cached", emu::behaviours::respond(not_modified));

    asio::io_context io;
    http::client client(io.get_executor(), client_defaults());
    takeoff::diagnostics diag;

    auto [ec1, r1] = send(io, client, get(server.url() + "/"), no_retries(), diag);
    CHECK_FALSE(ec1);
    CHECK(r1.body == "hello");

    auto head = get(server.url() + "/");
    head.method = verb::head;
    auto [ec2, r2] = send(io, client, std::move(head), no_retries(), diag);
    CHECK_FALSE(ec2);
    CHECK(r2.status == 200);
    CHECK(r2.headers[boost::beast::http::field::content_length] == "5");
    CHECK(r2.body.empty());

    auto [ec3, r3] = send(io, client, get(server.url() + "/empty"), no_retries(), diag);
    CHECK_FALSE(ec3);
    CHECK(r3.status == 204);
    CHECK(r3.body.empty());

    // 304 is not 2xx: it completes with errc::http_status and the response (the documented rule
    // for every non-2xx final status), and the connection stays reusable.
    auto [ec4, r4] = send(io, client, get(server.url() + "/cached"), no_retries(), diag);
    CHECK(ec4 == errc::http_status);
    CHECK(r4.status == 304);
    CHECK(r4.headers[boost::beast::http::field::etag] == "\"v1\"");
    CHECK(r4.body.empty());

    auto [ec5, r5] = send(io, client, get(server.url() + "/"), no_retries(), diag);
    CHECK_FALSE(ec5);
    CHECK(r5.body == "hello");

    CHECK(client.connections_opened() == 1);
    CHECK(server.connection_count() == 1);
    const auto requests = server.requests();
    REQUIRE(requests.size() == 5);
    for (const auto& r : requests) CHECK(r.connection_id == 1);
    CHECK(requests[1].method == "HEAD");
    CHECK(client.idle_connections() == 1);
}

TEST_CASE("wire: a body_stream destroyed half-read never goes back to the pool") {
    emu::server server;
    std::string long_body;
    for (int i = 0; long_body.size() < 64 * 1024; ++i) long_body += "old-body-" + std::to_string(i) + ";";
    server.route(verb::get, "/long", emu::behaviours::respond(bhttp_status::ok, long_body));
    // Small enough to sit whole in the connection's buffer after the header: a pooled connection
    // would hand its unread bytes to the next request.
    server.route(verb::get, "/short", emu::behaviours::respond(bhttp_status::ok, "0123456789abcdef"));
    server.route(verb::get, "/next", emu::behaviours::respond(bhttp_status::ok, "next body"));

    asio::io_context io;
    http::client client(io.get_executor(), client_defaults());
    takeoff::diagnostics diag;
    for (const std::string path : {"/long", "/short"}) {
        CAPTURE(path);
        std::uint64_t stream_connection = 0;
        {
            auto [ec, stream] = open(io, client, get(server.url() + path), no_retries(), diag);
            REQUIRE_FALSE(ec);
            stream_connection = server.requests().back().connection_id;
            std::array<char, 4> buffer{};
            std::optional<std::tuple<boost::system::error_code, std::size_t>> read;
            stream.async_read_some(asio::buffer(buffer),
                                   [&read](boost::system::error_code e, std::size_t n) { read.emplace(e, n); });
            io.restart();
            io.run();
            REQUIRE(read.has_value());
            CHECK_FALSE(std::get<0>(*read));
            CHECK(std::get<1>(*read) == 4);
            CHECK(std::string_view(buffer.data(), 4) == std::string_view(path == "/long" ? "old-" : "0123"));
            CHECK_FALSE(stream.done());
        } // the stream goes here, its body unread
        CHECK(client.idle_connections() == 0);
        const auto opened_before = client.connections_opened();

        auto [ec2, resp] = send(io, client, get(server.url() + "/next"), no_retries(), diag);
        CAPTURE(diag.client_message());
        REQUIRE_FALSE(ec2);
        CHECK(resp.body == "next body");
        CHECK(client.connections_opened() == opened_before + 1);
        CHECK(server.requests().back().connection_id == stream_connection + 1);
        CHECK(client.idle_connections() == 1);
    }
    // /long on 1, /next on 2; /short reuses 2 (idle after /next), so its /next is on 3.
    CHECK(server.connection_count() == 3);
    CHECK(client.connections_opened() == 3);
}

TEST_CASE("wire: a client destroyed with requests in flight and queued: every request still succeeds") {
    // Four requests, two connections: two reach the server and are held there, two wait in the
    // pool. When the second arrives, the client object is destroyed and the server released.
    asio::io_context io;
    emu::server server;
    std::optional<http::client> client;
    std::atomic<int> arrived{0};
    server.route(verb::get, "/held", [&](emu::exchange& ex) -> asio::awaitable<void> {
        if (++arrived == 2)
            asio::post(io, [&] {
                client.reset();
                server.hold_gate().open();
            });
        co_await ex.async_wait_released();
        co_await ex.async_respond(emu::make_response(bhttp_status::ok, "held"));
    });

    http::client_options options = client_defaults();
    options.pool.max_connections_per_origin = 2;
    client.emplace(io.get_executor(), options);
    struct outcome {
        bool done = false;
        boost::system::error_code ec;
        std::string body;
    };
    std::vector<outcome> outcomes(4);
    std::vector<takeoff::diagnostics> diags(4);
    for (std::size_t i = 0; i < outcomes.size(); ++i) {
        client->async_request(get(server.url() + "/held"), no_retries(), diags[i],
                              [&outcomes, i](boost::system::error_code ec, http::response resp) {
                                  outcomes[i] = {true, ec, resp.body};
                              });
    }
    // run_for returns as soon as the io_context is out of work: stopped() then says nothing of the
    // destroyed client (its pool's timer, its idle connections) kept it busy.
    io.run_for(20s);
    CHECK(io.stopped());
    CHECK_FALSE(client.has_value());
    for (std::size_t i = 0; i < outcomes.size(); ++i) {
        CAPTURE(i);
        CAPTURE(diags[i].client_message());
        CHECK(outcomes[i].done);
        CHECK_FALSE(outcomes[i].ec);
        CHECK(outcomes[i].body == "held");
    }
    CHECK(server.request_count() == 4);
    CHECK(server.connection_count() == 2);
}

TEST_CASE("wire: Retry-After: 1 on a 503 is waited for, then the 200 is the result") {
    emu::server server;
    std::mutex mutex;
    std::vector<std::chrono::steady_clock::time_point> arrivals;
    std::optional<std::chrono::steady_clock::time_point> first_answered;
    server.route(verb::get, "/busy", [&](emu::exchange& ex) -> asio::awaitable<void> {
        const auto now = std::chrono::steady_clock::now();
        bool first = false;
        {
            std::lock_guard lock(mutex);
            arrivals.push_back(now);
            first = arrivals.size() == 1;
        }
        if (first) {
            auto busy = emu::make_response(bhttp_status::service_unavailable, "busy");
            busy.set(boost::beast::http::field::retry_after, "1");
            co_await ex.async_respond(std::move(busy));
            // After the write completed: never earlier than the client could have the 503.
            std::lock_guard lock(mutex);
            first_answered = std::chrono::steady_clock::now();
        } else {
            co_await ex.async_respond(emu::make_response(bhttp_status::ok, "ready"));
        }
    });

    asio::io_context io;
    http::client client(io.get_executor(), client_defaults());
    takeoff::diagnostics diag;
    http::request_options options; // the default retry policy: 3 attempts, Retry-After honoured
    options.deadline = 10s;
    auto [ec, resp] = send(io, client, get(server.url() + "/busy"), options, diag);
    CAPTURE(diag.client_message());
    CHECK_FALSE(ec);
    CHECK(resp.status == 200);
    CHECK(resp.body == "ready");
    std::lock_guard lock(mutex);
    REQUIRE(arrivals.size() == 2);
    REQUIRE(first_answered.has_value());
    CHECK(server.request_count() == 2);
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(arrivals[1] - *first_answered);
    CAPTURE(waited.count());
    CHECK(waited >= 1000ms);
}

TEST_CASE("wire: Retry-After: 30 beyond a 2 s deadline gives up at once with the 503") {
    emu::server server;
    auto busy = emu::make_response(bhttp_status::service_unavailable, "come back later");
    busy.set(boost::beast::http::field::retry_after, "30");
    server.route(verb::get, "/busy", emu::behaviours::respond(busy));

    asio::io_context io;
    http::client client(io.get_executor(), client_defaults());
    takeoff::diagnostics diag;
    http::request_options options; // the default retry policy: Retry-After honoured up to 30 s
    options.deadline = 2s;
    const auto started = std::chrono::steady_clock::now();
    auto [ec, resp] = send(io, client, get(server.url() + "/busy"), options, diag);
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    CAPTURE(elapsed.count());
    CAPTURE(ec.message());
    // Waiting 30 s cannot fit in what is left of 2 s: the 503 is the answer, now.
    CHECK(ec == errc::service_unavailable);
    CHECK(resp.status == 503);
    CHECK(diag.http_status() == 503);
    CHECK(diag.retry_after() == std::optional<std::chrono::seconds>(30s));
    CHECK(elapsed < 500ms);
    CHECK(server.request_count() == 1);
}
