#include <takeoff/snowflake/keypair.hpp>

#include "../support/doctest_helpers.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <unistd.h>

using namespace std::chrono_literals;
using takeoff::diagnostics;
using takeoff::errc;
using takeoff::secret;
namespace http = takeoff::http;
namespace snowflake = takeoff::snowflake;

namespace {

struct pkey_free {
    void operator()(EVP_PKEY* key) const noexcept { EVP_PKEY_free(key); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;

struct bio_free {
    void operator()(BIO* bio) const noexcept { BIO_free(bio); }
};

// Writes a key with an OpenSSL PEM writer into a string.
template <class Write>
std::string to_pem(Write write) {
    std::unique_ptr<BIO, bio_free> bio(BIO_new(BIO_s_mem()));
    REQUIRE(write(bio.get()) == 1);
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(size));
}

std::string pkcs8_pem(EVP_PKEY* key) {
    return to_pem([key](BIO* bio) { return PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr); });
}

// The RSA 2048 key of these tests, generated once (key generation is the slow part).
EVP_PKEY* test_key() {
    static const pkey_ptr key(EVP_RSA_gen(2048));
    REQUIRE(key != nullptr);
    return key.get();
}

const std::string& test_pem() {
    static const std::string pem = pkcs8_pem(test_key());
    return pem;
}

// The DER SubjectPublicKeyInfo of a key.
std::string public_der(EVP_PKEY* key) {
    unsigned char* der = nullptr;
    const int size = i2d_PUBKEY(key, &der);
    REQUIRE(size > 0);
    std::string out(reinterpret_cast<const char*>(der), static_cast<std::size_t>(size));
    OPENSSL_free(der);
    return out;
}

// Snowflake's RSA_PUBLIC_KEY_FP, computed with OpenSSL's own digest and base64 (not the library's).
std::string expected_fingerprint(EVP_PKEY* key) {
    const std::string der = public_der(key);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_size = 0;
    REQUIRE(EVP_Digest(der.data(), der.size(), digest, &digest_size, EVP_sha256(), nullptr) == 1);
    unsigned char encoded[64] = {};
    const int encoded_size = EVP_EncodeBlock(encoded, digest, static_cast<int>(digest_size));
    return "SHA256:" + std::string(reinterpret_cast<const char*>(encoded), static_cast<std::size_t>(encoded_size));
}

// Verifies an RS256 signature with a public-only copy of `key`.
bool verifies(EVP_PKEY* key, std::string_view data, std::string_view signature) {
    const std::string der = public_der(key);
    const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
    pkey_ptr public_key(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
    REQUIRE(public_key != nullptr);
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    REQUIRE(EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, public_key.get()) == 1);
    return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                            reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
}

snowflake::private_key load_test_key() {
    diagnostics diag;
    auto key = snowflake::private_key::from_pem(test_pem(), diag);
    REQUIRE(key.has_value());
    return std::move(*key);
}

const snowflake::account_url org_account = "https://myorg-myacct.snowflakecomputing.com";
constexpr std::string_view ingress_host = "ab12-myorg-myacct.snowflakecomputing.app";
const auto fixed_now = takeoff::oauth::token_clock::time_point(1700000000s) + 750ms;

http::response response(unsigned status, std::string body) {
    http::response r;
    r.status = status;
    r.body = std::move(body);
    return r;
}

} // namespace

TEST_CASE("private_key: the fingerprint is SHA256: + base64(SHA-256(DER public key)), as RSA_PUBLIC_KEY_FP") {
    const snowflake::private_key key = load_test_key();
    CHECK(key.public_key_fingerprint() == expected_fingerprint(test_key()));
    CHECK(key.public_key_fingerprint().size() == 7 + 44);
    CHECK(key.bits() == 2048);
    CHECK(EVP_PKEY_eq(key.native_handle(), test_key()) == 1);
}

TEST_CASE("private_key: a PKCS#1 (RSA PRIVATE KEY) PEM reads as the same key") {
    const std::string pem = to_pem([](BIO* bio) {
        return PEM_write_bio_PrivateKey_traditional(bio, test_key(), nullptr, nullptr, 0, nullptr, nullptr);
    });
    REQUIRE(pem.find("-----BEGIN RSA PRIVATE KEY-----") == 0);
    diagnostics diag;
    auto key = snowflake::private_key::from_pem(pem, diag);
    REQUIRE(key.has_value());
    CHECK(key->public_key_fingerprint() == expected_fingerprint(test_key()));
}

