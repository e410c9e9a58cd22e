#pragma once
// snowflake::connection_config: the "Config contract" of ROADMAP.md in one object, shared by the
// library and the takeoff CLI. It mirrors the Dataiku preset (OAuth client id and secret, endpoints,
// scope, redirect URI) and connection (endpoint URL, account URL), plus the management and OpenAI
// URLs, the consumer group, an extra CA file and the auth mode.
//
// The usual sequence: load_connection_config(file) (or parse_connection_config(text)), then
// apply_environment(config, process_environment()) for the TAKEOFF_* overrides, then validate(),
// then resolve_oauth() for the typed URLs and scope the OAuth providers take.
//
// Decisions:
// * The JSON is strict: the top level and the "oauth" and "keypair" objects accept only the
//   contract's fields (an unknown field is a typo to report, not a field to ignore). A null value
//   leaves the field at its default. Errors name the source (the file) and the field.
// * validate() checks only what the auth mode uses, plus the top-level URLs that are set; its
//   messages start with the field's name ("oauth.redirect_uri: ...").
// * URLs that carry a credential (every mode but "none") are https://, or http:// to 127.0.0.1,
//   [::1] and localhost only. With "none" (a local Takeoff), plain http to any host is accepted.
// * Secrets (oauth.client_secret, pat) are takeoff::secret: operator<< never shows them, and no
//   message or warning contains them.

#include <takeoff/core/checked_literal.hpp>
#include <takeoff/core/config.hpp>
#include <takeoff/core/diagnostics.hpp>
#include <takeoff/core/error.hpp>
#include <takeoff/core/redact.hpp>
#include <takeoff/oauth/endpoint.hpp>
#include <takeoff/oauth/token.hpp>
#include <takeoff/snowflake/account_url.hpp>
#include <takeoff/snowflake/identifier.hpp>
#include <takeoff/snowflake/scope.hpp>

#include <boost/json/stream_parser.hpp>
#include <boost/json/value.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace takeoff::snowflake {

/// What the ingress credential is made from. JSON and TAKEOFF_AUTH: "oauth", "oauth-direct",
/// "pat", "keypair", "none".
enum class auth_mode {
    oauth,        ///< OAuth sign-in, then the session token of /session/v1/login-request
    oauth_direct, ///< OAuth sign-in, the access token itself as the credential
    pat,          ///< a programmatic access token
    keypair,      ///< a key-pair JWT
    none,         ///< no credential (a local Takeoff)
};

/// The configuration name of a mode ("oauth-direct" for auth_mode::oauth_direct).
constexpr std::string_view to_string(auth_mode mode) noexcept {
    switch (mode) {
    case auth_mode::oauth: return "oauth";
    case auth_mode::oauth_direct: return "oauth-direct";
    case auth_mode::pat: return "pat";
    case auth_mode::keypair: return "keypair";
    case auth_mode::none: return "none";
    }
    return "?";
}

/// The mode named `name` (exactly as in the configuration), or none.
constexpr std::optional<auth_mode> parse_auth_mode(std::string_view name) noexcept {
    for (auth_mode m : {auth_mode::oauth, auth_mode::oauth_direct, auth_mode::pat, auth_mode::keypair, auth_mode::none})
        if (to_string(m) == name) return m;
    return std::nullopt;
}

inline std::ostream& operator<<(std::ostream& os, auth_mode mode) { return os << to_string(mode); }

/// The "Config contract" of ROADMAP.md: the Dataiku preset (oauth) and connection (URLs) in one
/// object. Plain data; see validate() for the rules and resolve_oauth() for the typed values.
struct connection_config {
    /// https://<org>-<account>.snowflakecomputing.com (OAuth endpoints and login-request derive from it).
    std::string account_url;
    /// The ingress URL of Takeoff's inference port.
    std::string endpoint_url;
    /// The ingress URL of the management port (optional).
    std::string management_url;
    /// The ingress URL of the OpenAI-compatible port (optional).
    std::string openai_url;
    /// The Takeoff consumer group requests go to.
    std::string consumer_group = "primary";
    /// A PEM file of extra trusted CAs (optional; the system trust stays on).
    std::string ca_file;
    /// What the ingress credential is made from.
    auth_mode auth = auth_mode::oauth;

