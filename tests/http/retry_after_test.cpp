#include <takeoff/http/retry_after.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <optional>
#include <string_view>

using namespace std::chrono;
using takeoff::http::parse_retry_after;

namespace {

// 1994-11-06 08:49:00 UTC, 37 s before the RFC 9110 example date.
const system_clock::time_point rfc_now = sys_days{1994y / November / 6} + 8h + 49min;

} // namespace

TEST_CASE("delta-seconds") {
    CHECK(parse_retry_after("120", rfc_now) == seconds{120});
    CHECK(parse_retry_after("0", rfc_now) == seconds{0});
    CHECK(parse_retry_after("007", rfc_now) == seconds{7});
    CHECK(parse_retry_after(" \t30 \t", rfc_now) == seconds{30});
    CHECK(parse_retry_after("2147483647", rfc_now) == seconds{2147483647});
}

TEST_CASE("huge delta-seconds are clamped to 2^31 s") {
    CHECK(takeoff::http::max_retry_after_value == seconds{2147483648LL});
    CHECK(parse_retry_after("2147483648", rfc_now) == seconds{2147483648LL});
    CHECK(parse_retry_after("2147483649", rfc_now) == seconds{2147483648LL});
    CHECK(parse_retry_after("99999999999999999999999999999999999999", rfc_now) == seconds{2147483648LL});
}

TEST_CASE("values that are neither delta-seconds nor an HTTP-date give nullopt") {
    for (std::string_view bad : {"", " ", "-1", "+5", "1.5", "12a", "1 2", "0x10", "abc", "soon", "1e3",
                                 "Sun, 06 Nov 1994 08:49:37", "2024-06-01T00:00:00Z"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_retry_after(bad, rfc_now).has_value());
    }
}

TEST_CASE("the three HTTP-date formats of RFC 9110 section 5.6.7") {
    CHECK(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", rfc_now) == seconds{37});   // IMF-fixdate
    CHECK(parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", rfc_now) == seconds{37});  // RFC 850
    CHECK(parse_retry_after("Sun Nov  6 08:49:37 1994", rfc_now) == seconds{37});        // asctime
    CHECK(parse_retry_after("Wed Nov 16 08:49:37 1994", rfc_now) == seconds{37 + 10 * 86400}); // 2-digit day
    CHECK(parse_retry_after("  Sun, 06 Nov 1994 08:50:00 GMT ", rfc_now) == seconds{60});
    CHECK(parse_retry_after("Mon, 07 Nov 1994 08:49:00 GMT", rfc_now) == seconds{86400});
}

TEST_CASE("a date in the past or now gives 0 s") {
    CHECK(parse_retry_after("Sun, 06 Nov 1994 08:48:00 GMT", rfc_now) == seconds{0});
    CHECK(parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", rfc_now) == seconds{0});
    CHECK(parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", rfc_now) == seconds{0});
    CHECK(parse_retry_after("Sat Jan  1 00:00:00 0000", rfc_now) == seconds{0});
}

TEST_CASE("a date delay is rounded up to whole seconds") {
    const auto now = rfc_now + 36s + 250ms;
    CHECK(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now) == seconds{1});
    CHECK(parse_retry_after("Sun, 06 Nov 1994 08:49:36 GMT", now) == seconds{0});
}

TEST_CASE("RFC 850 two-digit years more than 50 years ahead are in the past century") {
    const system_clock::time_point now = sys_days{2024y / June / 1};
    CHECK(parse_retry_after("Saturday, 01-Jun-24 00:01:00 GMT", now) == seconds{60});
    CHECK(parse_retry_after("Saturday, 01-Jun-80 00:00:00 GMT", now) == seconds{0}); // 1980
    CHECK(parse_retry_after("Friday, 01-Jun-74 00:00:00 GMT", now) ==
          duration_cast<seconds>(sys_days{2074y / June / 1} - sys_days{2024y / June / 1})); // 2074: 50 years
    CHECK(parse_retry_after("Monday, 01-Jun-75 00:00:00 GMT", now) == seconds{0});          // 1975
}

TEST_CASE("dates far ahead are clamped without overflow") {
    CHECK(parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", rfc_now) == seconds{2147483648LL});
    CHECK(parse_retry_after("Fri Dec 31 23:59:59 9999", rfc_now) == seconds{2147483648LL});
}

TEST_CASE("calendar and clock rules") {
    const system_clock::time_point now = sys_days{1996y / February / 28};
    CHECK(parse_retry_after("Thu, 29 Feb 1996 00:00:00 GMT", now) == seconds{86400}); // leap year
    CHECK_FALSE(parse_retry_after("Wed, 29 Feb 1995 00:00:00 GMT", now).has_value());
    CHECK_FALSE(parse_retry_after("Sat, 31 Feb 1996 00:00:00 GMT", now).has_value());
    CHECK_FALSE(parse_retry_after("Sun, 00 Nov 1994 08:49:37 GMT", rfc_now).has_value());
    CHECK_FALSE(parse_retry_after("Sun, 06 Nov 1994 24:00:00 GMT", rfc_now).has_value());
    CHECK_FALSE(parse_retry_after("Sun, 06 Nov 1994 08:60:00 GMT", rfc_now).has_value());
    CHECK(parse_retry_after("Sun, 06 Nov 1994 08:49:60 GMT", rfc_now) == seconds{60}); // leap second
    CHECK_FALSE(parse_retry_after("Sun, 06 Nov 1994 08:49:61 GMT", rfc_now).has_value());
}

TEST_CASE("the weekday must be a name but is not checked against the date") {
    CHECK(parse_retry_after("Mon, 06 Nov 1994 08:49:37 GMT", rfc_now) == seconds{37});
    CHECK_FALSE(parse_retry_after("Xyz, 06 Nov 1994 08:49:37 GMT", rfc_now).has_value());
}

TEST_CASE("malformed HTTP-dates give nullopt") {
    for (std::string_view bad : {
             "sun, 06 Nov 1994 08:49:37 GMT",   // names are case-sensitive
             "Sun, 06 nov 1994 08:49:37 GMT",   //
             "Sun, 06 Nov 1994 08:49:37 gmt",   //
             "Sun, 06 Nov 1994 08:49:37 UTC",   // only GMT
             "Sun, 6 Nov 1994 08:49:37 GMT",    // IMF-fixdate needs two-digit days
             "Sun, 06 Nov 94 08:49:37 GMT",     // and four-digit years
             "Sun, 06 Nov 1994 8:49:37 GMT",    //
             "Sun,  06 Nov 1994 08:49:37 GMT",  // one space only
             "Sun, 06 Nov 1994 08:49:37 GMT x", // trailing text
             "Sun, 06-Nov-1994 08:49:37 GMT",   // mixed formats
             "Sun, 06-Nov-94 08:49:37 GMT",     // RFC 850 needs the full weekday
             "Sunday, 06-Nov-1994 08:49:37 GMT",
             "Sunday, 06 Nov 1994 08:49:37 GMT",
             "Sun Nov 6 08:49:37 1994",         // asctime pads the day with a space
             "Sun Nov  6 08:49:37 94",
             "Sun Nov  6 08:49:37 1994 GMT",
             "Sun, 06 Foo 1994 08:49:37 GMT",
         }) {
        CAPTURE(bad);
        CHECK_FALSE(parse_retry_after(bad, rfc_now).has_value());
    }
}