TEST_CASE("private_key: an encrypted PKCS#8 PEM with the right, a wrong and no passphrase") {
    const std::string pem = to_pem([](BIO* bio) {
        return PEM_write_bio_PKCS8PrivateKey(bio, test_key(), EVP_aes_256_cbc(), nullptr, 0, nullptr,
                                             const_cast<char*>("correct horse"));
    });
    REQUIRE(pem.find("-----BEGIN ENCRYPTED PRIVATE KEY-----") == 0);
    diagnostics diag;
    auto right = snowflake::private_key::from_pem(pem, diag, "correct horse");
    REQUIRE(right.has_value());
    CHECK(right->public_key_fingerprint() == expected_fingerprint(test_key()));

    auto wrong = snowflake::private_key::from_pem(pem, diag, "battery staple");
    REQUIRE_FALSE(wrong.has_value());
    CHECK(wrong.error() == errc::invalid_argument);
    CHECK(diag.client_message() == "the private key cannot be decrypted with this passphrase");

    auto none = snowflake::private_key::from_pem(pem, diag);
    REQUIRE_FALSE(none.has_value());
    CHECK(none.error() == errc::invalid_argument);
    CHECK(diag.client_message() == "the private key is encrypted: a passphrase is needed");
}

TEST_CASE("private_key: garbage and a public key are not PEM private keys") {
    const std::string public_pem = to_pem([](BIO* bio) { return PEM_write_bio_PUBKEY(bio, test_key()); });
    for (const std::string& text : {std::string("not a key"), std::string(),
                                    std::string("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
                                    public_pem}) {
        CAPTURE(text);
        diagnostics diag;
        auto key = snowflake::private_key::from_pem(text, diag);
        REQUIRE_FALSE(key.has_value());
        CHECK(key.error() == errc::invalid_argument);
        CHECK(diag.client_message() == "the text is not a PEM private key (PKCS#8 or PKCS#1)");
    }
}

TEST_CASE("private_key: an EC key is refused (RS256 needs RSA), and so is an RSA key under 2048 bits") {
    const pkey_ptr ec(EVP_EC_gen("P-256"));
    REQUIRE(ec != nullptr);
    diagnostics diag;
    auto from_ec = snowflake::private_key::from_pem(pkcs8_pem(ec.get()), diag);
    REQUIRE_FALSE(from_ec.has_value());
    CHECK(from_ec.error() == errc::invalid_argument);
    CHECK(diag.client_message() ==
          "the private key is EC: Snowflake key-pair authentication signs with RS256, which needs an RSA key");

    const pkey_ptr small(EVP_RSA_gen(1024));
    REQUIRE(small != nullptr);
    auto from_small = snowflake::private_key::from_pem(pkcs8_pem(small.get()), diag);
    REQUIRE_FALSE(from_small.has_value());
    CHECK(from_small.error() == errc::invalid_argument);
    CHECK(diag.client_message() == "the RSA key has 1024 bits: Snowflake key-pair authentication needs at least 2048");
}

TEST_CASE("private_key: from_file reads a PEM file; a missing file is the system's error, naming the path") {
    const std::filesystem::path path =
        std::filesystem::temp_directory_path() / ("takeoff_keypair_test_" + std::to_string(::getpid()) + ".p8");
    {
        std::ofstream out(path, std::ios::binary);
        out << test_pem();
    }
    diagnostics diag;
    auto key = snowflake::private_key::from_file(path.string(), diag);
    std::filesystem::remove(path);
    REQUIRE(key.has_value());
    CHECK(key->public_key_fingerprint() == expected_fingerprint(test_key()));

    auto missing = snowflake::private_key::from_file(path.string(), diag);
    REQUIRE_FALSE(missing.has_value());
    CHECK(missing.error() == boost::system::errc::no_such_file_or_directory);
    CHECK(diag.client_message() == "cannot read the private key file '" + path.string() + "'");
}

TEST_CASE("private_key: operator<< shows the size and public fingerprint, never key material") {
    snowflake::private_key key = load_test_key();
    std::ostringstream os;
    os << key;
    CHECK(os.str() == "private_key{RSA 2048 bits, " + expected_fingerprint(test_key()) + "}");
    snowflake::private_key moved = std::move(key);
    std::ostringstream os2;
    os2 << key;
    CHECK(os2.str() == "private_key{(empty)}");
    CHECK(key.native_handle() == nullptr);
    CHECK(moved.native_handle() != nullptr);
}

TEST_CASE("private_key: sign_rs256 is a 256-byte PKCS#1 v1.5 SHA-256 signature that verifies") {
    const snowflake::private_key key = load_test_key();
    auto signature = key.sign_rs256("data to sign");
    REQUIRE(signature.has_value());
    CHECK(signature->size() == 256);
    CHECK(verifies(test_key(), "data to sign", *signature));
    CHECK_FALSE(verifies(test_key(), "data to sigN", *signature));
    // PKCS#1 v1.5 is deterministic: the same input gives the same signature.
    CHECK(key.sign_rs256("data to sign").value() == *signature);
}

TEST_CASE("jwt_account_identifier: each account URL form") {
    struct example {
        snowflake::account_url account;
        std::string_view identifier;
    };
    const example examples[] = {
        {"https://myorg-myacct.snowflakecomputing.com", "MYORG-MYACCT"},
        {"https://MyOrg-MyAcct.snowflakecomputing.com/", "MYORG-MYACCT"},
        {"https://acme-marketing-test-account.snowflakecomputing.com", "ACME-MARKETING_TEST_ACCOUNT"},
        {"https://xy12345.snowflakecomputing.com", "XY12345"},
        {"https://xy12345.us-east-1.snowflakecomputing.com", "XY12345"},
        {"https://xy12345.us-east-2.aws.snowflakecomputing.com", "XY12345"},
        {"https://xy12345.us-central1.gcp.snowflakecomputing.com:443", "XY12345"},
        {"https://myorg-myacct.privatelink.snowflakecomputing.com", "MYORG-MYACCT"},
        {"https://xy12345.east-us-2.azure.privatelink.snowflakecomputing.com", "XY12345"},
        {"https://xy12345.cn-northwest-1.snowflakecomputing.cn", "XY12345"},
        {"http://127.0.0.1:8080", ""},
        {"http://localhost:8080", ""},
        {"http://[::1]:8080", ""},
    };
    for (const example& e : examples) {
        CAPTURE(e.account.str());
        CHECK(snowflake::jwt_account_identifier(e.account) == e.identifier);
    }
}

TEST_CASE("make_keypair_jwt: RS256 header, exact claims for a fixed time, and a signature that verifies") {
    const snowflake::private_key key = load_test_key();
    diagnostics diag;
    auto jwt = snowflake::make_keypair_jwt(org_account, "jdoe", key, fixed_now, 59min, diag);
    REQUIRE(jwt.has_value());
    CHECK(diag.empty());
    const std::string_view text = jwt->reveal();

    auto segments = takeoff::split_jwt(text, diag);
    REQUIRE(segments.has_value());
    CHECK(takeoff::base64url_decode(segments->header).value() == R"({"alg":"RS256","typ":"JWT"})");
    const std::string fingerprint = expected_fingerprint(test_key());
    CHECK(takeoff::base64url_decode(segments->payload).value() ==
          R"({"iss":"MYORG-MYACCT.JDOE.)" + fingerprint +
              R"(","sub":"MYORG-MYACCT.JDOE","iat":1700000000,"exp":1700003540})");
    const std::string signature = takeoff::base64url_decode(segments->signature).value();
    const std::string_view signing_input = text.substr(0, segments->header.size() + 1 + segments->payload.size());
    CHECK(verifies(test_key(), signing_input, signature));
    CHECK(takeoff::jwt_expiry(text) == takeoff::oauth::token_clock::time_point(1700003540s));
}

