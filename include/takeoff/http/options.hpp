#pragma once
// Settings of the HTTP transport: timeouts per step, per-request options, TLS trust, the
// connection pool. Every duration of zero means "no limit" (the Boost.Redis convention).

#include <takeoff/core/config.hpp>
#include <takeoff/http/hooks.hpp>
#include <takeoff/http/proxy.hpp>
#include <takeoff/http/redirect_policy.hpp>
#include <takeoff/http/retry_policy.hpp>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

namespace takeoff::http {

/// Time allowed for each step of an exchange; zero means no limit for that step.
struct timeouts {
    std::chrono::milliseconds resolve{10'000};       ///< DNS resolution
    std::chrono::milliseconds connect{10'000};       ///< TCP connect (per address tried), proxy CONNECT included
    std::chrono::milliseconds tls_handshake{10'000}; ///< TLS handshake
    std::chrono::milliseconds write{30'000};         ///< writing the whole request
    std::chrono::milliseconds header_read{60'000};   ///< from the end of the write to the end of the response header
    std::chrono::milliseconds body_read{60'000};     ///< longest silence while reading the body (idle, not total)
};

/// How one request is carried out: the full set of settings. A client holds one
/// (client_options::defaults); each call may override parts of it with request_options.
struct request_settings {
    http::timeouts timeouts;
    /// The whole request, retries and redirects included; zero means none. For async_open it
    /// also bounds the reading of the body.
    std::chrono::milliseconds deadline{0};
    /// Largest buffered response body; larger ones fail with errc::body_too_large. Streaming
    /// bodies (async_open) are not limited here: their consumer bounds what it keeps.
    std::size_t body_limit = 8 * 1024 * 1024;
    /// Largest response header block (each interim 1xx head counts against it too).
    std::uint32_t header_limit = 16 * 1024;
    http::redirect_policy redirects;
    http::retry_policy retries;
    /// Called before each attempt to add header fields (hooks.hpp); empty: none.
    request_decorator decorate;
    /// Called on each final response header (hooks.hpp); empty: none.
    response_classifier classify;
};

/// Step limits a request overrides; the unset ones keep the client's.
struct timeout_overrides {
    std::optional<std::chrono::milliseconds> resolve, connect, tls_handshake, write, header_read, body_read;

    /// limits with the set members replaced.
    http::timeouts apply_to(http::timeouts limits) const {
        if (resolve) limits.resolve = *resolve;
        if (connect) limits.connect = *connect;
        if (tls_handshake) limits.tls_handshake = *tls_handshake;
        if (write) limits.write = *write;
        if (header_read) limits.header_read = *header_read;
        if (body_read) limits.body_read = *body_read;
        return limits;
    }
};

/// What one call changes of the client's request_settings: every member that is set replaces the
/// client's, every unset one keeps it, so `{}` means "the client's defaults" (see request_settings
/// for what each member does).
struct request_options {
    timeout_overrides timeouts;
    std::optional<std::chrono::milliseconds> deadline;
    std::optional<std::size_t> body_limit;
    std::optional<std::uint32_t> header_limit;
    std::optional<http::redirect_policy> redirects;
    std::optional<http::retry_policy> retries;
    std::optional<request_decorator> decorate;
    std::optional<response_classifier> classify;

    /// defaults with this call's overrides applied.
    request_settings apply_to(request_settings defaults) const {
        defaults.timeouts = timeouts.apply_to(defaults.timeouts);
        if (deadline) defaults.deadline = *deadline;
        if (body_limit) defaults.body_limit = *body_limit;
        if (header_limit) defaults.header_limit = *header_limit;
        if (redirects) defaults.redirects = *redirects;
        if (retries) defaults.retries = *retries;
        if (decorate) defaults.decorate = *decorate;
        if (classify) defaults.classify = *classify;
        return defaults;
    }
};

/// Which certificate authorities are trusted. Verification itself is always on: there is no
/// setting that turns it off.
struct tls_options {
    /// Trust the system store (Debian: /etc/ssl/certs).
    bool use_system_trust = true;
    /// A PEM file of extra trusted CAs (a private CA, a test CA).
    std::optional<std::string> ca_file;
    /// PEM text of extra trusted CAs.
    std::optional<std::string> ca_pem;
};

/// Limits of the connection pool, which keeps one set of connections per origin (scheme, host, port).
struct pool_options {
    /// Most connections open to one origin at once; further requests wait for one to be free.
    std::size_t max_connections_per_origin = 32;
    /// Idle connections older than this are closed instead of reused. SPCS ingresses close
    /// connections idle for 90 s, so the default stays below that.
    std::chrono::milliseconds idle_timeout{50'000};
    /// An idle connection at least this old is checked with a non-blocking peek before reuse (has
    /// the server closed it?). Younger ones are reused at once: a server rarely closes a keep-alive
    /// connection that fast, and if one did, the request goes once more on a new connection (the
    /// stale-connection rule). The check costs a system call per request; zero checks every time.
    std::chrono::milliseconds check_idle_after{1'000};
};

/// Everything a client is made with.
struct client_options {
    request_settings defaults;
    tls_options tls;
    pool_options pool;
    /// Proxies. By default the HTTPS_PROXY / HTTP_PROXY / NO_PROXY environment variables, which
    /// never apply to loopback targets (127.0.0.0/8, [::1], localhost); an explicit proxy_config
    /// applies to every target its own no_proxy list does not exclude.
    std::optional<proxy_config> proxy;
    bool proxy_from_environment = true;
    std::string user_agent = "takeoff-cpp/" TAKEOFF_VERSION_STRING;
    /// Set when only one thread ever runs the client's executor (an io_context run by one
    /// thread): operations then run on it directly instead of on a strand of their own, which
    /// saves about a quarter of the CPU time of a small keep-alive request (bench/http_rps).
    /// Strands are recognised without it. Setting it for an executor that several threads run
    /// is a data race.
    bool single_threaded_executor = false;
};

} // namespace takeoff::http
