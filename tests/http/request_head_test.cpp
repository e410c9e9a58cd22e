#include <takeoff/http/detail/request_head.hpp>

#include "../support/doctest_helpers.hpp"

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <string>
#include <string_view>
#include <utility>

using takeoff::diagnostics;
using takeoff::errc;
using takeoff::http::detail::append_request_head;
namespace bhttp = boost::beast::http;

namespace {

// Parses what append_request_head wrote (plus body) with Beast's own request parser.
bhttp::request<bhttp::string_body> parse(const std::string& wire) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.eager(true);
    boost::system::error_code ec;
    const auto used = parser.put(boost::asio::buffer(wire), ec);
    REQUIRE_FALSE(ec);
    REQUIRE(used == wire.size());
    REQUIRE(parser.is_done());
    return parser.release();
}

} // namespace

TEST_CASE("request head: request line, Host first, the caller's headers, User-Agent and Content-Length") {
    takeoff::http::fields headers;
    headers.set(bhttp::field::content_type, "application/json");
    headers.set("X-Request-Id", "abc");
    diagnostics diag;
    std::string out = "leftover";
    REQUIRE_FALSE(append_request_head(out, bhttp::verb::post, "/generate?x=1", "api.example.com:8443", headers,
                                      "takeoff-cpp/1", 7, diag));
    CHECK(out == "leftover"
                 "POST /generate?x=1 HTTP/1.1\r\n"
                 "Host: api.example.com:8443\r\n"
                 "Content-Type: application/json\r\n"
                 "X-Request-Id: abc\r\n"
                 "User-Agent: takeoff-cpp/1\r\n"
                 "Content-Length: 7\r\n"
                 "\r\n");

    const auto message = parse(out.substr(8) + "{\"a\":1}");
    CHECK(message.method() == bhttp::verb::post);
    CHECK(message.target() == "/generate?x=1");
    CHECK(message[bhttp::field::host] == "api.example.com:8443");
    CHECK(message.body() == "{\"a\":1}");
    CHECK(message.keep_alive()); // HTTP/1.1 without Connection: close
}

TEST_CASE("request head: framing headers of the caller are dropped; the caller's User-Agent wins") {
    takeoff::http::fields headers;
    headers.set(bhttp::field::host, "evil.example");
    headers.set(bhttp::field::content_length, "999");
    headers.set(bhttp::field::transfer_encoding, "chunked");
    headers.set(bhttp::field::connection, "close");
    headers.set(bhttp::field::user_agent, "mine/2");
    diagnostics diag;
    std::string out;
    REQUIRE_FALSE(append_request_head(out, bhttp::verb::get, "/", "h", headers, "takeoff-cpp/1", 0, diag));
    CHECK(out == "GET / HTTP/1.1\r\nHost: h\r\nUser-Agent: mine/2\r\n\r\n");
}

TEST_CASE("request head: Content-Length for a body, and for POST, PUT and PATCH even when empty") {
    diagnostics diag;
    const takeoff::http::fields none;
    for (const auto method : {bhttp::verb::post, bhttp::verb::put, bhttp::verb::patch}) {
        std::string out;
        REQUIRE_FALSE(append_request_head(out, method, "/", "h", none, "", 0, diag));
        CHECK(out.find("\r\nContent-Length: 0\r\n") != std::string::npos);
    }
    std::string get;
    REQUIRE_FALSE(append_request_head(get, bhttp::verb::get, "/", "h", none, "", 0, diag));
    CHECK(get == "GET / HTTP/1.1\r\nHost: h\r\n\r\n"); // no User-Agent when there is none to send
    std::string del;
    REQUIRE_FALSE(append_request_head(del, bhttp::verb::delete_, "/r", "h", none, "", 12345678901, diag));
    CHECK(del.find("\r\nContent-Length: 12345678901\r\n") != std::string::npos);
}

TEST_CASE("request head: header injection and unsendable targets are refused, leaving out untouched") {
    diagnostics diag;
    const takeoff::http::fields none;
    auto refused = [&](takeoff::http::fields headers, std::string_view target = "/", std::string_view host = "h") {
        std::string out = "kept";
        const auto ec = append_request_head(out, bhttp::verb::post, target, host, headers, "ua", 1, diag);
        CHECK(out == "kept");
        return ec == errc::invalid_argument;
    };
    takeoff::http::fields crlf;
    crlf.set("X-Token", "a\r\nX-Admin: yes");
    CHECK(refused(crlf));
    CHECK(diag.client_message().find("X-Token") != std::string::npos);
    takeoff::http::fields lf;
    lf.set("X-Token", "a\nb");
    CHECK(refused(lf));
    takeoff::http::fields nul;
    nul.set("X-Token", std::string("a\0b", 3));
    CHECK(refused(nul));
    takeoff::http::fields bad_name;
    bad_name.set("Bad Name", "v");
    CHECK(refused(bad_name));
    takeoff::http::fields colon;
    colon.set("X:Y", "v");
    CHECK(refused(colon));

    CHECK(refused(none, "relative"));
    CHECK(refused(none, ""));
    CHECK(refused(none, "/a b"));
    CHECK(refused(none, "/a\r\nb"));
    CHECK(refused(none, "/", "h\r\nX: y"));
}

