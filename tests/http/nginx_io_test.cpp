// http::client against a real peer: nginx (Debian's nginx-light) terminating TLS in front of the
// emulator (plain HTTP upstream), all on 127.0.0.1. nginx is started from
// tests/http/nginx-tls-proxy.conf.in with certificates from the test CA, which the client trusts
// through client_options.tls.ca_pem. The client runs on a local io_context driven by the test;
// nothing sleeps: the emulator's hold gate orders the SSE test.
#include <takeoff/http/client.hpp>
#include <takeoff/sse/parser.hpp>
#include <takeoff_emulator/certificates.hpp>
#include <takeoff_emulator/server.hpp>

#include "../support/doctest_helpers.hpp"
#include "../support/nginx.hpp"
#include "../support/process.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_future.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <array>
#include <atomic>
#include <filesystem>
#include <future>
#include <optional>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace http = takeoff::http;
namespace emu = takeoff::emulator;
namespace test = takeoff::test;
using boost::beast::http::status;
using boost::beast::http::verb;
using error_code = boost::system::error_code;

const std::filesystem::path tests_http_dir = std::filesystem::path(__FILE__).parent_path();

// nginx terminating TLS with `certificate` in front of `upstream`. The certificate files live in a
// directory of their own, written before nginx starts; both go away with this object (nginx first).
class tls_nginx {
public:
    tls_nginx(const emu::server& upstream, const emu::server_certificate& certificate)
        : certificates_("takeoff-nginx-certs"),
          files_(certificate.write_files(certificates_.path(), "nginx")),
          nginx_(tests_http_dir / "nginx-tls-proxy.conf.in",
                 {{"UPSTREAM_PORT", std::to_string(upstream.port())},
                  {"CERT", files_.certificate.string()},
                  {"KEY", files_.private_key.string()}}) {}

    std::string url(std::string_view path) const {
        return "https://127.0.0.1:" + std::to_string(nginx_.port()) + std::string(path);
    }

private:
    test::temp_directory certificates_;
    emu::certificate_files files_;
    test::nginx_server nginx_;
};

// The client trusts the test CA only, ignores any proxy of the environment, and does not retry
// (a test must see the first failure).
http::client_options trusting(const emu::certificate_authority& ca) {
    http::client_options options;
    options.tls.use_system_trust = false;
    options.tls.ca_pem = ca.certificate_pem();
    options.proxy = http::proxy_config{};
    options.defaults.retries = http::retry_policy::none();
    return options;
}

// Runs `body` as a coroutine on io until it finishes, and returns what it returned.
template <class T, class Body>
T run(asio::io_context& io, Body body) {
    auto future = asio::co_spawn(io, std::move(body), asio::use_future);
    io.restart();
    io.run();
    return future.get();
}

struct outcome {
    error_code ec;
    http::response response;
    takeoff::diagnostics diag;
};

outcome request(asio::io_context& io, http::client& client, http::request req) {
    return run<outcome>(io, [&]() -> asio::awaitable<outcome> {
        outcome out;
        auto [ec, response] = co_await client.async_request(std::move(req), out.diag,
                                                            asio::as_tuple(asio::deferred));
        out.ec = ec;
        out.response = std::move(response);
        co_return out;
    });
}

} // namespace

TEST_CASE("nginx: sequential requests reuse one client-to-nginx TLS connection") {
    emu::certificate_authority ca;
    emu::server upstream;
    upstream.route(verb::get, "/status", emu::behaviours::respond_json(status::ok, R"({"live":true})"));
    upstream.route(verb::post, "/echo", [](emu::exchange& ex) -> asio::awaitable<void> {
        co_await ex.async_respond(emu::make_json_response(status::ok, ex.request().body()));
    });
    tls_nginx nginx(upstream, ca.issue());
    asio::io_context io;
    http::client client(io.get_executor(), trusting(ca));

    for (int i = 0; i < 5; ++i) {
        CAPTURE(i);
        auto got = request(io, client, http::request::get(boost::urls::url(nginx.url("/status"))));
        REQUIRE_FALSE(got.ec);
        CHECK(got.response.status == 200);
        CHECK(got.response.body == R"({"live":true})");
        const std::string body = R"({"n":)" + std::to_string(i) + "}";
        got = request(io, client, http::request::post(boost::urls::url(nginx.url("/echo")), body, "application/json"));
        REQUIRE_FALSE(got.ec);
        CHECK(got.response.body == body);
    }
    CHECK(client.connections_opened() == 1);
    CHECK(client.idle_connections() == 1);
    CHECK(upstream.request_count() == 10);
}

