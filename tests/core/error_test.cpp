#include <takeoff/core/diagnostics.hpp>
#include <takeoff/core/error.hpp>

#include <boost/asio/error.hpp>
#include <doctest/doctest.h>

#include <chrono>
#include <string>

using takeoff::errc;

TEST_CASE("errc converts to error_code in the takeoff category") {
    boost::system::error_code ec = errc::invalid_grant;
    CHECK(ec.category().name() == std::string("takeoff"));
    CHECK(ec == errc::invalid_grant);
    CHECK(ec != errc::invalid_client);
    CHECK(ec.message() == "OAuth: invalid_grant");
    CHECK(static_cast<bool>(ec));
}

TEST_CASE("every errc has its own message") {
    const std::string unknown = takeoff::takeoff_category().message(9999);
    CHECK(unknown == "unknown takeoff error");
    for (int v = static_cast<int>(errc::http_status); v <= static_cast<int>(errc::snowflake_user_mismatch); ++v) {
        CAPTURE(v);
        CHECK(takeoff::takeoff_category().message(v) != unknown);
    }
}

TEST_CASE("errc_from_http_status") {
    CHECK(takeoff::errc_from_http_status(200) == errc{});
    CHECK(takeoff::errc_from_http_status(204) == errc{});
    CHECK(takeoff::errc_from_http_status(302) == errc{});
    CHECK(takeoff::errc_from_http_status(400) == errc::http_status);
    CHECK(takeoff::errc_from_http_status(401) == errc::unauthorized);
    CHECK(takeoff::errc_from_http_status(403) == errc::forbidden);
    CHECK(takeoff::errc_from_http_status(404) == errc::not_found);
    CHECK(takeoff::errc_from_http_status(422) == errc::http_status);
    CHECK(takeoff::errc_from_http_status(429) == errc::too_many_requests);
    CHECK(takeoff::errc_from_http_status(500) == errc::http_server_error);
    CHECK(takeoff::errc_from_http_status(503) == errc::service_unavailable);
    CHECK(takeoff::errc_from_http_status(504) == errc::http_server_error);
}

TEST_CASE("is_retryable classifies transient failures only") {
    using takeoff::is_retryable;
    CHECK(is_retryable(errc::too_many_requests));
    CHECK(is_retryable(errc::service_unavailable));
    CHECK(is_retryable(errc::temporarily_unavailable));
    CHECK(is_retryable(boost::asio::error::connection_refused));
    CHECK(is_retryable(boost::asio::error::connection_reset));
    CHECK(is_retryable(boost::asio::error::timed_out));
    CHECK_FALSE(is_retryable(errc::invalid_grant));
    CHECK_FALSE(is_retryable(errc::unauthorized));
    CHECK_FALSE(is_retryable(errc::http_server_error));
    CHECK_FALSE(is_retryable(errc::request_timeout));
    CHECK_FALSE(is_retryable(boost::asio::error::operation_aborted));
    CHECK_FALSE(is_retryable(boost::system::error_code{}));
}

TEST_CASE("diagnostics keeps our message apart from the server's") {
    takeoff::diagnostics diag;
    CHECK(diag.empty());
    diag.set_client_message("token request failed");
    diag.set_server_message("bad\r\nthing\x01 happened\tthere");
    diag.set_http_status(400);
    diag.set_request_id("req-42");
    diag.set_retry_after(std::chrono::seconds(7));
    diag.set_server_error_code("invalid_grant");
    CHECK(diag.client_message() == "token request failed");
    CHECK(diag.server_message() == "bad  thing  happened\tthere");
    CHECK(diag.http_status() == 400);
    CHECK(diag.request_id() == "req-42");
    CHECK(diag.retry_after() == std::chrono::seconds(7));
    CHECK(diag.server_error_code() == "invalid_grant");
    CHECK_FALSE(diag.empty());
    diag.clear();
    CHECK(diag.empty());
}

TEST_CASE("diagnostics bounds the server excerpt and masks secrets in it") {
    takeoff::diagnostics diag;
    diag.set_server_message(std::string(5000, 'x'));
    CHECK(diag.server_message().size() == takeoff::diagnostics::max_server_message + 3);
    CHECK(diag.server_message().ends_with("..."));

    diag.set_server_message(R"({"error":"invalid_grant","refresh_token":"rt-SECRET-123"})");
    CHECK(diag.server_message().find("rt-SECRET-123") == std::string::npos);
    CHECK(diag.server_message().find("invalid_grant") != std::string::npos);
}

TEST_CASE("takeoff::error carries diagnostics and says only our message") {
    takeoff::diagnostics diag;
    diag.set_client_message("the ingress refused the token");
    diag.set_server_message("server words <script>");
    diag.set_http_status(401);
    diag.set_request_id("abc");
    try {
        takeoff::throw_if_error(errc::unauthorized, diag);
        FAIL("throw_if_error did not throw");
    } catch (const takeoff::error& e) {
        const std::string what = e.what();
        CHECK(e.code() == errc::unauthorized);
        CHECK(what.find("the ingress refused the token [HTTP 401] [request id abc]") == 0);
        CHECK(what.find("server words") == std::string::npos);
        CHECK(e.get_diagnostics() == diag);
    }
    CHECK_NOTHROW(takeoff::throw_if_error(boost::system::error_code{}, diag));
    static_assert(std::is_base_of_v<boost::system::system_error, takeoff::error>);
}
