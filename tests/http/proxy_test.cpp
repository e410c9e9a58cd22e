#include <takeoff/http/proxy.hpp>

#include "../support/doctest_helpers.hpp"

#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

using takeoff::http::origin;
using takeoff::http::parse_proxy_url;
using takeoff::http::proxy_config;
using takeoff::http::proxy_config_from_environment;
using takeoff::http::proxy_for;
using takeoff::http::proxy_settings;
using takeoff::http::scheme;

namespace {

using environment = std::map<std::string, std::string>;

proxy_config from(const environment& env) {
    return proxy_config_from_environment([&env](const char* name) -> std::optional<std::string> {
        const auto it = env.find(name);
        if (it == env.end()) return std::nullopt;
        return it->second;
    });
}

proxy_settings must_parse(std::string_view text) {
    auto p = parse_proxy_url(text);
    REQUIRE_MESSAGE(p.has_value(), text);
    return *p;
}

origin https_target(std::string host, std::uint16_t port = 443) { return {scheme::https, std::move(host), port}; }
origin http_target(std::string host, std::uint16_t port = 80) { return {scheme::http, std::move(host), port}; }

proxy_config with_no_proxy(std::vector<std::string> entries) {
    proxy_config c;
    c.https_proxy = must_parse("http://proxy.corp:3128");
    c.http_proxy = must_parse("http://proxy.corp:3128");
    c.no_proxy = std::move(entries);
    return c;
}

bool bypassed(const std::vector<std::string>& entries, const origin& target) {
    return takeoff::http::bypasses_proxy(entries, target);
}

} // namespace

TEST_CASE("parse_proxy_url reads scheme-less and http:// proxies") {
    const proxy_settings p = must_parse("http://proxy.example.com:3128");
    CHECK(p.proxy == origin{scheme::http, "proxy.example.com", 3128});
    CHECK_FALSE(p.username.has_value());
    CHECK(p.password.empty());
    CHECK_FALSE(p.has_credentials());

    CHECK(must_parse("proxy.example.com:3128") == p); // no scheme means http://
    CHECK(must_parse("  http://Proxy.Example.COM:3128/  ") == p);
    CHECK(must_parse("HTTP://proxy.example.com:3128/ignored/path") == p);
    CHECK(must_parse("proxy.example.com").proxy == origin{scheme::http, "proxy.example.com", 80});
    CHECK(must_parse("http://[::1]:3128").proxy == origin{scheme::http, "::1", 3128});
    CHECK(must_parse("127.0.0.1:8888").proxy == origin{scheme::http, "127.0.0.1", 8888});
}

TEST_CASE("parse_proxy_url percent-decodes user name and password") {
    const proxy_settings p = must_parse("http://alice:s%40cret@proxy.example.com:3128");
    REQUIRE(p.username.has_value());
    CHECK(*p.username == "alice");
    CHECK(p.password.reveal() == "s@cret");
    CHECK(p.has_credentials());

    const proxy_settings q = must_parse("%61l%69ce:p%3Aw%2F@proxy:1");
    CHECK(q.username == std::optional<std::string>("alice"));
    CHECK(q.password.reveal() == "p:w/");

    const proxy_settings user_only = must_parse("http://bob@proxy:8080");
    CHECK(user_only.username == std::optional<std::string>("bob"));
    CHECK(user_only.password.empty());
    CHECK(user_only.has_credentials());

    const proxy_settings empty_password = must_parse("http://bob:@proxy:8080");
    CHECK(empty_password.username == std::optional<std::string>("bob"));
    CHECK(empty_password.password.empty());

    CHECK_FALSE(must_parse("http://@proxy:8080").has_credentials());
}