TEST_CASE("nginx: a chunked SSE response passes through unbuffered and is read as it arrives") {
    emu::certificate_authority ca;
    emu::server upstream;
    std::atomic<bool> upstream_finished{false};
    // The first event, then nothing until the test opens the hold gate, which it does only after
    // it has parsed the first event: so that event crossed nginx while the upstream response was
    // still open.
    upstream.route(verb::get, "/events", [&](emu::exchange& ex) -> asio::awaitable<void> {
        co_await ex.async_write_chunked_header(status::ok, "text/event-stream");
        co_await ex.async_write_chunk("id: 1\nevent: token\ndata: first\n\n");
        co_await ex.async_wait_released();
        co_await ex.async_write_chunk("data: second\ndata: line\n\n");
        co_await ex.async_write_chunk(": keep-alive\n\nid: 3\ndata: third\n\n");
        upstream_finished = true; // before the last chunk, which the client waits for
        co_await ex.async_write_last_chunk();
    });
    tls_nginx nginx(upstream, ca.issue());
    asio::io_context io;
    http::client client(io.get_executor(), trusting(ca));

    struct seen {
        std::string type, data, id;
        bool upstream_finished_then = false;
    };
    struct stream_outcome {
        error_code open_ec, end_ec;
        unsigned status = 0;
        std::string content_type;
        std::vector<seen> events;
    };
    auto got = run<stream_outcome>(io, [&]() -> asio::awaitable<stream_outcome> {
        stream_outcome out;
        takeoff::diagnostics diag;
        // Were nginx to buffer, nothing (a buffering nginx sends not even the header) would come
        // before the gate opens: these timeouts then fail the test in seconds instead of a minute.
        http::request_options options;
        options.timeouts.header_read = std::chrono::seconds(10);
        options.timeouts.body_read = std::chrono::seconds(10);
        auto [ec, body] = co_await client.async_open(http::request::get(boost::urls::url(nginx.url("/events"))),
                                                     options, diag, asio::as_tuple(asio::deferred));
        out.open_ec = ec;
        if (ec) co_return out;
        out.status = body.status();
        out.content_type = std::string(body.headers()[boost::beast::http::field::content_type]);
        takeoff::sse::parser parser;
        std::array<char, 256> buffer{};
        for (;;) {
            auto [read_ec, n] = co_await body.async_read_some(asio::buffer(buffer), asio::as_tuple(asio::deferred));
            std::string_view chunk(buffer.data(), n);
            error_code parse_ec;
            while (auto event = parser.next(chunk, parse_ec)) {
                out.events.push_back({std::string(event->type), std::string(event->data), std::string(event->id),
                                      upstream_finished.load()});
                if (out.events.size() == 1) upstream.hold_gate().open();
            }
            if (parse_ec) out.end_ec = parse_ec;
            if (read_ec) {
                out.end_ec = read_ec;
                break;
            }
        }
        parser.finish();
        co_return out;
    });

    REQUIRE_FALSE(got.open_ec);
    CHECK(got.status == 200);
    CHECK(got.content_type == "text/event-stream");
    CHECK(got.end_ec == asio::error::eof);
    REQUIRE(got.events.size() == 3);
    CHECK(got.events[0].type == "token");
    CHECK(got.events[0].data == "first");
    CHECK(got.events[0].id == "1");
    CHECK_FALSE(got.events[0].upstream_finished_then);
    CHECK(got.events[1].type == "message");
    CHECK(got.events[1].data == "second\nline");
    CHECK(got.events[1].id == "1");
    CHECK(got.events[2].data == "third");
    CHECK(got.events[2].id == "3");
    CHECK(upstream_finished);
    // Read to its end, the connection went back to the pool.
    CHECK(client.idle_connections() == 1);
}

TEST_CASE("nginx: certificates for another host, expired or from an unknown CA are refused with the reason") {
    emu::certificate_authority ca;
    emu::server upstream;
    upstream.route(verb::get, "/", emu::behaviours::respond(status::ok, "never"));

    struct bad_case {
        const char* name;
        emu::server_certificate certificate;
        const char* reason;
    };
    emu::certificate_options wrong_host;
    wrong_host.dns_names = {"wrong.example"};
    wrong_host.ip_addresses = {"10.9.8.7"};
    emu::certificate_options expired;
    expired.validity = emu::validity_period::expired();
    emu::certificate_authority unknown;
    // The target is the IP literal 127.0.0.1 (tests use no other address), so OpenSSL checks the
    // certificate's IP entries and names the failure "IP address mismatch" (X509_V_ERR_IP_ADDRESS_MISMATCH),
    // its host-name mismatch for IP targets.
    const std::vector<bad_case> cases{
        {"wrong host", ca.issue(wrong_host), "IP address mismatch"},
        {"expired", ca.issue(expired), "certificate has expired"},
        {"unknown CA", unknown.issue(), "unable to get local issuer certificate"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        tls_nginx nginx(upstream, c.certificate);
        asio::io_context io;
        http::client client(io.get_executor(), trusting(ca));
        auto got = request(io, client, http::request::get(boost::urls::url(nginx.url("/"))));
        REQUIRE(got.ec);
        CHECK(got.ec.category() == asio::error::get_ssl_category());
        CHECK(ERR_GET_REASON(static_cast<unsigned long>(got.ec.value())) == SSL_R_CERTIFICATE_VERIFY_FAILED);
        CHECK(got.diag.client_message().find(c.reason) != std::string::npos);
        CHECK(got.diag.client_message().find("TLS certificate verification failed") != std::string::npos);
        CHECK(client.connections_opened() == 0);
        CHECK(client.idle_connections() == 0);
    }
    CHECK(upstream.request_count() == 0);
}
