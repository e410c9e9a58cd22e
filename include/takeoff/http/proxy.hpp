#pragma once
// HTTP proxies: the settings read from the conventional environment variables, the NO_PROXY
// bypass rules (curl's), and the CONNECT request that opens a tunnel through a proxy. Sans-io: the
// transport does the connecting; this decides where and writes the request head.
//
// Only plain-HTTP proxies (http://host:port) are supported: https targets go through them in a
// CONNECT tunnel, and so are http targets (the transport tunnels both). Proxy passwords live in takeoff::secret
// and no to_string or operator<< here prints them.

#include <takeoff/core/base64.hpp>
#include <takeoff/core/config.hpp>
#include <takeoff/core/diagnostics.hpp>
#include <takeoff/core/error.hpp>
#include <takeoff/core/redact.hpp>
#include <takeoff/http/origin.hpp>

#include <boost/system/result.hpp>
#include <boost/url/ipv4_address.hpp>
#include <boost/url/ipv6_address.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <initializer_list>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace takeoff::http {

/// One proxy: where it is and the credentials it wants (Basic).
struct proxy_settings {
    /// The proxy's own origin; always scheme::http.
    origin proxy{scheme::http, {}, 80};
    /// The user name, percent-decoded; present when the proxy URL had userinfo.
    std::optional<std::string> username;
    /// The password, percent-decoded; empty when there is none.
    takeoff::secret password;

    /// Whether requests through this proxy carry Proxy-Authorization.
    bool has_credentials() const noexcept { return username.has_value() || !password.empty(); }

    /// "http://user:[redacted]@host:port" (or without the user part): safe to log.
    std::string to_string() const {
        std::string out = "http://";
        if (username) {
            out += *username;
            if (!password.empty()) {
                out += ':';
                out += takeoff::redact(password.reveal());
            }
            out += '@';
        } else if (!password.empty()) {
            out += ':' + takeoff::redact(password.reveal()) + '@';
        }
        out += authority_form(proxy);
        return out;
    }

    /// Equal when origin, user name and password are (the password compared in constant time).
    friend bool operator==(const proxy_settings&, const proxy_settings&) = default;
    /// Prints to_string(): the password redacted.
    friend std::ostream& operator<<(std::ostream& os, const proxy_settings& p) { return os << p.to_string(); }
};

/// Which proxy serves which target scheme, and which hosts bypass proxies.
///
/// A config read from the environment (proxy_config_from_environment sets from_environment) never
/// sends loopback targets through a proxy: 127.0.0.0/8, ::1 (and IPv4-mapped 127.x), "localhost"
/// and names ending in ".localhost", in any case, go direct whatever NO_PROXY says, as Go's
/// ProxyFromEnvironment does: a proxy elsewhere cannot reach this machine's loopback services (a
/// local Takeoff server, the OAuth redirect listener). A config given explicitly applies to
/// loopback targets like any other, so a proxy on loopback can be tested.
struct proxy_config {
    /// The proxy for http:// targets.
    std::optional<proxy_settings> http_proxy;
    /// The proxy for https:// targets (through a CONNECT tunnel).
    std::optional<proxy_settings> https_proxy;
    /// NO_PROXY entries, one per element (see bypasses_proxy for their syntax).
    std::vector<std::string> no_proxy;
    /// What proxy_config_from_environment ignored and why: variable names and reasons, never
    /// values (they may hold passwords). Worth logging: an ignored proxy means a direct connection.
    std::vector<std::string> warnings;
    /// True when the config came from the environment: loopback targets then go direct.
    bool from_environment = false;
};