TEST_CASE("parse_proxy_url rejects unsupported or invalid proxies, saying why") {
    const auto invalid = takeoff::make_error_code(takeoff::errc::invalid_url);
    struct bad_case {
        std::string_view value;
        std::string_view reason;
    };
    for (const bad_case& c : {
             bad_case{"https://proxy:3128", "https:// proxies (TLS to the proxy) are not supported; use http://"},
             bad_case{"socks5://proxy:1080", "only http:// proxies are supported"},
             bad_case{"socks5h://user:pw@proxy:1080", "only http:// proxies are supported"},
             bad_case{"http://user:p@ss@proxy:3128",
                      "the proxy URL is not a valid URL (characters such as '@' or ':' in the user name or "
                      "password must be percent-encoded)"},
             bad_case{"", "the proxy URL is empty"},
             bad_case{"   ", "the proxy URL is empty"},
             bad_case{"http://proxy:0", "the proxy URL has no valid host or port"},
             bad_case{"http://proxy:99999", "the proxy URL has no valid host or port"},
             bad_case{"http://", "the proxy URL has no valid host or port"},
             bad_case{"http://pro%0Dxy:3128", "the proxy URL has no valid host or port"},
         }) {
        CAPTURE(c.value);
        takeoff::diagnostics diag;
        const auto r = parse_proxy_url(c.value, diag);
        REQUIRE(r.has_error());
        CHECK(r.error() == invalid);
        CHECK(diag.client_message() == c.reason);
        CHECK(parse_proxy_url(c.value).error() == invalid);
    }
}

TEST_CASE("proxy settings never print the password") {
    const proxy_settings p = must_parse("http://alice:hunter2@proxy.example.com:3128");
    CHECK(p.to_string() == "http://alice:[redacted]@proxy.example.com:3128");
    std::ostringstream os;
    os << p;
    CHECK(os.str() == "http://alice:[redacted]@proxy.example.com:3128");
    CHECK(os.str().find("hunter2") == std::string::npos);
    CHECK(must_parse("http://proxy:3128").to_string() == "http://proxy:3128");
    CHECK(must_parse("http://bob@proxy:3128").to_string() == "http://bob@proxy:3128");
    CHECK(must_parse("http://[::1]:3128").to_string() == "http://[::1]:3128");
    proxy_settings password_only;
    password_only.proxy = origin{scheme::http, "proxy", 3128};
    password_only.password = takeoff::secret("hunter2");
    CHECK(password_only.to_string() == "http://:[redacted]@proxy:3128");
}

TEST_CASE("proxy_config_from_environment reads the four proxy variables") {
    const proxy_config c = from({{"HTTPS_PROXY", "http://secure-proxy:3128"},
                                 {"HTTP_PROXY", "plain-proxy:8080"},
                                 {"NO_PROXY", "localhost, .internal.example ,,10.0.0.0/8 "}});
    REQUIRE(c.https_proxy.has_value());
    CHECK(c.https_proxy->proxy == origin{scheme::http, "secure-proxy", 3128});
    REQUIRE(c.http_proxy.has_value());
    CHECK(c.http_proxy->proxy == origin{scheme::http, "plain-proxy", 8080});
    CHECK(c.no_proxy == std::vector<std::string>{"localhost", ".internal.example", "10.0.0.0/8"});
    CHECK(c.warnings.empty());

    const proxy_config nothing = from({});
    CHECK_FALSE(nothing.https_proxy);
    CHECK_FALSE(nothing.http_proxy);
    CHECK(nothing.no_proxy.empty());
    CHECK(nothing.warnings.empty());

    const proxy_config no_function = proxy_config_from_environment(takeoff::http::getenv_function{});
    CHECK_FALSE(no_function.https_proxy);
    [[maybe_unused]] const proxy_config process = proxy_config_from_environment(); // the real environment
}

TEST_CASE("the lowercase variable wins when both are set; blank counts as unset") {
    const proxy_config c = from({{"https_proxy", "http://lower:1"},
                                 {"HTTPS_PROXY", "http://upper:2"},
                                 {"http_proxy", "http://lower:3"},
                                 {"HTTP_PROXY", "http://upper:4"},
                                 {"no_proxy", "a.example"},
                                 {"NO_PROXY", "b.example"}});
    CHECK(c.https_proxy->proxy == origin{scheme::http, "lower", 1});
    CHECK(c.http_proxy->proxy == origin{scheme::http, "lower", 3});
    CHECK(c.no_proxy == std::vector<std::string>{"a.example"});

    const proxy_config blank = from({{"https_proxy", ""}, {"HTTPS_PROXY", "http://upper:2"}, {"no_proxy", " "},
                                     {"NO_PROXY", "b.example"}});
    CHECK(blank.https_proxy->proxy == origin{scheme::http, "upper", 2});
    CHECK(blank.no_proxy == std::vector<std::string>{"b.example"});
}

