#include <takeoff/http/retry_policy.hpp>

#include <doctest/doctest.h>

#include <boost/asio/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using boost::beast::http::verb;
using takeoff::http::attempt_outcome;
using takeoff::http::next_retry_delay;
using takeoff::http::random_source;
using takeoff::http::retry_policy;
namespace ae = boost::asio::error;

namespace {

// A random source that returns the given values in turn (the last one forever) and counts calls.
struct fake_random {
    std::vector<double> values;
    std::size_t calls = 0;

    random_source source() {
        return [this] {
            const double v = values[calls < values.size() ? calls : values.size() - 1];
            ++calls;
            return v;
        };
    }
};

// Stands in for boost::asio::ssl::error::stream_truncated (category "asio.ssl.stream", value 1),
// whose header would make this test link OpenSSL; the transport's TLS tests meet the real one.
class tls_stream_category final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "asio.ssl.stream"; }
    std::string message(int) const override { return "stream truncated"; }
};

const boost::system::error_category& tls_stream_category_instance() {
    static const tls_stream_category category;
    return category;
}

const boost::system::error_code tls_stream_truncated{1, tls_stream_category_instance()};

attempt_outcome connect_failure(boost::system::error_code ec) {
    attempt_outcome o;
    o.ec = ec;
    return o;
}

attempt_outcome closed_before_response(boost::system::error_code ec) {
    attempt_outcome o;
    o.ec = ec;
    o.request_sent = true;
    return o;
}

attempt_outcome response(unsigned status, std::optional<std::chrono::seconds> retry_after = std::nullopt) {
    attempt_outcome o;
    o.status = status;
    o.retry_after = retry_after;
    o.request_sent = true;
    o.response_started = true;
    return o;
}

} // namespace

TEST_CASE("retry_policy defaults are on and small; none() never retries") {
    const retry_policy p;
    CHECK(p.max_attempts == 3);
    CHECK(p.initial_backoff == 100ms);
    CHECK(p.max_backoff == 2000ms);
    CHECK(p.multiplier == 2.0);
    CHECK(p.jitter == 0.5);
    CHECK(p.honour_retry_after);
    CHECK(p.max_retry_after == 30000ms);

    const retry_policy none = retry_policy::none();
    CHECK(none.max_attempts == 1);
    fake_random r{{0.0}};
    random_source src = r.source();
    CHECK_FALSE(next_retry_delay(none, 1, verb::get, connect_failure(ae::connection_refused), src));
    CHECK(r.calls == 0);
}

TEST_CASE("exponential backoff without jitter, stopping at max_attempts") {
    fake_random r{{0.0}};
    random_source src = r.source();
    const retry_policy p;
    const auto refused = connect_failure(ae::connection_refused);
    CHECK(next_retry_delay(p, 1, verb::get, refused, src) == 100ms);
    CHECK(next_retry_delay(p, 2, verb::get, refused, src) == 200ms);
    CHECK_FALSE(next_retry_delay(p, 3, verb::get, refused, src));
    CHECK_FALSE(next_retry_delay(p, 4, verb::get, refused, src));
    CHECK(r.calls == 2); // never called for "do not retry"
}

TEST_CASE("backoff is capped at max_backoff") {
    fake_random r{{0.0}};
    random_source src = r.source();
    retry_policy p;
    p.max_attempts = 10;
    const auto refused = connect_failure(ae::connection_refused);
    CHECK(next_retry_delay(p, 4, verb::get, refused, src) == 800ms);
    CHECK(next_retry_delay(p, 5, verb::get, refused, src) == 1600ms);
    CHECK(next_retry_delay(p, 6, verb::get, refused, src) == 2000ms);
    CHECK(next_retry_delay(p, 9, verb::get, refused, src) == 2000ms);

    p.max_attempts = 5000; // multiplier^4000 overflows to infinity: still the cap
    CHECK(next_retry_delay(p, 4000, verb::get, refused, src) == 2000ms);

    p.initial_backoff = 5000ms; // an initial delay above the cap is capped too
    CHECK(next_retry_delay(p, 1, verb::get, refused, src) == 2000ms);

    p = retry_policy{};
    p.multiplier = 3.0;
    p.initial_backoff = 50ms;
    CHECK(next_retry_delay(p, 2, verb::get, refused, src) == 150ms);
}

