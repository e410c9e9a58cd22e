#pragma once
// Settings of the HTTP transport: timeouts per step, per-request options, TLS trust, the
// connection pool. Every duration of zero means "no limit" (the Boost.Redis convention).

#include <takeoff/core/config.hpp>
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

/// How one request is carried out. A client holds defaults; each call may override them.
struct request_options {
    http::timeouts timeouts;
    /// The whole request, retries and redirects included; zero means none.
    std::chrono::milliseconds deadline{0};
    /// Largest buffered response body; larger ones fail with errc::body_too_large. Streaming
    /// bodies (async_open) are not limited here: their consumer bounds what it keeps.
    std::size_t body_limit = 8 * 1024 * 1024;
    /// Largest response header block.
    std::uint32_t header_limit = 16 * 1024;
    http::redirect_policy redirects;
    http::retry_policy retries;
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
    request_options defaults;
    tls_options tls;
    pool_options pool;
    /// Proxies. By default the HTTPS_PROXY / HTTP_PROXY / NO_PROXY environment variables.
    std::optional<proxy_config> proxy;
    bool proxy_from_environment = true;
    std::string user_agent = "takeoff-cpp/" TAKEOFF_VERSION_STRING;
};

} // namespace takeoff::http
