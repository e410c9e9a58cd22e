#pragma once
// snowflake::account_url: the base URL of a Snowflake account, checked against the host forms
// Snowflake documents (org-account, legacy locator with optional region and cloud, PrivateLink,
// and the China domain), and the maker of the account's OAuth and login URLs. A literal that is not
// an account URL does not compile; runtime() returns errc::invalid_url.
//
// Decisions: the URL is scheme and host (and port) only. A trailing "/" is accepted and dropped,
// any other path, a query or a fragment is refused, because the endpoints are appended to it.
// Host labels are LDH (letters, digits, '-'): an account name's '_' is written '-' in URLs, and
// non-ASCII or percent-encoded hosts are refused. Loopback hosts (tests, the emulator) are accepted
// over http or https; every other host only over https and only in those forms. The URLs made from it are lower-cased (host names are case-insensitive, and a JWT
// audience is compared as a string).

#include <takeoff/core/checked_literal.hpp>
#include <takeoff/oauth/endpoint.hpp>

#include <boost/system/result.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace takeoff::snowflake {

namespace detail {

constexpr bool ends_with_icase(std::string_view s, std::string_view suffix) noexcept {
    return s.size() >= suffix.size() && oauth::detail::iequals(s.substr(s.size() - suffix.size()), suffix);
}

// One DNS label: 1 to 63 letters, digits or '-', not starting or ending with '-'.
constexpr bool is_ldh_label(std::string_view label) noexcept {
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (char c : label)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-')) return false;
    return true;
}

struct account_url_rules {
    static constexpr takeoff::errc error = takeoff::errc::invalid_url;
    static constexpr bool check(std::string_view s, literal_check& check) {
        oauth::detail::url_parts parts;
        if (!oauth::detail::parse_http_url(s, parts, check)) return false;
        if (!(parts.path.empty() || parts.path == "/"))
            return check.fail("an account URL has no path (a trailing / is allowed)");
        if (parts.has_query) return check.fail("an account URL has no query");
        // The emulator and tests: a loopback host over http or https (its TLS certificate is checked
        // as any other).
        if (oauth::detail::is_loopback_host(parts.host)) return true;
        if (!parts.https)
            return check.fail("an account URL is https:// (http:// only for 127.0.0.1, [::1] and localhost)");
        std::string_view host = parts.host;
        if (ends_with_icase(host, ".snowflakecomputing.com")) host.remove_suffix(23);
        else if (ends_with_icase(host, ".snowflakecomputing.cn")) host.remove_suffix(22);
        else return check.fail("an account host ends in .snowflakecomputing.com or .snowflakecomputing.cn");
        if (ends_with_icase(host, ".privatelink")) host.remove_suffix(12);
        // <org>-<account> or <locator>[.<region>[.<cloud>]]: one to three labels.
        int labels = 0;
        while (true) {
            std::size_t dot = host.find('.');
            if (!is_ldh_label(host.substr(0, dot)) || ++labels > 3)
                return check.fail("an account host is <org>-<account> or <locator>[.<region>[.<cloud>]] "
                                  "of LDH labels, then [.privatelink].snowflakecomputing.com");
            if (dot == std::string_view::npos) break;
            host.remove_prefix(dot + 1);
        }
        return true;
    }
};

} // namespace detail

/// The base URL of a Snowflake account, e.g. "https://myorg-myacct.snowflakecomputing.com"; makes
/// the account's OAuth and login URLs. See the file comment for the rules.
class account_url {
    using value_type = checked_string<detail::account_url_rules>;

public:
    /// From a literal, checked while compiling.
    template <std::size_t N>
    consteval account_url(const char (&literal)[N]) : value_(literal) {}

    /// Checks a URL known only at run time; errc::invalid_url when a rule is broken.
    static boost::system::result<account_url> runtime(std::string_view text) {
        auto value = value_type::runtime(text);
        if (!value) return value.error();
        return account_url(std::move(*value));
    }
    /// As runtime(text), and on failure diag says which rule was broken.
    static boost::system::result<account_url> runtime(std::string_view text, diagnostics& diag) {
        auto value = value_type::runtime(text, diag);
        if (!value) return value.error();
        return account_url(std::move(*value));
    }

    /// The URL as given.
    std::string_view str() const noexcept { return value_.str(); }

    /// scheme://host[:port], lower-cased, without a trailing slash: what the paths are appended to.
    std::string base() const {
        std::string out(value_.str());
        if (!out.empty() && out.back() == '/') out.pop_back();
        for (char& c : out) c = oauth::detail::ascii_lower(c);
        return out;
    }

    /// <account>/oauth/authorize: where the browser signs in.
    oauth::authorization_endpoint authorization_endpoint() const {
        return oauth::authorization_endpoint::runtime(base() + "/oauth/authorize").value();
    }
    /// <account>/oauth/token-request: the authorization-code and refresh-token grants.
    oauth::token_endpoint token_endpoint() const {
        return oauth::token_endpoint::runtime(base() + "/oauth/token-request").value();
    }
    /// <account>/oauth/token: the key-pair JWT (jwt-bearer) and token-exchange grants, a different
    /// endpoint from token_endpoint().
    oauth::token_endpoint jwt_token_endpoint() const {
        return oauth::token_endpoint::runtime(base() + "/oauth/token").value();
    }
    /// <account>/session/v1/login-request, without its query (request_id is added per request).
    std::string login_request_url() const { return base() + "/session/v1/login-request"; }

    friend bool operator==(const account_url& a, const account_url& b) { return a.base() == b.base(); }

private:
    explicit account_url(value_type value) : value_(std::move(value)) {}
    value_type value_;
};

} // namespace takeoff::snowflake
