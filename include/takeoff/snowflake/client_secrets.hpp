#pragma once
// What SYSTEM$SHOW_OAUTH_CLIENT_SECRETS('<INTEGRATION>') returns, read from the text an
// administrator copies out of a worksheet or a query result: the client id and the integration's
// two secrets (two so that they can be rotated; either one works).
//
// Sans-io. The secrets are held as takeoff::secret, the JSON is parsed into memory wiped when freed,
// and no message ever quotes a value.

#include <takeoff/core/config.hpp>
#include <takeoff/core/diagnostics.hpp>
#include <takeoff/core/error.hpp>
#include <takeoff/core/json.hpp>
#include <takeoff/core/redact.hpp>
#include <takeoff/core/secret_json.hpp>
#include <takeoff/oauth/endpoint.hpp>
#include <takeoff/oauth/token.hpp>

#include <boost/json/value.hpp>
#include <boost/system/result.hpp>

#include <array>
#include <cstddef>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace takeoff::snowflake {

/// What SYSTEM$SHOW_OAUTH_CLIENT_SECRETS('<INTEGRATION>') returns: the client id and its two secrets.
struct oauth_client_secrets {
    /// OAUTH_CLIENT_ID.
    std::string client_id;
    /// OAUTH_CLIENT_SECRET, the one to try first.
    secret client_secret;
    /// OAUTH_CLIENT_SECRET_2, when the text had a non-empty one.
    std::optional<secret> client_secret_2;

    /// Prints the client id; the secrets show as "[redacted]".
    friend std::ostream& operator<<(std::ostream& os, const oauth_client_secrets& s) {
        os << "oauth_client_secrets{client_id=\"" << s.client_id << "\", client_secret=" << s.client_secret
           << ", client_secret_2=";
        if (s.client_secret_2)
            os << *s.client_secret_2;
        else
            os << "(none)";
        return os << '}';
    }
};

namespace detail {

inline constexpr std::array<std::string_view, 3> client_secret_keys = {"oauth_client_id", "oauth_client_secret",
                                                                       "oauth_client_secret_2"};

inline std::string_view trim_whitespace(std::string_view s) noexcept {
    const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!s.empty() && space(s.front())) s.remove_prefix(1);
    while (!s.empty() && space(s.back())) s.remove_suffix(1);
    return s;
}

// Reads the fields of the (unwrapped) object.
inline boost::system::result<oauth_client_secrets> read_client_secrets(const boost::json::object& obj,
                                                                       diagnostics& diag) {
    std::array<const boost::json::value*, client_secret_keys.size()> found{};
    for (const auto& kv : obj) {
        const std::string_view key(kv.key().data(), kv.key().size());
        for (std::size_t i = 0; i < client_secret_keys.size(); ++i) {
            if (!oauth::detail::iequals(key, client_secret_keys[i])) continue;
            if (found[i]) {
                diag.set_client_message("the key '" + std::string(client_secret_keys[i]) +
                                        "' appears twice (spelled in different cases)");
                return make_error_code(errc::invalid_argument);
            }
            found[i] = &kv.value();
        }
    }

    // Each value must be a string (the second secret may also be absent or null).
    std::array<std::string_view, client_secret_keys.size()> values{};
    for (std::size_t i = 0; i < client_secret_keys.size(); ++i) {
        const boost::json::value* v = found[i];
        const bool optional = i == 2;
        if (!v || (optional && v->is_null())) {
            if (optional) continue;
            diag.set_client_message("missing required field '" + std::string(client_secret_keys[i]) + "'");
            return make_error_code(errc::missing_field);
        }
        const boost::json::string* s = v->if_string();
        if (!s) {
            diag.set_client_message("field '" + std::string(client_secret_keys[i]) +
                                    "' has the wrong type: expected string, got " +
                                    takeoff::detail::json_mapping::kind_name(v->kind()));
            return make_error_code(errc::invalid_field_type);
        }
        values[i] = std::string_view(s->data(), s->size());
        if (values[i].empty() && !optional) {
            diag.set_client_message("field '" + std::string(client_secret_keys[i]) + "' is empty");
            return make_error_code(errc::missing_field);
        }
    }

    oauth_client_secrets out;
    out.client_id = std::string(values[0]);
    out.client_secret = secret(values[1]);
    if (!values[2].empty()) out.client_secret_2.emplace(values[2]);
    return out;
}

} // namespace detail

/// Reads the output of SYSTEM$SHOW_OAUTH_CLIENT_SECRETS: a JSON object with the keys
/// `oauth_client_id`, `oauth_client_secret` and `oauth_client_secret_2`, matched in any case.
/// Lenient about how it was copied: white space around it, and the whole object wrapped once in a
/// JSON string (`"{\"OAUTH_CLIENT_ID\":…}"`), are accepted. Other keys are ignored. Errors, with a
/// client message that never quotes a value:
/// - the text (or the wrapped text) is not JSON: errc::invalid_json;
/// - it is not an object: errc::invalid_field_type;
/// - the id or the first secret is missing or empty: errc::missing_field, naming the key;
/// - a value is not a string (the second secret may also be null): errc::invalid_field_type;
/// - a key appears twice, spelled in different cases: errc::invalid_argument.
inline boost::system::result<oauth_client_secrets> parse_oauth_client_secrets(std::string_view text,
                                                                              diagnostics& diag) {
    diag.clear();
    const takeoff::detail::secret_json doc(detail::trim_whitespace(text));
    if (!doc.value()) {
        diag.set_client_message("the client secrets are not JSON (paste the output of "
                                "SYSTEM$SHOW_OAUTH_CLIENT_SECRETS as it is)");
        return make_error_code(errc::invalid_json);
    }
    if (const boost::json::string* wrapped = doc.value()->if_string()) {
        const takeoff::detail::secret_json inner(
            detail::trim_whitespace(std::string_view(wrapped->data(), wrapped->size())));
        if (!inner.value()) {
            diag.set_client_message("the client secrets are a JSON string that does not hold JSON");
            return make_error_code(errc::invalid_json);
        }
        if (!inner.object()) {
            diag.set_client_message("the client secrets must be a JSON object");
            return make_error_code(errc::invalid_field_type);
        }
        return detail::read_client_secrets(*inner.object(), diag);
    }
    if (!doc.object()) {
        diag.set_client_message("the client secrets must be a JSON object");
        return make_error_code(errc::invalid_field_type);
    }
    return detail::read_client_secrets(*doc.object(), diag);
}

} // namespace takeoff::snowflake
