#pragma once
// Sending a request through an SPCS ingress with a provider's credential.
//
// The credential is added by the transport's request decorator before every attempt (so a retry
// after a Retry-After wait carries the credential current then), from the provider's cache when it
// has a usable one (no operation of its own) and through async_get_token otherwise. The ingress's
// login redirect is classified as errc::ingress_unauthenticated and never followed. When the
// ingress rejects the credential (that redirect, a 401, or a 403 with the ingress's own
// `"responseType":"ERROR_..."` body), the provider is told (invalidate) and the
// same request is sent once more with a new credential; a provider that cannot make another (a
// static token) is not asked twice.

#include <takeoff/core/config.hpp>
#include <takeoff/core/diagnostics.hpp>
#include <takeoff/core/error.hpp>
#include <takeoff/core/with_diagnostics.hpp>
#include <takeoff/detail/async_op.hpp>
#include <takeoff/detail/task.hpp>
#include <takeoff/http/client.hpp>
#include <takeoff/http/hooks.hpp>
#include <takeoff/http/message.hpp>
#include <takeoff/http/options.hpp>
#include <takeoff/snowflake/credential.hpp>
#include <takeoff/snowflake/ingress.hpp>

#include <boost/json/parse.hpp>

#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <string_view>
#include <utility>

namespace takeoff::snowflake {

namespace detail {

// The credential the decorator added last, so that the one the ingress rejected is the one
// invalidated. Written by the decorator's completion (any thread), read by the sending task after
// the attempt (the transport resumes on its executor after the decorator's handler ran).
struct last_credential {
    std::mutex mutex;
    std::optional<credential> value;

