#pragma once
// Key-pair authentication for an SPCS ingress (reference: snowflake-auth.md section 6.3, item 2):
// the user signs a short JWT with the RSA key registered on the Snowflake user (RSA_PUBLIC_KEY), and
// POST <account>/oauth/token (jwt-bearer grant, no client authentication) exchanges it for a token
// scoped to one ingress host. The answer is the token as raw text, not JSON.
//
// Sans-io apart from OpenSSL: the JWT is signed and the request built and parsed as values; the
// auth layer sends it. OpenSSL 3's EVP interface only. The private key, the JWT and the token never
// reach a message or operator<<.

#include <takeoff/core/base64.hpp>
#include <takeoff/core/config.hpp>
#include <takeoff/core/diagnostics.hpp>
#include <takeoff/core/error.hpp>
#include <takeoff/core/jwt.hpp>
#include <takeoff/core/redact.hpp>
#include <takeoff/http/message.hpp>
#include <takeoff/oauth/form.hpp>
#include <takeoff/oauth/token_set.hpp>
#include <takeoff/snowflake/account_url.hpp>
#include <takeoff/snowflake/identifier.hpp>
#include <takeoff/snowflake/login.hpp>
#include <takeoff/snowflake/scope.hpp>

#include <boost/asio/ssl/error.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/system/result.hpp>
#include <boost/url/url.hpp>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace takeoff::snowflake {

namespace detail {

struct evp_pkey_free {
    void operator()(EVP_PKEY* key) const noexcept { EVP_PKEY_free(key); }
};
struct bio_free {
    void operator()(BIO* bio) const noexcept { BIO_free(bio); }
};
struct evp_md_ctx_free {
    void operator()(EVP_MD_CTX* ctx) const noexcept { EVP_MD_CTX_free(ctx); }
};

// The oldest queued OpenSSL error as an error code (the queue is cleared), or `fallback` when
// OpenSSL failed without queueing one.
inline boost::system::error_code take_openssl_error(errc fallback) noexcept {
    const unsigned long openssl_error = ERR_get_error();
    ERR_clear_error();
    if (openssl_error == 0) return make_error_code(fallback);
    return {static_cast<int>(openssl_error), boost::asio::error::get_ssl_category()};
}

// What the PEM passphrase callback was given, and whether OpenSSL asked for it (the key is
// encrypted). Without this callback OpenSSL would prompt on the terminal.
struct passphrase_request {
    std::string_view passphrase;
    bool asked = false;
};

inline int pem_passphrase_callback(char* buffer, int size, int /*rwflag*/, void* user) noexcept {
    auto* request = static_cast<passphrase_request*>(user);
    request->asked = true;
    const std::string_view passphrase = request->passphrase;
    if (passphrase.empty() || size < 0 || passphrase.size() > static_cast<std::size_t>(size)) return -1;
    std::memcpy(buffer, passphrase.data(), passphrase.size());
    return static_cast<int>(passphrase.size());
}

// "SHA256:" + base64(SHA-256(DER SubjectPublicKeyInfo)); empty when OpenSSL fails.
inline std::string public_key_fingerprint_of(EVP_PKEY* key) {
    const int size = i2d_PUBKEY(key, nullptr);
    if (size <= 0) return {};
    std::string der(static_cast<std::size_t>(size), '\0');
    auto* out = reinterpret_cast<unsigned char*>(der.data());
    if (i2d_PUBKEY(key, &out) != size) return {};
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_size = 0;
    if (EVP_Digest(der.data(), der.size(), digest, &digest_size, EVP_sha256(), nullptr) != 1) return {};
    return "SHA256:" + base64_encode(std::string_view(reinterpret_cast<const char*>(digest), digest_size));
}

} // namespace detail

/// The smallest RSA key Snowflake's key-pair authentication accepts, in bits.
inline constexpr int min_rsa_key_bits = 2048;

/// The longest lifetime of a key-pair JWT: Snowflake honours at most one hour.
inline constexpr std::chrono::seconds max_keypair_jwt_lifetime{3600};

