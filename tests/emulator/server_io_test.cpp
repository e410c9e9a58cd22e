// Tests of the emulator core (takeoff_emulator/server.hpp and the headers it includes,
// certificates.hpp) from the client side, with plain synchronous Beast clients and raw Asio reads
// where exact bytes matter. Loopback only; no sleeps: every wait is a socket read, a Beast timeout
// or server::wait_for_requests.

#include <takeoff_emulator/certificates.hpp>
#include <takeoff_emulator/server.hpp>

#include <doctest/doctest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>
#include <unistd.h>

namespace {

namespace emu = takeoff::emulator;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using error_code = boost::system::error_code;
using string_response = http::response<http::string_body>;
using namespace std::chrono_literals;

http::request<http::string_body> make_request(const emu::server& server, http::verb method, std::string target,
                                              std::string body = {})
{
    http::request<http::string_body> request{method, target, 11};
    request.set(http::field::host, "127.0.0.1:" + std::to_string(server.port()));
    request.body() = std::move(body);
    request.prepare_payload();
    return request;
}

// Reads one response asynchronously, giving up after `timeout` (the stream is closed on timeout).
template <class Stream, class Message>
error_code read_with_timeout(asio::io_context& io, Stream& stream, beast::flat_buffer& buffer, Message& message,
                             std::chrono::milliseconds timeout)
{
    beast::get_lowest_layer(stream).expires_after(timeout);
    error_code result;
    http::async_read(stream, buffer, message, [&result](error_code ec, std::size_t) { result = ec; });
    io.restart();
    io.run();
    beast::get_lowest_layer(stream).expires_never();
    return result;
}

// A synchronous HTTP/1.1 client on one connection.
struct plain_client {
    asio::io_context io;
    beast::tcp_stream stream{io};
    beast::flat_buffer buffer;
    const emu::server& server;

    explicit plain_client(const emu::server& target) : server(target) { stream.connect(target.endpoint()); }

    void send(http::verb method, std::string target, std::string body = {}, bool keep_alive = true)
    {
        auto request = make_request(server, method, std::move(target), std::move(body));
        request.keep_alive(keep_alive);
        http::write(stream, request);
    }

    void send_raw(std::string_view bytes) { asio::write(stream, asio::buffer(bytes)); }

    error_code receive(string_response& response)
    {
        error_code ec;
        http::read(stream, buffer, response, ec);
        return ec;
    }

    string_response receive()
    {
        string_response response;
        http::read(stream, buffer, response);
        return response;
    }

    string_response request(http::verb method, std::string target, std::string body = {})
    {
        send(method, std::move(target), std::move(body));
        return receive();
    }
};

// A TLS client that verifies the peer like the library will: verify_peer, the given trust anchor,
// host_name_verification and SNI.
struct tls_client {
    asio::io_context io;
    ssl::context context{ssl::context::tls_client};
    std::optional<ssl::stream<beast::tcp_stream>> stream;
    beast::flat_buffer buffer;
    const emu::server& server;

    // send_sni = false leaves the server name out of the hello (host is still verified).
    tls_client(const emu::server& target, const std::string& trusted_ca_pem, const std::string& host = "127.0.0.1",
               bool send_sni = true)
        : server(target)
    {
        context.set_verify_mode(ssl::verify_peer);
        if (!trusted_ca_pem.empty())
            context.add_certificate_authority(asio::buffer(trusted_ca_pem));
        stream.emplace(io, context);
        if (send_sni)
            REQUIRE(SSL_set_tlsext_host_name(stream->native_handle(), host.c_str()) == 1);
        stream->set_verify_callback(ssl::host_name_verification(host));
        beast::get_lowest_layer(*stream).connect(target.endpoint());
    }

    error_code handshake()
    {
        error_code ec;
        stream->handshake(ssl::stream_base::client, ec);
        return ec;
    }

    long verify_result() { return SSL_get_verify_result(stream->native_handle()); }

