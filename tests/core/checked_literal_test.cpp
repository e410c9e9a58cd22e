#include <takeoff/core/checked_literal.hpp>
#include <takeoff/core/fixed_string.hpp>

#include "../support/doctest_helpers.hpp"

#include <sstream>
#include <string>

namespace {

// Rules used only by these tests: a lowercase word, and a probability.
struct lowercase_word_rules {
    static constexpr takeoff::errc error = takeoff::errc::invalid_argument;
    static constexpr bool check(std::string_view s, takeoff::literal_check& check) {
        if (s.empty()) return check.fail("a word must not be empty");
        for (char c : s)
            if (c < 'a' || c > 'z') return check.fail("a word has lowercase letters only");
        return true;
    }
};
using lowercase_word = takeoff::checked_string<lowercase_word_rules>;

struct probability_rules {
    using value_type = double;
    static constexpr takeoff::errc error = takeoff::errc::out_of_range;
    static constexpr bool check(double v, takeoff::literal_check& check) {
        if (!(v >= 0.0 && v <= 1.0)) return check.fail("a probability lies in [0, 1]");
        return true;
    }
};
using probability = takeoff::checked_value<probability_rules>;

// A checked string type with members of its own.
struct upper_rules {
    static constexpr takeoff::errc error = takeoff::errc::invalid_identifier;
    static constexpr bool check(std::string_view s, takeoff::literal_check& check) {
        for (char c : s)
            if (c < 'A' || c > 'Z') return check.fail("upper-case letters only");
        return true;
    }
};
class shout {
public:
    template <std::size_t N>
    consteval shout(const char (&literal)[N]) : value_(literal) {}
    static boost::system::result<shout> runtime(std::string_view text) {
        auto value = takeoff::checked_string<upper_rules>::runtime(text);
        if (!value) return value.error();
        return shout(std::move(*value));
    }
    std::size_t loudness() const { return value_.str().size(); }

private:
    explicit shout(takeoff::checked_string<upper_rules> value) : value_(std::move(value)) {}
    takeoff::checked_string<upper_rules> value_;
};

std::string_view takes_word(lowercase_word w) { return w.str(); }

} // namespace

TEST_CASE("fixed_string holds a literal at compile time") {
    constexpr takeoff::fixed_string s{"CONTAINER_USER_ROLE"};
    static_assert(s.size() == 19);
    static_assert(s.view() == "CONTAINER_USER_ROLE");
    static_assert(s == std::string_view("CONTAINER_USER_ROLE"));
    constexpr auto joined = takeoff::fixed_string{"session:role:"} + s;
    static_assert(joined.view() == "session:role:CONTAINER_USER_ROLE");
    static_assert(("refresh_token " + joined).view() == "refresh_token session:role:CONTAINER_USER_ROLE");
    static_assert((takeoff::fixed_string{"a"} + "b").view() == "ab");
    static_assert(takeoff::fixed_string{""}.empty());
    CHECK(std::string(joined.c_str()) == "session:role:CONTAINER_USER_ROLE");
}

template <takeoff::fixed_string Name>
struct named {
    static constexpr std::string_view name = Name.view();
};

TEST_CASE("fixed_string works as a template argument") {
    static_assert(named<"ROLE">::name == "ROLE");
    static_assert(!std::is_same_v<named<"A">, named<"B">>);
    static_assert(std::is_same_v<named<"A">, named<"A">>);
    CHECK(named<"ROLE">::name == "ROLE");
}

TEST_CASE("checked_string accepts valid literals at compile time") {
    lowercase_word w = "hello";
    CHECK(w.str() == "hello");
    CHECK(takes_word("implicit") == "implicit");
    std::ostringstream os;
    os << w;
    CHECK(os.str() == "hello");
    shout s{"LOUD"};
    CHECK(s.loudness() == 4);
    static_assert(!std::is_convertible_v<shout, lowercase_word>);
}

TEST_CASE("checked_string::runtime applies the same rules") {
    auto ok = lowercase_word::runtime(std::string("dynamic"));
    REQUIRE(ok);
    CHECK(ok->str() == "dynamic");
    CHECK(*ok == lowercase_word("dynamic"));

    takeoff::diagnostics diag;
    auto bad = lowercase_word::runtime("Nope", diag);
    REQUIRE_FALSE(bad);
    CHECK(bad.error() == takeoff::errc::invalid_argument);
    CHECK(diag.client_message() == "a word has lowercase letters only");

    auto empty = lowercase_word::runtime("", diag);
    REQUIRE_FALSE(empty);
    CHECK(diag.client_message() == "a word must not be empty");

    auto loud = shout::runtime("ABC");
    REQUIRE(loud);
    static_assert(std::is_same_v<decltype(loud)::value_type, shout>);
    CHECK(loud->loudness() == 3);
    CHECK(shout::runtime("abc").error() == takeoff::errc::invalid_identifier);
}

TEST_CASE("checked_string owns run-time values") {
    std::string source = "owned";
    auto word = lowercase_word::runtime(source);
    REQUIRE(word);
    source.assign("xxxxx");
    lowercase_word copy = *word;
    word = lowercase_word::runtime("other");
    CHECK(copy.str() == "owned");
}

TEST_CASE("checked_value checks constants at compile time and values at run time") {
    constexpr probability p = 0.25;
    static_assert(p.value() == 0.25);
    CHECK(probability(1.0).value() == 1.0);
    takeoff::diagnostics diag;
    auto bad = probability::runtime(1.5, diag);
    REQUIRE_FALSE(bad);
    CHECK(bad.error() == takeoff::errc::out_of_range);
    CHECK(diag.client_message() == "a probability lies in [0, 1]");
    auto nan = probability::runtime(std::numeric_limits<double>::quiet_NaN());
    CHECK_FALSE(nan);
    auto ok = probability::runtime(0.0);
    REQUIRE(ok);
    CHECK(*ok == probability(0.0));
}
