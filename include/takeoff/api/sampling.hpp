#pragma once
// Sampling and length settings of a generation, each a checked value: a constant is range-checked
// while compiling (`req.temperature(0.7)`; `req.temperature(-1.0)` does not compile and the error
// names the rule), a value known only at run time goes through `api::temperature::runtime(x, diag)`,
// which applies the same rule and returns errc::out_of_range with the rule in diag.
//
// Takeoff documents no ranges (reference §8.13); these are the ones under which the fields mean
// something: a temperature or penalty of 0 or below, a top-p outside (0, 1], a top-k or token count
// below 1 are rejected before anything is sent.

#include <takeoff/core/checked_literal.hpp>
#include <takeoff/core/config.hpp>

#include <cstdint>
#include <limits>

namespace takeoff::api {

namespace detail {
constexpr bool finite(double v) noexcept {
    return v == v && v <= std::numeric_limits<double>::max() && v >= -std::numeric_limits<double>::max();
}

struct temperature_rules {
    using value_type = double;
    static constexpr errc error = errc::out_of_range;
    static constexpr bool check(double v, literal_check& c) {
        if (!finite(v) || v <= 0.0 || v > 100.0)
            return c.fail("sampling temperature must lie in (0, 100] (for greedy decoding use top_k 1)");
        return true;
    }
};
struct top_p_rules {
    using value_type = double;
    static constexpr errc error = errc::out_of_range;
    static constexpr bool check(double v, literal_check& c) {
        if (!finite(v) || v <= 0.0 || v > 1.0) return c.fail("top_p must lie in (0, 1]");
        return true;
    }
};
struct top_k_rules {
    using value_type = std::int64_t;
    static constexpr errc error = errc::out_of_range;
    static constexpr bool check(std::int64_t v, literal_check& c) {
        if (v < 1) return c.fail("top_k must be at least 1");
        return true;
    }
};
struct repetition_penalty_rules {
    using value_type = double;
    static constexpr errc error = errc::out_of_range;
    static constexpr bool check(double v, literal_check& c) {
        if (!finite(v) || v <= 0.0 || v > 100.0) return c.fail("repetition_penalty must lie in (0, 100] (1 is none)");
        return true;
    }
};
struct ngram_size_rules {
    using value_type = std::int64_t;
    static constexpr errc error = errc::out_of_range;
    static constexpr bool check(std::int64_t v, literal_check& c) {
        if (v < 0) return c.fail("no_repeat_ngram_size must not be negative (0 is off)");
        return true;
    }
};
struct token_count_rules {
    using value_type = std::int64_t;
    static constexpr errc error = errc::out_of_range;
    static constexpr bool check(std::int64_t v, literal_check& c) {
        if (v < 1) return c.fail("a token count must be at least 1");
        return true;
    }
};
struct min_token_count_rules {
    using value_type = std::int64_t;
    static constexpr errc error = errc::out_of_range;
    static constexpr bool check(std::int64_t v, literal_check& c) {
        if (v < 0) return c.fail("min_new_tokens must not be negative");
        return true;
    }
};
} // namespace detail

/// sampling_temperature: (0, 100].
using temperature = checked_value<detail::temperature_rules>;
/// sampling_topp: (0, 1].
using top_p = checked_value<detail::top_p_rules>;
/// sampling_topk: 1 or more (1 is greedy).
using top_k = checked_value<detail::top_k_rules>;
/// repetition_penalty: (0, 100]; above 1 penalises repeats.
using repetition_penalty = checked_value<detail::repetition_penalty_rules>;
/// no_repeat_ngram_size: 0 (off) or more.
using no_repeat_ngram_size = checked_value<detail::ngram_size_rules>;
/// max_new_tokens and prompt_max_tokens: 1 or more.
using token_count = checked_value<detail::token_count_rules>;
/// min_new_tokens: 0 or more.
using min_token_count = checked_value<detail::min_token_count_rules>;

} // namespace takeoff::api
