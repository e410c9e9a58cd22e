#pragma once
// diagnostics: what an error_code alone cannot say (our explanation, the server's own words kept
// apart as untrusted text, HTTP status, request id, Retry-After), and takeoff::error, the exception
// that carries it.

#include <takeoff/core/error.hpp>
#include <takeoff/core/redact.hpp>

#include <boost/system/system_error.hpp>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace takeoff {

/// Extra facts about a failed operation. Operations that can fail with more to say than an
/// error_code take a `diagnostics&`; it is cleared when the operation starts.
///
/// client_message() is written by this library and never contains secrets. server_message() is a
/// bounded excerpt of what the server sent: untrusted (it may hold user data, need not be UTF-8
/// and is not shown by what()), with control characters replaced and known secret values masked.
class diagnostics {
public:
    /// Longest server excerpt kept, in bytes.
    static constexpr std::size_t max_server_message = 1024;

    const std::string& client_message() const noexcept { return client_message_; }
    const std::string& server_message() const noexcept { return server_message_; }
    /// The HTTP status of the response that caused the error, or 0 when there was none.
    unsigned http_status() const noexcept { return http_status_; }
    /// The server's request id (e.g. X-Request-Id, Snowflake's requestId), or empty.
    const std::string& request_id() const noexcept { return request_id_; }
    /// The server's Retry-After, converted to a delay, if it sent one.
    std::optional<std::chrono::seconds> retry_after() const noexcept { return retry_after_; }
    /// A machine-readable error string from the server (OAuth `error`, Snowflake `code`), or empty.
    const std::string& server_error_code() const noexcept { return server_error_code_; }

    void set_client_message(std::string message) { client_message_ = std::move(message); }
    /// Keeps a sanitised, bounded excerpt of server text.
    void set_server_message(std::string_view text) { server_message_ = sanitize_server_text(text); }
    void set_http_status(unsigned status) noexcept { http_status_ = status; }
    void set_request_id(std::string_view id) { request_id_ = sanitize_server_text(id.substr(0, 128)); }
    void set_retry_after(std::optional<std::chrono::seconds> delay) noexcept { retry_after_ = delay; }
    void set_server_error_code(std::string_view code) {
        server_error_code_ = sanitize_server_text(code.substr(0, 128));
    }

    /// Forgets everything, as at the start of an operation.
    void clear() noexcept {
        client_message_.clear();
        server_message_.clear();
        http_status_ = 0;
        request_id_.clear();
        retry_after_.reset();
        server_error_code_.clear();
    }

    bool empty() const noexcept {
        return client_message_.empty() && server_message_.empty() && http_status_ == 0 &&
               request_id_.empty() && !retry_after_ && server_error_code_.empty();
    }

    /// Replaces control characters (keeping tab), truncates to max_server_message bytes and masks
    /// secret values, so that an excerpt is safe to log.
    static std::string sanitize_server_text(std::string_view text) {
        const bool cut = text.size() > max_server_message;
        std::string out = redact_secrets_in(text.substr(0, max_server_message));
        for (char& c : out) {
            const auto u = static_cast<unsigned char>(c);
            if ((u < 0x20 && c != '\t') || u == 0x7f) c = ' ';
        }
        if (cut) out += "...";
        return out;
    }

    friend bool operator==(const diagnostics&, const diagnostics&) = default;

private:
    std::string client_message_;
    std::string server_message_;
    unsigned http_status_ = 0;
    std::string request_id_;
    std::optional<std::chrono::seconds> retry_after_;
    std::string server_error_code_;
};

/// The exception thrown where an error is reported by throwing: a system_error whose what() is our
/// own message (never the server's text) and which carries the diagnostics.
class error : public boost::system::system_error {
public:
    error(const boost::system::error_code& ec, diagnostics diag)
        : boost::system::system_error(ec, make_what(diag)), diagnostics_(std::move(diag)) {}
    explicit error(const boost::system::error_code& ec) : error(ec, diagnostics{}) {}

    const diagnostics& get_diagnostics() const noexcept { return diagnostics_; }

private:
    static std::string make_what(const diagnostics& diag) {
        std::string what = diag.client_message();
        if (diag.http_status() != 0) {
            if (!what.empty()) what += ' ';
            what += "[HTTP " + std::to_string(diag.http_status()) + "]";
        }
        if (!diag.request_id().empty()) what += " [request id " + diag.request_id() + "]";
        return what;
    }

    diagnostics diagnostics_;
};

/// Throws takeoff::error when ec is an error.
inline void throw_if_error(const boost::system::error_code& ec, const diagnostics& diag = {}) {
    if (ec) throw error(ec, diag);
}

} // namespace takeoff