    string_response request(http::verb method, std::string target, std::string body = {})
    {
        auto request = make_request(server, method, std::move(target), std::move(body));
        http::write(*stream, request);
        string_response response;
        http::read(*stream, buffer, response);
        return response;
    }
};

// Reads exactly `size` raw bytes (the client's flat_buffer must be empty), giving up after `timeout`.
std::pair<error_code, std::string> read_exactly(plain_client& client, std::size_t size, std::chrono::milliseconds timeout)
{
    REQUIRE(client.buffer.size() == 0);
    std::string bytes(size, '\0');
    error_code result;
    client.stream.expires_after(timeout);
    asio::async_read(client.stream, asio::buffer(bytes), [&result](error_code ec, std::size_t) { result = ec; });
    client.io.restart();
    client.io.run();
    client.stream.expires_never();
    return {result, bytes};
}

// Reads raw bytes until the server closes the connection (end of file), giving up after `timeout`.
std::pair<error_code, std::string> read_to_end(plain_client& client, std::chrono::milliseconds timeout)
{
    REQUIRE(client.buffer.size() == 0);
    std::string bytes;
    error_code result;
    client.stream.expires_after(timeout);
    asio::async_read(client.stream, asio::dynamic_buffer(bytes), [&result](error_code ec, std::size_t) { result = ec; });
    client.io.restart();
    client.io.run();
    client.stream.expires_never();
    return {result, bytes};
}

// Answers with the request body, so a test sees that the body arrived.
emu::handler echo_handler()
{
    return [](emu::exchange& ex) -> asio::awaitable<void> {
        auto response = emu::make_response(http::status::ok, ex.request().body());
        co_await ex.async_respond(std::move(response));
    };
}

bool is_certificate_verify_failure(const error_code& ec)
{
    return ec.category() == asio::error::get_ssl_category() &&
           ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_CERTIFICATE_VERIFY_FAILED;
}

emu::handler hello_handler()
{
    return emu::behaviours::respond(http::status::ok, "hello", "text/plain");
}

// A fresh directory under the system temp directory, removed at scope exit.
struct temporary_directory {
    std::filesystem::path path;
    temporary_directory()
    {
        static std::atomic<int> counter{0};
        path = std::filesystem::temp_directory_path() /
               ("takeoff-emulator-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
        std::filesystem::remove_all(path);
    }
    ~temporary_directory()
    {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
};

} // namespace

TEST_SUITE("emulator.server") {

TEST_CASE("binds 127.0.0.1 on an ephemeral port and reports its url at once")
{
    emu::server server;
    CHECK(server.port() != 0);
    CHECK(server.endpoint().address() == asio::ip::make_address("127.0.0.1"));
    CHECK(server.url() == "http://127.0.0.1:" + std::to_string(server.port()));
    CHECK_FALSE(server.is_tls());
    CHECK(server.connection_count() == 0);
}

TEST_CASE("routes by method and path; unknown paths get a JSON 404, other methods a 405")
{
    emu::server server;
    server.route(http::verb::get, "/hello", hello_handler());
    plain_client client(server);

    auto hello = client.request(http::verb::get, "/hello?x=1");
    CHECK(hello.result() == http::status::ok);
    CHECK(hello.body() == "hello");
    CHECK(hello[http::field::content_type] == "text/plain");
    CHECK(hello[http::field::content_length] == "5");

    auto missing = client.request(http::verb::get, "/nowhere");
    CHECK(missing.result() == http::status::not_found);
    CHECK(missing[http::field::content_type] == "application/json");
    CHECK(missing.body() == R"({"detail":"Not Found"})");

    auto wrong_method = client.request(http::verb::post, "/hello", "{}");
    CHECK(wrong_method.result() == http::status::method_not_allowed);
    CHECK(wrong_method[http::field::allow] == "GET");

    CHECK(server.connection_count() == 1);
}

TEST_CASE("prefix routes: exact beats prefix, longest prefix wins, re-adding replaces")
{
    emu::server server;
    server.route(http::verb::get, "/reader/", emu::behaviours::respond(http::status::ok, "short"), emu::path_match::prefix);
    server.route(http::verb::get, "/reader/special/", emu::behaviours::respond(http::status::ok, "long"), emu::path_match::prefix);
    server.route(http::verb::get, "/reader/exact", emu::behaviours::respond(http::status::ok, "exact"));
    server.route_any_method("/any", emu::behaviours::respond(http::status::ok, "any"));
    plain_client client(server);

    CHECK(client.request(http::verb::get, "/reader/abc").body() == "short");
    CHECK(client.request(http::verb::get, "/reader/special/x").body() == "long");
    CHECK(client.request(http::verb::get, "/reader/exact").body() == "exact");
    CHECK(client.request(http::verb::delete_, "/any").body() == "any");
    CHECK(client.request(http::verb::get, "/read").result() == http::status::not_found);

    server.route(http::verb::get, "/reader/exact", emu::behaviours::respond(http::status::accepted, "replaced"));
    auto replaced = client.request(http::verb::get, "/reader/exact");
    CHECK(replaced.result() == http::status::accepted);
    CHECK(replaced.body() == "replaced");

    CHECK(server.routes().remove(http::verb::get, "/reader/exact"));
    CHECK(client.request(http::verb::get, "/reader/exact").body() == "short");
}

TEST_CASE("keep-alive: two requests on one connection count as one connection")
{
    emu::server server;
    server.route(http::verb::get, "/hello", hello_handler());
    {
        plain_client client(server);
        CHECK(client.request(http::verb::get, "/hello").body() == "hello");
        CHECK(client.request(http::verb::get, "/hello").body() == "hello");
        CHECK(server.connection_count() == 1);
    }
    plain_client second(server);
    CHECK(second.request(http::verb::get, "/hello").body() == "hello");
    CHECK(server.connection_count() == 2);

    auto log = server.requests();
    REQUIRE(log.size() == 3);
    CHECK(log[0].connection_id == 1);
    CHECK(log[1].connection_id == 1);
    CHECK(log[2].connection_id == 2);
}

TEST_CASE("Connection: close is honoured: the server closes after the response")
{
    emu::server server;
    server.route(http::verb::get, "/hello", hello_handler());
    plain_client client(server);
    client.send(http::verb::get, "/hello", {}, /*keep_alive=*/false);
    string_response response = client.receive();
    CHECK(response.body() == "hello");
    CHECK(response[http::field::connection] == "close");

    string_response after;
    CHECK(client.receive(after) == http::error::end_of_stream);
}

TEST_CASE("the request log records method, target, headers and body")
{
    emu::server server;
    server.route(http::verb::post, "/echo", [](emu::exchange& ex) -> asio::awaitable<void> {
        auto response = emu::make_json_response(http::status::ok, ex.request().body());
        co_await ex.async_respond(std::move(response));
    });
    plain_client client(server);
    auto request = make_request(server, http::verb::post, "/echo?q=1", R"({"a":1})");
    request.set(http::field::authorization, "Snowflake Token=\"abc\"");
    request.set("X-Custom", "value");
    http::write(client.stream, request);
    CHECK(client.receive().body() == R"({"a":1})");

    REQUIRE(server.wait_for_requests(1, 5s));
    auto log = server.requests();
    REQUIRE(log.size() == 1);
    CHECK(log[0].method == "POST");
    CHECK(log[0].target == "/echo?q=1");
    CHECK(log[0].version == 11);
    CHECK(log[0].body == R"({"a":1})");
    CHECK(log[0].header("authorization") == "Snowflake Token=\"abc\"");
    CHECK(log[0].header("x-custom") == "value");
    CHECK(log[0].header("Content-Length") == "7");
    CHECK_FALSE(log[0].header("missing").has_value());
    CHECK(server.request_count() == 1);

    server.clear_requests();
    CHECK(server.request_count() == 0);
}

TEST_CASE("a handler that throws or does not answer gives a JSON 500")
{
    emu::server server;
    server.route(http::verb::get, "/throws", [](emu::exchange&) -> asio::awaitable<void> {
        throw std::runtime_error("boom \"quoted\"");
        co_return;
    });
    server.route(http::verb::get, "/silent", [](emu::exchange&) -> asio::awaitable<void> { co_return; });
    {
        plain_client client(server);
        auto response = client.request(http::verb::get, "/throws");
        CHECK(response.result() == http::status::internal_server_error);
        CHECK(response.body() == R"({"detail":"handler failed: boom \"quoted\""})");
    }
    {
        plain_client client(server);
        auto response = client.request(http::verb::get, "/silent");
        CHECK(response.result() == http::status::internal_server_error);
        CHECK(response.body() == R"({"detail":"handler sent no response"})");
    }
}

TEST_CASE("malformed requests get 400, Expect: 100-continue gets an interim response")
{
    emu::server server;
    server.route(http::verb::post, "/upload", emu::behaviours::respond(http::status::created, "stored"));
    {
        plain_client client(server);
        client.send_raw("NOT A REQUEST LINE\r\n\r\n");
        string_response response = client.receive();
        CHECK(response.result() == http::status::bad_request);
        CHECK(response[http::field::content_type] == "application/json");
    }
    {
        plain_client client(server);
        client.send_raw("POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
        http::response_parser<http::empty_body> interim_parser;
        http::read_header(client.stream, client.buffer, interim_parser);
        CHECK(interim_parser.get().result() == http::status::continue_);
        client.send_raw("data");
        string_response response = client.receive();
        CHECK(response.result() == http::status::created);
        CHECK(server.requests().at(0).body == "data");
    }
}

TEST_CASE("scripted: chunked drip arrives as separate chunks and the body is complete")
{
    emu::server server;
    server.route(http::verb::get, "/drip", emu::behaviours::chunked_drip({"one ", "two ", "three"}, 1ms));
    plain_client client(server);
    client.send(http::verb::get, "/drip");

    http::response_parser<http::string_body> parser;
    std::vector<std::uint64_t> chunk_sizes;
    auto on_chunk_header = [&chunk_sizes](std::uint64_t size, beast::string_view, error_code&) {
        chunk_sizes.push_back(size);
    };
    parser.on_chunk_header(on_chunk_header);
    http::read(client.stream, client.buffer, parser);
    CHECK(parser.get().chunked());
    CHECK(parser.get().body() == "one two three");
    CHECK(chunk_sizes == std::vector<std::uint64_t>{4, 4, 5, 0});

    // keep-alive survives a chunked response
    CHECK(client.request(http::verb::get, "/drip").body() == "one two three");
    CHECK(server.connection_count() == 1);
}

TEST_CASE("scripted: each chunk is flushed on its own (the client reads chunk 1 while the server waits)")
{
    emu::server server;
    server.route(http::verb::get, "/stream", [](emu::exchange& ex) -> asio::awaitable<void> {
        co_await ex.async_write_chunked_header(http::status::ok, "text/event-stream");
        co_await ex.async_write_chunk("data: first\n\n");
        co_await ex.async_wait_released(); // the test opens the gate after it has seen chunk 1
        co_await ex.async_write_chunk("data: second\n\n");
        co_await ex.async_write_last_chunk();
    });
    plain_client client(server);
    client.send(http::verb::get, "/stream");

    http::response_parser<http::string_body> parser;
    std::string received;
    auto on_chunk_body = [&received](std::uint64_t, beast::string_view body, error_code&) {
        received.append(body.data(), body.size());
        return body.size();
    };
    parser.on_chunk_body(on_chunk_body);
    http::read_header(client.stream, client.buffer, parser);
    CHECK(parser.get()[http::field::content_type] == "text/event-stream");
    while (received.size() < std::string_view("data: first\n\n").size())
        http::read_some(client.stream, client.buffer, parser);
    CHECK(received == "data: first\n\n");
    CHECK_FALSE(parser.is_done());

    server.hold_gate().open();
    http::read(client.stream, client.buffer, parser);
    CHECK(received == "data: first\n\ndata: second\n\n");
    CHECK(parser.is_done());
}

TEST_CASE("scripted: close mid-headers gives a partial message")
{
    emu::server server;
    server.route(http::verb::get, "/x", emu::behaviours::close_mid_headers());
    plain_client client(server);
    client.send(http::verb::get, "/x");
    string_response response;
    const error_code ec = client.receive(response);
    CHECK((ec == http::error::partial_message || ec == http::error::end_of_stream));
}

TEST_CASE("scripted: close before any byte gives end of stream")
{
    emu::server server;
    server.route(http::verb::get, "/x", [](emu::exchange& ex) -> asio::awaitable<void> {
        ex.close();
        co_return;
    });
    plain_client client(server);
    client.send(http::verb::get, "/x");
    string_response response;
    CHECK(client.receive(response) == http::error::end_of_stream);
}

TEST_CASE("scripted: close mid-body gives a partial body")
{
    emu::server server;
    server.route(http::verb::get, "/x", emu::behaviours::close_mid_body(100, "twelve bytes"));
    plain_client client(server);
    client.send(http::verb::get, "/x");
    http::response_parser<http::string_body> parser;
    error_code ec;
    http::read(client.stream, client.buffer, parser, ec);
    CHECK(ec == http::error::partial_message);
    CHECK(parser.is_header_done());
    CHECK(parser.get()[http::field::content_length] == "100");
    CHECK(parser.get().body() == "twelve bytes");
}

TEST_CASE("scripted: garbage instead of a status line is a bad version")
{
    emu::server server;
    server.route(http::verb::get, "/x", emu::behaviours::garbage());
    server.route(http::verb::get, "/y", emu::behaviours::garbage("HTTP/1.1 abc nonsense\r\n\r\n"));
    {
        plain_client client(server);
        client.send(http::verb::get, "/x");
        string_response response;
        CHECK(client.receive(response) == http::error::bad_version);
    }
    {
        plain_client client(server);
        client.send(http::verb::get, "/y");
        string_response response;
        CHECK(client.receive(response) == http::error::bad_status);
    }
}

TEST_CASE("scripted: slow bytes still parse, and keep-alive survives")
{
    emu::server server;
    auto slow = emu::make_json_response(http::status::ok, R"({"text":"slow"})");
    server.route(http::verb::get, "/slow", emu::behaviours::slow_bytes(slow, 100us));
    server.route(http::verb::get, "/slower", emu::behaviours::slow_bytes(slow));
    plain_client client(server);
    auto first = client.request(http::verb::get, "/slow");
    CHECK(first.result() == http::status::ok);
    CHECK(first.body() == R"({"text":"slow"})");
    CHECK(client.request(http::verb::get, "/slower").body() == R"({"text":"slow"})");
    CHECK(server.connection_count() == 1);
}

TEST_CASE("scripted: hang makes the client's read time out, and the server still stops cleanly")
{
    emu::server server;
    server.route(http::verb::get, "/hang", emu::behaviours::hang());
    server.route(http::verb::get, "/hello", hello_handler());
    {
        plain_client client(server);
        client.send(http::verb::get, "/hang");
        string_response response;
        const auto started = std::chrono::steady_clock::now();
        CHECK(read_with_timeout(client.io, client.stream, client.buffer, response, 100ms) == beast::error::timeout);
        CHECK(std::chrono::steady_clock::now() - started >= 100ms);
    }
    // a hanging connection does not stop others from being served
    plain_client other(server);
    CHECK(other.request(http::verb::get, "/hello").body() == "hello");

    plain_client still_waiting(server); // hangs while stop() runs
    still_waiting.send(http::verb::get, "/hang");
    REQUIRE(server.wait_for_requests(3, 5s));
    server.stop();
    CHECK(server.open_connection_count() == 0);
    string_response response;
    const error_code ec = still_waiting.receive(response);
    CHECK((ec == http::error::end_of_stream || ec == asio::error::connection_reset));
}

TEST_CASE("scripted: hold waits for the gate, then answers")
{
    emu::server server;
    server.route(http::verb::post, "/token", emu::behaviours::hold(emu::make_json_response(http::status::ok, R"({"ok":true})")));
    plain_client first(server);
    plain_client second(server);
    first.send(http::verb::post, "/token", "a");
    second.send(http::verb::post, "/token", "b");
    REQUIRE(server.wait_for_requests(2, 5s));
    server.hold_gate().open();
    CHECK(first.receive().body() == R"({"ok":true})");
    CHECK(second.receive().body() == R"({"ok":true})");
    // an open gate lets later requests straight through
    CHECK(first.request(http::verb::post, "/token", "c").result() == http::status::ok);
}

TEST_CASE("many held requests on separate connections are all answered once the gate opens")
{
    emu::server server;
    server.route(http::verb::get, "/held", emu::behaviours::hold(emu::make_response(http::status::ok, "released")));
    constexpr std::size_t count = 64;
    std::vector<std::unique_ptr<plain_client>> clients;
    for (std::size_t i = 0; i < count; ++i) {
        clients.push_back(std::make_unique<plain_client>(server));
        clients.back()->send(http::verb::get, "/held");
    }
    REQUIRE(server.wait_for_requests(count, 5s));
    CHECK(server.open_connection_count() == count);
    server.hold_gate().open();
    std::size_t answered = 0;
    for (auto& client : clients)
        answered += client->receive().body() == "released" ? 1 : 0;
    CHECK(answered == count);
    CHECK(server.connection_count() == count);
}

TEST_CASE("stop() while clients are connected, idle or mid-request")
{
    emu::server server;
    server.route(http::verb::get, "/hello", hello_handler());
    server.route(http::verb::get, "/held", emu::behaviours::hold(emu::make_response(http::status::ok, "never")));
    plain_client idle(server);
    CHECK(idle.request(http::verb::get, "/hello").body() == "hello");
    plain_client held(server);
    held.send(http::verb::get, "/held");
    plain_client half(server);
    half.send_raw("GET /hello HTTP/1.1\r\nHost: 12"); // never finishes its header
    REQUIRE(server.wait_for_requests(2, 5s));

    server.stop();
    CHECK(server.open_connection_count() == 0);
    server.stop(); // idempotent

    string_response response;
    CHECK(idle.receive(response) == http::error::end_of_stream);
    string_response held_response;
    const error_code ec = held.receive(held_response);
    CHECK((ec == http::error::end_of_stream || ec == asio::error::connection_reset));
}

TEST_CASE("clients that disconnect at any moment do not disturb the server")
{
    emu::server server;
    server.route(http::verb::get, "/hello", hello_handler());
    server.route(http::verb::get, "/drip", [](emu::exchange& ex) -> asio::awaitable<void> {
        co_await ex.async_write_chunked_header(http::status::ok, "text/plain");
        for (int i = 0; i < 100000; ++i) { // until the write fails because the client left
            co_await ex.async_write_chunk(std::string(1024, 'x'));
        }
        co_await ex.async_write_last_chunk();
    });
    { plain_client connect_only(server); }
    {
        plain_client half_request(server);
        half_request.send_raw("POST /hello HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc");
    }
    {
        plain_client leaves_mid_body(server);
        leaves_mid_body.send(http::verb::get, "/drip");
        http::response_parser<http::string_body> parser;
        http::read_header(leaves_mid_body.stream, leaves_mid_body.buffer, parser);
        CHECK(parser.get().result() == http::status::ok);
    }
    plain_client after(server);
    CHECK(after.request(http::verb::get, "/hello").body() == "hello");
    CHECK(server.connection_count() == 4);
    server.stop();
    CHECK(server.open_connection_count() == 0);
}

TEST_CASE("server_options::body_limit: a larger request body gets 413")
{
    emu::server_options options;
    options.body_limit = 16;
    emu::server server(options);
    server.route(http::verb::post, "/x", hello_handler());
    plain_client client(server);
    client.send(http::verb::post, "/x", std::string(17, 'a'));
    string_response response = client.receive();
    CHECK(response.result() == http::status::payload_too_large);
}

TEST_CASE("Expect: 100-continue is answered with exactly 100 Continue before the body is read")
{
    emu::server server; // expect_continue = answer by default
    server.route(http::verb::post, "/echo", echo_handler());
    std::string header;
    SUBCASE("as usually spelt") { header = "Expect: 100-continue\r\n"; }
    SUBCASE("in other letter case") { header = "expect: 100-Continue\r\n"; }
    plain_client client(server);
    client.send_raw("POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4\r\n" + header + "\r\n");
    // the body is not sent yet, so an answer that waited for it would time out here
    auto [ec, interim] = read_exactly(client, std::string_view("HTTP/1.1 100 Continue\r\n\r\n").size(), 5s);
    REQUIRE(ec == error_code{});
    CHECK(interim == "HTTP/1.1 100 Continue\r\n\r\n");
    client.send_raw("data");
    string_response response = client.receive(); // the next message is the final one
    CHECK(response.result() == http::status::ok);
    CHECK(response.body() == "data");
    auto log = server.requests();
    REQUIRE(log.size() == 1);
    CHECK(log[0].sent_continue);
    CHECK(log[0].body == "data");
}

TEST_CASE("100 Continue is not sent when expect_continue is ignore, without the header, or to HTTP/1.0")
{
    emu::server_options options;
    std::string request;
    SUBCASE("server_options::expect_continue = ignore")
    {
        options.expect_continue = emu::continue_policy::ignore;
        request = "POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\ndata";
    }
    SUBCASE("no Expect header")
    {
        request = "POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4\r\n\r\ndata";
    }
    SUBCASE("an HTTP/1.0 request, whose expectation a server must ignore")
    {
        request = "POST /echo HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\ndata";
    }
    emu::server server(options);
    server.route(http::verb::post, "/echo", echo_handler());
    plain_client client(server);
    client.send_raw(request);
    string_response response = client.receive(); // a 100 would be read here as the first message
    CHECK(response.result() == http::status::ok);
    CHECK(response.body() == "data");
    auto log = server.requests();
    REQUIRE(log.size() == 1);
    CHECK_FALSE(log[0].sent_continue);
    CHECK(log[0].body == "data");
}

TEST_CASE("behaviours::interim_then writes exactly the interim responses, then the final one, and keeps the connection")
{
    emu::server server;
    server.route(http::verb::get, "/hints",
                 emu::behaviours::interim_then({http::status::processing,
                                                {emu::early_hints, {{"Link", "</style.css>; rel=preload; as=style"},
                                                                    {"Link", "</app.js>; rel=preload; as=script"}}}},
                                               emu::make_response(http::status::ok, "ok")));
    const std::string interims = "HTTP/1.1 102 Processing\r\n\r\n"
                                 "HTTP/1.1 103 Early Hints\r\n"
                                 "Link: </style.css>; rel=preload; as=style\r\n"
                                 "Link: </app.js>; rel=preload; as=script\r\n"
                                 "\r\n";
    const std::string final_keep_alive = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok";
    plain_client client(server);
    client.send_raw("GET /hints HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    auto [first_ec, first] = read_exactly(client, interims.size() + final_keep_alive.size(), 5s);
    REQUIRE(first_ec == error_code{});
    CHECK(first == interims + final_keep_alive);

    client.send_raw("GET /hints HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    auto [second_ec, second] = read_to_end(client, 5s);
    CHECK(second_ec == asio::error::eof);
    CHECK(second == interims +
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    CHECK(server.connection_count() == 1);
}

TEST_CASE("interim responses: a status that is not 1xx, or 101, is rejected; so is HTTP/1.0")
{
    CHECK_THROWS_AS(emu::behaviours::interim_then({http::status::ok}, emu::make_response(http::status::ok, "")),
                    std::invalid_argument);
    CHECK_THROWS_AS(emu::behaviours::interim_then({http::status::switching_protocols}, emu::make_response(http::status::ok, "")),
                    std::invalid_argument);

    emu::server server;
    server.route(http::verb::get, "/final-status", [](emu::exchange& ex) -> asio::awaitable<void> {
        co_await ex.async_send_interim(http::status::no_content);
    });
    server.route(http::verb::get, "/hints", emu::behaviours::interim_then({emu::early_hints}, emu::make_response(http::status::ok, "ok")));
    {
        plain_client client(server);
        auto response = client.request(http::verb::get, "/final-status");
        CHECK(response.result() == http::status::internal_server_error);
        CHECK(response.body() ==
              R"x({"detail":"handler failed: takeoff-emulator: 204 is not an interim status (1xx other than 101)"})x");
    }
    {
        plain_client client(server);
        client.send_raw("GET /hints HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
        auto response = client.receive(); // the 500 comes first: no 103 precedes it
        CHECK(response.result() == http::status::internal_server_error);
        CHECK(response.body() ==
              R"({"detail":"handler failed: takeoff-emulator: exchange::async_send_interim on an HTTP/1.0 request"})");
    }
}

} // TEST_SUITE

TEST_SUITE("emulator.tls") {

TEST_CASE("TLS: the request log and the exchange hold the SNI name the client sent, empty without SNI")
{
    emu::certificate_authority authority;
    emu::server server(emu::server_options{authority.issue()});
    server.route(http::verb::get, "/sni", [](emu::exchange& ex) -> asio::awaitable<void> {
        auto response = emu::make_response(http::status::ok, "[" + std::string(ex.tls_server_name()) + "]");
        co_await ex.async_respond(std::move(response));
    });
    {
        tls_client client(server, authority.certificate_pem(), "localhost");
        REQUIRE(client.handshake() == error_code{});
        CHECK(client.request(http::verb::get, "/sni").body() == "[localhost]");
    }
    {
        tls_client client(server, authority.certificate_pem(), "127.0.0.1", /*send_sni=*/false);
        REQUIRE(client.handshake() == error_code{});
        CHECK(client.request(http::verb::get, "/sni").body() == "[]");
    }
    auto log = server.requests();
    REQUIRE(log.size() == 2);
    CHECK(log[0].tls_server_name == "localhost");
    CHECK(log[1].tls_server_name == "");

    emu::server plain;
    plain.route(http::verb::get, "/hello", hello_handler());
    plain_client client(plain);
    CHECK(client.request(http::verb::get, "/hello").body() == "hello");
    CHECK(plain.requests().at(0).tls_server_name == "");
}

TEST_CASE("HTTPS with the generated CA trusted, verify_peer, host name verification and SNI")
{
    emu::certificate_authority authority;
    emu::server server(emu::server_options{authority.issue()});
    server.route(http::verb::get, "/hello", hello_handler());
    CHECK(server.is_tls());
    CHECK(server.url() == "https://127.0.0.1:" + std::to_string(server.port()));

    SUBCASE("by IP address")
    {
        tls_client client(server, authority.certificate_pem(), "127.0.0.1");
        REQUIRE(client.handshake() == error_code{});
        CHECK(client.verify_result() == X509_V_OK);
        CHECK(client.request(http::verb::get, "/hello").body() == "hello");
        CHECK(client.request(http::verb::get, "/hello").body() == "hello");
        CHECK(server.connection_count() == 1);
    }
    SUBCASE("by DNS name")
    {
        tls_client client(server, authority.certificate_pem(), "localhost");
        REQUIRE(client.handshake() == error_code{});
        CHECK(client.request(http::verb::get, "/hello").body() == "hello");
    }
}

TEST_CASE("a certificate for another host name fails verification")
{
    emu::certificate_authority authority;
    emu::certificate_options options;
    options.common_name = "wrong.example";
    options.dns_names = {"wrong.example"};
    options.ip_addresses = {"127.0.0.2"};
    emu::server server(emu::server_options{authority.issue(options)});
    tls_client client(server, authority.certificate_pem(), "127.0.0.1");
    const error_code ec = client.handshake();
    CHECK(is_certificate_verify_failure(ec));
    INFO("verify result: " << std::string(X509_verify_cert_error_string(client.verify_result())));
    CHECK(client.verify_result() != X509_V_OK);
}

TEST_CASE("an expired certificate fails verification")
{
    emu::certificate_authority authority;
    emu::certificate_options options;
    options.validity = emu::validity_period::expired();
    emu::server server(emu::server_options{authority.issue(options)});
    tls_client client(server, authority.certificate_pem());
    CHECK(is_certificate_verify_failure(client.handshake()));
    CHECK(client.verify_result() == X509_V_ERR_CERT_HAS_EXPIRED);
}

TEST_CASE("a not-yet-valid certificate fails verification")
{
    emu::certificate_authority authority;
    emu::certificate_options options;
    options.validity = emu::validity_period::not_yet_valid();
    emu::server server(emu::server_options{authority.issue(options)});
    tls_client client(server, authority.certificate_pem());
    CHECK(is_certificate_verify_failure(client.handshake()));
    CHECK(client.verify_result() == X509_V_ERR_CERT_NOT_YET_VALID);
}

TEST_CASE("a certificate from an untrusted CA fails verification")
{
    emu::certificate_authority trusted;
    emu::certificate_authority other;
    emu::server server(emu::server_options{other.issue()});
    tls_client client(server, trusted.certificate_pem());
    CHECK(is_certificate_verify_failure(client.handshake()));
    CHECK(client.verify_result() == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

TEST_CASE("a self-signed certificate fails unless the client trusts that very certificate")
{
    emu::certificate_authority trusted;
    const emu::server_certificate self_signed = emu::make_self_signed_certificate();
    CHECK(self_signed.ca_certificate_pem == self_signed.certificate_pem);
    emu::server server(emu::server_options{self_signed});
    {
        tls_client client(server, trusted.certificate_pem());
        CHECK(is_certificate_verify_failure(client.handshake()));
        CHECK(client.verify_result() == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
    }
    {
        tls_client client(server, self_signed.ca_certificate_pem);
        CHECK(client.handshake() == error_code{});
    }
}

TEST_CASE("scripted behaviours over TLS")
{
    emu::certificate_authority authority;
    emu::server server(emu::server_options{authority.issue()});
    server.route(http::verb::get, "/drip", emu::behaviours::chunked_drip({"a", "bb", "ccc"}));
    server.route(http::verb::get, "/cut", emu::behaviours::close_mid_body(50, "short"));
    server.route(http::verb::get, "/hang", emu::behaviours::hang());
    tls_client client(server, authority.certificate_pem());
    REQUIRE(client.handshake() == error_code{});
    CHECK(client.request(http::verb::get, "/drip").body() == "abbccc");

    auto cut = make_request(server, http::verb::get, "/cut");
    http::write(*client.stream, cut);
    string_response response;
    error_code ec;
    http::read(*client.stream, client.buffer, response, ec);
    // no close_notify: OpenSSL reports the truncation before Beast sees the end of the body
    CHECK((ec == ssl::error::stream_truncated || ec == http::error::partial_message));

    tls_client hanging(server, authority.certificate_pem());
    REQUIRE(hanging.handshake() == error_code{});
    auto hang = make_request(server, http::verb::get, "/hang");
    http::write(*hanging.stream, hang);
    string_response never;
    CHECK(read_with_timeout(hanging.io, *hanging.stream, hanging.buffer, never, 100ms) == beast::error::timeout);
    server.stop();
    CHECK(server.open_connection_count() == 0);
}

TEST_CASE("certificate files written to a directory work with load_verify_file")
{
    temporary_directory directory;
    emu::certificate_authority authority;
    const emu::certificate_files files = authority.issue().write_files(directory.path, "emulator");
    CHECK(files.certificate == directory.path / "emulator.crt");
    CHECK(files.private_key == directory.path / "emulator.key");
    CHECK(files.ca_certificate == directory.path / "emulator-ca.crt");
    const auto key_permissions = std::filesystem::status(files.private_key).permissions();
    CHECK((key_permissions & (std::filesystem::perms::group_all | std::filesystem::perms::others_all)) ==
          std::filesystem::perms::none);

    std::ifstream certificate_in(files.certificate), key_in(files.private_key);
    std::string certificate_pem((std::istreambuf_iterator<char>(certificate_in)), {});
    std::string key_pem((std::istreambuf_iterator<char>(key_in)), {});
    emu::server server(emu::server_options{emu::tls_credentials(certificate_pem, key_pem)});
    server.route(http::verb::get, "/hello", hello_handler());

    tls_client client(server, "");
    client.context.load_verify_file(files.ca_certificate.string());
    // the context is read at handshake time, so the file-based trust anchor applies
    REQUIRE(client.handshake() == error_code{});
    CHECK(client.request(http::verb::get, "/hello").body() == "hello");
}

TEST_CASE("certificate and credential errors are reported clearly")
{
    emu::certificate_authority authority;
    emu::certificate_options bad_ip;
    bad_ip.ip_addresses = {"999.1.1.1"};
    CHECK_THROWS_WITH_AS(authority.issue(bad_ip),
                         doctest::Contains("999.1.1.1"), std::runtime_error);
    emu::certificate_options backwards;
    backwards.validity = {std::chrono::seconds{10}, std::chrono::seconds{-10}};
    CHECK_THROWS_AS(authority.issue(backwards), std::runtime_error);

    auto certificate = authority.issue();
    CHECK(certificate.certificate_pem.starts_with("-----BEGIN CERTIFICATE-----"));
    CHECK(certificate.private_key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    CHECK(certificate.ca_certificate_pem == authority.certificate_pem());
    CHECK_THROWS_WITH_AS(emu::server(emu::server_options{emu::tls_credentials(certificate.certificate_pem, "not a key")}),
                         doctest::Contains("takeoff-emulator"), std::runtime_error);
}

} // TEST_SUITE
