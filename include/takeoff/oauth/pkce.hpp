#pragma once
// PKCE (RFC 7636) with the S256 method, the only one Snowflake accepts, and the CSPRNG source that
// makes verifiers and `state` values.
//
// Sans-io: nothing here touches a socket. The randomness comes through a random_source, so that
// tests can make OpenSSL's generator fail and check that a failure is an error code, not a crash.

#include <takeoff/core/base64.hpp>
#include <takeoff/core/config.hpp>
#include <takeoff/core/error.hpp>
#include <takeoff/core/redact.hpp>

#include <boost/asio/ssl/error.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <climits>
#include <cstddef>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace takeoff::oauth {

/// Fills a buffer with cryptographically strong random bytes, or returns why it could not.
using random_source = boost::system::error_code (*)(std::span<unsigned char>);

/// OpenSSL's CSPRNG (RAND_bytes). A failure (an unseeded generator, for example) comes back as the
/// OpenSSL error, so that the caller can report it instead of using weak bytes.
inline boost::system::error_code openssl_random_bytes(std::span<unsigned char> out) noexcept {
    if (out.size() > static_cast<std::size_t>(INT_MAX))
        return make_error_code(errc::invalid_argument);
    if (RAND_bytes(out.data(), static_cast<int>(out.size())) == 1) return {};
    const unsigned long openssl_error = ERR_get_error();
    ERR_clear_error();
    // RAND_bytes can fail without queueing an error; the caller still needs a non-zero code.
    if (openssl_error == 0)
        return make_error_code(boost::system::errc::resource_unavailable_try_again);
    return {static_cast<int>(openssl_error), boost::asio::error::get_ssl_category()};
}

/// Compares two strings in time that depends only on their lengths, not on where they differ, so
/// that a value checked against an attacker's guesses (the OAuth `state`) leaks nothing through
/// timing. Lengths are not secret here: every value this library makes has a fixed length.
inline bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    if (a.empty()) return true;
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

namespace detail {

// Random bytes, base64url-encoded without padding. The raw bytes are wiped before returning:
// they are as secret as the text made from them.
inline boost::system::result<secret> random_base64url(std::size_t bytes, random_source source) {
    std::string raw(bytes, '\0');
    const boost::system::error_code ec =
        source(std::span<unsigned char>(reinterpret_cast<unsigned char*>(raw.data()), raw.size()));
    if (ec) {
        takeoff::detail::wipe_string(raw);
        return ec;
    }
    secret encoded(base64url_encode(raw));
    takeoff::detail::wipe_string(raw);
    return encoded;
}

// RFC 7636 section 4.1: unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~".
constexpr bool is_verifier_char(char c) noexcept {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

} // namespace detail

/// The shortest and longest code_verifier RFC 7636 section 4.1 allows.
inline constexpr std::size_t pkce_verifier_min_length = 43;
inline constexpr std::size_t pkce_verifier_max_length = 128;
/// Random bytes behind a generated verifier: 32 bytes (256 bits), as RFC 7636 section 7.1
/// recommends, which base64url makes exactly 43 characters.
inline constexpr std::size_t pkce_verifier_random_bytes = 32;
/// The only code_challenge_method sent (Snowflake supports no other).
inline constexpr std::string_view pkce_method_s256 = "S256";

/// True when `verifier` is 43 to 128 characters of the RFC 7636 unreserved set.
constexpr bool is_valid_pkce_verifier(std::string_view verifier) noexcept {
    if (verifier.size() < pkce_verifier_min_length || verifier.size() > pkce_verifier_max_length)
        return false;
    for (char c : verifier)
        if (!detail::is_verifier_char(c)) return false;
    return true;
}

/// BASE64URL(SHA-256(ASCII(verifier))) without padding: the S256 code_challenge. Fails only when
/// OpenSSL cannot compute the digest.
inline boost::system::result<std::string> pkce_s256_challenge(std::string_view verifier) {
    std::array<unsigned char, 32> digest{};
    unsigned int length = 0;
    if (EVP_Digest(verifier.data(), verifier.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1 ||
        length != digest.size()) {
        const unsigned long openssl_error = ERR_get_error();
        ERR_clear_error();
        if (openssl_error == 0) return make_error_code(errc::invalid_argument);
        return boost::system::error_code(static_cast<int>(openssl_error),
                                         boost::asio::error::get_ssl_category());
    }
    return base64url_encode(std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

/// A PKCE pair for one authorization request. The verifier is a secret (it turns a stolen code
/// into tokens) and goes only into the token request; the challenge goes into the authorization URL.
class pkce {
public:
    /// A new pair from `source` (OpenSSL's CSPRNG unless a test passes another).
    static boost::system::result<pkce> generate(random_source source = openssl_random_bytes) {
        auto verifier = detail::random_base64url(pkce_verifier_random_bytes, source);
        if (!verifier) return verifier.error();
        return from_verifier(std::move(*verifier));
    }

    /// The pair for a known verifier (a stored one, or a test vector). A verifier outside RFC 7636's
    /// length or character set gives errc::invalid_argument.
    static boost::system::result<pkce> from_verifier(secret verifier) {
        if (!is_valid_pkce_verifier(verifier.reveal())) return make_error_code(errc::invalid_argument);
        auto challenge = pkce_s256_challenge(verifier.reveal());
        if (!challenge) return challenge.error();
        return pkce(std::move(verifier), std::move(*challenge));
    }

    /// The code_verifier for the token request.
    const secret& verifier() const noexcept { return verifier_; }
    /// The code_challenge for the authorization URL (not secret: it is sent through the browser).
    const std::string& challenge() const noexcept { return challenge_; }
    /// Always "S256".
    static constexpr std::string_view method() noexcept { return pkce_method_s256; }

    /// Prints the method and challenge; the verifier shows as "[redacted]".
    friend std::ostream& operator<<(std::ostream& os, const pkce& p) {
        return os << "pkce{method=" << pkce_method_s256 << ", challenge=" << p.challenge_
                  << ", verifier=" << p.verifier_ << '}';
    }

private:
    pkce(secret verifier, std::string challenge)
        : verifier_(std::move(verifier)), challenge_(std::move(challenge)) {}

    secret verifier_;
    std::string challenge_;
};

} // namespace takeoff::oauth
