#pragma once
// The transport's two hooks for the layers above it, so that it needs to know nothing of them:
//
// - a request decorator, called before every attempt (the first try, each retry, each redirect),
//   that adds header fields from an asynchronous source: the credential of the Snowflake layer, so
//   that a retry after a 30 s Retry-After wait carries the credential current then, and a
//   "401 -> refresh -> send again" resends the same request object without copying its body;
// - a response classifier, called on every response header before the transport decides what to
//   do with it (redirect, retry, success), that can turn a response into an error of its own: the
//   Snowflake layer's "the ingress redirected to its login host".

#include <takeoff/core/config.hpp>
#include <takeoff/core/diagnostics.hpp>
#include <takeoff/http/fields.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/system/error_code.hpp>
#include <boost/url/url_view.hpp>

#include <functional>

namespace takeoff::http {

/// What a request decorator is told about the attempt about to be sent, and where it writes.
struct attempt_context {
    /// Where this attempt goes (after redirects: the redirect's target).
    boost::urls::url_view url;
    /// 1 for the first try at this URL, 2 for the first retry, ...
    unsigned attempt = 1;
    /// Redirects followed so far for this request.
    unsigned redirects = 0;
    /// Header fields sent with this attempt only, after the request's own; empty when the
    /// decorator is called. Credential fields (Authorization, X-SF-SPCS-Authorization,
    /// Proxy-Authorization, Cookie) added here are, like the request's own, sent only to the
    /// origin of the request's URL, never to another origin a redirect leads to.
    http::fields& headers;
    /// Where a failing decorator explains itself (client_message; the transport adds nothing).
    diagnostics& diag;
};

/// Completes a decoration: {} to send the attempt, an error to fail the request with it (it is not
/// retried).
using decorate_handler = boost::asio::any_completion_handler<void(boost::system::error_code)>;

/// Called before each attempt; must call the handler exactly once (inline, or later from any
/// thread: the transport resumes on its own executor). The attempt_context lives until then.
using request_decorator = std::function<void(attempt_context&, decorate_handler)>;

/// A response header as the classifier sees it (the body has not been read).
struct response_view {
    boost::beast::http::verb method; ///< the request's method
    boost::urls::url_view url;       ///< the URL the response came from
    unsigned status;
    const http::fields& headers;
};

/// Called on every final response header. An error fails the request with it (no redirect, no
/// retry; the buffered response, if any, comes with the error as with a non-2xx status); the
/// classifier sets diag's client message to say why. {} lets the transport go on as usual.
using response_classifier = std::function<boost::system::error_code(const response_view&, diagnostics&)>;

} // namespace takeoff::http