TEST_CASE("make_keypair_jwt_for: an explicit account identifier (for loopback URLs), upper-cased") {
    const snowflake::private_key key = load_test_key();
    diagnostics diag;
    auto jwt = snowflake::make_keypair_jwt_for("emulated", "User.Name@Example.com", key, fixed_now, 1h, diag);
    REQUIRE(jwt.has_value());
    auto payload = takeoff::jwt_payload(jwt->reveal(), diag);
    REQUIRE(payload.has_value());
    CHECK(payload->at("sub") == "EMULATED.USER.NAME@EXAMPLE.COM");
    CHECK(payload->at("exp").as_int64() - payload->at("iat").as_int64() == 3600);
}

TEST_CASE("make_keypair_jwt: refused lifetimes, users, account identifiers and keys") {
    const snowflake::private_key key = load_test_key();
    diagnostics diag;
    auto check_refused = [&diag](const boost::system::result<secret>& r, std::string_view message) {
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error() == errc::invalid_argument);
        CHECK(diag.client_message() == message);
    };
    check_refused(snowflake::make_keypair_jwt(org_account, "JDOE", key, fixed_now, 3601s, diag),
                  "a key-pair JWT lives more than 0 seconds and at most one hour");
    check_refused(snowflake::make_keypair_jwt(org_account, "JDOE", key, fixed_now, 0s, diag),
                  "a key-pair JWT lives more than 0 seconds and at most one hour");
    check_refused(snowflake::make_keypair_jwt(org_account, "", key, fixed_now, 1h, diag),
                  "a key-pair JWT needs the user name");
    check_refused(snowflake::make_keypair_jwt(org_account, "J\nDOE", key, fixed_now, 1h, diag),
                  "a user name has no control characters");
    const snowflake::account_url loopback = "http://127.0.0.1:8080";
    check_refused(snowflake::make_keypair_jwt(loopback, "JDOE", key, fixed_now, 1h, diag),
                  "a loopback account URL names no account: pass the account identifier");
    check_refused(snowflake::make_keypair_jwt_for("", "JDOE", key, fixed_now, 1h, diag),
                  "a key-pair JWT needs the account identifier");
    check_refused(snowflake::make_keypair_jwt_for("xy12345.us-east-2", "JDOE", key, fixed_now, 1h, diag),
                  "an account identifier in a key-pair JWT has no '.': drop a locator's region and cloud, "
                  "join organisation and account with '-'");
    snowflake::private_key moved_from = load_test_key();
    snowflake::private_key taken = std::move(moved_from);
    check_refused(snowflake::make_keypair_jwt(org_account, "JDOE", moved_from, fixed_now, 1h, diag),
                  "the private key is empty (moved from)");
}