TEST_CASE("jitter shortens the delay by jitter * u of it") {
    const retry_policy p;
    const auto refused = connect_failure(ae::connection_refused);
    fake_random half{{0.5}};
    random_source src = half.source();
    CHECK(next_retry_delay(p, 1, verb::get, refused, src) == 75ms);  // 100 * (1 - 0.5 * 0.5)
    CHECK(next_retry_delay(p, 2, verb::get, refused, src) == 150ms); // 200 * (1 - 0.25)

    fake_random high{{0.999}};
    src = high.source();
    CHECK(next_retry_delay(p, 1, verb::get, refused, src) == 50ms); // 100 * (1 - 0.4995) = 50.05

    fake_random quarter{{0.25}};
    src = quarter.source();
    CHECK(next_retry_delay(p, 1, verb::get, refused, src) == 88ms); // 87.5 rounds to nearest

    retry_policy full = p;
    full.jitter = 1.0;
    fake_random r{{0.9}};
    src = r.source();
    CHECK(next_retry_delay(full, 2, verb::get, refused, src) == 20ms); // 200 * (1 - 0.9)

    retry_policy fixed = p;
    fixed.jitter = 0.0;
    CHECK(next_retry_delay(fixed, 2, verb::get, refused, src) == 200ms);
}

TEST_CASE("out-of-range random values and an empty source are handled") {
    const retry_policy p;
    const auto refused = connect_failure(ae::connection_refused);
    fake_random above{{1.5}};
    random_source src = above.source();
    CHECK(next_retry_delay(p, 1, verb::get, refused, src) == 50ms); // clamped to just below 1
    fake_random below{{-3.0}};
    src = below.source();
    CHECK(next_retry_delay(p, 1, verb::get, refused, src) == 100ms); // clamped to 0
    random_source empty;
    CHECK(next_retry_delay(p, 1, verb::get, refused, empty) == 100ms); // no jitter
    retry_policy odd = p;
    odd.jitter = 7.0; // clamped to 1
    fake_random r{{0.5}};
    src = r.source();
    CHECK(next_retry_delay(odd, 1, verb::get, refused, src) == 50ms);
    CHECK(next_retry_delay(p, 0, verb::get, refused, src) == 75ms); // 0 attempts counts as 1
}

TEST_CASE("connect-phase failures are retried when transient, for every method") {
    const retry_policy p;
    fake_random r{{0.0}};
    random_source src = r.source();
    for (auto ec : {boost::system::error_code(ae::connection_refused), boost::system::error_code(ae::timed_out),
                    boost::system::error_code(ae::host_unreachable), boost::system::error_code(ae::network_unreachable),
                    boost::system::error_code(ae::connection_reset), boost::system::error_code(ae::eof),
                    boost::system::error_code(ae::host_not_found_try_again),
                    boost::system::error_code(boost::beast::error::timeout)}) {
        CAPTURE(ec.message());
        CHECK(next_retry_delay(p, 1, verb::get, connect_failure(ec), src) == 100ms);
        CHECK(next_retry_delay(p, 1, verb::post, connect_failure(ec), src) == 100ms);
    }
}

TEST_CASE("permanent connect-phase failures and cancellation are not retried") {
    const retry_policy p;
    fake_random r{{0.0}};
    random_source src = r.source();
    for (auto ec : {boost::system::error_code(ae::host_not_found), boost::system::error_code(ae::operation_aborted),
                    boost::system::error_code(takeoff::errc::request_timeout),
                    boost::system::error_code(takeoff::errc::invalid_url),
                    boost::system::error_code(ae::access_denied)}) {
        CAPTURE(ec.message());
        CHECK_FALSE(next_retry_delay(p, 1, verb::get, connect_failure(ec), src));
    }
    CHECK(r.calls == 0);
}

TEST_CASE("a connection closed after the request and before any response byte is retried for every method") {
    const retry_policy p;
    fake_random r{{0.0}};
    random_source src = r.source();
    for (auto ec : {boost::system::error_code(ae::eof), boost::system::error_code(boost::beast::http::error::end_of_stream),
                    boost::system::error_code(ae::connection_reset), boost::system::error_code(ae::connection_aborted),
                    boost::system::error_code(ae::broken_pipe),
                    tls_stream_truncated}) {
        CAPTURE(ec.message());
        CHECK(takeoff::http::is_connection_closed(ec));
        for (verb m : {verb::get, verb::head, verb::post, verb::put, verb::delete_, verb::patch})
            CHECK(next_retry_delay(p, 1, m, closed_before_response(ec), src) == 100ms);
    }
}

