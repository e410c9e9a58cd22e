// http::client through a real HTTP proxy: tinyproxy (Debian package) on 127.0.0.1, started by the
// test (tests/support/tinyproxy.hpp, tests/http/tinyproxy.conf.in), in front of the emulator.
// The transport opens a CONNECT tunnel for https and for http targets alike; tinyproxy's log
// (read from its stderr) shows which CONNECTs it served, and the emulator's log what arrived.
#include <takeoff/http/client.hpp>
#include <takeoff_emulator/certificates.hpp>
#include <takeoff_emulator/server.hpp>

#include "../support/doctest_helpers.hpp"
#include "../support/tinyproxy.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

namespace {

namespace asio = boost::asio;
namespace http = takeoff::http;
namespace emu = takeoff::emulator;
namespace test = takeoff::test;
using boost::beast::http::status;
using boost::beast::http::verb;
using error_code = boost::system::error_code;
using takeoff::errc;

const std::filesystem::path tinyproxy_template = std::filesystem::path(__FILE__).parent_path() / "tinyproxy.conf.in";
const test::tinyproxy_server::credentials good{"takeoff", "s3cret"};

struct outcome {
    error_code ec;
    http::response response;
    takeoff::diagnostics diag;
};

// One request with `client`, on its io_context, driven by the test until it completes.
outcome fetch(asio::io_context& io, http::client& client, const std::string& url) {
    auto future = asio::co_spawn(
        io,
        [&]() -> asio::awaitable<outcome> {
            outcome out;
            auto [ec, response] = co_await client.async_request(http::request::get(boost::urls::url(url)),
                                                                out.diag,
                                                                asio::as_tuple(asio::deferred));
            out.ec = ec;
            out.response = std::move(response);
            co_return out;
        },
        asio::use_future);
    io.restart();
    io.run();
    return future.get();
}

// One request from a new client.
outcome request(http::client_options options, const std::string& url) {
    asio::io_context io;
    http::client client(io.get_executor(), std::move(options));
    return fetch(io, client, url);
}

http::proxy_settings proxy_at(const std::string& url) {
    auto parsed = http::parse_proxy_url(url);
    REQUIRE(parsed.has_value());
    return *parsed;
}

// An HTTPS emulator with a certificate for 127.0.0.1 from ca (the other options keep their defaults).
emu::server_options https(const emu::certificate_authority& ca) {
    emu::server_options options;
    options.tls.emplace(ca.issue());
    return options;
}

// Trusts the emulator's CA only; no retries, so that a test sees the first failure.
http::client_options base_options(const emu::certificate_authority& ca) {
    http::client_options options;
    options.tls.use_system_trust = false;
    options.tls.ca_pem = ca.certificate_pem();
    options.defaults.retries = http::retry_policy::none();
    return options;
}

// The request line tinyproxy logs for a CONNECT to server: "Request (file descriptor 5): CONNECT 127.0.0.1:PORT HTTP/1.1".
std::string connect_line(const emu::server& server) {
    return "): CONNECT 127.0.0.1:" + std::to_string(server.port()) + " ";
}

// Sets an environment variable for one scope, restoring what was there before.
class scoped_env {
public:
    scoped_env(const char* name, const std::string& value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        ::setenv(name, value.c_str(), 1);
    }
    scoped_env(const scoped_env&) = delete;
    scoped_env& operator=(const scoped_env&) = delete;
    ~scoped_env() {
        if (old_)
            ::setenv(name_, old_->c_str(), 1);
        else
            ::unsetenv(name_);
    }

private:
    const char* name_;
    std::optional<std::string> old_;
};

} // namespace

TEST_CASE("proxy: https through tinyproxy with Basic credentials, in a CONNECT tunnel that is reused") {
    emu::certificate_authority ca;
    emu::server server(https(ca));
    server.route(verb::get, "/hello", emu::behaviours::respond(status::ok, "hello through the tunnel"));
    test::tinyproxy_server proxy(tinyproxy_template, good);

    auto options = base_options(ca);
    http::proxy_config config;
    config.https_proxy = proxy_at(proxy.url(good));
    options.proxy = config;

    asio::io_context io;
    http::client client(io.get_executor(), options);
    for (int i = 0; i < 3; ++i) {
        CAPTURE(i);
        auto got = fetch(io, client, server.url() + "/hello");
        CAPTURE(got.diag.client_message());
        REQUIRE_FALSE(got.ec);
        CHECK(got.response.status == 200);
        CHECK(got.response.body == "hello through the tunnel");
    }
    CHECK(client.connections_opened() == 1);
    CHECK(server.request_count() == 3);
    CHECK(server.connection_count() == 1);
    const auto requests = server.requests();
    REQUIRE(requests.size() == 3);
    CHECK(requests[0].target == "/hello");
    // The credentials went to the proxy only, never through the tunnel.
    CHECK_FALSE(requests[0].header("proxy-authorization").has_value());
    REQUIRE(proxy.wait_for(connect_line(server)));
    CHECK(proxy.count("): CONNECT ") == 1);
}

