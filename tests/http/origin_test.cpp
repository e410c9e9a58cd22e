#include <takeoff/http/origin.hpp>

#include "../support/doctest_helpers.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <cstdint>
#include <functional>
#include <sstream>
#include <string_view>
#include <unordered_set>

using takeoff::http::origin;
using takeoff::http::origin_of;
using takeoff::http::scheme;

namespace {

origin must_parse(std::string_view text) {
    auto o = origin_of(boost::urls::url_view(text));
    REQUIRE_MESSAGE(o.has_value(), text);
    return *o;
}

} // namespace

TEST_CASE("origin_of takes scheme, lowercase host and the default port") {
    const origin o = must_parse("https://API.Example.COM/v1/generate?x=1#frag");
    CHECK(o.scheme == scheme::https);
    CHECK(o.host == "api.example.com");
    CHECK(o.port == 443);
    CHECK(o == origin{scheme::https, "api.example.com", 443});
    CHECK(o.to_string() == "https://api.example.com:443");
    CHECK(host_header(o) == "api.example.com");
    CHECK(authority_form(o) == "api.example.com:443");

    const origin h = must_parse("http://example.com");
    CHECK(h == origin{scheme::http, "example.com", 80});
    CHECK(h.to_string() == "http://example.com:80");
    CHECK(host_header(h) == "example.com");
}

TEST_CASE("origin_of reads the scheme case-insensitively and ignores userinfo, path and query") {
    CHECK(must_parse("HTTPS://example.com/") == origin{scheme::https, "example.com", 443});
    CHECK(must_parse("HtTp://example.com/") == origin{scheme::http, "example.com", 80});
    CHECK(must_parse("https://user:pw@example.com/a/b?c#d") == origin{scheme::https, "example.com", 443});
}

TEST_CASE("explicit, default and empty ports") {
    const origin o = must_parse("http://example.com:8080/x");
    CHECK(o.port == 8080);
    CHECK(host_header(o) == "example.com:8080");
    CHECK(o.to_string() == "http://example.com:8080");
    CHECK(must_parse("http://example.com:80/") == must_parse("http://example.com/"));
    CHECK(must_parse("https://example.com:443/") == must_parse("https://example.com"));
    CHECK(must_parse("http://example.com:/") == origin{scheme::http, "example.com", 80});
    CHECK(must_parse("https://example.com:80/").port == 80);
    CHECK(host_header(must_parse("https://example.com:80/")) == "example.com:80");
    CHECK(must_parse("http://example.com:65535/").port == 65535);
    CHECK(must_parse("http://example.com:00080/").port == 80);
    CHECK(must_parse("http://example.com:443/") != must_parse("https://example.com:443/"));
}

TEST_CASE("IPv4 and IPv6 literal hosts") {
    const origin v4 = must_parse("http://127.0.0.1:3000/");
    CHECK(v4 == origin{scheme::http, "127.0.0.1", 3000});
    CHECK(host_header(v4) == "127.0.0.1:3000");

    const origin v6 = must_parse("http://[::1]:8080/path");
    CHECK(v6.host == "::1");
    CHECK(v6.port == 8080);
    CHECK(takeoff::http::is_ipv6_literal(v6.host));
    CHECK(host_header(v6) == "[::1]:8080");
    CHECK(authority_form(v6) == "[::1]:8080");
    CHECK(v6.to_string() == "http://[::1]:8080");

    const origin v6_default = must_parse("https://[0:0::1]/");
    CHECK(v6_default == origin{scheme::https, "::1", 443});
    CHECK(host_header(v6_default) == "[::1]");
    CHECK(authority_form(v6_default) == "[::1]:443");
    CHECK(must_parse("https://[FE80::A]/").host == "fe80::a");
    CHECK(must_parse("https://[2001:DB8:0:0:0:0:0:1]/").host == "2001:db8::1");
}

TEST_CASE("origin_of decodes percent-encoded host characters") {
    CHECK(must_parse("https://www%2Droot.Example.com/").host == "www-root.example.com");
    CHECK(must_parse("https://xn--bcher-kva.example/").host == "xn--bcher-kva.example");
}