/// An RSA private key for key-pair authentication (owns an EVP_PKEY; move-only; never printed:
/// operator<< shows the key size and the public key's fingerprint only).
class private_key {
public:
    /// Reads a PEM private key: PKCS#8 ("PRIVATE KEY", "ENCRYPTED PRIVATE KEY", as Snowflake's docs
    /// make them) or PKCS#1 ("RSA PRIVATE KEY"). An encrypted key needs `passphrase`; OpenSSL never
    /// prompts for one. Errors (errc::invalid_argument, diag says which): not a PEM private key, an
    /// encrypted key without a passphrase, a wrong passphrase, a key that is not RSA (RS256 needs
    /// RSA), an RSA key under min_rsa_key_bits.
    static boost::system::result<private_key> from_pem(std::string_view pem, diagnostics& diag,
                                                       std::string_view passphrase = {}) {
        diag.clear();
        auto fail = [&diag](std::string message) -> boost::system::result<private_key> {
            ERR_clear_error();
            diag.set_client_message(std::move(message));
            return make_error_code(errc::invalid_argument);
        };
        if (pem.size() > static_cast<std::size_t>(INT_MAX)) return fail("the PEM text is too large");
        std::unique_ptr<BIO, detail::bio_free> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
        if (!bio) {
            diag.set_client_message("OpenSSL could not open the PEM text");
            return detail::take_openssl_error(errc::invalid_argument);
        }
        detail::passphrase_request request{passphrase};
        std::unique_ptr<EVP_PKEY, detail::evp_pkey_free> key(
            PEM_read_bio_PrivateKey(bio.get(), nullptr, detail::pem_passphrase_callback, &request));
        if (!key) {
            if (request.asked && passphrase.empty())
                return fail("the private key is encrypted: a passphrase is needed");
            if (request.asked) return fail("the private key cannot be decrypted with this passphrase");
            return fail("the text is not a PEM private key (PKCS#8 or PKCS#1)");
        }
        if (!EVP_PKEY_is_a(key.get(), "RSA")) {
            const char* type = EVP_PKEY_get0_type_name(key.get());
            return fail(std::string("the private key is ") + (type ? type : "not RSA") +
                        ": Snowflake key-pair authentication signs with RS256, which needs an RSA key");
        }
        const int bits = EVP_PKEY_get_bits(key.get());
        if (bits < min_rsa_key_bits)
            return fail("the RSA key has " + std::to_string(bits) +
                        " bits: Snowflake key-pair authentication needs at least 2048");
        std::string fingerprint = detail::public_key_fingerprint_of(key.get());
        if (fingerprint.empty()) {
            diag.set_client_message("the public key's fingerprint cannot be computed");
            return detail::take_openssl_error(errc::invalid_argument);
        }
        ERR_clear_error();
        return private_key(std::move(key), std::move(fingerprint));
    }

    /// Reads a PEM private key file (see from_pem). A file that cannot be read gives the system's
    /// error (e.g. no_such_file_or_directory), and diag names the path. The file's text is wiped
    /// from memory once read.
    static boost::system::result<private_key> from_file(const std::string& path, diagnostics& diag,
                                                        std::string_view passphrase = {}) {
        diag.clear();
        auto unreadable = [&diag, &path](int error) -> boost::system::result<private_key> {
            diag.set_client_message("cannot read the private key file '" + path + "'");
            return boost::system::error_code(error != 0 ? error : EIO, boost::system::generic_category());
        };
        errno = 0;
        std::ifstream file(path, std::ios::binary | std::ios::ate);
        if (!file) return unreadable(errno != 0 ? errno : ENOENT);
        const std::streamoff size = file.tellg();
        if (size < 0 || !file.seekg(0)) return unreadable(errno);
        // Sized once, so that no reallocation leaves a copy of the key behind.
        std::string pem(static_cast<std::size_t>(size), '\0');
        if (!file.read(pem.data(), size)) {
            takeoff::detail::wipe_string(pem);
            return unreadable(errno);
        }
        auto key = from_pem(pem, diag, passphrase);
        takeoff::detail::wipe_string(pem);
        if (!key) diag.set_client_message(diag.client_message() + " (file '" + path + "')");
        return key;
    }