TEST_CASE("proxy: wrong or missing proxy credentials give errc::proxy_error with the proxy's status") {
    emu::certificate_authority ca;
    emu::server server(https(ca));
    server.route(verb::get, "/", emu::behaviours::respond(status::ok, "never"));
    test::tinyproxy_server proxy(tinyproxy_template, good);

    // tinyproxy 1.11 answers a CONNECT without Proxy-Authorization with 407, and one with wrong
    // credentials with 401 (its own choice); the client reports whichever status the proxy sent.
    struct bad_case {
        std::string url;
        unsigned status;
    };
    for (const auto& c : {bad_case{proxy.url(), 407},
                          bad_case{proxy.url(test::tinyproxy_server::credentials{"takeoff", "wrong"}), 401}}) {
        CAPTURE(c.url);
        auto options = base_options(ca);
        http::proxy_config config;
        config.https_proxy = proxy_at(c.url);
        options.proxy = config;
        auto got = request(options, server.url() + "/");
        CAPTURE(got.diag.client_message());
        CHECK(got.ec == errc::proxy_error);
        CHECK(got.diag.http_status() == c.status);
        CHECK(got.diag.client_message().find("refused") != std::string::npos);
        // The password never shows in what the client says.
        CHECK(got.diag.client_message().find("wrong") == std::string::npos);
    }
    CHECK(server.request_count() == 0);
    CHECK(server.connection_count() == 0);
}

TEST_CASE("proxy: a NO_PROXY entry for 127.0.0.1 sends the request directly") {
    emu::certificate_authority ca;
    emu::server server(https(ca));
    server.route(verb::get, "/direct", emu::behaviours::respond(status::ok, "direct"));
    server.route(verb::get, "/proxied", emu::behaviours::respond(status::ok, "proxied"));
    test::tinyproxy_server proxy(tinyproxy_template);

    auto options = base_options(ca);
    http::proxy_config config;
    config.https_proxy = proxy_at(proxy.url());
    config.no_proxy = {"127.0.0.1"};
    options.proxy = config;
    auto direct = request(options, server.url() + "/direct");
    CAPTURE(direct.diag.client_message());
    CAPTURE(direct.response.body);
    REQUIRE_FALSE(direct.ec);
    CHECK(direct.response.body == "direct");

    // Then one request that does use the proxy. tinyproxy logs a CONNECT before answering it, so
    // once the line of this one is read, the log holds every earlier CONNECT too: it is the only one.
    config.no_proxy.clear();
    options.proxy = config;
    auto proxied = request(options, server.url() + "/proxied");
    REQUIRE_FALSE(proxied.ec);
    CHECK(proxied.response.body == "proxied");
    REQUIRE(proxy.wait_for(connect_line(server)));
    CHECK(proxy.count("): CONNECT ") == 1);
    CHECK(proxy.count("Connect (file descriptor") == 1);
    CHECK(server.request_count() == 2);
    CHECK(server.connection_count() == 2);
}

TEST_CASE("proxy: plain http targets go through the proxy in a CONNECT tunnel too") {
    emu::server server;
    server.route(verb::get, "/plain", emu::behaviours::respond(status::ok, "plain"));
    test::tinyproxy_server proxy(tinyproxy_template, good);

    http::client_options options;
    options.defaults.retries = http::retry_policy::none();
    http::proxy_config config;
    config.http_proxy = proxy_at(proxy.url(good));
    options.proxy = config;
    auto got = request(options, server.url() + "/plain?x=1");
    REQUIRE_FALSE(got.ec);
    CHECK(got.response.body == "plain");
    const auto requests = server.requests();
    REQUIRE(requests.size() == 1);
    CHECK(requests[0].target == "/plain?x=1"); // origin-form inside the tunnel
    CHECK_FALSE(requests[0].header("proxy-authorization").has_value());
    REQUIRE(proxy.wait_for(connect_line(server)));
    CHECK(proxy.count("): CONNECT ") == 1);
}

TEST_CASE("proxy: HTTPS_PROXY from the environment is not used for a loopback target") {
    emu::certificate_authority ca;
    emu::server server(https(ca));
    server.route(verb::get, "/env", emu::behaviours::respond(status::ok, "from env"));
    test::tinyproxy_server proxy(tinyproxy_template, good);

    // Both spellings, as the lowercase one would win over HTTPS_PROXY; restored at the end.
    const scoped_env upper("HTTPS_PROXY", proxy.url(good));
    const scoped_env lower("https_proxy", proxy.url(good));
    const scoped_env no_proxy_upper("NO_PROXY", "");
    const scoped_env no_proxy_lower("no_proxy", "");
    auto got = request(base_options(ca), server.url() + "/env");
    REQUIRE_FALSE(got.ec);
    CHECK(got.response.body == "from env");
    CHECK(server.request_count() == 1);
    CHECK(proxy.count("): CONNECT ") == 0); // tinyproxy logs a CONNECT before it answers it
}
