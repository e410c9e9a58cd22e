// Tests of the emulated Snowflake side (takeoff_emulator/snowflake.hpp): the authorize endpoint,
// the token-request grants, the key-pair JWT exchange, login-request and the SPCS ingress check,
// from the client side with synchronous Beast clients on 127.0.0.1 (HTTPS with the emulator's
// certificates for the full code flow). Requests are built by hand: the exact bytes are the point.
// No sleeps: expiry is driven by snowflake_emulator::advance_clock.

#include <takeoff_emulator/certificates.hpp>
#include <takeoff_emulator/snowflake.hpp>

#include <takeoff/core/base64.hpp>
#include <takeoff/oauth/form.hpp>
#include <takeoff/oauth/pkce.hpp>

#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

namespace emu = takeoff::emulator;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
namespace json = boost::json;
using string_request = http::request<http::string_body>;
using string_response = http::response<http::string_body>;
using namespace std::chrono_literals;

constexpr std::string_view redirect = "http://127.0.0.1:53682/cb";
constexpr std::string_view verifier = "verifier-0123456789-abcdefghijklmnopqrstuvwxyz";
constexpr std::string_view form_type = "application/x-www-form-urlencoded";

std::string challenge() { return takeoff::oauth::pkce_s256_challenge(verifier).value(); }

// One request on a new connection: plain HTTP, or HTTPS trusting `ca_pem` (verify_peer, SNI,
// host name verification of 127.0.0.1).
string_response send(const emu::server& server, string_request request, const std::string& ca_pem = {})
{
    request.set(http::field::host, "127.0.0.1:" + std::to_string(server.port()));
    request.prepare_payload();
    asio::io_context io;
    beast::flat_buffer buffer;
    string_response response;
    if (!server.is_tls()) {
        beast::tcp_stream stream(io);
        stream.connect(server.endpoint());
        http::write(stream, request);
        http::read(stream, buffer, response);
        return response;
    }
    ssl::context context(ssl::context::tls_client);
    context.set_verify_mode(ssl::verify_peer);
    context.add_certificate_authority(asio::buffer(ca_pem));
    ssl::stream<beast::tcp_stream> stream(io, context);
    REQUIRE(SSL_set_tlsext_host_name(stream.native_handle(), "127.0.0.1") == 1);
    stream.set_verify_callback(ssl::host_name_verification("127.0.0.1"));
    beast::get_lowest_layer(stream).connect(server.endpoint());
    stream.handshake(ssl::stream_base::client);
    http::write(stream, request);
    http::read(stream, buffer, response);
    return response;
}

using params = std::vector<std::pair<std::string, std::string>>;

std::string form(const params& fields)
{
    takeoff::oauth::form_builder builder;
    for (const auto& [name, value] : fields)
        builder.add(name, value);
    return builder.take();
}

string_request get(std::string target)
{
    return string_request{http::verb::get, target, 11};
}

string_request post_form(std::string target, const params& fields, std::string authorization = {})
{
    string_request request{http::verb::post, target, 11};
    request.set(http::field::content_type, form_type);
    if (!authorization.empty())
        request.set(http::field::authorization, authorization);
    request.body() = form(fields);
    return request;
}

std::string basic(std::string_view id, std::string_view secret)
{
    return "Basic " + takeoff::base64_encode(takeoff::oauth::form_encode(id) + ":" + takeoff::oauth::form_encode(secret));
}

params authorize_params(std::string scope = "refresh_token session:role:ANALYST", std::string state = "state-1")
{
    params p{{"response_type", "code"}, {"client_id", "EMULATOR_CLIENT_ID"}, {"redirect_uri", std::string(redirect)}};
    if (!state.empty())
        p.emplace_back("state", state);
    if (!scope.empty())
        p.emplace_back("scope", scope);
    p.emplace_back("code_challenge", challenge());
    p.emplace_back("code_challenge_method", "S256");
    return p;
}

string_request authorize(const params& p) { return get("/oauth/authorize?" + form(p)); }

std::string location(const string_response& response) { return std::string(response[http::field::location]); }

// The decoded query of a redirect Location.
emu::form_fields location_query(const string_response& response)
{
    const std::string where = location(response);
    const auto mark = where.find('?');
    REQUIRE(mark != std::string::npos);
    auto fields = emu::parse_form(std::string_view(where).substr(mark + 1));
    REQUIRE(fields.has_value());
    return *fields;
}

std::string query_value(const string_response& response, std::string_view name)
{
    return emu::form_value(location_query(response), name).value_or("<absent>");
}

// Authorizes with the default parameters (or `p`) and returns the code.
std::string obtain_code(const emu::server& server, const params& p = authorize_params(), const std::string& ca = {})
{
    auto response = send(server, authorize(p), ca);
    REQUIRE(response.result() == http::status::found);
    const std::string code = query_value(response, "code");
    REQUIRE(code.starts_with("emu-code-"));
    return code;
}

params code_exchange(const std::string& code, std::string_view code_verifier = verifier)
{
    return {{"grant_type", "authorization_code"},
            {"code", code},
            {"redirect_uri", std::string(redirect)},
            {"code_verifier", std::string(code_verifier)}};
}

std::string oauth_error_body(std::string_view error, std::string_view message)
{
    return R"({"data":null,"message":")" + std::string(message) + R"(","code":null,"success":false,"error":")" +
           std::string(error) + R"("})";
}

const std::string invalid_client = oauth_error_body("invalid_client", "This is an invalid client.");
const std::string invalid_grant = oauth_error_body("invalid_grant", "The provided grant or refresh token is invalid.");

json::object json_body(const string_response& response)
{
    auto value = json::parse(response.body());
    REQUIRE(value.is_object());
    return value.as_object();
}

