#pragma once
// Snowflake OAuth scopes (reference: snowflake-auth.md section 3), checked twice over:
//
// * Composed from typed parts, `scope::refresh_token | scope::role<"ANALYST">`: the scope string
//   is a compile-time constant, and a second role, a duplicate or an invalid role name does not
//   compile. A role name that SQL could not write unquoted (lowercase, spaces, `-`, ...) or that
//   holds `$` (reserved in a query string) becomes `session:role-encoded:<percent-encoded>`, as
//   the docs ask; plain uppercase names stay `session:role:NAME`.
// * Read from text, `scopes s = "refresh_token session:role:ANALYST";` (a literal, checked while
//   compiling) or `parse_scope(text)` (config, checked at run time): the same constexpr grammar
//   serves both, so a string accepted by one is accepted by the other.
//
// The grammar is strict, because Snowflake rejects a syntactically bad scope before login with a
// bare "invalid_scope" and we would rather say which rule was broken:
//   scopes  = scope *( " " scope )        ; single spaces, no leading or trailing space
//   scope   = "refresh_token" / "session:role-any"
//           / "session:role:" 1*255( ALPHA / DIGIT / "_" / "-" )
//           / "session:role-encoded:" 1*( unreserved / "%" HEXDIG HEXDIG )   ; decodes to an identifier
// At most one refresh_token, one role scope (role: or role-encoded:) and one role-any.
// session:role-any may be combined with a role scope: the docs say the role then picks the
// starting role. `offline_access` (OIDC) is refused by name: Snowflake answers it with
// invalid_scope, and refresh_token is what asks for a refresh token.

#include <takeoff/core/checked_literal.hpp>
#include <takeoff/core/config.hpp>
#include <takeoff/core/diagnostics.hpp>
#include <takeoff/core/error.hpp>
#include <takeoff/core/fixed_string.hpp>
#include <takeoff/snowflake/identifier.hpp>

#include <boost/system/result.hpp>

#include <cstddef>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace takeoff::snowflake {