namespace detail {

inline std::string to_lower_copy(std::string_view v) {
    std::string out(v);
    for (char& c : out) c = ascii_lower(c);
    return out;
}

inline boost::system::result<proxy_settings> proxy_error(diagnostics* diag, const char* why) {
    if (diag) diag->set_client_message(why);
    return make_error_code(errc::invalid_url);
}

// An IP literal as bytes (4 for IPv4, 16 for IPv6), or nullopt for anything else.
struct ip_bytes {
    std::array<unsigned char, 16> bytes{};
    std::size_t size = 0; // 4 or 16
};

inline std::optional<ip_bytes> parse_ip(std::string_view text) {
    ip_bytes out;
    if (auto v4 = boost::urls::parse_ipv4_address(text)) {
        const auto b = v4->to_bytes();
        for (std::size_t i = 0; i < 4; ++i) out.bytes[i] = b[i];
        out.size = 4;
        return out;
    }
    if (auto v6 = boost::urls::parse_ipv6_address(text)) {
        const auto b = v6->to_bytes();
        for (std::size_t i = 0; i < 16; ++i) out.bytes[i] = b[i];
        out.size = 16;
        return out;
    }
    return std::nullopt;
}

// Whether the first `bits` bits of a and b are equal.
inline bool same_prefix(const ip_bytes& a, const ip_bytes& b, unsigned bits) noexcept {
    for (std::size_t i = 0; i < a.size && bits > 0; ++i) {
        const unsigned take = bits >= 8 ? 8 : bits;
        const auto mask = static_cast<unsigned char>(0xff00u >> take);
        if ((a.bytes[i] & mask) != (b.bytes[i] & mask)) return false;
        bits -= take;
    }
    return true;
}

// Whether one NO_PROXY entry (already trimmed) matches the target.
inline bool no_proxy_entry_matches(std::string_view raw_entry, const origin& target) {
    const std::string entry = to_lower_copy(raw_entry);
    if (entry.empty()) return false;
    if (entry == "*") return true;

    // Split off ":port" (host:port, [v6]:port) and "/prefix" (CIDR).
    std::string_view host = entry;
    std::optional<std::uint16_t> port;
    if (host.front() == '[') {
        const std::size_t close = host.find(']');
        if (close == std::string_view::npos) return false;
        std::string_view rest = host.substr(close + 1);
        std::string_view inside = host.substr(1, close - 1);
        if (!rest.empty() && rest.front() == '/') // "[v6]/prefix": match it as "v6/prefix"
            return no_proxy_entry_matches(std::string(inside) + std::string(rest), target);
        if (!rest.empty()) {
            if (rest.front() != ':') return false;
            port = parse_port(rest.substr(1));
            if (!port) return false;
        }
        host = inside;
    } else if (const std::size_t colon = host.find(':');
               colon != std::string_view::npos && host.find(':', colon + 1) == std::string_view::npos) {
        port = parse_port(host.substr(colon + 1)); // exactly one ':' means host:port
        if (!port) return false;
        host = host.substr(0, colon);
    }
    if (port && *port != target.port) return false;

    std::optional<unsigned> prefix;
    std::string_view address = host;
    if (const std::size_t slash = host.find('/'); slash != std::string_view::npos) {
        const std::string_view bits = host.substr(slash + 1);
        if (bits.empty() || bits.size() > 3) return false;
        unsigned n = 0;
        for (char c : bits) {
            if (c < '0' || c > '9') return false;
            n = n * 10 + static_cast<unsigned>(c - '0');
        }
        prefix = n;
        address = host.substr(0, slash);
    }

    const std::optional<ip_bytes> target_ip = parse_ip(target.host);
    if (const std::optional<ip_bytes> entry_ip = parse_ip(address)) {
        if (!target_ip || target_ip->size != entry_ip->size) return false;
        const unsigned max_bits = static_cast<unsigned>(entry_ip->size * 8);
        const unsigned bits = prefix ? *prefix : max_bits;
        if (bits > max_bits) return false;
        return same_prefix(*entry_ip, *target_ip, bits);
    }
    if (prefix || target_ip) return false; // a CIDR that is no address; a name never matches an IP

    // Domain: ".example.com", "*.example.com" and "example.com" all match example.com and its
    // subdomains, on label boundaries. A trailing dot (FQDN form) is ignored on both sides.
    std::string_view domain = host;
    if (domain.substr(0, 2) == "*.") domain.remove_prefix(1);
    if (!domain.empty() && domain.front() == '.') domain.remove_prefix(1);
    if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
    if (domain.empty()) return false;
    std::string_view name = target.host;
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    if (name.size() == domain.size()) return name == domain;
    return name.size() > domain.size() && name.substr(name.size() - domain.size()) == domain &&
           name[name.size() - domain.size() - 1] == '.';
}

// A loopback target as proxy_config documents it: host as an origin holds it, or with brackets
// around an IPv6 literal, in any case, with or without a trailing dot.
inline bool is_loopback_host(std::string_view host) {
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (const std::optional<ip_bytes> ip = parse_ip(host)) {
        const auto& b = ip->bytes;
        if (ip->size == 4) return b[0] == 127;
        bool zeros_then_one = b[15] == 1, v4_mapped = b[10] == 0xff && b[11] == 0xff && b[12] == 127;
        for (std::size_t i = 0; i < 15; ++i) zeros_then_one = zeros_then_one && b[i] == 0;
        for (std::size_t i = 0; i < 10; ++i) v4_mapped = v4_mapped && b[i] == 0;
        return zeros_then_one || v4_mapped;
    }
    std::string name = to_lower_copy(host);
    if (!name.empty() && name.back() == '.') name.pop_back();
    constexpr std::string_view suffix = ".localhost"; // RFC 6761 section 6.3
    return name == "localhost" ||
           (name.size() > suffix.size() && std::string_view(name).substr(name.size() - suffix.size()) == suffix);
}

} // namespace detail

