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
#include <string>

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
