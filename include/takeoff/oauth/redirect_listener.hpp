#pragma once
// oauth::redirect_listener: the loopback HTTP listener that receives the browser's redirect at the
// end of an authorization-code sign-in (RFC 8252 section 7.3, what Snowflake's own drivers do).
//
// It binds the loopback address of the redirect URI only (127.0.0.1 or [::1], never a wildcard), on
// the URI's port or, without one, on a port the system picks, which is then written into the URI.
// A wait serves every connection that arrives concurrently (browsers open speculative connections
// that send nothing, and ask for /favicon.ico): each connection gets one request head, bounded in
// size and time, and one answer, then is closed. Only a GET to the redirect path ends the wait; the
// browser is told the outcome on a short page that never shows the code, the state or a token.
//
// The wait is an operation like the http client's (detail::async_run over a detail::task): any
// completion token, cancellation through the token's slot, diagnostics. Its connection handling is
// a small callback-driven composed operation the task awaits, serialised on the task's executor.

#include <takeoff/core/config.hpp>
#include <takeoff/core/diagnostics.hpp>
#include <takeoff/core/error.hpp>
#include <takeoff/core/redact.hpp>
#include <takeoff/core/with_diagnostics.hpp>
#include <takeoff/detail/async_op.hpp>
#include <takeoff/detail/task.hpp>
#include <takeoff/oauth/authorization.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace takeoff::oauth {

/// How a redirect_listener waits.
struct redirect_listener_options {
    /// How long to wait for the sign-in; zero waits without limit. 120 s, as Snowflake's drivers.
    std::chrono::seconds timeout{120};
    /// How long one browser connection may take to send its request head and read the answer; a
    /// connection that stays silent longer is closed (the wait goes on). Zero: no limit.
    std::chrono::seconds connection_timeout{10};
    /// A bigger request head is answered 431 and closed (the wait goes on).
    std::size_t max_request_bytes = 16 * 1024;
    /// Connections served at once; more are closed as they arrive (the wait goes on).
    std::size_t max_connections = 32;
};

namespace detail {

namespace asio = boost::asio;

// What a listener and its waits share; the waits keep it alive.
struct listener_core {
    explicit listener_core(const asio::any_io_executor& ex) : acceptor(ex) {}

    asio::ip::tcp::acceptor acceptor;
    std::string redirect_uri;  // as given, with the bound port when it had none
    std::string callback_path; // the URI's encoded path, "/" when it has none
    std::string address;       // "127.0.0.1:port" or "[::1]:port", for messages
    std::uint16_t port = 0;
    std::atomic<bool> waiting{false}; // one wait at a time
};

// Text for an HTML page: & < > " ' escaped.
inline std::string html_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        default: out += c;
        }
    }
    return out;
}

// At most `max` bytes of text, not cutting a UTF-8 sequence, with "..." when cut.
inline std::string truncate_utf8(std::string_view text, std::size_t max) {
    if (text.size() <= max) return std::string(text);
    std::size_t end = max;
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
    return std::string(text.substr(0, end)) + "...";
}

/// Longest excerpt of the server's error_description shown on the browser page, in bytes.
inline constexpr std::size_t page_description_limit = 300;

inline std::string html_page(std::string_view title, std::string_view body_html) {
    std::string page = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>";
    page += title;
    page += "</title></head>\n<body>\n";
    page += body_html;
    page += "</body></html>\n";
    return page;
}

/// The page for a sign-in that completed.
inline std::string success_page() {
    return html_page("Signed in", "<p>Signed in. You can close this window.</p>\n");
}

/// The page for a sign-in that failed: our message for ec and diag's client message, and the
/// server's error and (truncated) description, all HTML-escaped. Never a code, state or token:
/// diag holds none (parse_authorization_callback's messages name rules, not values).
inline std::string failure_page(const boost::system::error_code& ec, const diagnostics& diag) {
    std::string body = "<p>Sign-in failed: " + html_escape(ec.message()) + ".</p>\n";
    if (!diag.client_message().empty()) body += "<p>" + html_escape(diag.client_message()) + ".</p>\n";
    if (!diag.server_error_code().empty()) {
        body += "<p>The authorization server said: " + html_escape(diag.server_error_code());
        if (!diag.server_message().empty())
            body += ": " + html_escape(truncate_utf8(diag.server_message(), page_description_limit));
        body += "</p>\n";
    }
    body += "<p>You can close this window and try again.</p>\n";
    return html_page("Sign-in failed", body);
}

