#pragma once
// The token requests of an OAuth client on the wire: the authorization-code exchange and the
// refresh grant, posted through http::client, their replies folded into a token_set.
//
// The client of a Snowflake security integration has two secrets (SYSTEM$SHOW_OAUTH_CLIENT_SECRETS
// gives both, so that they can be rotated); when the token endpoint refuses the first with
// invalid_client, the same request is made once more with the second. A refresh token the server
// refuses (invalid_grant: expired, revoked, already used) ends in errc::token_unavailable, saying
// that the user must sign in again; nothing else can be done with it.

#include <takeoff/core/config.hpp>
#include <takeoff/core/diagnostics.hpp>
#include <takeoff/core/error.hpp>
#include <takeoff/core/redact.hpp>
#include <takeoff/core/with_diagnostics.hpp>
#include <takeoff/detail/async_op.hpp>
#include <takeoff/detail/task.hpp>
#include <takeoff/http/client.hpp>
#include <takeoff/oauth/endpoint.hpp>
#include <takeoff/oauth/token.hpp>
#include <takeoff/oauth/token_set.hpp>

#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace takeoff::oauth {

/// What the token operations complete with.
using token_set_result = takeoff::detail::op_result<token_set>;

namespace detail {

// Posts requests[0]; while the reply is invalid_client and another credential is left, the next.
inline takeoff::detail::task<takeoff::detail::op_result<token_response>>
post_token_requests(const http::client& client, std::vector<http::request> requests, diagnostics& diag) {
    takeoff::detail::op_result<token_response> out;
    for (std::size_t i = 0; i < requests.size(); ++i) {
        auto r = co_await client.request_task(requests[i], client.defaults(), diag);
        if (r.ec && r.value.status == 0) co_return takeoff::detail::op_result<token_response>{r.ec, {}};
        auto parsed = parse_token_response(r.value, diag);
        if (parsed) co_return takeoff::detail::op_result<token_response>{{}, std::move(*parsed)};
        out.ec = parsed.error();
        if (out.ec != errc::invalid_client) break;
    }
    co_return out;
}

} // namespace detail

/// For the library's composed operations: exchanges an authorization code (with its PKCE
/// verifier and the redirect URI sent to the authorization endpoint) for tokens.
inline takeoff::detail::task<token_set_result>
exchange_code_task(const http::client& client, const client_config& config, const secret& code,
                   std::string_view redirect_uri, const secret& code_verifier, token_clock::time_point now,
                   diagnostics& diag) {
    std::vector<http::request> requests;
    for (const auto& credentials : config.credentials_to_try()) {
        auto req = make_authorization_code_request(config.token_endpoint, credentials, code, redirect_uri,
                                                   code_verifier, config.exchange, diag);
        if (!req) co_return token_set_result{req.error(), {}};
        requests.push_back(std::move(*req));
    }
    auto reply = co_await detail::post_token_requests(client, std::move(requests), diag);
    if (reply.ec) co_return token_set_result{reply.ec, {}};
    co_return token_set_result{{}, apply_token_response({}, std::move(reply.value), now, config.scope)};
}

/// For the library's composed operations: a new access token for `current` from its refresh token.
/// No usable refresh token, or one the server refuses (invalid_grant), is errc::token_unavailable:
/// the user must sign in again.
inline takeoff::detail::task<token_set_result> refresh_task(const http::client& client, const client_config& config,
                                                            const token_set& current, token_clock::time_point now,
                                                            diagnostics& diag) {
    if (!current.can_refresh(now)) {
        diag.set_client_message(current.refresh_token && !current.refresh_token->empty()
                                    ? "the refresh token has expired: sign in again"
                                    : "no refresh token is held (the scope must include refresh_token to get "
                                      "one): sign in again");
        co_return token_set_result{make_error_code(errc::token_unavailable), {}};
    }
    std::vector<http::request> requests;
    for (const auto& credentials : config.credentials_to_try()) {
        auto req = make_refresh_token_request(config.token_endpoint, credentials, *current.refresh_token,
                                              config.scope, diag);
        if (!req) co_return token_set_result{req.error(), {}};
        requests.push_back(std::move(*req));
    }
    auto reply = co_await detail::post_token_requests(client, std::move(requests), diag);
    if (reply.ec == errc::invalid_grant) {
        diag.set_client_message("the token endpoint refused the refresh token (invalid_grant: expired, revoked or "
                                "already used): sign in again");
        co_return token_set_result{make_error_code(errc::token_unavailable), {}};
    }
    if (reply.ec) co_return token_set_result{reply.ec, {}};
    co_return token_set_result{{}, apply_token_response(current, std::move(reply.value), now, config.scope)};
}

/// Refreshes `current` (see refresh_task). Completes with `void(error_code, token_set)`. The client
/// must outlive the operation.
template <class CompletionToken = default_token>
auto async_refresh(http::client& client, const client_config& config, token_set current, diagnostics& diag,
                   CompletionToken&& token = {}) {
    return takeoff::detail::async_run<token_set>(
        client.get_executor(), false, client.defaults().deadline, &diag,
        [](diagnostics* d, http::client* c, client_config& cfg, token_set& t, diagnostics& own) {
            return refresh_task(*c, cfg, t, token_clock::now(), d ? *d : own);
        },
        std::forward<CompletionToken>(token), &client, config, std::move(current), diagnostics{});
}

} // namespace takeoff::oauth