TEST_CASE("uppercase HTTP_PROXY is ignored under CGI (httpoxy)") {
    const proxy_config cgi = from({{"REQUEST_METHOD", "GET"}, {"HTTP_PROXY", "http://attacker:1"}});
    CHECK_FALSE(cgi.http_proxy.has_value());
    REQUIRE(cgi.warnings.size() == 1);
    CHECK(cgi.warnings[0] == "HTTP_PROXY ignored: REQUEST_METHOD is set (CGI), where HTTP_PROXY can come from a "
                             "request header; use http_proxy");
    const proxy_config cgi_lower = from({{"REQUEST_METHOD", "GET"}, {"http_proxy", "http://trusted:2"}});
    CHECK(cgi_lower.http_proxy->proxy == origin{scheme::http, "trusted", 2});
    CHECK(cgi_lower.warnings.empty());
    const proxy_config cgi_https = from({{"REQUEST_METHOD", "GET"}, {"HTTPS_PROXY", "http://p:3"}});
    CHECK(cgi_https.https_proxy->proxy == origin{scheme::http, "p", 3});
}

TEST_CASE("invalid proxy variables are ignored and reported without their values") {
    const proxy_config c = from({{"HTTPS_PROXY", "socks5://user:hunter2@socks:1080"},
                                 {"http_proxy", "https://user:hunter2@tls-proxy:443"}});
    CHECK_FALSE(c.https_proxy.has_value());
    CHECK_FALSE(c.http_proxy.has_value());
    REQUIRE(c.warnings.size() == 2);
    CHECK(c.warnings[0] == "HTTPS_PROXY ignored: only http:// proxies are supported");
    CHECK(c.warnings[1] ==
          "http_proxy ignored: https:// proxies (TLS to the proxy) are not supported; use http://");
    for (const auto& w : c.warnings) CHECK(w.find("hunter2") == std::string::npos);
    // The lowercase one wins even when invalid: no fallback to the uppercase one.
    const proxy_config d = from({{"https_proxy", "socks5://s:1"}, {"HTTPS_PROXY", "http://ok:2"}});
    CHECK_FALSE(d.https_proxy.has_value());
    CHECK(d.warnings.size() == 1);
}

TEST_CASE("proxy_for picks the proxy of the target's scheme") {
    proxy_config c;
    c.https_proxy = must_parse("http://secure:1");
    CHECK(proxy_for(c, https_target("api.example.com")) == c.https_proxy);
    CHECK_FALSE(proxy_for(c, http_target("api.example.com")).has_value());
    c.http_proxy = must_parse("http://plain:2");
    CHECK(proxy_for(c, http_target("api.example.com"))->proxy == origin{scheme::http, "plain", 2});
    CHECK_FALSE(proxy_for(proxy_config{}, https_target("api.example.com")).has_value());
}

TEST_CASE("NO_PROXY '*' bypasses every host") {
    CHECK_FALSE(proxy_for(with_no_proxy({"*"}), https_target("api.example.com")).has_value());
    CHECK_FALSE(proxy_for(with_no_proxy({"other", "*"}), http_target("10.1.2.3")).has_value());
    CHECK(bypassed({"*"}, https_target("::1")));
}

TEST_CASE("NO_PROXY domains match themselves and subdomains on label boundaries") {
    for (const char* entry : {"example.com", ".example.com", "*.example.com", "EXAMPLE.com", "example.com.",
                              " example.com "}) {
        CAPTURE(entry);
        CHECK(bypassed({entry}, https_target("example.com")));
        CHECK(bypassed({entry}, https_target("api.example.com")));
        CHECK(bypassed({entry}, http_target("a.b.example.com", 8080)));
        CHECK(bypassed({entry}, https_target("example.com.")));
        CHECK_FALSE(bypassed({entry}, https_target("badexample.com")));
        CHECK_FALSE(bypassed({entry}, https_target("example.com.evil.net")));
        CHECK_FALSE(bypassed({entry}, https_target("example.org")));
    }
    CHECK(proxy_for(with_no_proxy({"example.com"}), https_target("example.org")).has_value());
    CHECK_FALSE(proxy_for(with_no_proxy({"example.com"}), https_target("api.example.com")).has_value());
    CHECK_FALSE(bypassed({"."}, https_target("example.com")));
    CHECK_FALSE(bypassed({""}, https_target("example.com")));
}