    void set(credential c) {
        std::lock_guard lock(mutex);
        value = std::move(c);
    }
    std::optional<credential> get() {
        std::lock_guard lock(mutex);
        return value;
    }
};

inline void add_credential(http::fields& headers, credential_header header, const credential& c) {
    headers.append(header_name(header), c.header_value().reveal());
}

// The decorator that adds `provider`'s credential to every attempt.
inline http::request_decorator credential_decorator(token_provider& provider, std::shared_ptr<last_credential> last) {
    return [&provider, last = std::move(last)](http::attempt_context& attempt, http::decorate_handler done) {
        if (auto c = provider.cached()) {
            add_credential(attempt.headers, provider.header(), *c);
            last->set(std::move(*c));
            std::move(done)(boost::system::error_code{});
            return;
        }
        http::fields* headers = &attempt.headers;
        provider.async_get_token(
            attempt.diag, [&provider, headers, last, done = std::move(done)](boost::system::error_code ec,
                                                                             credential c) mutable {
                if (!ec) {
                    add_credential(*headers, provider.header(), c);
                    last->set(std::move(c));
                }
                std::move(done)(ec);
            });
    };
}

// The caller's own decorator (if any) first, then the credential: a request option such as a
// request id is kept, and the credential is what the attempt carries last.
inline http::request_decorator with_own_decorator(http::request_decorator own, http::request_decorator credential) {
    if (!own) return credential;
    return [own = std::move(own), credential = std::move(credential)](http::attempt_context& attempt,
                                                                     http::decorate_handler done) {
        own(attempt, [&attempt, &credential, done = std::move(done)](boost::system::error_code ec) mutable {
            if (ec) {
                std::move(done)(ec);
                return;
            }
            credential(attempt, std::move(done));
        });
    };
}

// The request's own classifier (if any) first, then the ingress's login redirect.
inline http::response_classifier with_ingress_classifier(http::response_classifier own) {
    if (!own) return &classify_ingress_response;
    return [own = std::move(own)](const http::response_view& response, diagnostics& diag) {
        if (auto ec = own(response, diag)) return ec;
        return classify_ingress_response(response, diag);
    };
}

// The ingress rejected the credential: its login redirect, a 401, or a 403 whose body is the
// ingress's own error JSON ({"responseType":"ERROR_...", ...}: an invalid or expired token, a network
// policy). A 403 without that body is the service's own answer, not a credential problem.
// `body` is the error body (for a streamed request, the excerpt the diagnostics kept).
inline bool is_credential_rejected(const boost::system::error_code& ec, std::string_view error_body) {
    if (ec == errc::ingress_unauthenticated || ec == errc::unauthorized) return true;
    if (ec != errc::forbidden) return false;
    boost::system::error_code parse_ec;
    const auto body = boost::json::parse(error_body, parse_ec);
    if (parse_ec || !body.is_object()) return false;
    const auto* type = body.as_object().if_contains("responseType");
    return type && type->is_string() && type->as_string().starts_with("ERROR_");
}

} // namespace detail

namespace detail {

// Sends req with provider's credential, once more after a rejected one: buffered (http::response)
// or, when Streaming, opened (http::body_stream, whose rejection is found before any body is read;
// its error body is the excerpt the diagnostics kept).
template <bool Streaming>
takeoff::detail::task<takeoff::detail::op_result<std::conditional_t<Streaming, http::body_stream, http::response>>>
credential_task(const http::client& client, token_provider& provider, const http::request& req,
                http::request_settings settings, diagnostics& diag) {
    auto last = std::make_shared<detail::last_credential>();
    settings.decorate = detail::with_own_decorator(std::move(settings.decorate), detail::credential_decorator(provider, last));
    settings.classify = detail::with_ingress_classifier(std::move(settings.classify));
    auto attempt = [&] {
        if constexpr (Streaming) return client.open_task(req, settings, diag);
        else return client.request_task(req, settings, diag);
    };
    auto first = co_await attempt();
    std::string_view error_body;
    if constexpr (Streaming) error_body = diag.server_message();
    else error_body = first.value.body;
    if (!detail::is_credential_rejected(first.ec, error_body)) co_return first;
    const auto used = last->get();
    if (!used || !provider.invalidate(*used)) co_return first;
    co_return co_await attempt();
}

} // namespace detail

/// For the library's composed operations: send `req` with `provider`'s credential as a step of the
/// calling task (see the file comment). `settings` are the request's full settings (the client's
/// defaults with the call's overrides); its decorator runs first, then the credential's; its
/// classifier is kept.
inline takeoff::detail::task<takeoff::detail::op_result<http::response>>
send_task(const http::client& client, token_provider& provider, const http::request& req,
          http::request_settings settings, diagnostics& diag) {
    return detail::credential_task<false>(client, provider, req, std::move(settings), diag);
}

/// As send_task, completing with a body_stream once a 2xx header has arrived (a streamed
/// response). A rejected credential is found out before any of the body is read, so the request
/// is sent once more under the same rule.
inline takeoff::detail::task<takeoff::detail::op_result<http::body_stream>>
open_task(const http::client& client, token_provider& provider, const http::request& req,
          http::request_settings settings, diagnostics& diag) {
    return detail::credential_task<true>(client, provider, req, std::move(settings), diag);
}

/// Sends `req` through `client` with `provider`'s credential (see the file comment). Completes with
/// `void(error_code, http::response)` as http::client::async_request does; `options` override the
/// client's defaults. The client and the provider must outlive the operation.
template <class CompletionToken = default_token>
auto async_send(http::client& client, token_provider& provider, http::request req, const http::request_options& options,
                diagnostics& diag, CompletionToken&& token = {}) {
    http::request_settings settings = options.apply_to(client.defaults());
    const auto deadline = settings.deadline;
    return takeoff::detail::async_run<http::response>(
        client.get_executor(), false, deadline, &diag,
        [](diagnostics* d, http::client* c, token_provider* p, http::request& r, http::request_settings& s,
           diagnostics& own) { return send_task(*c, *p, r, std::move(s), d ? *d : own); },
        std::forward<CompletionToken>(token), &client, &provider, std::move(req), std::move(settings), diagnostics{});
}

/// As above, with the client's defaults.
template <class CompletionToken = default_token>
auto async_send(http::client& client, token_provider& provider, http::request req, diagnostics& diag,
                CompletionToken&& token = {}) {
    return async_send(client, provider, std::move(req), http::request_options{}, diag,
                      std::forward<CompletionToken>(token));
}

/// As above; the diagnostics go only into the default token's exception.
template <class CompletionToken = default_token>
auto async_send(http::client& client, token_provider& provider, http::request req, CompletionToken&& token = {}) {
    http::request_settings settings = client.defaults();
    const auto deadline = settings.deadline;
    return takeoff::detail::async_run<http::response>(
        client.get_executor(), false, deadline, nullptr,
        [](diagnostics* d, http::client* c, token_provider* p, http::request& r, http::request_settings& s,
           diagnostics& own) { return send_task(*c, *p, r, std::move(s), d ? *d : own); },
        std::forward<CompletionToken>(token), &client, &provider, std::move(req), std::move(settings), diagnostics{});
}

} // namespace takeoff::snowflake