TEST_CASE("jwt exchange request: POST to /oauth/token, exact form body, no client authentication") {
    diagnostics diag;
    auto request = snowflake::make_jwt_exchange_request(org_account, secret("aGVh.cGF5.c2ln"), ingress_host,
                                                        std::nullopt, diag);
    REQUIRE(request.has_value());
    CHECK(diag.empty());
    CHECK(request->method == boost::beast::http::verb::post);
    CHECK(request->url.buffer() == "https://myorg-myacct.snowflakecomputing.com/oauth/token");
    CHECK(request->headers[boost::beast::http::field::content_type] == "application/x-www-form-urlencoded");
    CHECK_FALSE(request->headers.contains(boost::beast::http::field::authorization));
    CHECK(request->body == "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=aGVh.cGF5.c2ln"
                           "&scope=ab12-myorg-myacct.snowflakecomputing.app");
}

TEST_CASE("jwt exchange request: a role scope in front of the host, encoded when the name needs it") {
    diagnostics diag;
    auto plain = snowflake::make_jwt_exchange_request(org_account, secret("aGVh.cGF5.c2ln"), ingress_host,
                                                      std::string("TEST_ROLE"), diag);
    REQUIRE(plain.has_value());
    CHECK(plain->body == "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=aGVh.cGF5.c2ln"
                         "&scope=session%3Arole%3ATEST_ROLE+ab12-myorg-myacct.snowflakecomputing.app");

    auto encoded = snowflake::make_jwt_exchange_request(org_account, secret("aGVh.cGF5.c2ln"),
                                                        "AB12-MyOrg-MyAcct.snowflakecomputing.app",
                                                        std::string("AUTH SNOWFLAKE"), diag);
    REQUIRE(encoded.has_value());
    // The scope is session:role-encoded:AUTH%20SNOWFLAKE <host>; the form encodes its '%' again.
    CHECK(encoded->body ==
          "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=aGVh.cGF5.c2ln"
          "&scope=session%3Arole-encoded%3AAUTH%2520SNOWFLAKE+ab12-myorg-myacct.snowflakecomputing.app");
}

TEST_CASE("jwt exchange request: an empty JWT, a host that is not a host name or a bad role is refused") {
    diagnostics diag;
    auto empty = snowflake::make_jwt_exchange_request(org_account, secret(""), ingress_host, std::nullopt, diag);
    REQUIRE_FALSE(empty.has_value());
    CHECK(empty.error() == errc::invalid_argument);
    CHECK(diag.client_message() == "the JWT exchange needs a key-pair JWT");

    for (std::string_view host : {"", "https://ab12.snowflakecomputing.app", "ab12.snowflakecomputing.app:443",
                                  "ab12.snowflakecomputing.app/path", "ab12..app", "ab12.app.", "-ab12.app",
                                  "ab 12.app", "ab12.app session:role:ACCOUNTADMIN"}) {
        CAPTURE(host);
        auto r = snowflake::make_jwt_exchange_request(org_account, secret("aGVh.cGF5.c2ln"), host, std::nullopt, diag);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error() == errc::invalid_argument);
        CHECK(diag.client_message() == "the ingress host is a host name such as "
                                       "abc-myorg-myacct.snowflakecomputing.app (no scheme, port or path)");
    }

    auto bad_role = snowflake::make_jwt_exchange_request(org_account, secret("aGVh.cGF5.c2ln"), ingress_host,
                                                         std::string(), diag);
    REQUIRE_FALSE(bad_role.has_value());
    CHECK(bad_role.error() == errc::invalid_identifier);
    CHECK(diag.client_message() == "a Snowflake identifier must not be empty");
}

