#pragma once
// OAuth endpoints as checked types: an authorization endpoint and a token endpoint are different
// types, so a token request cannot be sent to the authorization URL by mistake, and a URL literal
// that breaks a rule (plain http to a remote host, userinfo, a fragment, no host) does not compile.
// URLs known only at run time go through T::runtime(text), which returns errc::invalid_url.

#include <takeoff/core/checked_literal.hpp>

#include <boost/system/result.hpp>

#include <cstddef>
#include <string_view>

namespace takeoff::oauth {

namespace detail {

constexpr char ascii_lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    return true;
}

/// The parts of an absolute http(s) URL that the endpoint rules look at.
struct url_parts {
    bool https = false;
    std::string_view host;      // as written; an IPv6 literal keeps its brackets
    std::string_view port;      // digits, or empty
    std::string_view path;      // from the first '/' up to '?', or empty
    bool has_query = false;
};

/// Parses `s` as http(s)://host[:port][/path][?query], failing (with a reason) on any other scheme,
/// userinfo, a fragment, a missing or odd host, or a bad port. Hosts are ASCII letters, digits, '-'
/// and '.' only: non-ASCII (IDNA) and percent-encoded hosts are refused rather than normalised,
/// because a host that two parsers could read differently is how credentials end up elsewhere.
constexpr bool parse_http_url(std::string_view s, url_parts& out, literal_check& check) {
    std::size_t colon = s.find("://");
    if (colon == std::string_view::npos) return check.fail("a URL starts with https://");
    std::string_view scheme = s.substr(0, colon);
    if (iequals(scheme, "https")) out.https = true;
    else if (iequals(scheme, "http")) out.https = false;
    else return check.fail("a URL starts with https://");
    if (s.find('#') != std::string_view::npos) return check.fail("a URL has no fragment (#)");
    std::string_view rest = s.substr(colon + 3);
    std::size_t end = rest.find_first_of("/?");
    std::string_view authority = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
    if (authority.find('@') != std::string_view::npos) return check.fail("a URL has no userinfo (user@)");
    std::string_view host = authority;
    if (!authority.empty() && authority.front() == '[') {
        std::size_t close = authority.find(']');
        if (close == std::string_view::npos) return check.fail("an IPv6 host is written [address]");
        for (char c : authority.substr(1, close - 1))
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':'))
                return check.fail("an IPv6 host is written [address]");
        host = authority.substr(0, close + 1);
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return check.fail("an IPv6 host is written [address]");
            out.port = after.substr(1);
            if (out.port.empty()) return check.fail("a port is a number from 1 to 65535");
        }
    } else if (std::size_t p = authority.find(':'); p != std::string_view::npos) {
        host = authority.substr(0, p);
        out.port = authority.substr(p + 1);
        if (out.port.empty()) return check.fail("a port is a number from 1 to 65535");
    }
    if (host.empty() || host == "[]") return check.fail("a URL has a host");
    if (host.front() != '[')
        for (char c : host)
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
                return check.fail("a host has ASCII letters, digits, '-' and '.' only");
    unsigned long port = 0;
    for (char c : out.port) {
        if (c < '0' || c > '9') return check.fail("a port is a number from 1 to 65535");
        port = port * 10 + static_cast<unsigned long>(c - '0');
        if (port > 65535) return check.fail("a port is a number from 1 to 65535");
    }
    if (!out.port.empty() && port == 0) return check.fail("a port is a number from 1 to 65535");
    out.host = host;
    std::size_t q = rest.find('?');
    out.path = rest.substr(0, q);
    out.has_query = q != std::string_view::npos;
    return true;
}

/// Plain http is only for this machine: the emulator and tests. Anything else must be https.
constexpr bool is_loopback_host(std::string_view host) noexcept {
    return host == "127.0.0.1" || host == "[::1]" || iequals(host, "localhost");
}

constexpr bool check_endpoint_url(std::string_view s, literal_check& check) {
    url_parts parts;
    if (!parse_http_url(s, parts, check)) return false;
    if (!parts.https && !is_loopback_host(parts.host))
        return check.fail("http:// is allowed only for 127.0.0.1, [::1] and localhost; use https://");
    return true;
}

} // namespace detail

/// An OAuth endpoint URL of one kind (Kind tells the kinds apart; see the aliases below).
/// Made from a literal (checked while compiling) or through runtime().
template <class Kind>
class endpoint {
    struct rules {
        static constexpr takeoff::errc error = takeoff::errc::invalid_url;
        static constexpr bool check(std::string_view s, literal_check& c) { return detail::check_endpoint_url(s, c); }
    };
    using value_type = checked_string<rules>;

public:
    /// From a literal, checked while compiling.
    template <std::size_t N>
    consteval endpoint(const char (&literal)[N]) : value_(literal) {}

    /// Checks a URL known only at run time; errc::invalid_url when a rule is broken.
    static boost::system::result<endpoint> runtime(std::string_view text) {
        auto value = value_type::runtime(text);
        if (!value) return value.error();
        return endpoint(std::move(*value));
    }
    /// As runtime(text), and on failure diag says which rule was broken.
    static boost::system::result<endpoint> runtime(std::string_view text, diagnostics& diag) {
        auto value = value_type::runtime(text, diag);
        if (!value) return value.error();
        return endpoint(std::move(*value));
    }

    /// The URL as given, for building requests.
    std::string_view url() const noexcept { return value_.str(); }

    friend bool operator==(const endpoint& a, const endpoint& b) noexcept { return a.url() == b.url(); }
    friend std::ostream& operator<<(std::ostream& os, const endpoint& e) { return os << e.url(); }

private:
    explicit endpoint(value_type value) : value_(std::move(value)) {}
    value_type value_;
};

/// Tag of authorization endpoints (where the browser is sent to sign in).
struct authorization_endpoint_kind {};
/// Tag of token endpoints (where codes and refresh tokens are exchanged).
struct token_endpoint_kind {};

/// The URL the user's browser opens to sign in (RFC 6749 section 3.1).
using authorization_endpoint = endpoint<authorization_endpoint_kind>;
/// The URL the client POSTs grants to (RFC 6749 section 3.2).
using token_endpoint = endpoint<token_endpoint_kind>;

} // namespace takeoff::oauth