    /// "SHA256:" + base64(SHA-256 of the DER SubjectPublicKeyInfo of the public key): Snowflake's
    /// RSA_PUBLIC_KEY_FP (DESC USER shows it), the last part of the JWT's `iss`.
    const std::string& public_key_fingerprint() const noexcept { return fingerprint_; }

    /// The key's size in bits.
    int bits() const noexcept { return key_ ? EVP_PKEY_get_bits(key_.get()) : 0; }

    /// The RS256 (RSASSA-PKCS1-v1_5 with SHA-256) signature of `data`, raw bytes. An OpenSSL
    /// failure comes back as its error code; a moved-from key is errc::invalid_argument.
    boost::system::result<std::string> sign_rs256(std::string_view data) const {
        if (!key_) return make_error_code(errc::invalid_argument);
        std::unique_ptr<EVP_MD_CTX, detail::evp_md_ctx_free> ctx(EVP_MD_CTX_new());
        EVP_PKEY_CTX* pctx = nullptr;
        std::size_t size = 0;
        if (!ctx || EVP_DigestSignInit(ctx.get(), &pctx, EVP_sha256(), nullptr, key_.get()) != 1 ||
            EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1 ||
            EVP_DigestSignUpdate(ctx.get(), data.data(), data.size()) != 1 ||
            EVP_DigestSignFinal(ctx.get(), nullptr, &size) != 1)
            return detail::take_openssl_error(errc::invalid_argument);
        std::string signature(size, '\0');
        if (EVP_DigestSignFinal(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size) != 1)
            return detail::take_openssl_error(errc::invalid_argument);
        signature.resize(size);
        return signature;
    }

    /// The OpenSSL key, for what this class does not wrap (null after a move).
    EVP_PKEY* native_handle() const noexcept { return key_.get(); }

    /// "private_key{RSA 2048 bits, SHA256:...}": the public fingerprint, never the key.
    friend std::ostream& operator<<(std::ostream& os, const private_key& key) {
        if (!key.key_) return os << "private_key{(empty)}";
        return os << "private_key{RSA " << key.bits() << " bits, " << key.fingerprint_ << '}';
    }

private:
    private_key(std::unique_ptr<EVP_PKEY, detail::evp_pkey_free> key, std::string fingerprint)
        : key_(std::move(key)), fingerprint_(std::move(fingerprint)) {}

    std::unique_ptr<EVP_PKEY, detail::evp_pkey_free> key_;
    std::string fingerprint_;
};

/// The account part of a key-pair JWT's claims, from the account URL: the first host label
/// upper-cased, so a locator's region and cloud are dropped ("xy12345.us-east-2.aws" -> "XY12345"),
/// an org-account name is kept ("myorg-myacct" -> "MYORG-MYACCT"; a '-' after the first stands for
/// the account name's '_': "acme-marketing-test" -> "ACME-MARKETING_TEST"), `.privatelink` and the
/// domain are dropped. Empty for a loopback URL (tests, the emulator), which names no account.
inline std::string jwt_account_identifier(const account_url& account) { return detail::account_identifier_of(account); }