    /// The OAuth client (the security integration's custom client).
    struct oauth_settings {
        std::string client_id;
        secret client_secret;
        /// Optional: <account_url>/oauth/authorize when empty.
        std::string authorization_endpoint;
        /// Optional: <account_url>/oauth/token-request when empty.
        std::string token_endpoint;
        /// e.g. "refresh_token session:role:CONTAINER_USER_ROLE"; empty sends no scope.
        std::string scope;
        /// The loopback redirect URI registered in the integration, e.g. http://127.0.0.1:8765/callback.
        std::string redirect_uri;
        friend bool operator==(const oauth_settings&, const oauth_settings&) = default;
    } oauth;

    /// The programmatic access token (auth "pat").
    secret pat;

    /// The key-pair settings (auth "keypair").
    struct keypair_settings {
        std::string user;
        std::string private_key_file;
        std::string role;
        friend bool operator==(const keypair_settings&, const keypair_settings&) = default;
    } keypair;

    /// What the loader noticed that is not an error (e.g. a secret in a file others can read).
    /// Never contains a secret.
    std::vector<std::string> warnings;

    friend bool operator==(const connection_config&, const connection_config&) = default;

    /// Prints every field; oauth.client_secret and pat show as "[redacted]" (or "[redacted, empty]").
    friend std::ostream& operator<<(std::ostream& os, const connection_config& c) {
        os << "connection_config{account_url=\"" << c.account_url << "\", endpoint_url=\"" << c.endpoint_url
           << "\", management_url=\"" << c.management_url << "\", openai_url=\"" << c.openai_url
           << "\", consumer_group=\"" << c.consumer_group << "\", ca_file=\"" << c.ca_file << "\", auth=" << c.auth
           << ", oauth={client_id=\"" << c.oauth.client_id << "\", client_secret=" << c.oauth.client_secret
           << ", authorization_endpoint=\"" << c.oauth.authorization_endpoint << "\", token_endpoint=\""
           << c.oauth.token_endpoint << "\", scope=\"" << c.oauth.scope << "\", redirect_uri=\""
           << c.oauth.redirect_uri << "\"}, pat=" << c.pat << ", keypair={user=\"" << c.keypair.user
           << "\", private_key_file=\"" << c.keypair.private_key_file << "\", role=\"" << c.keypair.role << "\"}}";
        return os;
    }
};