string_request login_request(std::string_view token, std::string_view account = "EMULATOR")
{
    string_request request{http::verb::post, "/session/v1/login-request?request_id=0b5a1c3e-1111-4222-8333-444455556666", 11};
    request.set(http::field::content_type, "application/json");
    json::object data{{"ACCOUNT_NAME", account},
                      {"AUTHENTICATOR", "OAUTH"},
                      {"TOKEN", token},
                      {"CLIENT_APP_ID", "takeoff-cpp"},
                      {"CLIENT_ENVIRONMENT", {{"OAUTH_TYPE", "OAUTH_AUTHORIZATION_CODE"}}}};
    request.body() = json::serialize(json::object{{"data", data}});
    return request;
}

// The backend behind the ingress: reports what it was given.
emu::handler reporting_backend()
{
    return [](emu::exchange& ex) -> asio::awaitable<void> {
        const auto& request = ex.request();
        const auto header = [&](std::string_view name) {
            const auto found = request.find(name);
            return found == request.end() ? std::string("<none>") : std::string(found->value());
        };
        std::string body = "user=" + header("Sf-Context-Current-User") + "\nauthorization=" + header("Authorization") +
                           "\nx-sf-spcs-authorization=" + header("X-SF-SPCS-Authorization") + "\n";
        auto response = emu::make_response(http::status::ok, std::move(body));
        co_await ex.async_respond(std::move(response));
    };
}

string_request app_get(std::string_view credential_header = {}, std::string_view value = {})
{
    string_request request{http::verb::get, "/app/generate?x=1", 11};
    if (!credential_header.empty())
        request.set(credential_header, value);
    return request;
}

std::string snowflake_token(std::string_view token) { return "Snowflake Token=\"" + std::string(token) + "\""; }

std::string backend_saw(std::string_view user, std::string_view authorization = "<none>",
                        std::string_view spcs = "<none>")
{
    return "user=" + std::string(user) + "\nauthorization=" + std::string(authorization) +
           "\nx-sf-spcs-authorization=" + std::string(spcs) + "\n";
}

// A 401 from the ingress: the ERROR_INVALID_TOKEN JSON with a UUID requestId, and `Server: _`.
void check_invalid_token(const string_response& response)
{
    CHECK(response.result() == http::status::unauthorized);
    CHECK(response[http::field::server] == "_");
    CHECK(response[http::field::content_type] == "application/json");
    const auto body = json_body(response);
    CHECK(body.size() == 3);
    CHECK(body.at("responseType") == "ERROR_INVALID_TOKEN");
    CHECK(body.at("detail") == "Invalid token");
    const std::string id(body.at("requestId").as_string());
    CHECK(id.size() == 36);
    CHECK(id[8] == '-');
    CHECK(id[14] == '4');
}

// An RSA key made in the test, and JWTs signed with it by hand.
struct rsa_key {
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key{EVP_RSA_gen(2048), &EVP_PKEY_free};

    std::string public_pem() const
    {
        std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
        REQUIRE(PEM_write_bio_PUBKEY(bio.get(), key.get()) == 1);
        char* data = nullptr;
        const long size = BIO_get_mem_data(bio.get(), &data);
        return std::string(data, static_cast<std::size_t>(size));
    }

    std::string fingerprint() const
    {
        unsigned char* der = nullptr;
        const int size = i2d_PUBKEY(key.get(), &der);
        REQUIRE(size > 0);
        unsigned char digest[32];
        unsigned int length = 0;
        REQUIRE(EVP_Digest(der, static_cast<std::size_t>(size), digest, &length, EVP_sha256(), nullptr) == 1);
        OPENSSL_free(der);
        return "SHA256:" + takeoff::base64_encode(std::string_view(reinterpret_cast<const char*>(digest), length));
    }