TEST_CASE("other failures after the request was sent are not retried") {
    const retry_policy p;
    fake_random r{{0.0}};
    random_source src = r.source();
    CHECK_FALSE(next_retry_delay(p, 1, verb::get, closed_before_response(ae::timed_out), src));
    CHECK_FALSE(next_retry_delay(p, 1, verb::get, closed_before_response(boost::beast::error::timeout), src));
    CHECK_FALSE(next_retry_delay(p, 1, verb::post, closed_before_response(ae::operation_aborted), src));
    CHECK_FALSE(next_retry_delay(p, 1, verb::get, closed_before_response(takeoff::errc::request_timeout), src));
    CHECK_FALSE(takeoff::http::is_connection_closed(ae::timed_out));
    CHECK_FALSE(takeoff::http::is_connection_closed({2, tls_stream_category_instance()})); // unspecified_system_error
}

TEST_CASE("nothing is retried once a response has started, except 429 and 503") {
    const retry_policy p;
    fake_random r{{0.0}};
    random_source src = r.source();
    attempt_outcome body_failed;
    body_failed.ec = ae::connection_reset;
    body_failed.request_sent = true;
    body_failed.response_started = true;
    CHECK_FALSE(next_retry_delay(p, 1, verb::get, body_failed, src));
    body_failed.ec = boost::beast::http::error::partial_message;
    CHECK_FALSE(next_retry_delay(p, 1, verb::get, body_failed, src));
    body_failed.status = 200; // the status line had arrived
    body_failed.ec = ae::eof;
    CHECK_FALSE(next_retry_delay(p, 1, verb::get, body_failed, src));
    body_failed.status = 503; // a 503 whose body failed: the server still did not process it
    CHECK(next_retry_delay(p, 1, verb::get, body_failed, src) == 100ms);
}

TEST_CASE("429 and 503 are retried for every method; no other status is") {
    const retry_policy p;
    fake_random r{{0.0}};
    random_source src = r.source();
    for (verb m : {verb::get, verb::post, verb::put, verb::delete_}) {
        CHECK(next_retry_delay(p, 1, m, response(429), src) == 100ms);
        CHECK(next_retry_delay(p, 2, m, response(503), src) == 200ms);
    }
    for (unsigned status : {200u, 201u, 204u, 301u, 400u, 401u, 403u, 404u, 408u, 409u, 500u, 502u, 504u}) {
        CAPTURE(status);
        CHECK_FALSE(next_retry_delay(p, 1, verb::get, response(status), src));
    }
    // The transport may report the status through takeoff::errc only.
    CHECK(next_retry_delay(p, 1, verb::post, connect_failure(takeoff::errc::too_many_requests), src) == 100ms);
    CHECK(next_retry_delay(p, 1, verb::post, connect_failure(takeoff::errc::service_unavailable), src) == 100ms);
    CHECK_FALSE(next_retry_delay(p, 1, verb::get, connect_failure(takeoff::errc::http_server_error), src));
    CHECK_FALSE(next_retry_delay(p, 1, verb::get, attempt_outcome{}, src)); // nothing failed
}

TEST_CASE("Retry-After is a lower bound, and too long a one means give up") {
    const retry_policy p;
    fake_random r{{0.5}};
    random_source src = r.source();
    CHECK(next_retry_delay(p, 1, verb::get, response(429, 1s), src) == 1000ms); // max(75, 1000)
    CHECK(next_retry_delay(p, 1, verb::get, response(503, 0s), src) == 75ms);   // max(75, 0)
    CHECK(next_retry_delay(p, 1, verb::get, response(503, 30s), src) == 30000ms);
    r.calls = 0;
    CHECK_FALSE(next_retry_delay(p, 1, verb::get, response(503, 31s), src));
    CHECK(r.calls == 0);

    retry_policy ignore = p;
    ignore.honour_retry_after = false;
    CHECK(next_retry_delay(ignore, 1, verb::get, response(429, 31s), src) == 75ms);
    CHECK(next_retry_delay(ignore, 1, verb::get, response(429, 5s), src) == 75ms);

    retry_policy patient = p;
    patient.max_retry_after = 120s;
    CHECK(next_retry_delay(patient, 2, verb::get, response(429, 90s), src) == 90000ms);
    // The attempt limit wins over Retry-After.
    CHECK_FALSE(next_retry_delay(patient, 3, verb::get, response(429, 1s), src));
}

TEST_CASE("default_random_source gives values in [0, 1)") {
    random_source src = takeoff::http::default_random_source();
    double lo = 1.0, hi = 0.0;
    bool in_range = true;
    for (int i = 0; i < 10000; ++i) {
        const double u = src();
        in_range = in_range && u >= 0.0 && u < 1.0;
        lo = u < lo ? u : lo;
        hi = u > hi ? u : hi;
    }
    CHECK(in_range);
    CHECK(lo < 0.01);
    CHECK(hi > 0.99);
}
