#pragma once
// TLS done one way only: peer verification against the system store (plus any CA the caller adds),
// SNI, and host-name checking by OpenSSL itself, so a failure can be explained precisely
// (expired, untrusted, wrong host) instead of a bare "certificate verify failed".

#include <takeoff/core/config.hpp>
#include <takeoff/core/diagnostics.hpp>
#include <takeoff/http/options.hpp>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/system/result.hpp>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <memory>
#include <mutex>
#include <string>
#include <utility>

namespace takeoff::http {

/// Makes the client TLS context: TLS 1.2 or newer, verify_peer, the trust chosen in options.
/// A CA file or PEM that cannot be loaded is an error (never silently ignored).
inline boost::system::result<std::shared_ptr<boost::asio::ssl::context>> make_tls_context(const tls_options& options,
                                                                                          diagnostics& diag) {
    namespace ssl = boost::asio::ssl;
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    boost::system::error_code ec;
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                         ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                     ec);
    if (!ec) ctx->set_verify_mode(ssl::verify_peer, ec);
    if (!ec && options.use_system_trust) ctx->set_default_verify_paths(ec);
    if (ec) {
        diag.set_client_message("cannot set up TLS: " + ec.message());
        return ec;
    }
    if (options.ca_file) {
        ctx->load_verify_file(*options.ca_file, ec);
        if (ec) {
            diag.set_client_message("cannot load the CA file '" + *options.ca_file + "': " + ec.message());
            return ec;
        }
    }
    if (options.ca_pem) {
        ctx->add_certificate_authority(boost::asio::buffer(*options.ca_pem), ec);
        if (ec) {
            diag.set_client_message("cannot load the CA certificate(s) given as PEM: " + ec.message());
            return ec;
        }
    }
    // Releases most record buffers of idle connections; connection::mark_idle frees the rest.
    SSL_CTX_set_mode(ctx->native_handle(), SSL_MODE_RELEASE_BUFFERS);
    return ctx;
}

/// The TLS context of a client, made when its first HTTPS connection is opened (loading the system
/// store takes about a quarter of a second, which a client that speaks plain HTTP only should not
/// pay). Clients that trust the system store alone share one context per process. A context that
/// cannot be made (a CA file that does not load) fails every HTTPS request with the same error and
/// message. Thread-safe.
class tls_context_source {
public:
    explicit tls_context_source(tls_options options) : options_(std::move(options)) {}

    tls_context_source(const tls_context_source&) = delete;
    tls_context_source& operator=(const tls_context_source&) = delete;

    boost::system::result<std::shared_ptr<boost::asio::ssl::context>> get(diagnostics& diag) {
        std::lock_guard lock(mutex_);
        if (!context_ && !failure_) {
            diagnostics made;
            auto context = system_trust_only() ? shared_system_context(made) : make_tls_context(options_, made);
            if (context) {
                context_ = std::move(*context);
            } else {
                failure_ = context.error();
                failure_message_ = made.client_message();
            }
        }
        if (failure_) {
            diag.set_client_message(failure_message_);
            return failure_;
        }
        return context_;
    }

private:
    bool system_trust_only() const noexcept { return options_.use_system_trust && !options_.ca_file && !options_.ca_pem; }

    // One context for every client that trusts the system store alone, kept while one uses it.
    static boost::system::result<std::shared_ptr<boost::asio::ssl::context>> shared_system_context(diagnostics& diag) {
        static std::mutex mutex;
        static std::weak_ptr<boost::asio::ssl::context> shared;
        std::lock_guard lock(mutex);
        if (auto context = shared.lock()) return context;
        auto context = make_tls_context(tls_options{}, diag);
        if (context) shared = *context;
        return context;
    }

    std::mutex mutex_;
    tls_options options_;
    std::shared_ptr<boost::asio::ssl::context> context_;
    boost::system::error_code failure_;
    std::string failure_message_;
};

/// Prepares one TLS connection to host: SNI (for names, not IP literals) and the name or address
/// the certificate must match.
inline boost::system::error_code prepare_tls_session(SSL* ssl, const std::string& host) {
    boost::system::error_code ec;
    boost::asio::ip::make_address(host, ec);
    if (ec) { // a name, not an IP literal
        if (!SSL_set_tlsext_host_name(ssl, host.c_str()) || !SSL_set1_host(ssl, host.c_str()))
            return {static_cast<int>(::ERR_get_error()), boost::asio::error::get_ssl_category()};
    } else {
        X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
        if (!X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()))
            return {static_cast<int>(::ERR_get_error()), boost::asio::error::get_ssl_category()};
    }
    return {};
}

/// Explains a failed handshake: the certificate check's own reason when there is one.
inline std::string describe_tls_failure(SSL* ssl, const boost::system::error_code& ec) {
    const long result = SSL_get_verify_result(ssl);
    if (result != X509_V_OK)
        return std::string("TLS certificate verification failed: ") + X509_verify_cert_error_string(result);
    return "TLS handshake failed: " + ec.message();
}

} // namespace takeoff::http