TEST_CASE("request head: a header value with a control character other than HTAB, or DEL, is refused") {
    for (unsigned value = 0; value < 0x100; ++value) {
        CAPTURE(value);
        takeoff::http::fields headers;
        // (no string concatenation: g++ 12 -O3 warns on it, bug 105329)
        std::string field = "a?b";
        field[1] = static_cast<char>(value);
        headers.set("X-Value", field);
        diagnostics diag;
        std::string out = "kept";
        const auto ec = append_request_head(out, bhttp::verb::get, "/", "h", headers, "", 0, diag);
        if ((value < 0x20 && value != 0x09) || value == 0x7f) {
            CHECK(ec == errc::invalid_argument);
            CHECK(diag.client_message() == "the value of the request header 'X-Value' holds a control character");
            CHECK(out == "kept");
        } else { // HTAB, SP, VCHAR and obs-text (0x80-0xff) go out as they are
            REQUIRE_FALSE(ec);
            std::string expected = "keptGET / HTTP/1.1\r\nHost: h\r\nX-Value: a?b\r\n\r\n";
            expected[expected.size() - 6] = static_cast<char>(value);
            CHECK(out == expected);
        }
    }
}

TEST_CASE("request head: a Host or User-Agent with a control character is refused") {
    const takeoff::http::fields none;
    for (const auto& [host, user_agent] : {std::pair<std::string_view, std::string_view>{"h\x01", "ua"},
                                           std::pair<std::string_view, std::string_view>{"h", "ua\x7f"}}) {
        diagnostics diag;
        std::string out;
        CHECK(append_request_head(out, bhttp::verb::get, "/", host, none, user_agent, 0, diag) ==
              errc::invalid_argument);
        CHECK(diag.client_message() == "the Host or User-Agent value holds a control character");
        CHECK(out.empty());
    }
}

TEST_CASE("request head: tokens and field values") {
    using namespace takeoff::http::detail;
    CHECK(is_token("Content-Type"));
    CHECK(is_token("x!#$%&'*+-.^_`|~9"));
    CHECK_FALSE(is_token(""));
    CHECK_FALSE(is_token("a b"));
    CHECK_FALSE(is_token("a\"b"));
    CHECK_FALSE(is_token("caf\xc3\xa9"));
    CHECK(is_safe_field_value("Snowflake Token=\"abc\"\t, x"));
    CHECK(is_safe_field_value(""));
    CHECK_FALSE(is_safe_field_value("a\rb"));
}

TEST_CASE("request head: an attempt's extra fields follow the request's; credentials are left out when asked") {
    takeoff::http::fields headers;
    headers.set("Authorization", "Bearer a");
    headers.set("X-Trace", "1");
    headers.set("Cookie", "c=1");
    takeoff::http::fields extra;
    extra.set("X-SF-SPCS-Authorization", "Snowflake Token=\"t\"");
    extra.set("Proxy-Authorization", "Basic eDp5");
    extra.set("X-Extra", "2");
    extra.set("Content-Length", "99"); // framing fields are the transport's, from either set
    diagnostics diag;
    std::string kept;
    REQUIRE_FALSE(append_request_head(kept, bhttp::verb::get, "/", "h", headers, extra, false, "", 0, diag));
    CHECK(kept == "GET / HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer a\r\nX-Trace: 1\r\nCookie: c=1\r\n"
                  "X-SF-SPCS-Authorization: Snowflake Token=\"t\"\r\nProxy-Authorization: Basic eDp5\r\n"
                  "X-Extra: 2\r\n\r\n");
    std::string stripped;
    REQUIRE_FALSE(append_request_head(stripped, bhttp::verb::get, "/", "h", headers, extra, true, "", 0, diag));
    CHECK(stripped == "GET / HTTP/1.1\r\nHost: h\r\nX-Trace: 1\r\nX-Extra: 2\r\n\r\n");
    // An extra field that cannot be sent is refused like the request's own.
    takeoff::http::fields bad;
    bad.set("X-Bad", std::string("a\x01") + "b");
    std::string out = "kept";
    CHECK(append_request_head(out, bhttp::verb::get, "/", "h", headers, bad, false, "", 0, diag) == errc::invalid_argument);
    CHECK(out == "kept");
}

TEST_CASE("request head: the credential fields, in any case") {
    using takeoff::http::detail::is_credential_field;
    for (std::string_view name : {"Authorization", "authorization", "PROXY-AUTHORIZATION", "Cookie",
                                  "x-sf-spcs-authorization", "X-SF-SPCS-Authorization"})
        CHECK(is_credential_field(name));
    for (std::string_view name : {"X-Authorization", "Set-Cookie", "Cookies", "x-sf-spcs-authorizatio", ""})
        CHECK_FALSE(is_credential_field(name));
}
