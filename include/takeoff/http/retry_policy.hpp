#pragma once
// When the transport sends a failed request again, and after how long: a sans-io decision on one
// failed attempt (what failed, how far the exchange got), the attempt count and a policy, with the
// randomness injected so the delays are exact in tests.
//
// Only failures where the server cannot have acted on the request, or said so, are retried:
// - a connect failure (resolve try-again, refused, unreachable, timed out, reset during the TLS
//   handshake): nothing was sent;
// - the connection closed (EOF, reset, broken pipe, TLS truncation) after the request was written
//   but before any byte of a response: what a pooled keep-alive connection looks like when the server
//   had closed it while idle. This is retried for every method, as browsers and curl do for reused
//   connections; the rare cost is a non-idempotent request that the server did process and then
//   crashed before answering;
// - 429 Too Many Requests and 503 Service Unavailable: the server says it did not process it.
// Nothing is retried once a response has started for any other reason (a body read failing half
// way could duplicate work the server has done), and no other status is retried.

#include <takeoff/core/config.hpp>
#include <takeoff/core/error.hpp>

#include <boost/asio/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string_view>

namespace takeoff::http {

/// How often and how patiently a request is retried. The defaults are "on, small": 3 attempts in
/// total, 100 ms then 200 ms (each up to half shorter with jitter), Retry-After honoured up to 30 s.
struct retry_policy {
    /// Attempts in total, the first included: 1 means no retry.
    unsigned max_attempts = 3;
    /// The delay before the first retry, before jitter.
    std::chrono::milliseconds initial_backoff{100};
    /// The longest delay the exponential backoff reaches, before jitter.
    std::chrono::milliseconds max_backoff{2000};
    /// The factor between the delays of consecutive retries.
    double multiplier = 2.0;
    /// The fraction of each delay that is randomised (0 = fixed delays, 1 = anywhere from 0 to the
    /// full delay), so that clients failing together do not retry together.
    double jitter = 0.5;
    /// Whether a 429/503's Retry-After sets a lower bound on the delay.
    bool honour_retry_after = true;
    /// A Retry-After longer than this means give up now (the error reaches the caller with
    /// diagnostics::retry_after) rather than hold the request that long.
    std::chrono::milliseconds max_retry_after{30000};