namespace detail {

inline boost::system::result<proxy_settings> parse_proxy_url_impl(std::string_view value, diagnostics* diag) {
    value = trim_ows(value);
    if (value.empty()) return proxy_error(diag, "the proxy URL is empty");
    // Held in a secret so that the copy of the password is wiped on return; url views into it.
    const takeoff::secret text(std::string(value.find("://") == std::string_view::npos ? "http://" : "") +
                               std::string(value));
    const auto url = boost::urls::parse_uri(text.reveal());
    // A path not starting with '/' is what an unencoded '@' in the password leaves behind.
    if (!url || (!url->encoded_path().empty() && url->encoded_path().front() != '/'))
        return proxy_error(diag, "the proxy URL is not a valid URL (characters such as '@' or ':' in the user "
                                 "name or password must be percent-encoded)");
    if (url->scheme_id() == boost::urls::scheme::https)
        return proxy_error(diag, "https:// proxies (TLS to the proxy) are not supported; use http://");
    if (url->scheme_id() != boost::urls::scheme::http)
        return proxy_error(diag, "only http:// proxies are supported");
    const auto proxy_origin = origin_of(*url);
    if (!proxy_origin) return proxy_error(diag, "the proxy URL has no valid host or port");

    proxy_settings settings;
    settings.proxy = *proxy_origin;
    if (url->has_userinfo() && (!url->encoded_user().empty() || url->has_password())) {
        settings.username = url->user();
        settings.password = takeoff::secret(url->password());
    }
    return settings;
}

} // namespace detail

/// Parses a proxy URL as the environment variables hold it: `http://[user[:password]@]host[:port][/]`,
/// or `host[:port]` without a scheme (taken as http://, as curl does). The user name and password
/// are percent-decoded (characters such as '@' and ':' in them must be percent-encoded). A missing
/// port means 80 (as Go and Python do; curl uses 1080). A path is ignored, as curl does.
/// Errors are errc::invalid_url, with the reason in diag's client message: not a URL, a scheme
/// other than http (https:// and socks proxies are not supported), no valid host, a bad port.
inline boost::system::result<proxy_settings> parse_proxy_url(std::string_view value, diagnostics& diag) {
    return detail::parse_proxy_url_impl(value, &diag);
}

/// parse_proxy_url without the reason.
inline boost::system::result<proxy_settings> parse_proxy_url(std::string_view value) {
    return detail::parse_proxy_url_impl(value, nullptr);
}