// A whole answer: status line, the fixed headers, the page.
inline std::string http_answer(unsigned status, std::string_view reason, std::string_view page,
                               std::string_view extra_headers = {}) {
    std::string out = "HTTP/1.1 " + std::to_string(status) + ' ';
    out += reason;
    out += "\r\nContent-Type: text/html; charset=utf-8\r\nCache-Control: no-store\r\n"
           "Content-Security-Policy: default-src 'none'\r\nReferrer-Policy: no-referrer\r\n"
           "Connection: close\r\nContent-Length: ";
    out += std::to_string(page.size());
    out += "\r\n";
    out += extra_headers;
    out += "\r\n";
    out += page;
    return out;
}

/// How a redirect URI maps to a socket address; see redirect_listener::open.
struct loopback_target {
    boost::urls::url url;
    asio::ip::address address;
    std::uint16_t port = 0; // 0: let the system pick
    std::string path;
};

inline boost::system::result<loopback_target> parse_loopback_redirect(std::string_view redirect_uri,
                                                                      diagnostics& diag) {
    auto fail = [&diag](std::string message) -> boost::system::result<loopback_target> {
        diag.set_client_message(std::move(message));
        return make_error_code(errc::invalid_url);
    };
    auto parsed = boost::urls::parse_absolute_uri(redirect_uri);
    if (!parsed) {
        if (boost::urls::parse_uri(redirect_uri))
            return fail("the redirect URI must not have a fragment (#)");
        return fail("the redirect URI is not an absolute URI");
    }
    if (parsed->scheme_id() != boost::urls::scheme::http)
        return fail("the redirect URI must be http://127.0.0.1, http://[::1] or http://localhost (a loopback "
                    "listener speaks plain HTTP)");
    if (parsed->has_userinfo()) return fail("the redirect URI must not have userinfo (user@)");

    loopback_target target;
    switch (parsed->host_type()) {
    case boost::urls::host_type::ipv4:
        if (parsed->host_ipv4_address().to_uint() == 0x7F000001u)
            target.address = asio::ip::address_v4::loopback();
        break;
    case boost::urls::host_type::ipv6:
        if (parsed->host_ipv6_address().is_loopback()) target.address = asio::ip::address_v6::loopback();
        break;
    case boost::urls::host_type::name: {
        const std::string_view host = parsed->encoded_host();
        constexpr std::string_view localhost = "localhost";
        bool same = host.size() == localhost.size();
        for (std::size_t i = 0; same && i < host.size(); ++i)
            same = (host[i] | 0x20) == localhost[i];
        if (same) target.address = asio::ip::address_v4::loopback();
        break;
    }
    default: break;
    }
    if (target.address.is_unspecified())
        return fail("the redirect URI's host must be 127.0.0.1, [::1] or localhost (the listener binds the "
                    "loopback address only)");

    if (parsed->has_port() && !parsed->port().empty()) {
        const std::string_view digits = parsed->port();
        unsigned value = 0;
        const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
        if (error != std::errc{} || end != digits.data() + digits.size() || value > 65535)
            return fail("the redirect URI's port is not a number from 0 to 65535");
        target.port = static_cast<std::uint16_t>(value);
    }
    target.path = parsed->encoded_path().empty() ? std::string("/") : std::string(parsed->encoded_path());
    target.url = boost::urls::url(*parsed);
    return target;
}

// One wait: accepts connections, reads one request head from each, answers, and completes the
// handler when a GET to the callback path has been answered, or on the timeout, cancellation or an
// accept failure. Everything runs on the handler's executor (the task's, serialised); pending
// callbacks keep this object alive after it has completed, and find it done.
template <class Handler>
class callback_server : public std::enable_shared_from_this<callback_server<Handler>> {
public:
    callback_server(std::shared_ptr<listener_core> core, const secret* expected_state,
                    const redirect_listener_options& options, diagnostics* diag, Handler handler)
        : handler_(std::move(handler)),
          executor_(asio::get_associated_executor(handler_, core->acceptor.get_executor())),
          core_(std::move(core)),
          expected_state_(expected_state),
          options_(options),
          diag_(diag),
          timer_(executor_) {}

