#pragma once
// Checked literals, the fmt idiom: a type whose constructor from a literal is consteval runs the
// type's rules while compiling, so `account_url u{"http://x"}` does not compile and the compiler's
// message names the broken rule. Values known only at run time go through `T::runtime(text)`,
// which applies the same rules and returns boost::system::result.
//
// A rules class provides:
//   static constexpr takeoff::errc error;                          // the run-time error code
//   static constexpr bool check(value, takeoff::literal_check&);    // false after check.fail(...)
// Every failure path calls `check.fail("reason")` with a literal reason: at compile time that call
// stops compilation and the compiler prints the reason; at run time the reason becomes the
// diagnostics message.

#include <takeoff/core/config.hpp>
#include <takeoff/core/diagnostics.hpp>
#include <takeoff/core/error.hpp>

#include <boost/system/result.hpp>

#include <cstddef>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace takeoff {

namespace detail {
// Not constexpr: a constant evaluation that reaches it fails, and the compiler's error shows the
// reason passed to literal_check::fail on the way here. At run time it is never called (it is
// defined only because unoptimised builds keep the call behind is_constant_evaluated()).
inline void invalid_literal(const char* /*reason*/) noexcept {}

} // namespace detail

/// Collects the outcome of applying rules to a value. See the file comment.
class literal_check {
public:
    /// Records a broken rule; while compiling, rejects the literal with `reason` in the error.
    constexpr bool fail(const char* reason) {
        if (std::is_constant_evaluated()) detail::invalid_literal(reason);
        reason_ = reason;
        return false;
    }
    constexpr const char* reason() const noexcept { return reason_; }

private:
    const char* reason_ = nullptr;
};

/// The requirements on a rules class for strings.
template <class Rules>
concept string_rules = requires(std::string_view s, literal_check& c) {
    { Rules::check(s, c) } -> std::same_as<bool>;
    { Rules::error } -> std::convertible_to<errc>;
};

/// The requirements on a rules class for values of Rules::value_type.
template <class Rules>
concept value_rules = requires(const typename Rules::value_type& v, literal_check& c) {
    { Rules::check(v, c) } -> std::same_as<bool>;
    { Rules::error } -> std::convertible_to<errc>;
};

namespace detail {
template <class Rules, class T>
boost::system::result<void> run_rules(const T& value, diagnostics* diag) {
    literal_check check;
    if (Rules::check(value, check)) return {};
    if (diag) diag->set_client_message(check.reason());
    return make_error_code(Rules::error);
}
} // namespace detail

/// A string validated by Rules: at compile time when made from a literal, at run time through
/// runtime(). Distinct Rules make distinct types. Literals are referenced in place; run-time values
/// are owned (shared, immutable), so copies are cheap.
///
/// A type that needs members of its own holds a checked_string and declares its own consteval
/// constructor from a literal that initialises it (composition, not inheritance: clang 16 crashes
/// compiling a consteval constructor of a class derived from one with a shared_ptr member).
template <string_rules Rules>
class checked_string {
public:
    using rules_type = Rules;

    /// From a literal, checked while compiling.
    template <std::size_t N>
    consteval checked_string(const char (&literal)[N]) : view_(literal, N - 1) {
        literal_check check;
        Rules::check(view_, check);
    }

    /// Checks a value known only at run time.
    static boost::system::result<checked_string> runtime(std::string_view text) { return runtime(text, nullptr); }

    /// As runtime(text), and on failure explains which rule was broken in diag.
    static boost::system::result<checked_string> runtime(std::string_view text, diagnostics& diag) {
        diag.clear();
        return runtime(text, &diag);
    }

    std::string_view str() const noexcept { return view_; }
    operator std::string_view() const noexcept { return view_; }

    friend bool operator==(const checked_string& a, const checked_string& b) noexcept { return a.view_ == b.view_; }
    friend std::ostream& operator<<(std::ostream& os, const checked_string& s) { return os << s.view_; }

private:
    explicit checked_string(std::string value)
        : owned_(std::make_shared<const std::string>(std::move(value))), view_(*owned_) {}

    static boost::system::result<checked_string> runtime(std::string_view text, diagnostics* diag) {
        if (auto ok = detail::run_rules<Rules>(text, diag); !ok) return ok.error();
        return checked_string(std::string(text));
    }

    std::shared_ptr<const std::string> owned_;
    std::string_view view_;
};

/// A value of Rules::value_type (a number, usually) validated by Rules: at compile time when made
/// from a constant, at run time through runtime(). `checked_value<temperature_rules> t = 5.0;` fails
/// to compile when 5.0 is out of range.
template <value_rules Rules>
class checked_value {
public:
    using value_type = typename Rules::value_type;
    using rules_type = Rules;

    /// From a constant, checked while compiling.
    consteval checked_value(value_type v) : value_(v) {
        literal_check check;
        Rules::check(value_, check);
    }

    /// Checks a value known only at run time.
    static boost::system::result<checked_value> runtime(value_type v) { return runtime(v, nullptr); }
    static boost::system::result<checked_value> runtime(value_type v, diagnostics& diag) {
        diag.clear();
        return runtime(v, &diag);
    }

    constexpr value_type value() const noexcept { return value_; }

    friend constexpr bool operator==(const checked_value&, const checked_value&) = default;
    friend std::ostream& operator<<(std::ostream& os, const checked_value& v) { return os << v.value_; }

private:
    struct runtime_tag {};
    constexpr checked_value(runtime_tag, value_type v) noexcept : value_(v) {}

    static boost::system::result<checked_value> runtime(value_type v, diagnostics* diag) {
        if (auto ok = detail::run_rules<Rules>(v, diag); !ok) return ok.error();
        return checked_value(runtime_tag{}, v);
    }

    value_type value_;
};

} // namespace takeoff
