#pragma once
// takeoff::emulator JWT checks: what the emulated Snowflake needs to accept a key-pair JWT at
// `POST /oauth/token` (reference snowflake-auth.md §6.3): split and decode a compact JWS, verify an
// RS256 signature with an RSA public key (OpenSSL EVP_DigestVerify), and compute the key's
// Snowflake fingerprint `SHA256:<base64 of SHA-256 over the DER SubjectPublicKeyInfo>`.
//
// Emulator code: a key that cannot be loaded throws std::runtime_error (a test set it up wrong);
// a token that does not verify is a result, not an exception.

#include <takeoff/core/base64.hpp>
#include <takeoff/core/diagnostics.hpp>
#include <takeoff/core/jwt.hpp>
#include <takeoff_emulator/certificates.hpp>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace takeoff::emulator {

/// A compact JWS (`header.payload.signature`), its parts decoded.
struct decoded_jwt {
    boost::json::object header;
    boost::json::object payload;
    std::string signing_input; ///< `header.payload` as sent (what the signature covers)
    std::string signature;     ///< the decoded signature bytes
};

/// Splits and decodes a compact JWS with the library's own JWT reading (takeoff/core/jwt.hpp).
/// Nothing (and `why` says what) when it does not have three base64url parts, or the header or
/// payload is not a JSON object.
inline std::optional<decoded_jwt> decode_jwt(std::string_view token, std::string& why)
{
    takeoff::diagnostics diag;
    auto segments = takeoff::split_jwt(token, diag);
    auto header = segments ? takeoff::jwt_header(token, diag) : boost::system::result<boost::json::object>(segments.error());
    auto payload = header ? takeoff::jwt_payload(token, diag) : boost::system::result<boost::json::object>(header.error());
    auto signature = payload ? base64url_decode(segments->signature) : boost::system::result<std::string>(payload.error());
    if (!signature) {
        why = diag.client_message().empty() ? "the JWT signature is not base64url" : diag.client_message();
        return std::nullopt;
    }
    decoded_jwt out;
    out.header = std::move(*header);
    out.payload = std::move(*payload);
    out.signing_input = std::string(token.substr(0, token.rfind('.')));
    out.signature = std::move(*signature);
    return out;
}

/// An RSA (or any OpenSSL-supported) public key, loaded from PEM: the key a user registered with
/// `ALTER USER ... SET RSA_PUBLIC_KEY`. Copyable (the key is shared and immutable).
class public_key {
public:
    /// Loads a `-----BEGIN PUBLIC KEY-----` PEM; throws std::runtime_error when it is not one.
    static public_key from_pem(std::string_view pem)
    {
        detail::bio_ptr bio(detail::check_openssl(::BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())),
                                                  "allocating a memory BIO"));
        EVP_PKEY* key = ::PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
        detail::check_openssl(key, "reading a PEM public key");
        return public_key(std::shared_ptr<EVP_PKEY>(key, &::EVP_PKEY_free));
    }

    /// True when `signature` is a valid RSASSA-PKCS1-v1_5 SHA-256 signature (JWS RS256) of `input`.
    bool verify_rs256(std::string_view input, std::string_view signature) const
    {
        std::unique_ptr<EVP_MD_CTX, detail::openssl_deleter<&::EVP_MD_CTX_free>> context(::EVP_MD_CTX_new());
        if (!context || ::EVP_PKEY_get_base_id(key_.get()) != EVP_PKEY_RSA)
            return false;
        const bool ok =
            ::EVP_DigestVerifyInit(context.get(), nullptr, ::EVP_sha256(), nullptr, key_.get()) == 1 &&
            ::EVP_DigestVerify(context.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                               signature.size(), reinterpret_cast<const unsigned char*>(input.data()),
                               input.size()) == 1;
        ::ERR_clear_error(); // a failed verification leaves reasons on the thread's queue
        return ok;
    }

    /// `SHA256:` + base64 (padded) of SHA-256 over the DER SubjectPublicKeyInfo: the fingerprint
    /// Snowflake shows as RSA_PUBLIC_KEY_FP and expects in a key-pair JWT's `iss`.
    std::string sha256_fingerprint() const
    {
        unsigned char* der = nullptr;
        const int size = ::i2d_PUBKEY(key_.get(), &der);
        detail::check_openssl(size, "encoding a public key as DER");
        std::unique_ptr<unsigned char, void (*)(unsigned char*)> owned(der, [](unsigned char* p) { ::OPENSSL_free(p); });
        std::array<unsigned char, 32> digest{};
        unsigned int length = 0;
        detail::check_openssl(::EVP_Digest(der, static_cast<std::size_t>(size), digest.data(), &length, ::EVP_sha256(), nullptr),
                              "hashing a public key");
        return "SHA256:" + base64_encode(std::string_view(reinterpret_cast<const char*>(digest.data()), length));
    }

private:
    explicit public_key(std::shared_ptr<EVP_PKEY> key) : key_(std::move(key)) {}

    std::shared_ptr<EVP_PKEY> key_;
};

} // namespace takeoff::emulator