namespace detail::config {

enum class config_field_kind { text, secret_text, auth };

/// One field of the contract: its JSON path, its environment variable and where it lives.
struct config_field {
    std::string_view name;     // "oauth.client_id"
    std::string_view env_name; // "TAKEOFF_OAUTH_CLIENT_ID"
    config_field_kind kind;
    std::string* (*text)(connection_config&);
    secret* (*secret_text)(connection_config&);
};

using ck = config_field_kind;
inline constexpr std::array<config_field, 17> config_fields = {{
    {"account_url", "TAKEOFF_ACCOUNT_URL", ck::text, [](connection_config& c) { return &c.account_url; }, nullptr},
    {"endpoint_url", "TAKEOFF_ENDPOINT_URL", ck::text, [](connection_config& c) { return &c.endpoint_url; }, nullptr},
    {"management_url", "TAKEOFF_MANAGEMENT_URL", ck::text, [](connection_config& c) { return &c.management_url; }, nullptr},
    {"openai_url", "TAKEOFF_OPENAI_URL", ck::text, [](connection_config& c) { return &c.openai_url; }, nullptr},
    {"consumer_group", "TAKEOFF_CONSUMER_GROUP", ck::text, [](connection_config& c) { return &c.consumer_group; }, nullptr},
    {"ca_file", "TAKEOFF_CA_FILE", ck::text, [](connection_config& c) { return &c.ca_file; }, nullptr},
    {"auth", "TAKEOFF_AUTH", ck::auth, nullptr, nullptr},
    {"oauth.client_id", "TAKEOFF_OAUTH_CLIENT_ID", ck::text, [](connection_config& c) { return &c.oauth.client_id; }, nullptr},
    {"oauth.client_secret", "TAKEOFF_OAUTH_CLIENT_SECRET", ck::secret_text, nullptr,
     [](connection_config& c) { return &c.oauth.client_secret; }},
    {"oauth.authorization_endpoint", "TAKEOFF_OAUTH_AUTHORIZATION_ENDPOINT", ck::text,
     [](connection_config& c) { return &c.oauth.authorization_endpoint; }, nullptr},
    {"oauth.token_endpoint", "TAKEOFF_OAUTH_TOKEN_ENDPOINT", ck::text,
     [](connection_config& c) { return &c.oauth.token_endpoint; }, nullptr},
    {"oauth.scope", "TAKEOFF_OAUTH_SCOPE", ck::text, [](connection_config& c) { return &c.oauth.scope; }, nullptr},
    {"oauth.redirect_uri", "TAKEOFF_OAUTH_REDIRECT_URI", ck::text,
     [](connection_config& c) { return &c.oauth.redirect_uri; }, nullptr},
    {"pat", "TAKEOFF_PAT", ck::secret_text, nullptr, [](connection_config& c) { return &c.pat; }},
    {"keypair.user", "TAKEOFF_KEYPAIR_USER", ck::text, [](connection_config& c) { return &c.keypair.user; }, nullptr},
    {"keypair.private_key_file", "TAKEOFF_KEYPAIR_PRIVATE_KEY_FILE", ck::text,
     [](connection_config& c) { return &c.keypair.private_key_file; }, nullptr},
    {"keypair.role", "TAKEOFF_KEYPAIR_ROLE", ck::text, [](connection_config& c) { return &c.keypair.role; }, nullptr},
}};

inline const config_field* find_config_field(std::string_view name) noexcept {
    for (const auto& f : config_fields)
        if (f.name == name) return &f;
    return nullptr;
}

inline std::string_view env_name_of(std::string_view field) noexcept {
    const config_field* f = find_config_field(field);
    return f ? f->env_name : std::string_view();
}

inline constexpr std::string_view allowed_auth_values = "oauth, oauth-direct, pat, keypair, none";

/// A value quoted in a message: at most 40 bytes, control characters replaced.
inline std::string quote_value(std::string_view v) {
    std::string out = "'";
    for (char c : v.substr(0, 40)) {
        const auto u = static_cast<unsigned char>(c);
        out += (u < 0x20 || u == 0x7f) ? '?' : c;
    }
    if (v.size() > 40) out += "...";
    return out + "'";
}

/// Sets one field from a string (the JSON value or the environment variable).
inline boost::system::error_code set_config_field(connection_config& c, const config_field& f, std::string&& value,
                                                  const std::string& where, diagnostics& diag) {
    switch (f.kind) {
    case config_field_kind::text: *f.text(c) = std::move(value); break;
    case config_field_kind::secret_text: *f.secret_text(c) = secret(std::move(value)); break;
    case config_field_kind::auth:
        if (auto mode = parse_auth_mode(value)) {
            c.auth = *mode;
        } else {
            diag.set_client_message(where + " is " + quote_value(value) + "; allowed values: " +
                                    std::string(allowed_auth_values));
            return make_error_code(errc::invalid_argument);
        }
        break;
    }
    return {};
}

/// Sets the fields of one JSON object; `prefix` is "" for the top level, or "oauth." / "keypair.".
inline boost::system::error_code set_config_object(connection_config& c, const boost::json::object& obj,
                                                   std::string_view prefix, std::string_view source,
                                                   diagnostics& diag) {
    const std::string head = std::string(source) + ": ";
    for (const auto& member : obj) {
        const std::string name = std::string(prefix) + std::string(member.key());
        if (prefix.empty() && (name == "oauth" || name == "keypair")) {
            if (member.value().is_null()) continue;
            const auto* nested = member.value().if_object();
            if (!nested) {
                diag.set_client_message(head + "field '" + name + "' must be an object");
                return make_error_code(errc::invalid_field_type);
            }
            if (auto ec = set_config_object(c, *nested, name + ".", source, diag)) return ec;
            continue;
        }
        // a dotted key ("oauth.client_id") is not a way to write a nested field
        const bool dotted = std::string_view(member.key()).find('.') != std::string_view::npos;
        const config_field* f = dotted ? nullptr : find_config_field(name);
        if (!f) {
            diag.set_client_message(head + "unknown field " + quote_value(name));
            return make_error_code(errc::invalid_argument);
        }
        if (member.value().is_null()) continue;
        const auto* text = member.value().if_string();
        if (!text) {
            diag.set_client_message(head + "field '" + name + "' must be a string");
            return make_error_code(errc::invalid_field_type);
        }
        if (auto ec = set_config_field(c, *f, std::string(text->data(), text->size()), head + "field '" + name + "'", diag))
            return ec;
    }
    return {};
}

} // namespace detail::config