/// Splits a NO_PROXY value into its entries: comma separated, spaces and tabs around each
/// removed, empty entries dropped.
inline std::vector<std::string> split_no_proxy(std::string_view value) {
    std::vector<std::string> entries;
    while (!value.empty()) {
        const std::size_t comma = value.find(',');
        const std::string_view entry = detail::trim_ows(value.substr(0, comma));
        if (!entry.empty()) entries.emplace_back(entry);
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
    return entries;
}

/// A way to read an environment variable (std::getenv in production, a map in tests).
using getenv_function = std::function<std::optional<std::string>(const char*)>;

/// Reads the proxy variables through `getenv`:
/// - https_proxy / HTTPS_PROXY for https targets, http_proxy / HTTP_PROXY for http targets,
///   no_proxy / NO_PROXY for bypasses. When both spellings are set the lowercase one wins, as in
///   curl. An empty (or blank) variable counts as unset.
/// - HTTP_PROXY (uppercase) is ignored, with a warning, when REQUEST_METHOD is set: in a CGI
///   program it can come from a client's "Proxy:" request header ("httpoxy"), which is why curl
///   never reads it and Go ignores it under CGI.
/// - ALL_PROXY and proxies other than http:// are not supported.
/// A value that parse_proxy_url rejects is ignored (that scheme goes direct) and reported in
/// proxy_config::warnings with the variable's name and the reason; nothing fails.
/// The result has from_environment set: loopback targets go direct (see proxy_config).
inline proxy_config proxy_config_from_environment(const getenv_function& getenv) {
    proxy_config config;
    config.from_environment = true;
    if (!getenv) return config;

    // Returns the name and value of the first of the variables that is set and not blank.
    const auto lookup = [&](std::initializer_list<const char*> names) -> std::optional<std::pair<const char*, std::string>> {
        for (const char* name : names) {
            std::optional<std::string> value = getenv(name);
            if (value && !detail::trim_ows(*value).empty()) return std::pair{name, std::move(*value)};
        }
        return std::nullopt;
    };
    const auto read_proxy = [&](std::optional<proxy_settings>& slot, std::initializer_list<const char*> names) {
        if (auto var = lookup(names)) {
            diagnostics diag;
            if (auto parsed = parse_proxy_url(var->second, diag))
                slot = std::move(*parsed);
            else
                config.warnings.push_back(std::string(var->first) + " ignored: " + diag.client_message());
        }
    };

    read_proxy(config.https_proxy, {"https_proxy", "HTTPS_PROXY"});
    const bool cgi = lookup({"REQUEST_METHOD"}).has_value();
    if (cgi) {
        read_proxy(config.http_proxy, {"http_proxy"});
        if (!config.http_proxy && lookup({"HTTP_PROXY"}))
            config.warnings.emplace_back("HTTP_PROXY ignored: REQUEST_METHOD is set (CGI), where HTTP_PROXY can "
                                         "come from a request header; use http_proxy");
    } else {
        read_proxy(config.http_proxy, {"http_proxy", "HTTP_PROXY"});
    }
    if (auto var = lookup({"no_proxy", "NO_PROXY"})) config.no_proxy = split_no_proxy(var->second);
    return config;
}

/// proxy_config_from_environment over the process environment (std::getenv; not safe against a
/// concurrent setenv, as std::getenv never is).
inline proxy_config proxy_config_from_environment() {
    return proxy_config_from_environment([](const char* name) -> std::optional<std::string> {
        const char* value = std::getenv(name); // NOLINT(concurrency-mt-unsafe): read once at configuration
        if (!value) return std::nullopt;
        return std::string(value);
    });
}

/// Whether NO_PROXY entries exempt `target` from proxying (curl's rules):
/// - `*` matches every host;
/// - a name matches itself and its subdomains on label boundaries: `example.com`, `.example.com`
///   and `*.example.com` all match `example.com` and `api.example.com`, not `badexample.com`;
///   a trailing dot is ignored; names never match IP literal targets (there is no DNS lookup);
/// - an IPv4 or IPv6 literal (`10.1.2.3`, `::1`, `[::1]`) matches that address exactly, and a CIDR
///   range (`10.0.0.0/8`, `fd00::/8`, `[fd00::]/8`) every address in it;
/// - `host:port` (`[v6]:port`) matches that port only;
/// - matching is case-insensitive.
/// Loopback targets (localhost, 127.0.0.1, ::1) match only when listed, as in curl; proxy_for
/// sends them direct anyway when the config came from the environment.
inline bool bypasses_proxy(const std::vector<std::string>& no_proxy, const origin& target) {
    for (const std::string& entry : no_proxy)
        if (detail::no_proxy_entry_matches(detail::trim_ows(entry), target)) return true;
    return false;
}

/// The proxy to use for `target`, or nullopt for a direct connection: the proxy configured for the
/// target's scheme, unless bypasses_proxy(config.no_proxy, target), or the config came from the
/// environment and the target is loopback (see proxy_config).
inline std::optional<proxy_settings> proxy_for(const proxy_config& config, const origin& target) {
    const std::optional<proxy_settings>& proxy =
        target.scheme == scheme::https ? config.https_proxy : config.http_proxy;
    if (!proxy || (config.from_environment && detail::is_loopback_host(target.host)) ||
        bypasses_proxy(config.no_proxy, target))
        return std::nullopt;
    return proxy;
}

/// The value of a Proxy-Authorization header, "Basic base64(user:password)", or nullopt when the
/// settings carry no credentials. Kept in a secret: reveal() it only into the request.
inline std::optional<takeoff::secret> proxy_authorization(const proxy_settings& settings) {
    if (!settings.has_credentials()) return std::nullopt;
    const takeoff::secret plain(std::string(settings.username.value_or(std::string())) + ':' +
                                std::string(settings.password.reveal()));
    return takeoff::secret("Basic " + base64_encode(plain.reveal()));
}

/// The head of the CONNECT request that opens a tunnel to `target` through `proxy` (RFC 9110
/// section 9.3.6): `CONNECT host:port HTTP/1.1`, `Host: host:port`, `Proxy-Authorization: Basic
/// ...` when there are credentials, then the empty line. The string holds the credential: send it,
/// do not log it.
inline std::string connect_request(const origin& target, const proxy_settings& proxy) {
    const std::string authority = authority_form(target);
    std::string out = "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n";
    if (const auto credential = proxy_authorization(proxy)) {
        out += "Proxy-Authorization: ";
        out += credential->reveal();
        out += "\r\n";
    }
    out += "\r\n";
    return out;
}

} // namespace takeoff::http
