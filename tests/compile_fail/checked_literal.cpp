// Negative compile tests of the checked-literal idiom (see cmake/TakeoffCompileFail.cmake).
#include <takeoff/core/checked_literal.hpp>
#include <takeoff/core/fixed_string.hpp>

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

struct other_rules {
    static constexpr takeoff::errc error = takeoff::errc::invalid_argument;
    static constexpr bool check(std::string_view, takeoff::literal_check&) { return true; }
};
using other_word = takeoff::checked_string<other_rules>;

void takes_word(lowercase_word) {}

int main() {
    lowercase_word fine = "fine";
    probability half = 0.5;
    (void)fine;
    (void)half;

#if defined(TAKEOFF_CASE_uppercase_literal) // expect: a word has lowercase letters only
    lowercase_word w = "Hello";
#endif
#if defined(TAKEOFF_CASE_empty_literal) // expect: a word must not be empty
    takes_word("");
#endif
#if defined(TAKEOFF_CASE_value_out_of_range) // expect: a probability lies in [0, 1]
    probability p = 1.5;
#endif
#if defined(TAKEOFF_CASE_runtime_string_needs_runtime) // expect: lowercase_word_rules
    const char* dynamic = "abc";
    lowercase_word w(dynamic);
#endif
#if defined(TAKEOFF_CASE_distinct_types) // expect: other_rules
    other_word o = "x";
    takes_word(o);
#endif
}