TEST_CASE("NO_PROXY host:port entries match that port only") {
    CHECK(bypassed({"example.com:8443"}, https_target("example.com", 8443)));
    CHECK(bypassed({"example.com:8443"}, https_target("api.example.com", 8443)));
    CHECK_FALSE(bypassed({"example.com:8443"}, https_target("example.com")));
    CHECK(bypassed({"example.com:443"}, https_target("example.com"))); // the default port counts
    CHECK(bypassed({"10.0.0.1:80"}, http_target("10.0.0.1")));
    CHECK_FALSE(bypassed({"10.0.0.1:81"}, http_target("10.0.0.1")));
    CHECK(bypassed({"[::1]:8080"}, http_target("::1", 8080)));
    CHECK_FALSE(bypassed({"[::1]:8080"}, http_target("::1", 8081)));
    CHECK_FALSE(bypassed({"example.com:http"}, http_target("example.com"))); // invalid entries match nothing
    CHECK_FALSE(bypassed({"example.com:0"}, http_target("example.com")));
    CHECK_FALSE(bypassed({"example.com:65616"}, http_target("example.com", 80))); // 65536 + 80: no wrap
    CHECK(bypassed({"example.com:0080"}, http_target("example.com"))); // leading zeros, as in URLs
    CHECK_FALSE(bypassed({"[::1"}, http_target("::1")));
    CHECK_FALSE(bypassed({"[::1]x"}, http_target("::1")));
}

TEST_CASE("NO_PROXY IP literals match exactly, CIDR ranges by prefix") {
    CHECK(bypassed({"192.168.1.10"}, http_target("192.168.1.10")));
    CHECK_FALSE(bypassed({"192.168.1.10"}, http_target("192.168.1.11")));
    CHECK(bypassed({"10.0.0.0/8"}, https_target("10.1.2.3")));
    CHECK(bypassed({"10.0.0.0/8"}, https_target("10.255.255.255")));
    CHECK_FALSE(bypassed({"10.0.0.0/8"}, https_target("11.0.0.1")));
    CHECK_FALSE(bypassed({"10.0.0.0/8"}, https_target("10.example.com"))); // names never match addresses
    CHECK(bypassed({"192.168.1.0/24"}, https_target("192.168.1.200")));
    CHECK_FALSE(bypassed({"192.168.1.0/24"}, https_target("192.168.2.1")));
    CHECK(bypassed({"172.16.0.0/12"}, https_target("172.31.255.1")));
    CHECK_FALSE(bypassed({"172.16.0.0/12"}, https_target("172.32.0.1")));
    CHECK(bypassed({"192.168.1.7/32"}, https_target("192.168.1.7")));
    CHECK_FALSE(bypassed({"192.168.1.7/32"}, https_target("192.168.1.6")));
    CHECK(bypassed({"0.0.0.0/0"}, https_target("8.8.8.8")));
    CHECK_FALSE(bypassed({"0.0.0.0/0"}, https_target("example.com")));
    CHECK(bypassed({"10.1.2.3/8"}, https_target("10.9.9.9"))); // host bits in the entry are ignored
    CHECK_FALSE(bypassed({"10.0.0.0/33"}, https_target("10.0.0.1")));
    CHECK_FALSE(bypassed({"10.0.0.0/"}, https_target("10.0.0.1")));
    CHECK_FALSE(bypassed({"example.com/8"}, https_target("example.com")));
    CHECK_FALSE(bypassed({"3.4"}, https_target("1.2.3.4"))); // no suffix match on addresses

    CHECK(bypassed({"::1"}, http_target("::1")));
    CHECK(bypassed({"[::1]"}, http_target("::1")));
    CHECK(bypassed({"0:0::1"}, http_target("::1")));
    CHECK_FALSE(bypassed({"::1"}, http_target("::2")));
    CHECK(bypassed({"fd00::/8"}, https_target("fd12:3456::1")));
    CHECK(bypassed({"[fd00::]/8"}, https_target("fd12:3456::1")));
    CHECK_FALSE(bypassed({"fd00::/8"}, https_target("fe80::1")));
    CHECK(bypassed({"FE80::/10"}, https_target("febf::1")));
    CHECK_FALSE(bypassed({"fe80::/10"}, https_target("fec0::1")));
    CHECK_FALSE(bypassed({"fe80::/129"}, https_target("fe80::1")));
    CHECK_FALSE(bypassed({"::/0"}, https_target("10.0.0.1")));  // families never mix
    CHECK_FALSE(bypassed({"0.0.0.0/0"}, https_target("::1")));
    CHECK(bypassed({"::/0"}, https_target("2001:db8::1")));
}