/// A key-pair JWT for `user` of the account `account_identifier` (as jwt_account_identifier makes
/// it; upper-cased here), signed RS256 with `key`: header {"alg":"RS256","typ":"JWT"}, claims
/// iss = <ACCOUNT>.<USER>.<fingerprint>, sub = <ACCOUNT>.<USER> (user upper-cased), iat = now and
/// exp = now + lifetime, in whole seconds. Errors (errc::invalid_argument, with a client message):
/// an empty account identifier or one with '.', an empty user or one with control characters, a
/// lifetime not in (0 s, 1 h], a moved-from key; an OpenSSL failure gives its own code.
inline boost::system::result<secret> make_keypair_jwt_for(std::string_view account_identifier, std::string_view user,
                                                          const private_key& key, oauth::token_clock::time_point now,
                                                          std::chrono::seconds lifetime, diagnostics& diag) {
    diag.clear();
    auto fail = [&diag](const char* message) -> boost::system::result<secret> {
        diag.set_client_message(message);
        return make_error_code(errc::invalid_argument);
    };
    if (account_identifier.empty()) return fail("a key-pair JWT needs the account identifier");
    if (account_identifier.find('.') != std::string_view::npos)
        return fail("an account identifier in a key-pair JWT has no '.': drop a locator's region and cloud, "
                    "join organisation and account with '-'");
    if (user.empty()) return fail("a key-pair JWT needs the user name");
    for (char c : user)
        if (detail::is_control(c)) return fail("a user name has no control characters");
    if (lifetime <= std::chrono::seconds::zero() || lifetime > max_keypair_jwt_lifetime)
        return fail("a key-pair JWT lives more than 0 seconds and at most one hour");
    if (!key.native_handle()) return fail("the private key is empty (moved from)");

    std::string subject;
    for (char c : account_identifier) subject += detail::ascii_upper(c);
    subject += '.';
    for (char c : user) subject += detail::ascii_upper(c);
    const auto issued = std::chrono::floor<std::chrono::seconds>(now.time_since_epoch()).count();
    boost::json::object claims;
    claims["iss"] = subject + '.' + key.public_key_fingerprint();
    claims["sub"] = subject;
    claims["iat"] = issued;
    claims["exp"] = issued + lifetime.count();

    std::string token = jwt_signing_input(R"({"alg":"RS256","typ":"JWT"})", boost::json::serialize(claims));
    auto signature = key.sign_rs256(token);
    if (!signature) {
        diag.set_client_message("signing the key-pair JWT failed (OpenSSL)");
        return signature.error();
    }
    token += '.';
    token += base64url_encode(*signature);
    takeoff::detail::wipe_string(*signature);
    return secret(std::move(token));
}

/// make_keypair_jwt_for with the account identifier taken from the account URL
/// (jwt_account_identifier). A loopback URL names no account: errc::invalid_argument; call
/// make_keypair_jwt_for with the identifier instead.
inline boost::system::result<secret> make_keypair_jwt(const account_url& account, std::string_view user,
                                                      const private_key& key, oauth::token_clock::time_point now,
                                                      std::chrono::seconds lifetime, diagnostics& diag) {
    const std::string identifier = jwt_account_identifier(account);
    if (identifier.empty()) {
        diag.clear();
        diag.set_client_message("a loopback account URL names no account: pass the account identifier");
        return make_error_code(errc::invalid_argument);
    }
    return make_keypair_jwt_for(identifier, user, key, now, lifetime, diag);
}