    void start() {
        if (core_->waiting.exchange(true)) {
            diag_->set_client_message("another wait is already in progress on the redirect listener at " +
                                      core_->address);
            return complete_without_wait(make_error_code(errc::operation_in_progress));
        }
        owns_wait_ = true;
        if (!core_->acceptor.is_open()) {
            diag_->set_client_message("the redirect listener at " + core_->address + " is closed");
            return finish(asio::error::bad_descriptor);
        }
        slot_ = asio::get_associated_cancellation_slot(handler_);
        if (slot_.is_connected()) {
            // Runs inside the signal's emit: the completion is posted, so that it does not clear the
            // slot whose handler is running. Weak: a pending cancellation must not keep this alive.
            slot_.assign([weak = this->weak_from_this(), ex = executor_](asio::cancellation_type) {
                asio::post(ex, [weak] {
                    auto self = weak.lock();
                    if (!self || self->done_) return;
                    self->diag_->set_client_message("the wait for the sign-in at " + self->core_->redirect_uri +
                                                    " was cancelled");
                    self->finish(asio::error::operation_aborted);
                });
            });
        }
        if (options_.timeout.count() > 0) {
            timer_.expires_after(options_.timeout);
            timer_.async_wait(asio::bind_executor(executor_, [self = this->shared_from_this()](
                                                                 boost::system::error_code ec) {
                if (ec || self->done_ || self->decided_) return;
                self->diag_->set_client_message("no sign-in arrived at " + self->core_->redirect_uri + " within " +
                                                std::to_string(self->options_.timeout.count()) + " s");
                self->finish(make_error_code(errc::request_timeout));
            }));
        }
        accept();
    }

private:
    struct connection {
        explicit connection(asio::ip::tcp::socket socket) : stream(std::move(socket)) {}
        boost::beast::tcp_stream stream;
        boost::beast::flat_buffer buffer;
        std::optional<boost::beast::http::request_parser<boost::beast::http::empty_body>> parser;
        std::string answer;
        bool decides = false; // the answer to the callback: the wait completes once it is written
    };
    using connection_ptr = std::shared_ptr<connection>;

    void accept() {
        core_->acceptor.async_accept(
            executor_, asio::bind_executor(executor_, [self = this->shared_from_this()](
                                                          boost::system::error_code ec, asio::ip::tcp::socket socket) {
                self->on_accept(ec, std::move(socket));
            }));
    }

    void on_accept(boost::system::error_code ec, asio::ip::tcp::socket socket) {
        if (done_ || decided_) return;
        if (ec == asio::error::connection_aborted) return accept(); // the browser gave up first
        if (ec) {
            if (ec == asio::error::operation_aborted)
                diag_->set_client_message("the redirect listener at " + core_->address + " was closed");
            else
                diag_->set_client_message("cannot accept connections at " + core_->address + ": " + ec.message());
            return finish(ec);
        }
        if (connections_.size() < options_.max_connections) {
            auto conn = std::make_shared<connection>(std::move(socket));
            connections_.push_back(conn);
            read(conn);
        } // else: closed by the socket's destructor
        accept();
    }

    void set_expiry(connection& conn) {
        if (options_.connection_timeout.count() > 0)
            conn.stream.expires_after(options_.connection_timeout);
        else
            conn.stream.expires_never();
    }

    void read(const connection_ptr& conn) {
        conn->parser.emplace();
        const auto limit = std::min<std::size_t>(options_.max_request_bytes, std::numeric_limits<std::uint32_t>::max());
        conn->parser->header_limit(static_cast<std::uint32_t>(limit));
        set_expiry(*conn);
        boost::beast::http::async_read_header(
            conn->stream, conn->buffer, *conn->parser,
            asio::bind_executor(executor_, [self = this->shared_from_this(), conn](boost::system::error_code ec,
                                                                                 std::size_t) {
                self->on_read(conn, ec);
            }));
    }