/// Reads a configuration from JSON text; `source` names it in messages (a file name, "--config").
/// errc::invalid_json for text that is not JSON (with line and column), errc::invalid_field_type
/// for a wrong type ("<source>: field 'consumer_group' must be a string"), errc::invalid_argument
/// for an unknown field ("<source>: unknown field 'oauth.client_secert'") or a bad "auth" (the
/// allowed values listed). Fields absent (or null) keep their defaults. Nothing is validated
/// beyond that: see validate().
inline boost::system::result<connection_config> parse_connection_config(std::string_view json, std::string_view source,
                                                                        diagnostics& diag) {
    diag.clear();
    boost::json::stream_parser parser;
    boost::system::error_code ec;
    const std::size_t consumed = parser.write(json.data(), json.size(), ec);
    if (!ec) parser.finish(ec);
    if (ec) {
        std::size_t line = 1, column = 1;
        for (char c : json.substr(0, std::min(consumed, json.size()))) {
            if (c == '\n') {
                ++line;
                column = 1;
            } else {
                ++column;
            }
        }
        diag.set_client_message(std::string(source) + ": not valid JSON at line " + std::to_string(line) +
                                ", column " + std::to_string(column) + " (" + ec.message() + ")");
        return make_error_code(errc::invalid_json);
    }
    const boost::json::value doc = parser.release();
    const auto* obj = doc.if_object();
    if (!obj) {
        diag.set_client_message(std::string(source) + ": the configuration must be a JSON object");
        return make_error_code(errc::invalid_field_type);
    }
    connection_config config;
    if (auto err = detail::config::set_config_object(config, *obj, "", source, diag)) return err;
    return config;
}

/// Largest configuration file read.
inline constexpr std::size_t max_connection_config_size = 1024 * 1024;

/// Reads a configuration file (see parse_connection_config; messages start with the file's name).
/// When the file holds oauth.client_secret or pat and its group or others may read it, adds a
/// warning "<file> is readable by others and holds a secret (...)". A file that cannot be read
/// gives the system's error code and "<file>: cannot read: <reason>".
inline boost::system::result<connection_config> load_connection_config(const std::filesystem::path& file,
                                                                       diagnostics& diag) {
    diag.clear();
    const std::string name = file.string();
    auto io_error = [&](int e) {
        const boost::system::error_code ec(e, boost::system::system_category());
        diag.set_client_message(name + ": cannot read: " + ec.message());
        return ec;
    };
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) return io_error(errno);
    struct closer {
        int fd;
        ~closer() { ::close(fd); }
    } close_fd{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) return io_error(errno);
    if (S_ISDIR(st.st_mode)) return io_error(EISDIR);
    if (!S_ISREG(st.st_mode)) {
        diag.set_client_message(name + ": cannot read: not a regular file");
        return make_error_code(errc::invalid_argument);
    }
    std::string text;
    struct wipe_on_exit {
        std::string& s;
        ~wipe_on_exit() { takeoff::detail::wipe_string(s); }
    } wipe{text};
    char buffer[4096];
    while (true) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0) {
            if (errno == EINTR) continue;
            return io_error(errno);
        }
        if (n == 0) break;
        text.append(buffer, static_cast<std::size_t>(n));
        if (text.size() > max_connection_config_size) {
            diag.set_client_message(name + ": larger than 1 MiB; not a configuration file");
            return make_error_code(errc::invalid_argument);
        }
    }
    {
        volatile char* b = buffer;
        for (std::size_t i = 0; i < sizeof buffer; ++i) b[i] = 0;
    }
    auto config = parse_connection_config(text, name, diag);
    if (!config) return config;
    if ((st.st_mode & (S_IRGRP | S_IROTH)) != 0) {
        std::string held;
        if (!config->oauth.client_secret.empty()) held = "oauth.client_secret";
        if (!config->pat.empty()) held += held.empty() ? "pat" : " and pat";
        if (!held.empty())
            config->warnings.push_back(name + " is readable by others and holds a secret (" + held +
                                       "); make it readable by its owner only (chmod 600), or pass the secret "
                                       "in the environment");
    }
    return config;
}

