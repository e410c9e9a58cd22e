#pragma once
// What the takeoff CLI prints besides the answers: the one-line error with what to do, exit codes,
// lifetimes in words, and the spinner and progress line shown on a terminal.

#include <takeoff/core/diagnostics.hpp>
#include <takeoff/core/error.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <memory>
#include <ostream>
#include <string>

namespace takeoff::cli {

/// The process exit codes.
enum exit_code : int {
    exit_ok = 0,            ///< done
    exit_failed = 1,        ///< a request, the sign-in or a file operation failed
    exit_usage = 2,         ///< the command line is wrong
    exit_configuration = 3, ///< the configuration (file, environment, flags) is missing or wrong
    exit_sign_in = 4,       ///< not signed in, or the sign-in ended: run `takeoff login`
};

/// What the user should do about a failure, and the exit code that goes with it.
struct advice {
    int code = exit_failed;
    std::string hint; ///< "" when the message says it all
};

/// The advice for an error code (see docs/cli.md, "Errors").
inline advice advice_for(const boost::system::error_code& ec) {
    namespace ae = boost::asio::error;
    if (ec == errc::token_unavailable || ec == errc::invalid_grant || ec == errc::ingress_unauthenticated ||
        ec == errc::snowflake_token_expired)
        return {exit_sign_in, "sign in again with `takeoff login`"};
    if (ec == errc::invalid_client || ec == errc::unauthorized_client)
        return {exit_configuration, "check oauth.client_id and oauth.client_secret (`takeoff config import-secrets`)"};
    if (ec == errc::invalid_scope || ec == errc::invalid_scope_string)
        return {exit_configuration, "check oauth.scope (e.g. \"refresh_token session:role:CONTAINER_USER_ROLE\")"};
    if (ec == errc::unauthorized || ec == errc::forbidden || ec == errc::snowflake_token_invalid)
        return {exit_failed, "the credential was refused: check that the role may use the service, or run `takeoff login`"};
    if (ec.category().name() == std::string_view("asio.ssl") || ec.category().name() == std::string_view("takeoff.tls"))
        return {exit_failed, "check the server's certificate: ca_file in the configuration or --ca-file"};
    if (ec == ae::connection_refused || ec == ae::host_not_found || ec == ae::host_not_found_try_again ||
        ec == ae::network_unreachable || ec == ae::host_unreachable)
        return {exit_failed, "check endpoint_url (and account_url) and that the service is running"};
    if (ec == errc::service_unavailable) return {exit_failed, "no reader is ready yet: see `takeoff status`"};
    if (ec == errc::request_timeout || ec == ae::timed_out) return {exit_failed, "the server did not answer in time"};
    if (ec == errc::not_found) return {exit_failed, "check the URL of that API in the configuration"};
    return {exit_failed, {}};
}

/// Writes "takeoff: <what>: <message>[ (HTTP n)][; <hint>]" on one line and returns the exit code.
/// The message is the diagnostics' own (never a secret; the server's text is not shown).
inline int report_error(std::ostream& err, std::string_view what, const boost::system::error_code& ec,
                        const diagnostics& diag, const advice& a) {
    std::string message = diag.client_message().empty() ? ec.message() : diag.client_message();
    for (char& c : message)
        if (c == '\n' || c == '\r') c = ' ';
    err << "takeoff: " << what << ": " << message;
    if (diag.http_status() != 0 && message.find("HTTP " + std::to_string(diag.http_status())) == std::string::npos)
        err << " (HTTP " << diag.http_status() << ")";
    if (!diag.request_id().empty()) err << " [request id " << diag.request_id() << "]";
    if (!a.hint.empty()) err << "; " << a.hint;
    err << '\n';
    return a.code;
}

/// As above, with advice_for(ec).
inline int report_error(std::ostream& err, std::string_view what, const boost::system::error_code& ec,
                        const diagnostics& diag) {
    return report_error(err, what, ec, diag, advice_for(ec));
}

/// A duration in words, rounded to the nearest unit: "59 s", "10 min", "3 h 5 min", "90 days".
inline std::string describe_duration(std::chrono::seconds d) {
    const auto s = d.count();
    if (s < 0) return "expired";
    if (s < 120) return std::to_string(s) + " s";
    if (s < 2 * 3600) return std::to_string((s + 30) / 60) + " min";
    if (s < 2 * 86400) {
        const auto total_minutes = (s + 30) / 60;
        const auto minutes = total_minutes % 60;
        return std::to_string(total_minutes / 60) + " h" + (minutes ? " " + std::to_string(minutes) + " min" : "");
    }
    return std::to_string((s + 43200) / 86400) + " days";
}

/// The spinner shown on stderr while waiting for a first token (only when `enabled`: stdout and
/// stderr are a terminal). start() begins it on `executor`; stop() clears its line. Safe to
/// destroy before its loop has seen stop(): the loop holds its own state.
class spinner {
public:
    spinner(boost::asio::any_io_executor executor, std::ostream& out, bool enabled, std::string label)
        : state_(std::make_shared<state>(std::move(executor), out, enabled, std::move(label))) {}
    spinner(const spinner&) = delete;
    spinner& operator=(const spinner&) = delete;
    ~spinner() { stop(); }

    /// Starts drawing (does nothing when disabled or running).
    void start() {
        if (!state_->enabled || state_->running) return;
        state_->running = true;
        boost::asio::co_spawn(state_->timer.get_executor(), loop(state_), boost::asio::detached);
    }

    /// Stops drawing and clears the line (does nothing when not running).
    void stop() {
        if (!state_->running) return;
        state_->running = false;
        state_->timer.cancel();
        state_->out << "\r\033[K" << std::flush;
    }

private:
    struct state {
        state(boost::asio::any_io_executor ex, std::ostream& o, bool on, std::string l)
            : timer(std::move(ex)), out(o), enabled(on), label(std::move(l)) {}
        boost::asio::steady_timer timer;
        std::ostream& out;
        bool enabled;
        std::string label;
        bool running = false;
    };

    static boost::asio::awaitable<void> loop(std::shared_ptr<state> s) {
        static constexpr const char frames[] = "|/-\\";
        for (std::size_t i = 0; s->running; ++i) {
            s->out << '\r' << frames[i % 4] << ' ' << s->label << std::flush;
            s->timer.expires_after(std::chrono::milliseconds(100));
            co_await s->timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
        }
    }

    std::shared_ptr<state> state_;
};

} // namespace takeoff::cli
