#pragma once
// Which Takeoff API a request belongs to, and the typed base URL of each API.
//
// Takeoff serves three APIs on three ports (inference 3000, management 3001, OpenAI-compatible
// 3003); SPCS gives each port an ingress host of its own. A request names its API at compile time
// and is sent to the base URL of that API only: a base_url<api_kind::inference> cannot carry a
// management request (to_http_request does not compile).

#include <takeoff/core/config.hpp>
#include <takeoff/core/diagnostics.hpp>
#include <takeoff/core/error.hpp>

#include <boost/system/result.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include <ostream>
#include <string>
#include <string_view>

namespace takeoff::api {

/// The three HTTP APIs of a Takeoff server.
enum class api_kind {
    inference,  ///< /generate, /embed, /classify, /tokenize, /status, ... (port 3000)
    management, ///< /reader_groups, /reader, /config, /status (port 3001)
    openai,     ///< /v1/chat/completions, /v1/embeddings (port 3003)
};

/// "inference", "management" or "openai".
constexpr std::string_view to_string(api_kind k) noexcept {
    switch (k) {
    case api_kind::inference: return "inference";
    case api_kind::management: return "management";
    case api_kind::openai: return "openai";
    }
    return "unknown";
}

inline std::ostream& operator<<(std::ostream& os, api_kind k) { return os << to_string(k); }

/// The default base URL of each API for a Takeoff on this machine.
constexpr std::string_view default_base_url(api_kind k) noexcept {
    switch (k) {
    case api_kind::inference: return "http://localhost:3000";
    case api_kind::management: return "http://localhost:3001";
    case api_kind::openai: return "http://localhost:3003";
    }
    return "";
}

/// The base URL of one API: http or https, a host, an optional port and path prefix (kept, for
/// gateways), no query, fragment or user info, no trailing slash. A host without a scheme (the
/// ingress_url column of SHOW ENDPOINTS) gets https://. Distinct types per API.
template <api_kind Kind>
class base_url {
public:
    static constexpr api_kind kind = Kind;

    /// The default for a local Takeoff (default_base_url(Kind)).
    base_url() : url_(boost::urls::parse_absolute_uri(default_base_url(Kind)).value()) {}

    /// Checks and normalises `text`; errc::invalid_url with the broken rule in diag.
    static boost::system::result<base_url> runtime(std::string_view text, diagnostics& diag) {
        diag.clear();
        auto fail = [&](std::string_view why) -> boost::system::result<base_url> {
            diag.set_client_message("the " + std::string(to_string(Kind)) + " base URL is invalid: " + std::string(why));
            return make_error_code(errc::invalid_url);
        };
        while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
        while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\n')) text.remove_suffix(1);
        if (text.empty()) return fail("it is empty");
        std::string full(text);
        if (full.find("://") == std::string::npos) full = "https://" + full;
        auto parsed = boost::urls::parse_absolute_uri(full);
        if (!parsed) return fail("it is not an absolute URL (expected http(s)://host[:port][/path])");
        boost::urls::url u(*parsed);
        const auto scheme = u.scheme_id();
        if (scheme != boost::urls::scheme::http && scheme != boost::urls::scheme::https)
            return fail("the scheme must be http or https");
        if (u.host().empty()) return fail("it has no host");
        if (u.has_userinfo()) return fail("it must not hold a user name or password");
        if (u.has_query()) return fail("it must not have a query (?)");
        if (u.has_fragment()) return fail("it must not have a fragment (#)");
        std::string path(u.encoded_path());
        while (!path.empty() && path.back() == '/') path.pop_back();
        u.set_encoded_path(path);
        return base_url(std::move(u));
    }

    /// As above, without the explanation.
    static boost::system::result<base_url> runtime(std::string_view text) {
        diagnostics ignored;
        return runtime(text, ignored);
    }

    /// The URL (no trailing slash).
    const boost::urls::url& url() const noexcept { return url_; }
    /// The URL as text.
    std::string_view str() const noexcept { return url_.buffer(); }

    /// The URL of `path` (starting with '/', already percent-encoded) under this base.
    boost::urls::url join(std::string_view path) const {
        boost::urls::url out = url_;
        std::string full(url_.encoded_path());
        full += path;
        out.set_encoded_path(full);
        return out;
    }

    friend bool operator==(const base_url& a, const base_url& b) noexcept { return a.url_ == b.url_; }
    friend std::ostream& operator<<(std::ostream& os, const base_url& b) { return os << b.str(); }

private:
    explicit base_url(boost::urls::url u) : url_(std::move(u)) {}
    boost::urls::url url_;
};

/// The base URL of the inference API (port 3000).
using inference_url = base_url<api_kind::inference>;
/// The base URL of the management API (port 3001).
using management_url = base_url<api_kind::management>;
/// The base URL of the OpenAI-compatible API (port 3003).
using openai_url = base_url<api_kind::openai>;

} // namespace takeoff::api