/// Looks an environment variable up: its value (possibly empty), or none when it is not set.
using environment_lookup = std::function<std::optional<std::string>(std::string_view name)>;

/// The process's environment (std::getenv).
inline environment_lookup process_environment() {
    return [](std::string_view name) -> std::optional<std::string> {
        const std::string key(name);
        const char* value = std::getenv(key.c_str());
        if (!value) return std::nullopt;
        return std::string(value);
    };
}

/// Overrides fields from TAKEOFF_<FIELD> variables, nested with '_': TAKEOFF_ACCOUNT_URL,
/// TAKEOFF_ENDPOINT_URL, TAKEOFF_MANAGEMENT_URL, TAKEOFF_OPENAI_URL, TAKEOFF_CONSUMER_GROUP,
/// TAKEOFF_CA_FILE, TAKEOFF_AUTH, TAKEOFF_OAUTH_CLIENT_ID, TAKEOFF_OAUTH_CLIENT_SECRET,
/// TAKEOFF_OAUTH_AUTHORIZATION_ENDPOINT, TAKEOFF_OAUTH_TOKEN_ENDPOINT, TAKEOFF_OAUTH_SCOPE,
/// TAKEOFF_OAUTH_REDIRECT_URI, TAKEOFF_PAT, TAKEOFF_KEYPAIR_USER, TAKEOFF_KEYPAIR_PRIVATE_KEY_FILE,
/// TAKEOFF_KEYPAIR_ROLE. A variable that is set but empty overrides with the empty string (to clear
/// a field of the file). TAKEOFF_AUTH takes the values of "auth"; another value gives
/// errc::invalid_argument ("environment variable TAKEOFF_AUTH is 'x'; allowed values: ...") and
/// leaves the remaining fields as they were.
inline boost::system::error_code apply_environment(connection_config& config, const environment_lookup& env,
                                                   diagnostics& diag) {
    diag.clear();
    for (const auto& f : detail::config::config_fields) {
        std::optional<std::string> value = env(f.env_name);
        if (!value) continue;
        if (auto ec = detail::config::set_config_field(config, f, std::move(*value),
                                               "environment variable " + std::string(f.env_name), diag))
            return ec;
    }
    return {};
}