TEST_CASE("jwt exchange response: raw text is the token; a JWT's exp is its expiry; white space is trimmed") {
    diagnostics diag;
    auto opaque = snowflake::parse_jwt_exchange_response(response(200, "opaque-token_123"), diag);
    REQUIRE(opaque.has_value());
    CHECK(diag.empty());
    CHECK(opaque->token.reveal() == "opaque-token_123");
    CHECK_FALSE(opaque->expires_at.has_value());

    const std::string jwt = takeoff::jwt_signing_input(R"({"alg":"ES256"})", R"({"exp":1700003600})") + ".c2ln";
    auto with_exp = snowflake::parse_jwt_exchange_response(response(200, " \t" + jwt + "\r\n"), diag);
    REQUIRE(with_exp.has_value());
    CHECK(with_exp->token.reveal() == jwt);
    CHECK(with_exp->expires_at == std::optional(takeoff::oauth::token_clock::time_point(1700003600s)));
}

TEST_CASE("jwt exchange response: an empty body or one that is not a bare token is invalid_response") {
    for (std::string body : {std::string(), std::string(" \r\n")}) {
        diagnostics diag;
        auto r = snowflake::parse_jwt_exchange_response(response(200, body), diag);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error() == errc::invalid_response);
        CHECK(diag.client_message() == "the key-pair JWT exchange answered with an empty body");
    }
    for (std::string body : {std::string(R"({"access_token":"SECRETVALUE"})"), std::string("two words"),
                             std::string("<html>\n<body>\n")}) {
        diagnostics diag;
        auto r = snowflake::parse_jwt_exchange_response(response(200, body), diag);
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error() == errc::invalid_response);
        CHECK(diag.client_message() == "the key-pair JWT exchange answered with something other than a bare token "
                                       "(JSON, or text with spaces, quotes or non-ASCII characters)");
        CHECK(diag.server_message().empty());
    }
}

TEST_CASE("jwt exchange response: a 400 OAuth error maps its error; other failures their status") {
    diagnostics diag;
    auto refused = snowflake::parse_jwt_exchange_response(
        response(400, R"({"data":null,"message":"JWT token is invalid.","code":null,"success":false,"error":"invalid_grant"})"),
        diag);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error() == errc::invalid_grant);
    CHECK(diag.http_status() == 400);
    CHECK(diag.server_error_code() == "invalid_grant");
    CHECK(diag.server_message() == "JWT token is invalid.");
    CHECK(diag.client_message() == "the key-pair JWT exchange failed with HTTP 400 (an OAuth error: see server_error_code)");

    auto described = snowflake::parse_jwt_exchange_response(
        response(400, R"({"error":"invalid_scope","error_description":"bad scope"})"), diag);
    REQUIRE_FALSE(described.has_value());
    CHECK(described.error() == errc::invalid_scope);
    CHECK(diag.server_message() == "bad scope");

    auto unknown = snowflake::parse_jwt_exchange_response(response(400, R"({"error":"made_up"})"), diag);
    REQUIRE_FALSE(unknown.has_value());
    CHECK(unknown.error() == errc::oauth_error);
    CHECK(diag.server_error_code() == "made_up");

    auto unauthorized = snowflake::parse_jwt_exchange_response(response(401, "Unauthorized"), diag);
    REQUIRE_FALSE(unauthorized.has_value());
    CHECK(unauthorized.error() == errc::unauthorized);
    CHECK(diag.server_message() == "Unauthorized");
    CHECK(diag.server_error_code().empty());
    CHECK(diag.client_message() == "the key-pair JWT exchange failed with HTTP 401");
}

TEST_CASE("ingress_token: operator<< shows the expiry and never the token") {
    std::ostringstream os;
    os << snowflake::ingress_token{secret("INGRESSTOKENVALUE"), takeoff::oauth::token_clock::time_point(1700003600s)};
    CHECK(os.str() == "ingress_token{token=[redacted], expires_at=1700003600}");
    std::ostringstream os2;
    os2 << snowflake::ingress_token{secret("INGRESSTOKENVALUE"), std::nullopt};
    CHECK(os2.str() == "ingress_token{token=[redacted], expires_at=(unknown)}");
}
