// The takeoff CLI's error line, its advice and exit codes, and durations in words.
#include <takeoff_cli/output.hpp>

#include <doctest/doctest.h>

#include <boost/asio/error.hpp>

#include <sstream>

namespace cli = takeoff::cli;
using takeoff::errc;

TEST_CASE("cli output: durations in words, rounded to the nearest unit") {
    using std::chrono::seconds;
    CHECK(cli::describe_duration(seconds(-1)) == "expired");
    CHECK(cli::describe_duration(seconds(59)) == "59 s");
    CHECK(cli::describe_duration(seconds(599)) == "10 min");
    CHECK(cli::describe_duration(seconds(3 * 3600 + 5 * 60 + 10)) == "3 h 5 min");
    CHECK(cli::describe_duration(seconds(3 * 3600)) == "3 h");
    CHECK(cli::describe_duration(seconds(7776000 - 2)) == "90 days");
}

TEST_CASE("cli output: the advice and exit code of the errors users meet") {
    CHECK(cli::advice_for(make_error_code(errc::invalid_grant)).code == cli::exit_sign_in);
    CHECK(cli::advice_for(make_error_code(errc::token_unavailable)).hint == "sign in again with `takeoff login`");
    CHECK(cli::advice_for(make_error_code(errc::ingress_unauthenticated)).code == cli::exit_sign_in);
    CHECK(cli::advice_for(make_error_code(errc::invalid_client)).code == cli::exit_configuration);
    CHECK(cli::advice_for(make_error_code(errc::service_unavailable)).hint == "no reader is ready yet: see `takeoff status`");
    CHECK(cli::advice_for(boost::asio::error::connection_refused).hint ==
          "check endpoint_url (and account_url) and that the service is running");
    CHECK(cli::advice_for(make_error_code(errc::invalid_json)).hint.empty());
}

TEST_CASE("cli output: one error line with the message, the HTTP status, the request id and the advice") {
    takeoff::diagnostics diag;
    diag.set_client_message("the server answered 503\nwith a body");
    diag.set_http_status(503);
    diag.set_request_id("req-1");
    std::ostringstream err;
    CHECK(cli::report_error(err, "generate", make_error_code(errc::service_unavailable), diag) == cli::exit_failed);
    CHECK(err.str() == "takeoff: generate: the server answered 503 with a body (HTTP 503) [request id req-1]; no reader is "
                       "ready yet: see `takeoff status`\n");
    std::ostringstream plain;
    CHECK(cli::report_error(plain, "status", make_error_code(errc::invalid_json), takeoff::diagnostics{}) == cli::exit_failed);
    CHECK(plain.str() == "takeoff: status: " + make_error_code(errc::invalid_json).message() + "\n");
}