namespace detail::config {

inline boost::system::error_code config_error(diagnostics& diag, std::string_view field, std::string_view reason,
                                              errc code) {
    diag.set_client_message(std::string(field) + ": " + std::string(reason));
    return make_error_code(code);
}

inline boost::system::error_code missing(diagnostics& diag, std::string_view field, auth_mode mode,
                                         std::string_view condition = {}) {
    return config_error(diag, field,
                        "required by auth \"" + std::string(to_string(mode)) + "\"" + std::string(condition) +
                            "; set it in the configuration or in " + std::string(env_name_of(field)),
                        errc::missing_field);
}

// Runs a checked type's runtime() and prefixes its reason with the field's name.
template <class Check>
boost::system::error_code check_field(diagnostics& diag, std::string_view field, Check check) {
    auto r = check(diag);
    if (r) return {};
    diag.set_client_message(std::string(field) + ": " + diag.client_message());
    return r.error();
}

// A service URL: http(s); https or loopback when it carries a credential; no query.
inline boost::system::error_code check_service_url(diagnostics& diag, std::string_view field, std::string_view url,
                                                   bool carries_credential) {
    oauth::detail::url_parts parts;
    literal_check check;
    if (!oauth::detail::parse_http_url(url, parts, check))
        return config_error(diag, field, check.reason(), errc::invalid_url);
    if (carries_credential && !parts.https && !oauth::detail::is_loopback_host(parts.host))
        return config_error(diag, field,
                            "http:// is allowed only for 127.0.0.1, [::1] and localhost (or with auth \"none\"); "
                            "use https://",
                            errc::invalid_url);
    if (parts.has_query) return config_error(diag, field, "a service URL has no query", errc::invalid_url);
    return {};
}

inline boost::system::error_code check_redirect_uri(diagnostics& diag, std::string_view url) {
    constexpr std::string_view field = "oauth.redirect_uri";
    oauth::detail::url_parts parts;
    literal_check check;
    if (!oauth::detail::parse_http_url(url, parts, check))
        return config_error(diag, field, check.reason(), errc::invalid_url);
    if (parts.https || !oauth::detail::is_loopback_host(parts.host))
        return config_error(diag, field,
                            "a redirect URI is http://127.0.0.1, http://[::1] or http://localhost with an optional "
                            "port and path (the loopback listener)",
                            errc::invalid_url);
    if (parts.has_query) return config_error(diag, field, "a redirect URI has no query", errc::invalid_url);
    return {};
}

} // namespace detail::config

/// Checks that the configuration has what its auth mode needs and that each URL and the scope are
/// valid; the first problem found gives an error and a message that starts with the field's name:
/// errc::missing_field ("oauth.client_id: required by auth \"oauth\"; set it in the configuration
/// or in TAKEOFF_OAUTH_CLIENT_ID"), errc::invalid_url, errc::invalid_scope_string,
/// errc::invalid_identifier or errc::invalid_argument.
///
/// Always: endpoint_url (an http(s) URL); account_url, management_url and openai_url when set;
/// consumer_group not empty. "oauth" and "oauth-direct": oauth.client_id, oauth.client_secret,
/// oauth.redirect_uri (http:// to a loopback host), account_url or both oauth endpoints, the
/// endpoints when set, oauth.scope when set (snowflake::parse_scope); "oauth" also account_url
/// (its login-request makes the session token). "pat": pat. "keypair": account_url, keypair.user,
/// keypair.private_key_file, keypair.role when set (an identifier). "none": nothing more. Fields the
/// mode does not use are not checked.
inline boost::system::error_code validate(const connection_config& config, diagnostics& diag) {
    diag.clear();
    const auth_mode mode = config.auth;
    const bool credential = mode != auth_mode::none;

    if (config.account_url.empty()) {
        if (mode == auth_mode::oauth)
            return detail::config::missing(diag, "account_url", mode, " (its login-request makes the session token)");
        if (mode == auth_mode::keypair) return detail::config::missing(diag, "account_url", mode);
    } else if (auto ec = detail::config::check_field(diag, "account_url",
                                             [&](diagnostics& d) { return account_url::runtime(config.account_url, d); })) {
        return ec;
    }
    if (config.endpoint_url.empty())
        return detail::config::config_error(diag, "endpoint_url",
                                    "required (the ingress URL of Takeoff); set it in the configuration or in "
                                    "TAKEOFF_ENDPOINT_URL",
                                    errc::missing_field);
    if (auto ec = detail::config::check_service_url(diag, "endpoint_url", config.endpoint_url, credential)) return ec;
    if (!config.management_url.empty())
        if (auto ec = detail::config::check_service_url(diag, "management_url", config.management_url, credential)) return ec;
    if (!config.openai_url.empty())
        if (auto ec = detail::config::check_service_url(diag, "openai_url", config.openai_url, credential)) return ec;
    if (config.consumer_group.empty())
        return detail::config::config_error(diag, "consumer_group", "must not be empty (the default is \"primary\")",
                                    errc::invalid_argument);

    switch (mode) {
    case auth_mode::oauth:
    case auth_mode::oauth_direct: {
        const auto& o = config.oauth;
        if (o.client_id.empty()) return detail::config::missing(diag, "oauth.client_id", mode);
        if (o.client_secret.empty()) return detail::config::missing(diag, "oauth.client_secret", mode);
        if (o.authorization_endpoint.empty() && config.account_url.empty())
            return detail::config::missing(diag, "oauth.authorization_endpoint", mode, " when account_url is not set");
        if (o.token_endpoint.empty() && config.account_url.empty())
            return detail::config::missing(diag, "oauth.token_endpoint", mode, " when account_url is not set");
        if (!o.authorization_endpoint.empty())
            if (auto ec = detail::config::check_field(diag, "oauth.authorization_endpoint", [&](diagnostics& d) {
                    return oauth::authorization_endpoint::runtime(o.authorization_endpoint, d);
                }))
                return ec;
        if (!o.token_endpoint.empty())
            if (auto ec = detail::config::check_field(diag, "oauth.token_endpoint", [&](diagnostics& d) {
                    return oauth::token_endpoint::runtime(o.token_endpoint, d);
                }))
                return ec;
        if (!o.scope.empty())
            if (auto ec = detail::config::check_field(diag, "oauth.scope", [&](diagnostics& d) { return parse_scope(o.scope, d); }))
                return ec;
        if (o.redirect_uri.empty()) return detail::config::missing(diag, "oauth.redirect_uri", mode);
        if (auto ec = detail::config::check_redirect_uri(diag, o.redirect_uri)) return ec;
        break;
    }
    case auth_mode::pat:
        if (config.pat.empty()) return detail::config::missing(diag, "pat", mode);
        break;
    case auth_mode::keypair:
        if (config.keypair.user.empty()) return detail::config::missing(diag, "keypair.user", mode);
        if (config.keypair.private_key_file.empty()) return detail::config::missing(diag, "keypair.private_key_file", mode);
        if (!config.keypair.role.empty())
            if (auto ec = detail::config::check_field(diag, "keypair.role",
                                              [&](diagnostics& d) { return identifier::runtime(config.keypair.role, d); }))
                return ec;
        break;
    case auth_mode::none: break;
    }
    return {};
}