TEST_CASE("a proxy from the environment is never used for loopback targets") {
    const proxy_config c = from({{"HTTPS_PROXY", "http://proxy.corp:3128"}, {"HTTP_PROXY", "http://proxy.corp:3128"}});
    CHECK(c.from_environment);
    CHECK(c.no_proxy.empty());
    for (const char* host : {"127.0.0.1", "127.5.6.7", "127.255.255.255", "::1", "[::1]", "::ffff:127.0.0.1",
                             "localhost", "LOCALHOST", "LocalHost.", "a.localhost", "api.dev.LOCALHOST"}) {
        CAPTURE(host);
        CHECK_FALSE(proxy_for(c, https_target(host)).has_value());
        CHECK_FALSE(proxy_for(c, http_target(host, 8080)).has_value());
    }
    for (const char* host : {"128.0.0.1", "126.255.255.255", "10.127.0.1", "::2", "::ffff:128.0.0.1",
                             "example.com", "localhost.example.com", "mylocalhost", "localhostx", "127.0.0.1.nip.io"}) {
        CAPTURE(host);
        REQUIRE(proxy_for(c, https_target(host)).has_value());
        CHECK(proxy_for(c, https_target(host))->proxy == origin{scheme::http, "proxy.corp", 3128});
    }
    // Even with no environment function: the origin of the config is what counts.
    CHECK(proxy_config_from_environment(takeoff::http::getenv_function{}).from_environment);
}

TEST_CASE("an explicit proxy_config applies to loopback targets") {
    const proxy_config c = with_no_proxy({});
    CHECK_FALSE(c.from_environment);
    REQUIRE(proxy_for(c, http_target("127.0.0.1", 8080)).has_value());
    CHECK(proxy_for(c, http_target("127.0.0.1", 8080))->proxy == origin{scheme::http, "proxy.corp", 3128});
    CHECK(proxy_for(c, https_target("localhost")).has_value());
    CHECK(proxy_for(c, https_target("a.localhost")).has_value());
}

TEST_CASE("an explicit proxy_config: loopback targets use the proxy unless NO_PROXY lists them") {
    const proxy_config c = with_no_proxy({});
    CHECK(proxy_for(c, http_target("127.0.0.1", 8080)).has_value());
    CHECK(proxy_for(c, http_target("localhost")).has_value());
    CHECK(proxy_for(c, https_target("::1")).has_value());
    CHECK_FALSE(proxy_for(with_no_proxy({"localhost", "127.0.0.1", "::1"}), http_target("localhost")).has_value());
    CHECK_FALSE(proxy_for(with_no_proxy({"localhost", "127.0.0.1", "::1"}), http_target("127.0.0.1", 8080)).has_value());
    CHECK_FALSE(proxy_for(with_no_proxy({"127.0.0.0/8"}), http_target("127.0.0.2")).has_value());
}

TEST_CASE("split_no_proxy") {
    using takeoff::http::split_no_proxy;
    CHECK(split_no_proxy("a, b ,\tc,,  ,d") == std::vector<std::string>{"a", "b", "c", "d"});
    CHECK(split_no_proxy("").empty());
    CHECK(split_no_proxy(" , ").empty());
    CHECK(split_no_proxy("*") == std::vector<std::string>{"*"});
}

TEST_CASE("connect_request writes the CONNECT head") {
    const origin target = https_target("api.example.com");
    CHECK(takeoff::http::connect_request(target, must_parse("http://proxy:3128")) ==
          "CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n");
    CHECK(takeoff::http::connect_request(target, must_parse("http://alice:s%40cret@proxy:3128")) ==
          "CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n"
          "Proxy-Authorization: Basic YWxpY2U6c0BjcmV0\r\n\r\n"); // base64("alice:s@cret")
    CHECK(takeoff::http::connect_request(https_target("::1", 8443), must_parse("http://bob@proxy:3128")) ==
          "CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\nProxy-Authorization: Basic Ym9iOg==\r\n\r\n");
}

TEST_CASE("proxy_authorization is a secret") {
    CHECK_FALSE(takeoff::http::proxy_authorization(must_parse("http://proxy:1")).has_value());
    const auto credential = takeoff::http::proxy_authorization(must_parse("http://alice:s%40cret@proxy:1"));
    REQUIRE(credential.has_value());
    CHECK(credential->reveal() == "Basic YWxpY2U6c0BjcmV0");
    CHECK(to_string(*credential) == "[redacted]");
}