    std::string sign(std::string_view header, std::string_view payload) const
    {
        const std::string input = takeoff::base64url_encode(header) + "." + takeoff::base64url_encode(payload);
        std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
        REQUIRE(EVP_DigestSignInit(context.get(), nullptr, EVP_sha256(), nullptr, key.get()) == 1);
        std::size_t size = 0;
        REQUIRE(EVP_DigestSign(context.get(), nullptr, &size, reinterpret_cast<const unsigned char*>(input.data()),
                               input.size()) == 1);
        std::string signature(size, '\0');
        REQUIRE(EVP_DigestSign(context.get(), reinterpret_cast<unsigned char*>(signature.data()), &size,
                               reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1);
        signature.resize(size);
        return input + "." + takeoff::base64url_encode(signature);
    }
};

const rsa_key& user_key()
{
    static const rsa_key key;
    return key;
}

const rsa_key& other_key()
{
    static const rsa_key key;
    return key;
}

std::int64_t unix_now()
{
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// A key-pair JWT as Snowflake's docs make it: RS256, sub ACCOUNT.USER, iss sub.SHA256:fp.
std::string user_jwt(const rsa_key& signer, std::int64_t iat, std::int64_t exp,
                     std::string sub = "EMULATOR.EMULATOR_USER", std::optional<std::string> iss = std::nullopt,
                     std::string alg = "RS256")
{
    const std::string issuer = iss.value_or(sub + "." + user_key().fingerprint());
    const json::object header{{"alg", alg}, {"typ", "JWT"}};
    const json::object payload{{"iss", issuer}, {"sub", sub}, {"iat", iat}, {"exp", exp}};
    return signer.sign(json::serialize(header), json::serialize(payload));
}

constexpr std::string_view jwt_bearer = "urn:ietf:params:oauth:grant-type:jwt-bearer";
constexpr std::string_view ingress_host = "ab12-myorg-myacct.snowflakecomputing.app";

emu::snowflake_options keypair_options()
{
    emu::snowflake_options options;
    options.keypair_public_key_pem = user_key().public_pem();
    return options;
}

} // namespace

TEST_SUITE("emulator.snowflake") {

TEST_CASE("authorize: 302 to the redirect_uri with code, state and scope percent-encoded, keeping its query")
{
    emu::snowflake_emulator snowflake;
    emu::server server;
    snowflake.install(server);

    params p = authorize_params("refresh_token session:role:ANALYST", "st ate/1");
    p[2].second = std::string(redirect) + "?authType=snowflake";
    auto response = send(server, authorize(p));
    REQUIRE(response.result() == http::status::found);
    CHECK(response.body().empty());
    const std::string where = location(response);
    const std::string prefix = std::string(redirect) + "?authType=snowflake&code=";
    REQUIRE(where.starts_with(prefix));
    const auto code_end = where.find('&', prefix.size());
    REQUIRE(code_end != std::string::npos);
    const std::string code = where.substr(prefix.size(), code_end - prefix.size());
    CHECK(code.size() == std::string_view("emu-code-").size() + 43);
    CHECK(where == prefix + code + "&state=st%20ate%2F1&scope=refresh_token%20session%3Arole%3AANALYST");
    CHECK(snowflake.authorizations() == 1);
}

TEST_CASE("authorize: an unknown client, an unregistered redirect_uri, a state over 2048 characters and a "
          "malformed query get a 400 page, not a redirect")
{
    emu::snowflake_emulator snowflake;
    emu::server server;
    snowflake.install(server);

    const auto page = [&](const params& p) {
        auto response = send(server, authorize(p));
        CHECK(response.result() == http::status::bad_request);
        CHECK(response[http::field::content_type] == "text/html; charset=utf-8");
        CHECK(response.find(http::field::location) == response.end());
        return response.body();
    };

    params unknown_client = authorize_params();
    unknown_client[1].second = "OTHER_CLIENT";
    CHECK(page(unknown_client).find("OAuth error 390306") != std::string::npos);

    params no_client = authorize_params();
    no_client.erase(no_client.begin() + 1);
    CHECK(page(no_client).find("OAuth error 390306") != std::string::npos);

    params not_loopback = authorize_params();
    not_loopback[2].second = "https://evil.example/cb";
    CHECK(page(not_loopback).find("OAuth error 390307") != std::string::npos);

    params no_port = authorize_params();
    no_port[2].second = "http://127.0.0.1/cb";
    CHECK(page(no_port).find("OAuth error 390307") != std::string::npos);

    params long_state = authorize_params("refresh_token", std::string(2049, 's'));
    CHECK(page(long_state).find("OAuth error 390305") != std::string::npos);
    params max_state = authorize_params("refresh_token", std::string(2048, 's'));
    CHECK(send(server, authorize(max_state)).result() == http::status::found);

    auto malformed = send(server, get("/oauth/authorize?client_id=%zz"));
    CHECK(malformed.result() == http::status::bad_request);
    CHECK(malformed.body().find("OAuth error 390300") != std::string::npos);

    SUBCASE("registered redirect URIs match exactly, a query the client adds aside")
    {
        snowflake.configure([](emu::snowflake_options& o) { o.redirect_uris = {"https://app.example/connect"}; });
        params registered = authorize_params();
        registered[2].second = "https://app.example/connect?authType=snowflake";
        auto ok = send(server, authorize(registered));
        CHECK(ok.result() == http::status::found);
        CHECK(location(ok).starts_with("https://app.example/connect?authType=snowflake&code=emu-code-"));

        params other_path = authorize_params();
        other_path[2].second = "https://app.example/connect2";
        CHECK(page(other_path).find("OAuth error 390307") != std::string::npos);
        params loopback = authorize_params();
        CHECK(page(loopback).find("OAuth error 390307") != std::string::npos);
    }
}

TEST_CASE("authorize: a bad response_type, scope or PKCE parameter, or a repeated parameter, redirects with "
          "error and error_description")
{
    emu::snowflake_emulator snowflake;
    emu::server server;
    snowflake.install(server);

    params token_type = authorize_params();
    token_type[0].second = "token";
    auto unsupported = send(server, authorize(token_type));
    CHECK(unsupported.result() == http::status::found);
    CHECK(location(unsupported) == std::string(redirect) +
                                       "?error=unsupported_response_type&error_description=Only%20response_type%3Dcode%"
                                       "20is%20supported.&state=state-1");

    auto bad_scope = send(server, authorize(authorize_params("bogus_scope")));
    CHECK(location(bad_scope) == std::string(redirect) +
                                     "?error=invalid_scope&error_description=One%20or%20more%20scopes%20are%20not%"
                                     "20configured%20for%20the%20authorization%20server%20resource.&state=state-1");
    CHECK(query_value(send(server, authorize(authorize_params("refresh_token offline_access"))), "error") ==
          "invalid_scope");
    CHECK(query_value(send(server, authorize(authorize_params("session:role:A session:role:B"))), "error") ==
          "invalid_scope");

    params no_pkce = authorize_params();
    no_pkce.resize(no_pkce.size() - 2);
    auto missing_pkce = send(server, authorize(no_pkce));
    CHECK(query_value(missing_pkce, "error") == "invalid_request");
    CHECK(query_value(missing_pkce, "state") == "state-1");

    params plain = authorize_params();
    plain.back().second = "plain";
    CHECK(query_value(send(server, authorize(plain)), "error") == "invalid_request");

    params no_method = authorize_params();
    no_method.pop_back();
    CHECK(query_value(send(server, authorize(no_method)), "error") == "invalid_request");

    params short_challenge = authorize_params();
    short_challenge[short_challenge.size() - 2].second = "abc";
    CHECK(query_value(send(server, authorize(short_challenge)), "error") == "invalid_request");

    params repeated = authorize_params();
    repeated.emplace_back("scope", "refresh_token");
    auto twice = send(server, authorize(repeated));
    CHECK(query_value(twice, "error") == "invalid_request");
    CHECK(query_value(twice, "error_description") == "The parameter scope appears more than once.");

    snowflake.configure([](emu::snowflake_options& o) { o.enforce_pkce = false; });
    auto without_pkce = send(server, authorize(no_pkce));
    CHECK(query_value(without_pkce, "code").starts_with("emu-code-"));
    CHECK(query_value(without_pkce, "error") == "<absent>");
    CHECK(snowflake.authorizations() == 10);
}

TEST_CASE("authorize: fail_next_authorization redirects once with that error, then codes flow again")
{
    emu::snowflake_emulator snowflake;
    emu::server server;
    snowflake.install(server);

    snowflake.fail_next_authorization("access_denied");
    auto denied = send(server, authorize(authorize_params()));
    CHECK(location(denied) == std::string(redirect) +
                                  "?error=access_denied&error_description=The%20user%20denied%20the%20request.&state=state-1");
    CHECK(query_value(send(server, authorize(authorize_params())), "code").starts_with("emu-code-"));
}

TEST_CASE("full code flow over HTTPS: authorize, code exchange with urlencoded Basic, login-request, ingress")
{
    emu::certificate_authority authority;
    const auto certificate = authority.issue();
    emu::snowflake_emulator snowflake;
    emu::server server(emu::server_options{certificate});
    snowflake.install(server);
    server.route_any_method("/app/", snowflake.ingress(reporting_backend()), emu::path_match::prefix);
    const std::string ca = certificate.ca_certificate_pem;

    const std::string code = obtain_code(server, authorize_params(), ca);
    auto tokens = send(server, post_form("/oauth/token-request", code_exchange(code),
                                         basic("EMULATOR_CLIENT_ID", "emulator/secret+1=")),
                       ca);
    REQUIRE(tokens.result() == http::status::ok);
    CHECK(tokens[http::field::content_type] == "application/json");
    CHECK(tokens[http::field::cache_control] == "no-store");
    const auto body = json_body(tokens);
    CHECK(body.size() == 8);
    const std::string access(body.at("access_token").as_string());
    CHECK(access.starts_with("emu-access-"));
    CHECK(body.at("token_type") == "Bearer");
    CHECK(body.at("expires_in") == 600);
    CHECK(std::string(body.at("refresh_token").as_string()).starts_with("emu-refresh-"));
    CHECK(body.at("refresh_token_expires_in") == 7776000);
    CHECK(body.at("username") == "EMULATOR_USER");
    CHECK(body.at("scope") == "refresh_token session:role:ANALYST");
    CHECK(body.at("idpInitiated") == false);

    auto login = send(server, login_request(access), ca);
    REQUIRE(login.result() == http::status::ok);
    const auto session = json_body(login);
    CHECK(session.at("success") == true);
    CHECK(session.at("code").is_null());
    CHECK(session.at("message").is_null());
    const auto& data = session.at("data").as_object();
    CHECK(data.size() == 4);
    const std::string session_token(data.at("token").as_string());
    CHECK(session_token.starts_with("emu-session-"));
    CHECK(std::string(data.at("masterToken").as_string()).starts_with("emu-master-"));
    CHECK(data.at("validityInSeconds") == 3600);
    CHECK(data.at("masterValidityInSeconds") == 14400);

    auto app = send(server, app_get("Authorization", snowflake_token(session_token)), ca);
    CHECK(app.result() == http::status::ok);
    CHECK(app.body() == backend_saw("EMULATOR_USER"));

    CHECK(snowflake.authorizations() == 1);
    CHECK(snowflake.token_requests() == 1);
    CHECK(snowflake.code_grants() == 1);
    CHECK(snowflake.refresh_grants() == 0);
    CHECK(snowflake.login_requests() == 1);
    CHECK(snowflake.jwt_exchanges() == 0);
    CHECK(snowflake.ingress_accepted() == 1);
    CHECK(snowflake.ingress_rejections() == 0);
}

TEST_CASE("token-request client authentication: body credentials and client_secret_2 work; both at once is "
          "invalid_request; a raw '+', a wrong secret or client and a rotated secret are invalid_client")
{
    emu::snowflake_options options;
    options.client_secret_2 = "second/secret=";
    emu::snowflake_emulator snowflake(options);
    emu::server server;
    snowflake.install(server);

    const std::string code = obtain_code(server);
    const auto exchange = [&](params fields, std::string authorization = {}) {
        return send(server, post_form("/oauth/token-request", fields, std::move(authorization)));
    };
    params with_body = code_exchange(code);
    with_body.emplace_back("client_id", "EMULATOR_CLIENT_ID");
    with_body.emplace_back("client_secret", "emulator/secret+1=");

    auto both = exchange(with_body, basic("EMULATOR_CLIENT_ID", "emulator/secret+1="));
    CHECK(both.result() == http::status::bad_request);
    CHECK(both.body() == oauth_error_body("invalid_request",
                                          "Client credentials were sent both in the Authorization header and in the body."));

    // Basic without urlencoding: the '+' decodes to a space, so the secret does not match.
    auto raw = exchange(code_exchange(code),
                        "Basic " + takeoff::base64_encode("EMULATOR_CLIENT_ID:emulator/secret+1="));
    CHECK(raw.result() == http::status::bad_request);
    CHECK(raw.body() == invalid_client);
    CHECK(exchange(code_exchange(code), basic("EMULATOR_CLIENT_ID", "wrong")).body() == invalid_client);
    CHECK(exchange(code_exchange(code), basic("OTHER", "emulator/secret+1=")).body() == invalid_client);
    CHECK(exchange(code_exchange(code), "Bearer abc").body() == invalid_client);
    CHECK(exchange(code_exchange(code)).body() == invalid_client);

    // None of the refusals above spent the code.
    auto ok = exchange(with_body);
    CHECK(ok.result() == http::status::ok);
    CHECK(json_body(ok).at("token_type") == "Bearer");

    auto second = exchange(code_exchange(obtain_code(server)), basic("EMULATOR_CLIENT_ID", "second/secret="));
    CHECK(second.result() == http::status::ok);

    snowflake.set_client_secret("rotated+secret");
    const std::string third = obtain_code(server);
    CHECK(exchange(code_exchange(third), basic("EMULATOR_CLIENT_ID", "emulator/secret+1=")).body() == invalid_client);
    CHECK(exchange(code_exchange(third), basic("EMULATOR_CLIENT_ID", "rotated+secret")).result() == http::status::ok);
    snowflake.set_client_secret_2(std::nullopt);
    CHECK(exchange(code_exchange(obtain_code(server)), basic("EMULATOR_CLIENT_ID", "second/secret=")).body() ==
          invalid_client);

    CHECK(snowflake.token_requests() == 11);
    CHECK(snowflake.code_grants() == 11);
}

TEST_CASE("code exchange: a reused or expired code, a wrong or missing verifier and another redirect_uri are "
          "invalid_grant")
{
    emu::snowflake_emulator snowflake;
    emu::server server;
    snowflake.install(server);
    const std::string credentials = basic("EMULATOR_CLIENT_ID", "emulator/secret+1=");
    const auto exchange = [&](const params& fields) {
        return send(server, post_form("/oauth/token-request", fields, credentials));
    };

    const std::string code = obtain_code(server);
    CHECK(exchange(code_exchange(code)).result() == http::status::ok);
    auto reused = exchange(code_exchange(code));
    CHECK(reused.result() == http::status::bad_request);
    CHECK(reused.body() == invalid_grant);

    const std::string expiring = obtain_code(server);
    snowflake.advance_clock(61s);
    CHECK(exchange(code_exchange(expiring)).body() == invalid_grant);

    const std::string just_in_time = obtain_code(server);
    snowflake.advance_clock(59s);
    CHECK(exchange(code_exchange(just_in_time)).result() == http::status::ok);

    CHECK(exchange(code_exchange(obtain_code(server), "verifier-9876543210-abcdefghijklmnopqrstuvwxyz")).body() ==
          invalid_grant);
    params no_verifier = code_exchange(obtain_code(server));
    no_verifier.pop_back();
    CHECK(exchange(no_verifier).body() == invalid_grant);

    const std::string spent = obtain_code(server);
    params other_redirect = code_exchange(spent);
    other_redirect[2].second = "http://127.0.0.1:53683/cb";
    CHECK(exchange(other_redirect).body() == invalid_grant);
    CHECK(exchange(code_exchange(spent)).body() == invalid_grant); // the failed attempt spent it

    CHECK(exchange(code_exchange("emu-code-unknown")).body() == invalid_grant);
    params no_code = code_exchange(obtain_code(server));
    no_code.erase(no_code.begin() + 1);
    CHECK(exchange(no_code).body() == oauth_error_body("invalid_request", "The code is missing."));
}

TEST_CASE("code exchange: no refresh token without the refresh_token scope or with issue_refresh_tokens off; "
          "expires_in as a string")
{
    emu::snowflake_emulator snowflake;
    emu::server server;
    snowflake.install(server);
    const std::string credentials = basic("EMULATOR_CLIENT_ID", "emulator/secret+1=");
    const auto exchange = [&](const std::string& code) {
        auto response = send(server, post_form("/oauth/token-request", code_exchange(code), credentials));
        REQUIRE(response.result() == http::status::ok);
        return json_body(response);
    };

    const auto role_only = exchange(obtain_code(server, authorize_params("session:role:ANALYST")));
    CHECK(role_only.size() == 6);
    CHECK_FALSE(role_only.contains("refresh_token"));
    CHECK_FALSE(role_only.contains("refresh_token_expires_in"));
    CHECK(role_only.at("scope") == "session:role:ANALYST");

    const auto no_scope = exchange(obtain_code(server, authorize_params("")));
    CHECK(no_scope.size() == 5);
    CHECK_FALSE(no_scope.contains("scope"));
    CHECK_FALSE(no_scope.contains("refresh_token"));

    snowflake.configure([](emu::snowflake_options& o) {
        o.issue_refresh_tokens = false;
        o.expires_in_as_string = true;
    });
    const auto strings = exchange(obtain_code(server));
    CHECK_FALSE(strings.contains("refresh_token"));
    CHECK(strings.at("expires_in") == "600");

    snowflake.configure([](emu::snowflake_options& o) { o.issue_refresh_tokens = true; });
    const auto both = exchange(obtain_code(server));
    CHECK(both.at("expires_in") == "600");
    CHECK(both.at("refresh_token_expires_in") == "7776000");
}

TEST_CASE("refresh: without rotation no new refresh token and the old one keeps working; with rotation the old "
          "one dies")
{
    emu::snowflake_emulator snowflake;
    emu::server server;
    snowflake.install(server);
    const std::string credentials = basic("EMULATOR_CLIENT_ID", "emulator/secret+1=");
    const auto refresh = [&](const std::string& token) {
        return send(server, post_form("/oauth/token-request", {{"grant_type", "refresh_token"}, {"refresh_token", token}},
                                      credentials));
    };

    SUBCASE("no rotation")
    {
        auto code_tokens = send(server, post_form("/oauth/token-request", code_exchange(obtain_code(server)), credentials));
        const std::string token(json_body(code_tokens).at("refresh_token").as_string());
        for (int i = 0; i < 2; ++i) {
            auto response = refresh(token);
            REQUIRE(response.result() == http::status::ok);
            const auto body = json_body(response);
            CHECK(body.size() == 4);
            CHECK(std::string(body.at("access_token").as_string()).starts_with("emu-access-"));
            CHECK(body.at("token_type") == "Bearer");
            CHECK(body.at("expires_in") == 600);
            CHECK(body.at("idpInitiated") == false);
        }
        CHECK(snowflake.refresh_token_valid(token));
        CHECK(snowflake.refresh_grants() == 2);
        CHECK(snowflake.code_grants() == 1);
        CHECK(snowflake.token_requests() == 3);
    }
    SUBCASE("rotation for every grant")
    {
        snowflake.configure([](emu::snowflake_options& o) { o.single_use_refresh_tokens = true; });
        const std::string first = snowflake.issue_tokens().refresh_token.value();
        auto response = refresh(first);
        REQUIRE(response.result() == http::status::ok);
        const auto body = json_body(response);
        CHECK(body.size() == 6);
        const std::string second(body.at("refresh_token").as_string());
        CHECK(second != first);
        CHECK(body.at("refresh_token_expires_in") == 7776000);
        CHECK(refresh(first).body() == invalid_grant);
        CHECK_FALSE(snowflake.refresh_token_valid(first));
        CHECK(refresh(second).result() == http::status::ok);
        CHECK(refresh(second).body() == invalid_grant);
    }
    SUBCASE("rotation asked for by the code exchange")
    {
        params fields = code_exchange(obtain_code(server));
        fields.emplace_back("enable_single_use_refresh_tokens", "true");
        auto code_tokens = send(server, post_form("/oauth/token-request", fields, credentials));
        const std::string first(json_body(code_tokens).at("refresh_token").as_string());
        auto response = refresh(first);
        REQUIRE(response.result() == http::status::ok);
        const std::string second(json_body(response).at("refresh_token").as_string());
        CHECK(refresh(first).body() == invalid_grant);
        auto third = refresh(second);
        CHECK(third.result() == http::status::ok);
        CHECK(json_body(third).contains("refresh_token"));

        // Another grant without the flag is not rotated.
        const std::string other = snowflake.issue_tokens().refresh_token.value();
        CHECK_FALSE(json_body(refresh(other)).contains("refresh_token"));
    }
}

TEST_CASE("refresh: revoked, expired or unknown tokens are invalid_grant; another scope is "
          "invalid_scope; bad grant types and bodies are refused")
{
    emu::snowflake_emulator snowflake;
    emu::server server;
    snowflake.install(server);
    const std::string credentials = basic("EMULATOR_CLIENT_ID", "emulator/secret+1=");
    const auto token_request = [&](const params& fields) {
        return send(server, post_form("/oauth/token-request", fields, credentials));
    };

    const std::string revoked = snowflake.issue_tokens().refresh_token.value();
    snowflake.revoke_refresh_tokens();
    CHECK(token_request({{"grant_type", "refresh_token"}, {"refresh_token", revoked}}).body() == invalid_grant);

    const std::string scoped = snowflake.issue_tokens("refresh_token session:role:ANALYST").refresh_token.value();
    CHECK(token_request({{"grant_type", "refresh_token"}, {"refresh_token", scoped}, {"scope", "refresh_token"}}).body() ==
          oauth_error_body("invalid_scope", "The requested scope is invalid."));
    CHECK(token_request({{"grant_type", "refresh_token"},
                         {"refresh_token", scoped},
                         {"scope", "refresh_token session:role:ANALYST"}})
              .result() == http::status::ok);

    snowflake.advance_clock(7776000s);
    CHECK(token_request({{"grant_type", "refresh_token"}, {"refresh_token", scoped}}).body() == invalid_grant);
    CHECK(token_request({{"grant_type", "refresh_token"}, {"refresh_token", "emu-refresh-unknown"}}).body() ==
          invalid_grant);
    CHECK(token_request({{"grant_type", "refresh_token"}}).body() ==
          oauth_error_body("invalid_request", "The refresh_token is missing."));

    auto unsupported = token_request({{"grant_type", "client_credentials"}});
    CHECK(unsupported.result() == http::status::bad_request);
    CHECK(unsupported.body() == oauth_error_body("unsupported_grant_type", "The grant type is not supported."));
    CHECK(token_request({{"code", "x"}}).body() == oauth_error_body("invalid_request", "The grant_type is missing."));
    CHECK(token_request({{"grant_type", "refresh_token"}, {"grant_type", "refresh_token"}}).body() ==
          oauth_error_body("invalid_request", "The parameter grant_type appears more than once."));

    string_request json_request = post_form("/oauth/token-request", {}, credentials);
    json_request.set(http::field::content_type, "application/json");
    json_request.body() = R"({"grant_type":"refresh_token"})";
    CHECK(send(server, json_request).body() ==
          oauth_error_body("invalid_request", "The Content-Type must be application/x-www-form-urlencoded."));

    string_request charset = post_form("/oauth/token-request", {{"grant_type", "password"}}, credentials);
    charset.set(http::field::content_type, "application/x-www-form-urlencoded; charset=UTF-8");
    CHECK(json_body(send(server, charset)).at("error") == "unsupported_grant_type");

    string_request malformed = post_form("/oauth/token-request", {}, credentials);
    malformed.body() = "grant_type=refresh_token&refresh_token=%GG";
    CHECK(send(server, malformed).body() == oauth_error_body("invalid_request", "The request body is not a valid form."));

    CHECK(snowflake.token_requests() == 12);
    CHECK(snowflake.refresh_grants() == 7);
    CHECK(snowflake.code_grants() == 0);
}

TEST_CASE("login-request: a live access token gives a session; expired is 390318, unknown 390303, another "
          "account 390309")
{
    emu::snowflake_emulator snowflake;
    emu::server server;
    snowflake.install(server);
    const std::string access = snowflake.issue_tokens().access_token;

    auto ok = send(server, login_request(access, "emulator"));
    CHECK(ok.result() == http::status::ok);
    CHECK(json_body(ok).at("success") == true);

    auto unknown = send(server, login_request("emu-access-unknown"));
    CHECK(unknown.result() == http::status::ok);
    CHECK(unknown.body() == R"({"data":{"nextAction":"RETRY_LOGIN","authnMethod":"OAUTH"},"code":"390303",)"
                            R"("message":"Invalid OAuth access token.","success":false})");

    auto other_account = send(server, login_request(access, "OTHERACCOUNT"));
    CHECK(other_account.result() == http::status::ok);
    CHECK(json_body(other_account).at("code") == "390309");
    CHECK(json_body(other_account).at("success") == false);

    snowflake.advance_clock(599s);
    CHECK(json_body(send(server, login_request(access))).at("success") == true);
    snowflake.advance_clock(1s);
    auto expired = send(server, login_request(access));
    CHECK(expired.result() == http::status::ok);
    CHECK(expired.body() == R"({"data":{"nextAction":"RETRY_LOGIN","authnMethod":"OAUTH"},"code":"390318",)"
                            R"("message":"OAuth access token expired.","success":false})");

    string_request not_json{http::verb::post, "/session/v1/login-request", 11};
    not_json.body() = "TOKEN=abc";
    auto bad = send(server, not_json);
    CHECK(bad.result() == http::status::bad_request);
    CHECK(json_body(bad).at("success") == false);

    CHECK(snowflake.login_requests() == 6);
}

TEST_CASE("jwt-bearer: a key-pair JWT signed with the registered key gives a JWT-shaped ingress token that the "
          "ingress accepts")
{
    emu::snowflake_emulator snowflake(keypair_options());
    emu::server server;
    snowflake.install(server);
    server.route_any_method("/app/", snowflake.ingress(reporting_backend()), emu::path_match::prefix);

    const std::int64_t now = unix_now();
    const std::string scope = "session:role:TEST_ROLE " + std::string(ingress_host);
    auto response = send(server, post_form("/oauth/token", {{"grant_type", std::string(jwt_bearer)},
                                                            {"assertion", user_jwt(user_key(), now, now + 3600)},
                                                            {"scope", scope}}));
    REQUIRE(response.result() == http::status::ok);
    CHECK(response[http::field::content_type] == "text/plain");
    const std::string token = response.body();
    const auto first_dot = token.find('.');
    const auto second_dot = token.find('.', first_dot + 1);
    REQUIRE(second_dot != std::string::npos);
    CHECK(token.find('.', second_dot + 1) == std::string::npos);
    const auto payload =
        json::parse(takeoff::base64url_decode(token.substr(first_dot + 1, second_dot - first_dot - 1)).value()).as_object();
    CHECK(payload.at("exp").as_int64() == payload.at("iat").as_int64() + 3600);
    CHECK(payload.at("iat").as_int64() >= now);
    CHECK(payload.at("iat").as_int64() <= unix_now());
    CHECK(payload.at("scope").as_string() == scope);

    auto app = send(server, app_get("Authorization", snowflake_token(token)));
    CHECK(app.result() == http::status::ok);
    CHECK(app.body() == backend_saw("EMULATOR_USER"));

    // A scope with the host alone works too.
    CHECK(send(server, post_form("/oauth/token", {{"grant_type", std::string(jwt_bearer)},
                                                  {"assertion", user_jwt(user_key(), now, now + 60)},
                                                  {"scope", std::string(ingress_host)}}))
              .result() == http::status::ok);

    snowflake.advance_clock(3600s);
    check_invalid_token(send(server, app_get("Authorization", snowflake_token(token))));
    CHECK(snowflake.jwt_exchanges() == 2);
}

TEST_CASE("jwt-bearer: a wrong key, sub, iss or alg, an expired or over-an-hour JWT are invalid_grant; a scope "
          "without one host is invalid_scope")
{
    emu::snowflake_emulator snowflake(keypair_options());
    emu::server server;
    snowflake.install(server);
    const std::int64_t now = unix_now();
    const auto exchange = [&](const std::string& assertion, std::string scope = std::string(ingress_host)) {
        return send(server, post_form("/oauth/token", {{"grant_type", std::string(jwt_bearer)},
                                                       {"assertion", assertion},
                                                       {"scope", std::move(scope)}}));
    };
    const auto error_of = [&](const string_response& response) {
        CHECK(response.result() == http::status::bad_request);
        return std::string(json_body(response).at("error").as_string());
    };

    auto wrong_key = exchange(user_jwt(other_key(), now, now + 600));
    CHECK(wrong_key.body() ==
          oauth_error_body("invalid_grant", "JWT token is invalid: the signature does not verify with the user's public key"));
    CHECK(error_of(exchange(user_jwt(user_key(), now, now + 600, "EMULATOR.OTHER_USER"))) == "invalid_grant");
    CHECK(error_of(exchange(user_jwt(user_key(), now, now + 600, "emulator.emulator_user"))) == "invalid_grant");
    CHECK(error_of(exchange(user_jwt(user_key(), now, now + 600, "EMULATOR.EMULATOR_USER",
                                     "EMULATOR.EMULATOR_USER.SHA256:AAAA"))) == "invalid_grant");
    CHECK(error_of(exchange(user_jwt(user_key(), now, now + 600, "EMULATOR.EMULATOR_USER", std::nullopt, "HS256"))) ==
          "invalid_grant");
    CHECK(error_of(exchange(user_jwt(user_key(), now - 700, now - 100))) == "invalid_grant");
    CHECK(error_of(exchange(user_jwt(user_key(), now, now + 3601))) == "invalid_grant");
    CHECK(error_of(exchange("not-a-jwt")) == "invalid_grant");

    const std::string good = user_jwt(user_key(), now, now + 600);
    auto no_host = exchange(good, "session:role:TEST_ROLE");
    CHECK(no_host.body() ==
          oauth_error_body("invalid_scope",
                           "The scope must be [session:role:<ROLE> ]<ingress host>, with exactly one host."));
    CHECK(error_of(exchange(good, "a.snowflakecomputing.app b.snowflakecomputing.app")) == "invalid_scope");
    CHECK(error_of(exchange(good, "refresh_token a.snowflakecomputing.app")) == "invalid_scope");
    CHECK(error_of(send(server, post_form("/oauth/token", {{"grant_type", "client_credentials"}}))) ==
          "unsupported_grant_type");
    CHECK(exchange(good).result() == http::status::ok);

    snowflake.configure([](emu::snowflake_options& o) { o.keypair_public_key_pem.reset(); });
    CHECK(error_of(exchange(good)) == "invalid_grant");
    CHECK(snowflake.jwt_exchanges() == 14);
}

TEST_CASE("ingress: no credential is a 302 to the login host; a bad, malformed or expired one a 401; a session "
          "token, X-SF-SPCS-Authorization and a PAT reach the backend without the credential")
{
    emu::snowflake_options options;
    options.programmatic_access_tokens = {"pat-secret-1"};
    emu::snowflake_emulator snowflake(options);
    emu::server server;
    server.route_any_method("/app/", snowflake.ingress(reporting_backend()), emu::path_match::prefix);

    auto none = send(server, app_get());
    CHECK(none.result() == http::status::found);
    CHECK(location(none) ==
          "https://sfc-endpoint-login.snowflakecomputing.app/sfc-oauth-begin?redirect_uri=%2Fapp%2Fgenerate%3Fx%3D1");
    CHECK(none.body().empty());

    // A non-Snowflake Authorization is no credential (and would pass through).
    CHECK(send(server, app_get("Authorization", "Bearer abc")).result() == http::status::found);

    check_invalid_token(send(server, app_get("Authorization", snowflake_token("emu-session-unknown"))));
    const std::string session = snowflake.issue_session_token();
    check_invalid_token(send(server, app_get("Authorization", "Snowflake Token=" + session))); // quotes required

    auto accepted = send(server, app_get("Authorization", snowflake_token(session)));
    CHECK(accepted.result() == http::status::ok);
    CHECK(accepted.body() == backend_saw("EMULATOR_USER"));
    CHECK(send(server, app_get("Authorization", "snowflake  token=\"" + session + "\"")).result() == http::status::ok);

    string_request both = app_get("X-SF-SPCS-Authorization", snowflake_token(session));
    both.set(http::field::authorization, "Bearer backend-credential");
    both.set("Sf-Context-Current-User", "FORGED");
    auto alternate = send(server, both);
    CHECK(alternate.result() == http::status::ok);
    CHECK(alternate.body() == backend_saw("EMULATOR_USER", "Bearer backend-credential"));

    CHECK(send(server, app_get("Authorization", snowflake_token("pat-secret-1"))).body() == backend_saw("EMULATOR_USER"));
    check_invalid_token(send(server, app_get("X-SF-SPCS-Authorization", snowflake_token("pat-secret-2"))));

    string_request trace = app_get("Authorization", snowflake_token(session));
    trace.method(http::verb::trace);
    CHECK(send(server, trace).result() == http::status::method_not_allowed);

    snowflake.advance_clock(3600s);
    check_invalid_token(send(server, app_get("Authorization", snowflake_token(session))));
    CHECK(send(server, app_get("Authorization", snowflake_token("pat-secret-1"))).result() == http::status::ok);

    CHECK(snowflake.ingress_accepted() == 5);
    CHECK(snowflake.ingress_rejections() == 6);
    CHECK(server.request_count() == 12);
}

TEST_CASE("ingress: OAuth access tokens are accepted only with accept_oauth_access_token_at_ingress, and only "
          "while live")
{
    emu::snowflake_emulator snowflake;
    emu::server server;
    server.route_any_method("/app/", snowflake.ingress(reporting_backend()), emu::path_match::prefix);
    const std::string access = snowflake.issue_tokens().access_token;

    check_invalid_token(send(server, app_get("Authorization", snowflake_token(access))));
    snowflake.configure([](emu::snowflake_options& o) { o.accept_oauth_access_token_at_ingress = true; });
    auto accepted = send(server, app_get("Authorization", snowflake_token(access)));
    CHECK(accepted.result() == http::status::ok);
    CHECK(accepted.body() == backend_saw("EMULATOR_USER"));
    snowflake.advance_clock(600s);
    check_invalid_token(send(server, app_get("Authorization", snowflake_token(access))));
    CHECK(snowflake.ingress_accepted() == 1);
    CHECK(snowflake.ingress_rejections() == 2);
}

TEST_CASE("direct issuing: issue_tokens, issue_session_token and issue_ingress_token give tokens the routes "
          "accept; an invalid scope throws")
{
    emu::snowflake_emulator snowflake;
    emu::server server;
    snowflake.install(server);
    server.route_any_method("/app/", snowflake.ingress(reporting_backend()), emu::path_match::prefix);

    const auto with_refresh = snowflake.issue_tokens();
    CHECK(with_refresh.access_token.starts_with("emu-access-"));
    REQUIRE(with_refresh.refresh_token.has_value());
    CHECK(snowflake.refresh_token_valid(*with_refresh.refresh_token));
    CHECK_FALSE(snowflake.issue_tokens("session:role:ANALYST").refresh_token.has_value());
    CHECK_THROWS_AS(snowflake.issue_tokens("offline_access"), std::invalid_argument);

    CHECK(json_body(send(server, login_request(with_refresh.access_token))).at("success") == true);
    auto refreshed = send(server, post_form("/oauth/token-request",
                                            {{"grant_type", "refresh_token"}, {"refresh_token", *with_refresh.refresh_token}},
                                            basic("EMULATOR_CLIENT_ID", "emulator/secret+1=")));
    CHECK(refreshed.result() == http::status::ok);

    CHECK(send(server, app_get("Authorization", snowflake_token(snowflake.issue_session_token()))).result() ==
          http::status::ok);
    const std::string ingress_token = snowflake.issue_ingress_token();
    CHECK(std::count(ingress_token.begin(), ingress_token.end(), '.') == 2);
    CHECK(send(server, app_get("X-SF-SPCS-Authorization", snowflake_token(ingress_token))).result() == http::status::ok);
    CHECK(snowflake.ingress_accepted() == 2);
    CHECK(snowflake.token_requests() == 1);
    CHECK(snowflake.login_requests() == 1);
}

TEST_CASE("form decoding: '+' is a space, %XX a byte; empty pieces, missing '=' and bad escapes are refused")
{
    const auto fields = emu::parse_form("a=1+2&b=%2B%2f&c=&a=x");
    REQUIRE(fields.has_value());
    CHECK(*fields == emu::form_fields{{"a", "1 2"}, {"b", "+/"}, {"c", ""}, {"a", "x"}});
    CHECK(emu::form_repeated_name(*fields) == std::optional<std::string>("a"));
    CHECK(emu::parse_form("")->empty());
    CHECK_FALSE(emu::parse_form("a=1&").has_value());
    CHECK_FALSE(emu::parse_form("a=1&&b=2").has_value());
    CHECK_FALSE(emu::parse_form("a").has_value());
    CHECK_FALSE(emu::parse_form("=1").has_value());
    CHECK_FALSE(emu::parse_form("a=%4").has_value());
    CHECK_FALSE(emu::parse_form("a=%zz").has_value());
    CHECK(emu::percent_encode("a b/+=~") == "a%20b%2F%2B%3D~");
}

} // TEST_SUITE