namespace detail {

inline constexpr std::string_view role_prefix = "session:role:";
inline constexpr std::string_view role_encoded_prefix = "session:role-encoded:";
inline constexpr std::string_view role_any_text = "session:role-any";
inline constexpr std::string_view refresh_token_text = "refresh_token";

// RFC 3986 unreserved characters: the only ones percent-encoding leaves alone.
constexpr bool is_unreserved(char c) noexcept {
    return is_ascii_letter(c) || is_ascii_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

constexpr int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

// string_view::find by hand: g++ 12 with -fsanitize=undefined cannot evaluate char_traits::find
// on a template parameter object (the role's fixed_string) in a constant expression.
constexpr std::size_t find_char(std::string_view s, char c, std::size_t from = 0) noexcept {
    for (std::size_t i = from; i < s.size(); ++i)
        if (s[i] == c) return i;
    return std::string_view::npos;
}

// Whether a role goes in session:role-encoded: rather than session:role:.
constexpr bool needs_role_encoding(std::string_view name) noexcept {
    return needs_quoting(name) || find_char(name, '$') != std::string_view::npos;
}

constexpr std::size_t percent_encoded_size(std::string_view s) noexcept {
    std::size_t n = 0;
    for (char c : s) n += is_unreserved(c) ? 1 : 3;
    return n;
}

// Writes the percent-encoding of `s` (uppercase hex digits) through `put`.
template <class Put>
constexpr void percent_encode(std::string_view s, Put put) {
    constexpr const char* digits = "0123456789ABCDEF";
    for (char c : s) {
        if (is_unreserved(c)) {
            put(c);
        } else {
            const auto u = static_cast<unsigned char>(c);
            put('%');
            put(digits[u >> 4]);
            put(digits[u & 0xf]);
        }
    }
}

// What a valid scope string holds. `role` views the text after the role prefix (still encoded
// when role_encoded).
struct parsed_scopes {
    bool refresh_token = false;
    bool role_any = false;
    bool has_role = false;
    bool role_encoded = false;
    std::string_view role;
};

constexpr bool check_plain_role(std::string_view name, literal_check& check) {
    if (!identifier_rules::check(name, check)) return false;
    for (char c : name)
        if (!is_ascii_letter(c) && !is_ascii_digit(c) && c != '_' && c != '-')
            return check.fail("session:role: takes letters, digits, _ and - only; "
                              "other role names go in session:role-encoded:");
    return true;
}

// Checks the percent-encoded name, then the decoded name by identifier_rules (length in bytes,
// no control characters) without building it, so that this also runs while compiling.
constexpr bool check_encoded_role(std::string_view encoded, literal_check& check) {
    if (encoded.empty()) return check.fail("a Snowflake identifier must not be empty");
    std::size_t length = 0;
    for (std::size_t i = 0; i < encoded.size(); ++i, ++length) {
        char c = encoded[i];
        if (c == '%') {
            if (i + 2 >= encoded.size())
                return check.fail("a % in session:role-encoded: is followed by two hex digits");
            const int high = hex_value(encoded[i + 1]);
            const int low = hex_value(encoded[i + 2]);
            if (high < 0 || low < 0) return check.fail("a % in session:role-encoded: is followed by two hex digits");
            c = static_cast<char>(high * 16 + low);
            i += 2;
        } else if (!is_unreserved(c)) {
            return check.fail("session:role-encoded: takes unreserved characters and %XX escapes only");
        }
        if (is_control(c)) return check.fail("a Snowflake identifier has no control characters");
    }
    if (length > max_identifier_length) return check.fail("a Snowflake identifier has at most 255 characters");
    return true;
}

constexpr bool parse_one_scope(std::string_view token, parsed_scopes& out, literal_check& check) {
    if (token == refresh_token_text) {
        if (out.refresh_token) return check.fail("refresh_token appears twice");
        out.refresh_token = true;
        return true;
    }
    if (token == role_any_text) {
        if (out.role_any) return check.fail("session:role-any appears twice");
        out.role_any = true;
        return true;
    }
    const bool encoded = token.starts_with(role_encoded_prefix);
    if (encoded || token.starts_with(role_prefix)) {
        if (out.has_role) return check.fail("only one session:role scope is allowed");
        const std::string_view name = token.substr(encoded ? role_encoded_prefix.size() : role_prefix.size());
        if (!(encoded ? check_encoded_role(name, check) : check_plain_role(name, check))) return false;
        out.has_role = true;
        out.role_encoded = encoded;
        out.role = name;
        return true;
    }
    if (token == "offline_access")
        return check.fail("offline_access is not a Snowflake scope (Snowflake answers invalid_scope); "
                          "ask for refresh_token");
    return check.fail("unknown Snowflake scope: expected refresh_token, session:role:NAME, "
                      "session:role-encoded:NAME or session:role-any");
}

// The grammar of the file comment. Fills `out` when the text is valid.
constexpr bool parse_scopes(std::string_view text, parsed_scopes& out, literal_check& check) {
    out = parsed_scopes{};
    if (text.empty()) return check.fail("the scope string is empty (send no scope instead)");
    for (char c : text)
        if (c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v')
            return check.fail("scopes are separated by single spaces");
    std::size_t pos = 0;
    for (;;) {
        const std::size_t end = find_char(text, ' ', pos);
        const std::string_view token = text.substr(pos, end == std::string_view::npos ? text.size() - pos : end - pos);
        if (token.empty()) return check.fail("scopes are separated by single spaces");
        if (!parse_one_scope(token, out, check)) return false;
        if (end == std::string_view::npos) return true;
        pos = end + 1;
    }
}

// Rejects, while compiling, a role name that breaks identifier_rules; the reason is in the error.
consteval bool require_role_name(std::string_view name) {
    literal_check check;
    identifier_rules::check(name, check);
    return true;
}

} // namespace detail

namespace scope {
/// What a scope part asks for; a scope set holds at most one of each.
enum class kind { refresh_token, role, role_any };
} // namespace scope

/// The `refresh_token` scope part: a refresh token at code exchange.
struct refresh_token_scope {
    static constexpr scope::kind category = scope::kind::refresh_token;
    static constexpr fixed_string text{"refresh_token"};
};

/// The `session:role-any` scope part (preview): `USE ROLE` allowed in the session.
struct role_any_scope {
    static constexpr scope::kind category = scope::kind::role_any;
    static constexpr fixed_string text{"session:role-any"};
};

namespace detail {
template <fixed_string Name>
consteval auto role_scope_text() {
    constexpr bool encode = needs_role_encoding(Name.view());
    constexpr std::string_view prefix = encode ? role_encoded_prefix : role_prefix;
    constexpr std::size_t size = prefix.size() + (encode ? percent_encoded_size(Name.view()) : Name.size());
    fixed_string<size> out;
    std::size_t pos = 0;
    for (char c : prefix) out.chars[pos++] = c;
    if constexpr (encode)
        percent_encode(Name.view(), [&](char c) { out.chars[pos++] = c; });
    else
        for (char c : Name.view()) out.chars[pos++] = c;
    return out;
}
} // namespace detail

/// The scope part of the session role Name (the name as stored: `"ANALYST"`, or `"analyst"` for a
/// role created quoted), spelled session:role: or session:role-encoded: as the name requires.
template <fixed_string Name>
struct role_scope {
    static_assert(detail::require_role_name(Name.view()));
    static constexpr scope::kind category = scope::kind::role;
    static constexpr auto text = detail::role_scope_text<Name>();
};

namespace detail {
template <scope::kind K, class... Parts>
inline constexpr std::size_t count_kind = ((Parts::category == K ? 1 : 0) + ... + 0);

template <class... Parts>
consteval auto join_scope_texts() {
    constexpr std::size_t size = (Parts::text.size() + ... + 0) + sizeof...(Parts) - 1;
    fixed_string<size> out;
    std::size_t pos = 0;
    auto append = [&](std::string_view part) {
        if (pos != 0) out.chars[pos++] = ' ';
        for (char c : part) out.chars[pos++] = c;
    };
    (append(Parts::text.view()), ...);
    return out;
}
} // namespace detail

/// Scope parts composed with `|`, in that order. The rules hold by type: composing a second role,
/// or a part twice, does not compile.
template <class... Parts>
class scope_set {
    static_assert(sizeof...(Parts) > 0, "a scope set has at least one scope");
    static_assert(detail::count_kind<scope::kind::refresh_token, Parts...> <= 1, "refresh_token appears twice");
    static_assert(detail::count_kind<scope::kind::role, Parts...> <= 1, "only one session:role scope is allowed");
    static_assert(detail::count_kind<scope::kind::role_any, Parts...> <= 1, "session:role-any appears twice");

    static constexpr auto text_ = detail::join_scope_texts<Parts...>();

public:
    /// The scope string, space-separated (a compile-time constant).
    static constexpr std::string_view str() noexcept { return text_.view(); }

    /// This set followed by `other`'s parts.
    template <class... Others>
    constexpr scope_set<Parts..., Others...> operator|(scope_set<Others...>) const noexcept {
        return {};
    }
};

namespace scope {
/// `refresh_token`.
inline constexpr scope_set<refresh_token_scope> refresh_token{};
/// `session:role:NAME`, or `session:role-encoded:...` when NAME needs it.
template <fixed_string Name>
inline constexpr scope_set<role_scope<Name>> role{};
/// `session:role-any`.
inline constexpr scope_set<role_any_scope> role_any{};
} // namespace scope

/// The rules of a scope string (the grammar of the file comment), for checked literals.
struct scope_string_rules {
    static constexpr errc error = errc::invalid_scope_string;
    static constexpr bool check(std::string_view text, literal_check& check) {
        detail::parsed_scopes parsed;
        return detail::parse_scopes(text, parsed, check);
    }
};

/// A valid scope string and what it asks for, whatever its origin: a literal (checked while
/// compiling), a scope_set, or text from config (parse_scope). What the OAuth layer takes.
class scopes {
public:
    /// From a literal, checked while compiling.
    template <std::size_t N>
    consteval scopes(const char (&literal)[N]) : text_(literal, N - 1) {
        literal_check check;
        detail::parse_scopes(text_, parsed_, check);
    }

    /// From a composed set (valid by construction).
    template <class... Parts>
    scopes(scope_set<Parts...> set) : text_(set.str()) {
        literal_check check;
        detail::parse_scopes(text_, parsed_, check);
    }

    /// Checks text known only at run time (see parse_scope).
    static boost::system::result<scopes> runtime(std::string_view text) { return runtime(text, nullptr); }
    static boost::system::result<scopes> runtime(std::string_view text, diagnostics& diag) {
        diag.clear();
        return runtime(text, &diag);
    }

    /// The scope string, as given.
    std::string_view str() const noexcept { return text_; }
    bool has_refresh_token() const noexcept { return parsed_.refresh_token; }
    bool has_role_any() const noexcept { return parsed_.role_any; }
    /// The session role's name, decoded (`AUTH SNOWFLAKE` for session:role-encoded:AUTH%20SNOWFLAKE),
    /// or nothing when the scope names no role (Snowflake then uses the user's default role).
    std::optional<std::string> role() const {
        if (!parsed_.has_role) return std::nullopt;
        if (!parsed_.role_encoded) return std::string(parsed_.role);
        std::string name;
        const std::string_view in = parsed_.role;
        for (std::size_t i = 0; i < in.size(); ++i) {
            if (in[i] == '%') {
                name += static_cast<char>(detail::hex_value(in[i + 1]) * 16 + detail::hex_value(in[i + 2]));
                i += 2;
            } else {
                name += in[i];
            }
        }
        return name;
    }

    friend bool operator==(const scopes& a, const scopes& b) noexcept { return a.text_ == b.text_; }
    friend std::ostream& operator<<(std::ostream& os, const scopes& s) { return os << s.text_; }

private:
    scopes() = default;

    static boost::system::result<scopes> runtime(std::string_view text, diagnostics* diag) {
        if (auto ok = takeoff::detail::run_rules<scope_string_rules>(text, diag); !ok) return ok.error();
        scopes out;
        out.owned_ = std::make_shared<const std::string>(text);
        out.text_ = *out.owned_;
        literal_check check;
        detail::parse_scopes(out.text_, out.parsed_, check); // again, so that parsed_ views owned_
        return out;
    }

    std::shared_ptr<const std::string> owned_;
    std::string_view text_;
    detail::parsed_scopes parsed_;
};

/// Parses a scope string read at run time (config, environment) by the grammar of the file
/// comment. Fails with errc::invalid_scope_string; the diagnostics overload says which rule.
inline boost::system::result<scopes> parse_scope(std::string_view text) { return scopes::runtime(text); }
inline boost::system::result<scopes> parse_scope(std::string_view text, diagnostics& diag) {
    return scopes::runtime(text, diag);
}

} // namespace takeoff::snowflake