/// The typed values the OAuth providers take, made from a valid configuration.
struct resolved_oauth {
    /// The account, when account_url is set.
    std::optional<account_url> account;
    /// The OAuth client: oauth.authorization_endpoint and oauth.token_endpoint (or the account's
    /// /oauth/authorize and /oauth/token-request), client id and secret, scope, redirect URI.
    oauth::client_config client;
    /// The parsed oauth.scope, or none when it is empty (no scope is sent).
    std::optional<scopes> scope;
};

/// validate()s the configuration, then makes the typed OAuth values. errc::invalid_argument when
/// the auth mode is not "oauth" or "oauth-direct"; validate()'s errors otherwise.
inline boost::system::result<resolved_oauth> resolve_oauth(const connection_config& config, diagnostics& diag) {
    if (auto ec = validate(config, diag)) return ec;
    if (config.auth != auth_mode::oauth && config.auth != auth_mode::oauth_direct) {
        diag.set_client_message("auth: OAuth settings are used with auth \"oauth\" or \"oauth-direct\", not \"" +
                                std::string(to_string(config.auth)) + "\"");
        return make_error_code(errc::invalid_argument);
    }
    std::optional<account_url> account;
    if (!config.account_url.empty()) account = account_url::runtime(config.account_url).value();
    const auto& o = config.oauth;
    auto authorization = o.authorization_endpoint.empty()
                             ? account->authorization_endpoint()
                             : oauth::authorization_endpoint::runtime(o.authorization_endpoint).value();
    auto token = o.token_endpoint.empty() ? account->token_endpoint() : oauth::token_endpoint::runtime(o.token_endpoint).value();
    std::optional<scopes> scope;
    if (!o.scope.empty()) scope = parse_scope(o.scope).value();
    oauth::client_config client{std::move(authorization), std::move(token), o.client_id, o.client_secret,
                                std::nullopt, oauth::client_auth_method::client_secret_post,
                                scope ? std::string(scope->str()) : std::string(), o.redirect_uri, {}};
    return resolved_oauth{std::move(account), std::move(client), std::move(scope)};
}

} // namespace takeoff::snowflake