    void on_read(const connection_ptr& conn, boost::system::error_code ec) {
        namespace http = boost::beast::http;
        if (done_) return;
        if (decided_) return drop(conn); // the sign-in is being answered: nothing more to serve
        if (ec == http::error::header_limit)
            return answer(conn, 431, "Request Header Fields Too Large",
                          html_page("Request too large", "<p>The request is too large.</p>\n"));
        if (ec) {
            // A malformed head is answered; a connection closed, reset or silent too long is not.
            const bool malformed = ec.category() == make_error_code(http::error::bad_target).category() &&
                                   ec != http::error::end_of_stream && ec != http::error::partial_message;
            if (!malformed) return drop(conn);
            return answer(conn, 400, "Bad Request", html_page("Bad request", "<p>Bad request.</p>\n"));
        }

        const auto& request = conn->parser->get();
        const std::string_view target = request.target();
        auto parsed = boost::urls::parse_origin_form(target);
        if (!parsed) return answer(conn, 400, "Bad Request", html_page("Bad request", "<p>Bad request.</p>\n"));
        if (parsed->encoded_path() != core_->callback_path)
            return answer(conn, 404, "Not Found",
                          html_page("Not found", "<p>Not found. This address only receives the sign-in "
                                                 "redirect.</p>\n"));
        if (request.method() != http::verb::get)
            return answer(conn, 405, "Method Not Allowed",
                          html_page("Method not allowed", "<p>Method not allowed.</p>\n"), "Allow: GET\r\n");

        // The callback: whatever it says ends the wait once the browser has been told.
        decided_ = true;
        timer_.cancel();
        auto outcome = parse_authorization_callback(target, *expected_state_, *diag_);
        conn->decides = true;
        if (outcome) {
            response_ = std::move(*outcome);
            answer(conn, 200, "OK", success_page());
        } else {
            result_ = outcome.error();
            answer(conn, 400, "Bad Request", failure_page(result_, *diag_));
        }
    }

    void answer(const connection_ptr& conn, unsigned status, std::string_view reason, std::string_view page,
                std::string_view extra_headers = {}) {
        conn->answer = http_answer(status, reason, page, extra_headers);
        set_expiry(*conn);
        asio::async_write(conn->stream, asio::buffer(conn->answer),
                          asio::bind_executor(executor_, [self = this->shared_from_this(), conn](
                                                             boost::system::error_code, std::size_t) {
                              self->drop(conn);
                              if (conn->decides && !self->done_) {
                                  if (self->result_) return self->finish(self->result_);
                                  self->finish({});
                              }
                          }));
    }

    void drop(const connection_ptr& conn) {
        boost::system::error_code ignored;
        conn->stream.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
        conn->stream.close();
        connections_.remove(conn);
    }

    // Completion inside the initiating call, before anything was started (another wait runs).
    void complete_without_wait(boost::system::error_code ec) {
        done_ = true;
        std::move(handler_)(ec, authorization_response{});
    }

    void finish(boost::system::error_code ec) {
        if (done_) return;
        done_ = true;
        if (slot_.is_connected()) slot_.clear();
        timer_.cancel();
        boost::system::error_code ignored;
        core_->acceptor.cancel(ignored); // the pending accept finds this wait done
        for (auto& conn : connections_) conn->stream.close();
        connections_.clear();
        if (owns_wait_) core_->waiting = false;
        expected_state_ = nullptr; // both live in the operation, which ends with the handler
        diag_ = nullptr;
        authorization_response response;
        if (!ec) response = std::move(response_);
        std::move(handler_)(ec, std::move(response));
    }

    Handler handler_;
    asio::any_io_executor executor_;
    std::shared_ptr<listener_core> core_;
    const secret* expected_state_;
    redirect_listener_options options_;
    diagnostics* diag_;
    asio::steady_timer timer_;
    asio::cancellation_slot slot_;
    std::list<connection_ptr> connections_;
    boost::system::error_code result_;
    authorization_response response_;
    bool owns_wait_ = false;
    bool decided_ = false; // the callback arrived; its answer is being written
    bool done_ = false;
};

// The callback_server as an Asio operation, for a task to await.
template <class CompletionToken>
auto async_serve_callback(std::shared_ptr<listener_core> core, const secret& expected_state,
                          const redirect_listener_options& options, diagnostics& diag, CompletionToken&& token) {
    return asio::async_initiate<CompletionToken, void(boost::system::error_code, authorization_response)>(
        [](auto handler, std::shared_ptr<listener_core> c, const secret* state,
           const redirect_listener_options* o, diagnostics* d) {
            using server = callback_server<decltype(handler)>;
            auto s = std::make_shared<server>(std::move(c), state, *o, d, std::move(handler));
            s->start();
        },
        token, std::move(core), &expected_state, &options, &diag);
}