/// The grant type of the key-pair JWT exchange (RFC 7523).
inline constexpr std::string_view jwt_bearer_grant_type = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// POST <account>/oauth/token (account.jwt_token_endpoint()), form-encoded, with no client
/// authentication: grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer, assertion=<jwt>,
/// scope=[session:role:<ROLE> ]<ingress host> (lower-cased host). The role scope is spelled as
/// scope.hpp spells it: session:role-encoded:<percent-encoded> when the name needs it. Errors, with
/// a client message: an empty JWT, or an ingress host that is not a host name (no scheme, port or
/// path): errc::invalid_argument; a role that is not a Snowflake identifier: errc::invalid_identifier.
inline boost::system::result<http::request> make_jwt_exchange_request(const account_url& account, const secret& jwt,
                                                                      std::string_view ingress_host,
                                                                      const std::optional<std::string>& role,
                                                                      diagnostics& diag) {
    diag.clear();
    auto fail = [&diag](const char* message) -> boost::system::result<http::request> {
        diag.set_client_message(message);
        return make_error_code(errc::invalid_argument);
    };
    if (jwt.empty()) return fail("the JWT exchange needs a key-pair JWT");
    bool host_ok = !ingress_host.empty() && ingress_host.size() <= 253;
    for (std::string_view rest = ingress_host; host_ok;) {
        const std::size_t dot = rest.find('.');
        host_ok = detail::is_ldh_label(rest.substr(0, dot));
        if (dot == std::string_view::npos) break;
        rest.remove_prefix(dot + 1);
    }
    if (!host_ok)
        return fail("the ingress host is a host name such as abc-myorg-myacct.snowflakecomputing.app "
                    "(no scheme, port or path)");

    std::string scope;
    if (role) {
        if (auto ok = identifier::runtime(*role, diag); !ok) return ok.error();
        const bool encode = detail::needs_role_encoding(*role);
        scope = encode ? detail::role_encoded_prefix : detail::role_prefix;
        if (encode)
            detail::percent_encode(*role, [&scope](char c) { scope += c; });
        else
            scope += *role;
        scope += ' ';
    }
    for (char c : ingress_host) scope += oauth::detail::ascii_lower(c);

    oauth::form_builder form;
    form.add("grant_type", jwt_bearer_grant_type).add("assertion", jwt.reveal()).add("scope", scope);
    return http::request::post(boost::urls::url(account.jwt_token_endpoint().url()), form.take(),
                               "application/x-www-form-urlencoded");
}

/// A token for one SPCS ingress host, from the key-pair JWT exchange.
struct ingress_token {
    /// What `Authorization: Snowflake Token="..."` carries.
    secret token;
    /// When the token expires, when it is a JWT with an `exp` claim (read, not verified).
    std::optional<oauth::token_clock::time_point> expires_at;

    /// Prints the expiry (seconds since the epoch); the token shows as "[redacted]".
    friend std::ostream& operator<<(std::ostream& os, const ingress_token& t) {
        os << "ingress_token{token=" << t.token << ", expires_at=";
        if (t.expires_at)
            os << std::chrono::duration_cast<std::chrono::seconds>(t.expires_at->time_since_epoch()).count();
        else
            os << "(unknown)";
        return os << '}';
    }
};

/// Reads the answer to make_jwt_exchange_request.
/// - 2xx: the body, white space (space, tab, CR, LF) around it trimmed, is the token; its expiry is
///   the `exp` of a JWT (none for an opaque token). An empty body, or one that cannot go in a
///   header as it is (JSON, text with spaces, quotes or non-ASCII): errc::invalid_response.
/// - Not 2xx: an OAuth error body (`{"error":"invalid_grant","message":...}`) gives the errc of its
///   `error` (oauth::errc_from_oauth_error); otherwise errc_from_http_status. diag has the status,
///   the server's `error` or `code`, and its message or a masked body excerpt.
inline boost::system::result<ingress_token> parse_jwt_exchange_response(const http::response& response,
                                                                        diagnostics& diag) {
    diag.clear();
    if (response.status < 200 || response.status > 299)
        return detail::http_failure(response, "the key-pair JWT exchange", diag);
    std::string_view text = response.body;
    const std::string_view white = " \t\r\n";
    const std::size_t first = text.find_first_not_of(white);
    text = first == std::string_view::npos ? std::string_view{} : text.substr(first, text.find_last_not_of(white) - first + 1);
    auto invalid = [&diag](const char* message) -> boost::system::result<ingress_token> {
        diag.set_client_message(message);
        return make_error_code(errc::invalid_response);
    };
    if (text.empty()) return invalid("the key-pair JWT exchange answered with an empty body");
    if (!detail::is_header_safe_token(text))
        return invalid("the key-pair JWT exchange answered with something other than a bare token "
                       "(JSON, or text with spaces, quotes or non-ASCII characters)");
    return ingress_token{secret(text), jwt_expiry(text)};
}

} // namespace takeoff::snowflake
