#pragma once
// The origin (scheme, host, port) of an HTTP(S) URL: the unit of connection pooling, of the
// same-origin rule for redirects and credentials, and of proxy selection.
//
// origin_of() normalises what RFC 3986 section 6.2.2/6.2.3 says is equivalent (scheme and host
// case, percent-encoded host characters, default and empty ports, IPv6 spelling), so that two URLs
// of the same server give equal origins and one pool entry.

#include <takeoff/core/config.hpp>
#include <takeoff/core/error.hpp>
#include <takeoff/http/detail/syntax.hpp>

#include <boost/system/result.hpp>
#include <boost/url/host_type.hpp>
#include <boost/url/scheme.hpp>
#include <boost/url/url_view.hpp>

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

namespace takeoff::http {

/// The URL schemes the transport speaks: plain HTTP and HTTP over TLS.
enum class scheme { http, https };

/// "http" or "https", as written in URLs.
constexpr std::string_view to_string(scheme s) noexcept { return s == scheme::https ? "https" : "http"; }

/// The port a URL of this scheme means when it names none: 80 or 443.
constexpr std::uint16_t default_port(scheme s) noexcept { return s == scheme::https ? 443 : 80; }

/// Where a request goes: scheme, host and port, as origin_of() normalises them.
///
/// `host` is lowercase; an IPv6 literal is kept without brackets in its canonical RFC 5952 form
/// (`::1`), so use host_header() or authority_form() to put it on the wire. `port` is always
/// explicit (80 or 443 when the URL named none). An origin built by hand must follow the same rules
/// to compare equal to one from origin_of().
struct origin {
    http::scheme scheme = http::scheme::https; ///< http or https
    std::string host;                          ///< lowercase name, IPv4 or bracket-less IPv6 literal
    std::uint16_t port = 443;                  ///< always explicit

    /// "scheme://host:port" with the port always shown and IPv6 in brackets, e.g.
    /// "https://example.com:443": one spelling per origin, for logs and map keys.
    std::string to_string() const;

    /// Member-wise: equal origins share connections and credentials.
    friend bool operator==(const origin&, const origin&) = default;
    /// Member-wise, for ordered containers.
    friend std::strong_ordering operator<=>(const origin&, const origin&) = default;
    /// Prints to_string().
    friend std::ostream& operator<<(std::ostream& os, const origin& o) { return os << o.to_string(); }
};

/// True when the host is an IPv6 literal (only those contain ':' once normalised).
inline bool is_ipv6_literal(std::string_view host) noexcept { return host.find(':') != std::string_view::npos; }

/// "host:port", brackets around IPv6: the authority-form request-target of a CONNECT request
/// (RFC 9112 section 3.2.3), which always names the port.
inline std::string authority_form(const origin& o) {
    std::string out;
    out.reserve(o.host.size() + 8);
    if (is_ipv6_literal(o.host)) {
        out += '[';
        out += o.host;
        out += ']';
    } else {
        out += o.host;
    }
    out += ':';
    out += std::to_string(o.port);
    return out;
}

/// The value of the Host header for this origin (RFC 9110 section 7.2): "host" when the port is the
/// scheme's default, else "host:port"; IPv6 in brackets ("[::1]:8080", "[::1]"). Servers and
/// virtual-host routers (the SPCS ingress) compare it with what they serve, so the default port is
/// left out as browsers and curl do.
inline std::string host_header(const origin& o) {
    if (o.port != default_port(o.scheme)) return authority_form(o);
    return is_ipv6_literal(o.host) ? "[" + o.host + "]" : o.host;
}

inline std::string origin::to_string() const {
    std::string out(http::to_string(scheme));
    out += "://";
    out += authority_form(*this);
    return out;
}

namespace detail {

// The characters kept in a registered name once percent-decoded: RFC 3986 unreserved characters.
// Other sub-delims are legal in URLs but not in DNS names, and excluding them (with controls,
// spaces and non-ASCII bytes) keeps every host safe to write into a request head.
inline bool is_host_name_char(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

// A port as a URL or a NO_PROXY entry writes it: decimal digits only (at least one, leading
// zeros allowed as RFC 3986 port = *DIGIT does), value 1..65535.
constexpr std::optional<std::uint16_t> parse_port(std::string_view v) noexcept {
    if (v.empty()) return std::nullopt;
    std::uint32_t n = 0;
    for (const char c : v) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + static_cast<std::uint32_t>(c - '0');
        if (n > 65535) return std::nullopt; // before it can overflow
    }
    if (n == 0) return std::nullopt;
    return static_cast<std::uint16_t>(n);
}

} // namespace detail

/// The origin of an absolute http or https URL. Errors (errc::invalid_url): another scheme or none,
/// no host or an empty one, an IPvFuture host, a registered name that is not plain ASCII letters,
/// digits, '-', '.', '_' or '~' once percent-decoded (internationalised names must be in their
/// "xn--" form), a port of 0 or above 65535, a path that does not start with '/' (a second '@'). An empty port ("http://h:/") means the default, as
/// RFC 3986 section 6.2.3 says.
inline boost::system::result<origin> origin_of(boost::urls::url_view url) {
    origin o;
    switch (url.scheme_id()) {
    case boost::urls::scheme::http: o.scheme = scheme::http; break;
    case boost::urls::scheme::https: o.scheme = scheme::https; break;
    default: return make_error_code(errc::invalid_url);
    }

    switch (url.host_type()) {
    case boost::urls::host_type::ipv4: o.host = std::string(url.encoded_host()); break;
    case boost::urls::host_type::ipv6: o.host = url.host_ipv6_address().to_string(); break;
    case boost::urls::host_type::name: {
        o.host = url.host(); // percent-decoded
        if (o.host.empty()) return make_error_code(errc::invalid_url);
        for (char& c : o.host) {
            if (!detail::is_host_name_char(c)) return make_error_code(errc::invalid_url);
            c = detail::ascii_lower(c);
        }
        break;
    }
    default: return make_error_code(errc::invalid_url); // none, ipvfuture
    }

    // After an authority the path is empty or starts with '/' (RFC 3986 path-abempty). Boost.URL
    // 1.81 accepts "http://a@b@c/" as host "b" with path "@c/"; other parsers see host "c". Refusing
    // it avoids acting on a host that another reader of the same URL would not agree with.
    if (!url.encoded_path().empty() && url.encoded_path().front() != '/') return make_error_code(errc::invalid_url);

    o.port = default_port(o.scheme);
    if (url.has_port() && !url.port().empty()) {
        const std::optional<std::uint16_t> port = detail::parse_port(url.port());
        if (!port) return make_error_code(errc::invalid_url);
        o.port = *port;
    }
    return o;
}

} // namespace takeoff::http

/// Hashes an origin so it can key unordered containers (connection pools).
template <>
struct std::hash<takeoff::http::origin> {
    std::size_t operator()(const takeoff::http::origin& o) const noexcept {
        std::size_t h = std::hash<std::string>{}(o.host);
        const std::size_t extra = (std::size_t{o.port} << 1) | (o.scheme == takeoff::http::scheme::https ? 1u : 0u);
        // boost::hash_combine's mixing step
        h ^= extra + 0x9e3779b9u + (h << 6) + (h >> 2);
        return h;
    }
};