inline takeoff::detail::task<takeoff::detail::op_result<authorization_response>>
wait_for_callback(std::shared_ptr<listener_core> core, const secret& expected_state,
                  const redirect_listener_options& options, diagnostics& diag) {
    diag.clear();
    const std::string redirect_uri = core->redirect_uri;
    auto serve = async_serve_callback(std::move(core), expected_state, options, diag, asio::deferred);
    auto [ec, response] = co_await std::move(serve);
    // Cancelled before the wait started: the awaited operation did not run to say so.
    if (ec == asio::error::operation_aborted && diag.client_message().empty())
        diag.set_client_message("the wait for the sign-in at " + redirect_uri + " was cancelled");
    co_return takeoff::detail::op_result<authorization_response>{ec, std::move(response)};
}

} // namespace detail

/// Waits on the loopback address for the browser's redirect after sign-in (see the file comment).
/// Not thread-safe, like an Asio acceptor: call close() and destroy it on the thread (or strand)
/// that runs its executor, or when no wait is in progress. A moved-from listener may only be
/// destroyed or assigned to.
class redirect_listener {
public:
    using executor_type = boost::asio::any_io_executor;

    /// Binds the listener for `redirect_uri`, which must be http://127.0.0.1[:port][/path],
    /// http://[::1][:port][/path] or http://localhost[:port][/path] (localhost binds 127.0.0.1); a
    /// query is kept (and ignored on the callback). No port, or port 0, binds a port the system
    /// picks, written into redirect_uri(). Errors: anything else (https, another host, userinfo, a
    /// fragment, a bad port) is errc::invalid_url with the rule in diag; a bind that fails (the port
    /// is in use: address_in_use) is the socket's error, diag naming the address.
    static boost::system::result<redirect_listener> open(executor_type ex, std::string_view redirect_uri,
                                                         diagnostics& diag) {
        namespace asio = boost::asio;
        diag.clear();
        auto target = detail::parse_loopback_redirect(redirect_uri, diag);
        if (!target) return target.error();

        auto core = std::make_shared<detail::listener_core>(ex);
        const asio::ip::tcp::endpoint endpoint(target->address, target->port);
        const std::string host = target->address.is_v6() ? "[::1]" : "127.0.0.1";
        boost::system::error_code ec;
        auto& acceptor = core->acceptor;
        auto fail = [&](std::string_view step) -> boost::system::result<redirect_listener> {
            diag.set_client_message("cannot listen on " + host + ':' + std::to_string(target->port) + " (" +
                                    std::string(step) + "): " + ec.message());
            return ec;
        };
        if (acceptor.open(endpoint.protocol(), ec)) return fail("open");
        if (endpoint.address().is_v6()) acceptor.set_option(asio::ip::v6_only(true), ec);
        if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec); // TIME_WAIT of a fixed port
        if (ec) return fail("socket options");
        if (acceptor.bind(endpoint, ec)) return fail("bind");
        if (acceptor.listen(asio::socket_base::max_listen_connections, ec)) return fail("listen");
        const auto local = acceptor.local_endpoint(ec);
        if (ec) return fail("local address");

