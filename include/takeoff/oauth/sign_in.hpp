#pragma once
// The browser sign-in (OAuth 2.0 authorization code flow with PKCE, RFC 6749 section 4.1 and RFC
// 7636), as one operation: a PKCE pair and a state are made, the loopback listener opens on the
// redirect URI (an ephemeral port written into it when it names none), the authorization URL goes
// to the browser ($BROWSER, xdg-open, or printed; or an application's own callback), the
// redirect's code is checked against the state and exchanged, with the verifier, for tokens.
//
// The no-browser mode (a machine without a browser, a remote shell): no listener; the URL is
// printed, the user signs in on any machine and pastes the URL the browser was sent to (the
// page fails to load, the address bar holds the code). Reading the pasted line blocks the thread
// that runs the operation: it is for command-line programs.

#include <takeoff/core/config.hpp>
#include <takeoff/core/diagnostics.hpp>
#include <takeoff/core/error.hpp>
#include <takeoff/core/with_diagnostics.hpp>
#include <takeoff/detail/async_op.hpp>
#include <takeoff/detail/task.hpp>
#include <takeoff/http/client.hpp>
#include <takeoff/oauth/authorization.hpp>
#include <takeoff/oauth/browser.hpp>
#include <takeoff/oauth/pkce.hpp>
#include <takeoff/oauth/redirect_listener.hpp>
#include <takeoff/oauth/token_client.hpp>
#include <takeoff/oauth/token_set.hpp>

#include <functional>
#include <istream>
#include <optional>
#include <string>
#include <utility>

namespace takeoff::oauth {

/// How the user is sent to sign in and how the answer comes back.
struct sign_in_options {
    /// How the authorization URL is opened: $BROWSER, else xdg-open, else printed.
    browser_options browser;
    /// When set, called with the authorization URL instead of opening a browser (an application's
    /// own web view; tests). Called on the operation's executor; must not block.
    std::function<void(const std::string& url)> open_url;
    /// No-browser mode: when set, no listener is opened; the URL is printed to browser.out (which
    /// must not be null) and the redirected URL is read from this stream (one line).
    std::istream* pasted_redirect = nullptr;
    /// How long the listener waits (120 s by default), and its limits.
    redirect_listener_options listener;
    /// The time the tokens' lifetimes start from.
    clock_function clock = [] { return token_clock::now(); };
};

namespace detail {

inline takeoff::detail::task<token_set_result> sign_in_task(const http::client& client, const client_config& config,
                                                            const sign_in_options& options, diagnostics& diag) {
    if (options.pasted_redirect && !options.browser.out) {
        diag.set_client_message("the no-browser sign-in prints the URL to browser.out, which is null");
        co_return token_set_result{make_error_code(errc::invalid_argument), {}};
    }
    auto challenge = pkce::generate();
    if (!challenge) co_return token_set_result{challenge.error(), {}};
    auto state = generate_state();
    if (!state) co_return token_set_result{state.error(), {}};

    std::optional<redirect_listener> listener;
    std::string redirect_uri = config.redirect_uri;
    if (!options.pasted_redirect) {
        const auto& executor = co_await takeoff::detail::this_task::executor;
        auto opened = redirect_listener::open(executor, config.redirect_uri, diag);
        if (!opened) co_return token_set_result{opened.error(), {}};
        listener.emplace(std::move(*opened));
        redirect_uri = listener->redirect_uri();
    }

    auto url = make_authorization_url(boost::urls::url_view(config.authorization_endpoint.url()),
                                      authorization_parameters{config.client_id, redirect_uri, config.scope}, *state,
                                      *challenge, diag);
    if (!url) co_return token_set_result{url.error(), {}};
    const std::string address(url->buffer());

    boost::system::result<authorization_response> callback = make_error_code(errc::invalid_request);
    if (options.pasted_redirect) {
        *options.browser.out << "Open this URL in a browser to sign in:\n  " << address
                                 << "\nthen paste here the address the browser was sent to:" << std::endl;
        callback = read_pasted_redirect(*options.pasted_redirect, *state, diag);
    } else {
        if (options.open_url) {
            options.open_url(address);
        } else {
            auto opened = open_in_browser(address, options.browser, diag);
            if (!opened) co_return token_set_result{opened.error(), {}};
        }
        auto waited = co_await listener->wait_task(*state, options.listener, diag);
        if (waited.ec) co_return token_set_result{waited.ec, {}};
        callback = std::move(waited.value);
    }
    if (!callback) co_return token_set_result{callback.error(), {}};

    auto tokens = co_await exchange_code_task(client, config, callback->code, redirect_uri, challenge->verifier(),
                                              options.clock(), diag);
    if (!tokens.ec && callback->scope && tokens.value.scope.empty()) tokens.value.scope = *callback->scope;
    co_return tokens;
}

} // namespace detail

/// Signs the user in with the browser (see the file comment). Completes with
/// `void(error_code, token_set)`. Failures: the listener's (errc::invalid_url for a redirect URI
/// that is not loopback, address_in_use, errc::request_timeout when no sign-in arrived in time),
/// the redirect's (errc::state_mismatch, errc::access_denied, errc::invalid_scope, ...), the token
/// endpoint's (errc::invalid_client, errc::invalid_grant, ...). The client, the config and the
/// options must outlive the operation.
template <class CompletionToken = default_token>
auto async_sign_in(http::client& client, const client_config& config, const sign_in_options& options,
                   diagnostics& diag, CompletionToken&& token = {}) {
    return takeoff::detail::async_run<token_set>(
        client.get_executor(), false, std::chrono::steady_clock::duration::zero(), &diag,
        [](diagnostics* d, http::client* c, const client_config* cfg, const sign_in_options* o, diagnostics& own) {
            return detail::sign_in_task(*c, *cfg, *o, d ? *d : own);
        },
        std::forward<CompletionToken>(token), &client, &config, &options, diagnostics{});
}

/// As above; the diagnostics go only into the default token's exception.
template <class CompletionToken = default_token>
auto async_sign_in(http::client& client, const client_config& config, const sign_in_options& options,
                   CompletionToken&& token = {}) {
    return takeoff::detail::async_run<token_set>(
        client.get_executor(), false, std::chrono::steady_clock::duration::zero(), nullptr,
        [](diagnostics* d, http::client* c, const client_config* cfg, const sign_in_options* o, diagnostics& own) {
            return detail::sign_in_task(*c, *cfg, *o, d ? *d : own);
        },
        std::forward<CompletionToken>(token), &client, &config, &options, diagnostics{});
}

} // namespace takeoff::oauth