TEST_CASE("origin_of rejects what is not an http(s) origin") {
    const auto invalid = takeoff::make_error_code(takeoff::errc::invalid_url);
    for (std::string_view bad : {"ftp://example.com/", "ws://example.com/", "mailto:a@example.com", "http:/path",
                                 "http:path", "/relative/path", "//example.com/x", "http:///x", "http://:80/",
                                 "http://example.com:0/", "http://example.com:65536/",
                                 "http://example.com:99999999999999999999/", "http://[v1.abc]/",
                                 "http://exa%20mple.com/", "http://example.com%0D%0AX-Injected:1/",
                                 "http://ex%2Fample.com/", "http://b%C3%BCcher.example/", "http://a!b.example/",
                                 "https://user@api.example.com@evil.example/", "http://a@b@c:80/x"}) {
        CAPTURE(bad);
        auto u = boost::urls::parse_uri_reference(bad);
        REQUIRE(u.has_value());
        auto o = origin_of(*u);
        REQUIRE(o.has_error());
        CHECK(o.error() == invalid);
    }
}

TEST_CASE("parse_port: decimal 1..65535, leading zeros allowed, nothing else") {
    using takeoff::http::detail::parse_port;
    static_assert(parse_port("443") == std::uint16_t{443});
    CHECK(parse_port("1") == std::uint16_t{1});
    CHECK(parse_port("8080") == std::uint16_t{8080});
    CHECK(parse_port("65535") == std::uint16_t{65535});
    CHECK(parse_port("00080") == std::uint16_t{80});
    CHECK(parse_port("0000000000000000000443") == std::uint16_t{443});
    CHECK_FALSE(parse_port("").has_value());
    CHECK_FALSE(parse_port("0").has_value());
    CHECK_FALSE(parse_port("000").has_value());
    CHECK_FALSE(parse_port("65536").has_value());
    CHECK_FALSE(parse_port("99999999999999999999").has_value()); // no wrap-around back into range
    CHECK_FALSE(parse_port("4294967376").has_value());           // 2^32 + 80
    CHECK_FALSE(parse_port("+80").has_value());
    CHECK_FALSE(parse_port("-1").has_value());
    CHECK_FALSE(parse_port(" 80").has_value());
    CHECK_FALSE(parse_port("80 ").has_value());
    CHECK_FALSE(parse_port("8o").has_value());
    CHECK_FALSE(parse_port("http").has_value());
}

TEST_CASE("std::hash<origin>: equal origins hash equal; scheme and port change the hash") {
    const std::hash<origin> hash;
    const origin base{scheme::https, "example.com", 443};
    CHECK(hash(must_parse("https://EXAMPLE.com:443/x")) == hash(base));
    // For a fixed host the hash is one-to-one in (scheme, port), so these cannot collide.
    CHECK(hash(origin{scheme::http, "example.com", 443}) != hash(base));
    CHECK(hash(origin{scheme::https, "example.com", 444}) != hash(base));
    CHECK(hash(origin{scheme::http, "example.com", 80}) != hash(origin{scheme::https, "example.com", 80}));
}

TEST_CASE("origins hash, order and print") {
    std::unordered_set<origin> pool;
    pool.insert(must_parse("https://Example.com/a"));
    pool.insert(must_parse("https://example.com:443/b"));
    pool.insert(must_parse("http://example.com/"));
    pool.insert(must_parse("https://example.com:8443/"));
    CHECK(pool.size() == 3);
    CHECK(pool.count(origin{scheme::https, "example.com", 443}) == 1);
    CHECK(std::hash<origin>{}(must_parse("https://EXAMPLE.com")) ==
          std::hash<origin>{}(origin{scheme::https, "example.com", 443}));

    CHECK(origin{scheme::http, "b", 80} < origin{scheme::https, "a", 80});
    CHECK(origin{scheme::https, "a", 443} < origin{scheme::https, "b", 80});
    CHECK(origin{scheme::https, "a", 80} < origin{scheme::https, "a", 443});

    std::ostringstream os;
    os << must_parse("https://[::1]:9000/");
    CHECK(os.str() == "https://[::1]:9000");
    CHECK(takeoff::http::to_string(scheme::http) == "http");
    CHECK(takeoff::http::default_port(scheme::https) == 443);
}
