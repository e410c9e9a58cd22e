#pragma once
// What an OAuth sign-in leaves behind: the access token, when it expires, and the refresh token that
// makes new ones. The token requests (token.hpp) produce it, the token stores (token_store.hpp) keep
// it, and the credential providers (snowflake/providers.hpp) refresh it.
//
// Times are wall-clock (system_clock): a stored token set is read again by another process, maybe
// days later. Whoever decides "is it still valid" takes the time from an injectable clock, so that
// tests can move time on without waiting.

#include <takeoff/core/config.hpp>
#include <takeoff/core/redact.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <ostream>
#include <string>

namespace takeoff::oauth {

/// The clock token lifetimes are measured with.
using token_clock = std::chrono::system_clock;

/// A source of the current time; token_clock::now unless a test passes another.
using clock_function = std::function<token_clock::time_point()>;

/// The tokens of one sign-in (account, client, scope).
struct token_set {
    /// The OAuth access token (Snowflake: 10 minutes by default).
    secret access_token;
    /// When the access token expires; empty when the server gave no lifetime.
    std::optional<token_clock::time_point> expires_at;
    /// The refresh token, when the scope asked for one (`refresh_token`) and the server issued it.
    std::optional<secret> refresh_token;
    /// When the refresh token expires, when the server said (Snowflake: 90 days by default).
    std::optional<token_clock::time_point> refresh_token_expires_at;
    /// The granted scope (the requested one when the server did not echo it).
    std::string scope;
    /// The Snowflake user name, when the server sent one (code exchange only).
    std::string username;

    /// True when the access token is known to have expired at `now` (a token of unknown lifetime
    /// never is).
    bool access_token_expired(token_clock::time_point now) const noexcept { return expires_at && now >= *expires_at; }

    /// True when a refresh token is held and not known to have expired at `now`.
    bool can_refresh(token_clock::time_point now) const noexcept {
        return refresh_token && !refresh_token->empty() && !(refresh_token_expires_at && now >= *refresh_token_expires_at);
    }

    /// Prints the scope, the user and the lifetimes; every token shows as "[redacted]".
    friend std::ostream& operator<<(std::ostream& os, const token_set& t) {
        os << "token_set{access_token=" << t.access_token << ", expires_at=";
        if (t.expires_at)
            os << std::chrono::duration_cast<std::chrono::seconds>(t.expires_at->time_since_epoch()).count();
        else
            os << "(unknown)";
        os << ", refresh_token=";
        if (t.refresh_token)
            os << *t.refresh_token;
        else
            os << "(none)";
        return os << ", scope=\"" << t.scope << "\", username=\"" << t.username << "\"}";
    }
};

} // namespace takeoff::oauth
