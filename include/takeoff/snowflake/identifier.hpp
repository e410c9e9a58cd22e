#pragma once
// Snowflake object identifiers (role names, mostly), as rules usable while compiling and at run
// time. Snowflake has two spellings of a name in SQL: unquoted (letters, digits, `_`, `$`, starting
// with a letter or `_`; SQL resolves it in uppercase) and double-quoted (any character, kept as
// written). What OAuth scopes carry is the name as stored, so a name that only the quoted spelling
// can produce (lowercase, spaces, `-`, ...) is still a valid name; it merely needs quoting in SQL
// and percent-encoding in a scope (scope.hpp).
//
// Rules from Snowflake's "Identifier requirements" page: both spellings are at most 255
// characters; a quoted identifier may hold any character, but we refuse control characters (no
// role is meant to contain them and they would be invisible in logs and consent screens).

#include <takeoff/core/checked_literal.hpp>
#include <takeoff/core/config.hpp>
#include <takeoff/core/error.hpp>

#include <cstddef>
#include <string_view>

namespace takeoff::snowflake {

/// Longest identifier Snowflake accepts, quoted or not, in characters.
inline constexpr std::size_t max_identifier_length = 255;

namespace detail {
constexpr bool is_ascii_letter(char c) noexcept { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
constexpr bool is_ascii_digit(char c) noexcept { return c >= '0' && c <= '9'; }
constexpr bool is_control(char c) noexcept {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
}
} // namespace detail

/// True when `name` is an unquoted identifier: 1 to 255 characters, letters, digits, `_` and `$`,
/// starting with a letter or `_`.
constexpr bool is_unquoted_identifier(std::string_view name) noexcept {
    if (name.empty() || name.size() > max_identifier_length) return false;
    if (!detail::is_ascii_letter(name[0]) && name[0] != '_') return false;
    for (char c : name)
        if (!detail::is_ascii_letter(c) && !detail::is_ascii_digit(c) && c != '_' && c != '$') return false;
    return true;
}

/// True when the stored name `name` can be written in SQL only as a quoted identifier: it is not
/// an unquoted identifier, or it has lowercase letters (unquoted, SQL would turn them uppercase
/// and name another object).
constexpr bool needs_quoting(std::string_view name) noexcept {
    if (!is_unquoted_identifier(name)) return true;
    for (char c : name)
        if (c >= 'a' && c <= 'z') return true;
    return false;
}

/// The rules of a stored object name (quoted or not): 1 to 255 characters, no control characters.
struct identifier_rules {
    static constexpr errc error = errc::invalid_identifier;
    static constexpr bool check(std::string_view name, literal_check& check) {
        if (name.empty()) return check.fail("a Snowflake identifier must not be empty");
        if (name.size() > max_identifier_length)
            return check.fail("a Snowflake identifier has at most 255 characters");
        for (char c : name)
            if (detail::is_control(c)) return check.fail("a Snowflake identifier has no control characters");
        return true;
    }
};

/// The rules of an unquoted identifier (see is_unquoted_identifier), for names that must be
/// usable in SQL as written.
struct unquoted_identifier_rules {
    static constexpr errc error = errc::invalid_identifier;
    static constexpr bool check(std::string_view name, literal_check& check) {
        if (name.empty()) return check.fail("a Snowflake identifier must not be empty");
        if (name.size() > max_identifier_length)
            return check.fail("a Snowflake identifier has at most 255 characters");
        if (!detail::is_ascii_letter(name[0]) && name[0] != '_')
            return check.fail("an unquoted Snowflake identifier starts with a letter or _");
        for (char c : name)
            if (!detail::is_ascii_letter(c) && !detail::is_ascii_digit(c) && c != '_' && c != '$')
                return check.fail("an unquoted Snowflake identifier has only letters, digits, _ and $");
        return true;
    }
};

/// A stored object name (e.g. a role created as `"analyst"`), checked by identifier_rules.
using identifier = checked_string<identifier_rules>;

/// A name usable unquoted in SQL, checked by unquoted_identifier_rules.
using unquoted_identifier = checked_string<unquoted_identifier_rules>;

} // namespace takeoff::snowflake
