#pragma once
// Retry-After (RFC 9110 section 10.2.3): how long a 429 or 503 asks the client to wait, as a delay
// from now, whichever of its two forms (delta-seconds or an HTTP-date) the server used.

#include <takeoff/core/config.hpp>
#include <takeoff/http/detail/syntax.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace takeoff::http {

/// The largest delay parse_retry_after() returns: 2^31 s, the value RFC 9111 section 1.2.2 tells
/// recipients to use for a delta-seconds they cannot represent. Any policy gives up long before.
inline constexpr std::chrono::seconds max_retry_after_value{std::int64_t{1} << 31};

namespace detail {

// A small cursor over the value; every parse step checks and consumes exactly what it expects.
struct date_cursor {
    std::string_view text;
    std::size_t pos = 0;

    bool done() const noexcept { return pos == text.size(); }

    bool literal(std::string_view s) noexcept {
        if (text.substr(pos, s.size()) != s) return false;
        pos += s.size();
        return true;
    }

    // Exactly n digits.
    bool digits(std::size_t n, int& value) noexcept {
        if (text.size() - pos < n) return false;
        int v = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const char c = text[pos + i];
            if (c < '0' || c > '9') return false;
            v = v * 10 + (c - '0');
        }
        pos += n;
        value = v;
        return true;
    }

    // One of the names; its index.
    template <std::size_t N>
    bool one_of(const std::string_view (&names)[N], int& index) noexcept {
        for (std::size_t i = 0; i < N; ++i) {
            if (literal(names[i])) {
                index = static_cast<int>(i);
                return true;
            }
        }
        return false;
    }
};

inline constexpr std::string_view short_days[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
// Longest first is not needed: each full name ends with "day" and no name is a prefix of another.
inline constexpr std::string_view long_days[] = {"Monday",   "Tuesday", "Wednesday", "Thursday",
                                                 "Friday",   "Saturday", "Sunday"};
inline constexpr std::string_view months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// "HH:MM:SS"; 60 seconds is accepted for a leap second (it lands on the next minute).
inline bool parse_time_of_day(date_cursor& c, int& h, int& m, int& s) noexcept {
    return c.digits(2, h) && c.literal(":") && c.digits(2, m) && c.literal(":") && c.digits(2, s) && h <= 23 &&
           m <= 59 && s <= 60;
}

// Builds the time point, rejecting impossible dates (Feb 30, Feb 29 of a common year). Seconds
// resolution: system_clock's nanoseconds cannot hold years past 2262, which a server may send.
inline std::optional<std::chrono::sys_seconds> make_time(int y, int mo, int d, int h, int mi, int s) noexcept {
    const std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{static_cast<unsigned>(mo)},
                                          std::chrono::day{static_cast<unsigned>(d)}};
    if (!ymd.ok()) return std::nullopt;
    return std::chrono::sys_days{ymd} + std::chrono::hours{h} + std::chrono::minutes{mi} + std::chrono::seconds{s};
}

// IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
inline std::optional<std::chrono::sys_seconds> parse_imf_fixdate(std::string_view v) noexcept {
    date_cursor c{v};
    int wd = 0, day = 0, mon = 0, year = 0, h = 0, m = 0, s = 0;
    if (!(c.one_of(short_days, wd) && c.literal(", ") && c.digits(2, day) && c.literal(" ") &&
          c.one_of(months, mon) && c.literal(" ") && c.digits(4, year) && c.literal(" ") &&
          parse_time_of_day(c, h, m, s) && c.literal(" GMT") && c.done()))
        return std::nullopt;
    return make_time(year, mon + 1, day, h, m, s);
}

// Obsolete RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT". A two-digit year that would be more than 50
// years after `now` means the most recent past year with those digits (RFC 9110 section 5.6.7).
inline std::optional<std::chrono::sys_seconds> parse_rfc850_date(
    std::string_view v, std::chrono::system_clock::time_point now) noexcept {
    date_cursor c{v};
    int wd = 0, day = 0, mon = 0, yy = 0, h = 0, m = 0, s = 0;
    if (!(c.one_of(long_days, wd) && c.literal(", ") && c.digits(2, day) && c.literal("-") &&
          c.one_of(months, mon) && c.literal("-") && c.digits(2, yy) && c.literal(" ") &&
          parse_time_of_day(c, h, m, s) && c.literal(" GMT") && c.done()))
        return std::nullopt;
    const int now_year =
        static_cast<int>(std::chrono::year_month_day{std::chrono::floor<std::chrono::days>(now)}.year());
    int year = now_year - now_year % 100 + yy;
    if (year > now_year + 50) year -= 100;
    return make_time(year, mon + 1, day, h, m, s);
}

// asctime: "Sun Nov  6 08:49:37 1994" (the day is two digits or a space and one digit).
inline std::optional<std::chrono::sys_seconds> parse_asctime_date(std::string_view v) noexcept {
    date_cursor c{v};
    int wd = 0, day = 0, mon = 0, year = 0, h = 0, m = 0, s = 0;
    if (!(c.one_of(short_days, wd) && c.literal(" ") && c.one_of(months, mon) && c.literal(" ")))
        return std::nullopt;
    if (!(c.literal(" ") ? c.digits(1, day) : c.digits(2, day))) return std::nullopt;
    if (!(c.literal(" ") && parse_time_of_day(c, h, m, s) && c.literal(" ") && c.digits(4, year) && c.done()))
        return std::nullopt;
    return make_time(year, mon + 1, day, h, m, s);
}

} // namespace detail

/// The delay a Retry-After value asks for, or nullopt when the value is neither form.
///
/// - delta-seconds: one or more ASCII digits and nothing else ("120"); values beyond
///   max_retry_after_value are clamped to it.
/// - HTTP-date in any of the three formats RFC 9110 section 5.6.7 requires recipients to accept:
///   IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), obsolete RFC 850 ("Sunday, 06-Nov-94 08:49:37
///   GMT") and asctime ("Sun Nov  6 08:49:37 1994"). Names and "GMT" are case-sensitive as the
///   grammar says; the weekday must be a valid name but is not checked against the date; impossible
///   dates (Feb 30) are rejected. The delay is the date minus `now`, rounded up to whole seconds
///   so that a retry is never early; a date not after `now` gives 0 s.
///
/// Spaces and tabs around the value are ignored. `now` is a parameter so that tests and callers
/// with their own clock get exact results.
inline std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                             std::chrono::system_clock::time_point now) noexcept {
    value = detail::trim_ows(value);
    if (value.empty()) return std::nullopt;

    if (value.front() >= '0' && value.front() <= '9') {
        std::int64_t n = 0;
        for (char c : value) {
            if (c < '0' || c > '9') return std::nullopt;
            if (n < max_retry_after_value.count()) n = n * 10 + (c - '0');
        }
        return std::chrono::seconds{n < max_retry_after_value.count() ? n : max_retry_after_value.count()};
    }

    std::optional<std::chrono::sys_seconds> date = detail::parse_imf_fixdate(value);
    if (!date) date = detail::parse_rfc850_date(value, now);
    if (!date) date = detail::parse_asctime_date(value);
    if (!date) return std::nullopt;
    // date is whole seconds, so ceil(date - now) == date - floor(now); computed in seconds to stay
    // clear of nanosecond overflow.
    const std::chrono::seconds delay = *date - std::chrono::floor<std::chrono::seconds>(now);
    if (delay <= std::chrono::seconds{0}) return std::chrono::seconds{0};
    return delay < max_retry_after_value ? delay : max_retry_after_value;
}

} // namespace takeoff::http