    /// A policy that never retries (max_attempts = 1).
    static retry_policy none() {
        retry_policy p;
        p.max_attempts = 1;
        return p;
    }
};

/// A source of uniform random numbers in [0, 1) for jitter. Injectable so that tests can assert
/// exact delays; values outside [0, 1) are clamped into it. An empty function means "no jitter"
/// (as if it returned 0). Not synchronised: give each client (or strand) its own.
using random_source = std::function<double()>;

/// A random_source over a 64-bit Mersenne Twister seeded from std::random_device (or, where that
/// cannot be opened, from the clock: jitter needs spread, not secrecy).
inline random_source default_random_source() {
    std::uint64_t seed = 0;
    try {
        std::random_device device;
        seed = (std::uint64_t{device()} << 32) ^ device();
    } catch (...) {
        seed = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    }
    return [engine = std::mt19937_64{seed}]() mutable {
        // 53 random bits scaled into [0, 1): exact, and never 1.0 (unlike some
        // uniform_real_distribution implementations).
        return static_cast<double>(engine() >> 11) * 0x1.0p-53;
    };
}

/// What happened to one failed attempt, as the transport saw it.
struct attempt_outcome {
    /// The transport error, or success when a complete response with an unwanted status arrived.
    boost::system::error_code ec;
    /// The response status, or 0 when no status line was received.
    unsigned status = 0;
    /// The response's Retry-After, already parsed (see parse_retry_after).
    std::optional<std::chrono::seconds> retry_after;
    /// Whether any byte of the request was written: false means a connect-phase failure.
    bool request_sent = false;
    /// Whether any byte of a response was received.
    bool response_started = false;
};

namespace detail {

// boost::asio::ssl::error::stream_truncated, recognised by its category's name and value so that
// this sans-io header does not include <boost/asio/ssl/error.hpp>: that header defines the OpenSSL
// error category in every translation unit, which then has to link libcrypto. The value is 1 with
// every TLS library Boost 1.81+ supports here (OpenSSL >= 1.1, BoringSSL, wolfSSL).
inline bool is_tls_stream_truncated(const boost::system::error_code& ec) noexcept {
    return ec.value() == 1 && std::string_view(ec.category().name()) == "asio.ssl.stream";
}

} // namespace detail

/// True for the errors that mean the peer closed the connection: EOF (Asio's, and Beast's
/// end_of_stream for a close before any byte of a message), reset, aborted, broken pipe, and a TLS
/// stream truncated without close_notify (boost::asio::ssl::error::stream_truncated).
inline bool is_connection_closed(const boost::system::error_code& ec) noexcept {
    namespace ae = boost::asio::error;
    return ec == ae::eof || ec == boost::beast::http::error::end_of_stream || ec == ae::connection_reset ||
           ec == ae::connection_aborted || ec == ae::broken_pipe || detail::is_tls_stream_truncated(ec);
}

/// Whether the failure described may be retried at all, whatever the attempt count (the rules at the
/// top of this file). `method` is part of the decision point although no rule uses it yet: every
/// case retried is one where the server did not act on the request or asked for a retry. An
/// error code of takeoff::errc::too_many_requests / service_unavailable with status 0 counts as
/// that status. Cancellation (operation_aborted) and the whole-request deadline are never retried.
inline bool is_retryable_attempt([[maybe_unused]] boost::beast::http::verb method,
                                 const attempt_outcome& outcome) noexcept {
    unsigned status = outcome.status;
    if (status == 0 && outcome.ec == errc::too_many_requests) status = 429;
    if (status == 0 && outcome.ec == errc::service_unavailable) status = 503;
    if (status != 0) return status == 429 || status == 503;

    const boost::system::error_code& ec = outcome.ec;
    if (!ec || outcome.response_started) return false;
    if (!outcome.request_sent) // connect phase: transient failures only (not DNS "no such host", not TLS verification)
        return is_retryable(ec) || is_connection_closed(ec) || ec == boost::beast::error::timeout;
    return is_connection_closed(ec);
}

/// The delay before the next attempt, or nullopt for "do not retry" (return the failure).
///
/// `attempts_made` counts the attempts so far, the failed one included (1 after the first failure).
/// Nullopt when attempts_made >= policy.max_attempts, when the outcome is not retryable
/// (is_retryable_attempt), or when the policy honours Retry-After and the response asked for longer
/// than max_retry_after. Otherwise the backoff is
/// `min(initial_backoff * multiplier^(attempts_made - 1), max_backoff)`, jittered to
/// `backoff * (1 - jitter * u)` with u = random() in [0, 1) and rounded to the nearest millisecond;
/// with an honoured Retry-After the delay is `max(jittered backoff, retry_after)`. `random` is
/// called once per retry, never when the answer is nullopt.
inline std::optional<std::chrono::milliseconds> next_retry_delay(const retry_policy& policy, unsigned attempts_made,
                                                                 boost::beast::http::verb method,
                                                                 const attempt_outcome& outcome,
                                                                 random_source& random) {
    if (attempts_made >= policy.max_attempts) return std::nullopt;
    if (!is_retryable_attempt(method, outcome)) return std::nullopt;
    const bool use_retry_after = policy.honour_retry_after && outcome.retry_after.has_value();
    if (use_retry_after && *outcome.retry_after > policy.max_retry_after) return std::nullopt;

    const unsigned n = attempts_made == 0 ? 1 : attempts_made;
    const double max_ms = static_cast<double>(policy.max_backoff.count());
    double backoff = static_cast<double>(policy.initial_backoff.count()) *
                     std::pow(policy.multiplier, static_cast<double>(n - 1));
    if (!(backoff <= max_ms)) backoff = max_ms; // also catches overflow to infinity and NaN
    if (!(backoff >= 0.0)) backoff = 0.0;

    double jitter = policy.jitter;
    if (!(jitter >= 0.0)) jitter = 0.0;
    if (jitter > 1.0) jitter = 1.0;
    double u = random ? random() : 0.0;
    if (!(u >= 0.0)) u = 0.0;
    if (u >= 1.0) u = std::nextafter(1.0, 0.0);

    std::chrono::milliseconds delay{std::llround(backoff * (1.0 - jitter * u))};
    if (use_retry_after) {
        const auto retry_after = std::chrono::duration_cast<std::chrono::milliseconds>(*outcome.retry_after);
        if (retry_after > delay) delay = retry_after;
    }
    return delay;
}

} // namespace takeoff::http