        core->port = local.port();
        core->address = host + ':' + std::to_string(core->port);
        if (target->port == 0) target->url.set_port_number(core->port);
        core->redirect_uri = std::string(target->url.buffer());
        core->callback_path = std::move(target->path);
        return redirect_listener(std::move(ex), std::move(core));
    }

    redirect_listener(redirect_listener&& other) noexcept = default;
    /// Closes this listener (see close()), then takes other's.
    redirect_listener& operator=(redirect_listener&& other) noexcept {
        if (this != &other) {
            close();
            executor_ = std::move(other.executor_);
            core_ = std::move(other.core_);
        }
        return *this;
    }
    /// Closes the listener: a wait in progress completes with operation_aborted.
    ~redirect_listener() { close(); }

    /// The exact redirect URI to put in the authorization URL and send again in the token request:
    /// the one given, with the bound port when it had none (or 0).
    const std::string& redirect_uri() const noexcept { return core_->redirect_uri; }
    /// The bound port.
    std::uint16_t port() const noexcept { return core_->port; }
    /// The bound address and port.
    boost::asio::ip::tcp::endpoint local_endpoint() const {
        boost::system::error_code ignored;
        return core_->acceptor.local_endpoint(ignored);
    }
    executor_type get_executor() const noexcept { return executor_; }

    /// Waits for the redirect: completes with void(error_code, authorization_response) once a GET
    /// to the callback path has been answered. Its query goes through
    /// parse_authorization_callback(target, expected_state, diag): success gives the code (and
    /// scope) and the browser a "Signed in" page; a state mismatch, an `error` redirect (its errc,
    /// the server's error and description in diag) or a missing or repeated parameter complete with
    /// that error after the browser got a page saying so. Other paths get 404, other methods on the
    /// path 405, a request head over options.max_request_bytes 431, a malformed one 400; none of
    /// these ends the wait. Errors: no callback within options.timeout is errc::request_timeout
    /// ("no sign-in arrived at <redirect uri> within 120 s"); cancellation (terminal, partial or
    /// total) is operation_aborted; a wait while another runs is errc::operation_in_progress; a
    /// closed listener fails with the socket's error. The listener can wait again afterwards.
    template <class CompletionToken = default_token>
    auto async_wait(const secret& expected_state, const redirect_listener_options& options, diagnostics& diag,
                    CompletionToken&& token = {}) {
        return start(std::forward<CompletionToken>(token), expected_state, options, &diag);
    }

    /// As above, with the default options.
    template <class CompletionToken = default_token>
    auto async_wait(const secret& expected_state, diagnostics& diag, CompletionToken&& token = {}) {
        return start(std::forward<CompletionToken>(token), expected_state, redirect_listener_options{}, &diag);
    }

    /// As above, with the diagnostics only in the exception of the default token.
    template <class CompletionToken = default_token>
    auto async_wait(const secret& expected_state, const redirect_listener_options& options,
                    CompletionToken&& token = {}) {
        return start(std::forward<CompletionToken>(token), expected_state, options, nullptr);
    }

    /// As above, with the default options.
    template <class CompletionToken = default_token>
    auto async_wait(const secret& expected_state, CompletionToken&& token = {}) {
        return start(std::forward<CompletionToken>(token), expected_state, redirect_listener_options{}, nullptr);
    }

    /// For the library's composed operations (the sign-in): the wait as a step of the calling task,
    /// which must run on the listener's executor. The arguments are used by reference until it ends.
    takeoff::detail::task<takeoff::detail::op_result<authorization_response>>
    wait_task(const secret& expected_state, const redirect_listener_options& options, diagnostics& diag) const {
        return detail::wait_for_callback(core_, expected_state, options, diag);
    }

    /// Stops listening (a wait in progress completes with operation_aborted). Idempotent.
    void close() noexcept {
        boost::system::error_code ignored;
        if (core_) core_->acceptor.close(ignored);
    }

    /// True until close().
    bool is_open() const noexcept { return core_ && core_->acceptor.is_open(); }

private:
    redirect_listener(executor_type ex, std::shared_ptr<detail::listener_core> core)
        : executor_(std::move(ex)), core_(std::move(core)) {}

    // The expected state, options and diagnostics live in the operation (async_run's payload) until
    // it completes; the task works on them by reference.
    template <class CompletionToken>
    auto start(CompletionToken&& token, const secret& expected_state, redirect_listener_options options,
               diagnostics* diag) {
        return takeoff::detail::async_run<authorization_response>(
            executor_, takeoff::detail::is_serialised(executor_), std::chrono::steady_clock::duration::zero(), diag,
            [](diagnostics* d, std::shared_ptr<detail::listener_core>& core, secret& state,
               redirect_listener_options& o, diagnostics& own) {
                return detail::wait_for_callback(core, state, o, d ? *d : own);
            },
            std::forward<CompletionToken>(token), core_, secret(expected_state), std::move(options), diagnostics{});
    }

    executor_type executor_;
    std::shared_ptr<detail::listener_core> core_;
};

} // namespace takeoff::oauth
