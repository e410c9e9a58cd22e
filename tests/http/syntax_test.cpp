// The character rules of http/detail/syntax.hpp and the request-head checks built on them, against
// byte-by-byte reference definitions: every byte value at every position of an 8-byte word and of the
// tail after it.

#include <takeoff/http/detail/request_head.hpp>
#include <takeoff/http/detail/syntax.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

using namespace takeoff::http::detail;

namespace {

char reference_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

bool reference_iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (reference_lower(a[i]) != reference_lower(b[i])) return false;
    return true;
}

} // namespace

TEST_CASE("swar: has_less, has_byte, has_control and lower agree with a byte loop for every byte in every position") {
    for (unsigned position = 0; position < 8; ++position) {
        for (unsigned value = 0; value < 256; ++value) {
            // The other bytes: letters, high bytes and controls, so that borrows and carries between
            // bytes would show.
            unsigned char bytes[8] = {'a', 'Z', 0x80, 0xff, '~', '@', 0x7e, 'q'};
            bytes[position] = static_cast<unsigned char>(value);
            std::uint64_t w;
            std::memcpy(&w, bytes, 8);
            bool less_0e = false, less_21 = false, has_7f = false, control = false;
            unsigned char lowered[8];
            for (unsigned i = 0; i < 8; ++i) {
                less_0e = less_0e || bytes[i] < 0x0e;
                less_21 = less_21 || bytes[i] < 0x21;
                has_7f = has_7f || bytes[i] == 0x7f;
                control = control || bytes[i] < 0x20 || bytes[i] == 0x7f;
                lowered[i] = static_cast<unsigned char>(reference_lower(static_cast<char>(bytes[i])));
            }
            std::uint64_t expected_lower;
            std::memcpy(&expected_lower, lowered, 8);
            CAPTURE(position);
            CAPTURE(value);
            CHECK(swar::has_less(w, 0x0e) == less_0e);
            CHECK(swar::has_less(w, 0x21) == less_21);
            CHECK(swar::has_byte(w, 0x7f) == has_7f);
            CHECK(swar::has_control(w) == control);
            CHECK(swar::lower(w) == expected_lower);
        }
    }
}

TEST_CASE("iequals agrees with a byte loop for every pair of bytes, in the 8-byte part and in the tail") {
    const std::string base = "Content-Length-X"; // 16 bytes: two words
    std::size_t mismatches = 0;
    for (std::size_t position : {std::size_t{0}, std::size_t{5}, std::size_t{7}, std::size_t{8}, std::size_t{15}}) {
        for (unsigned x = 0; x < 256; ++x) {
            for (unsigned y = 0; y < 256; ++y) {
                std::string a = base, b = base;
                a[position] = static_cast<char>(x);
                b[position] = static_cast<char>(y);
                for (std::size_t length = position + 1; length <= base.size(); ++length) {
                    const std::string_view va(a.data(), length), vb(b.data(), length);
                    if (iequals(va, vb) != reference_iequals(va, vb)) ++mismatches;
                }
            }
        }
    }
    CHECK(mismatches == 0);
    CHECK(iequals("CONTENT-LENGTH", "content-length"));
    CHECK_FALSE(iequals("@", "`"));
    CHECK_FALSE(iequals("[", "{"));
    CHECK_FALSE(iequals("content-lengtH", "content-length "));
    CHECK(iequals("", ""));
}

TEST_CASE("request head checks: one bad byte anywhere in a value or target is found") {
    for (std::size_t length = 1; length <= 20; ++length) {
        for (std::size_t position = 0; position < length; ++position) {
            for (unsigned value = 0; value < 256; ++value) {
                const char c = static_cast<char>(value);
                std::string field(length, 'v');
                field[position] = c;
                std::string tabs(length, '\t'); // every word a control character: the byte-by-byte path
                tabs[position] = c;
                CAPTURE(length);
                CAPTURE(position);
                CAPTURE(value);
                const bool bad_in_value = (value < 0x20 && value != '\t') || value == 0x7f;
                CHECK(is_safe_field_value(field) == !bad_in_value);
                CHECK(is_safe_field_value(tabs) == !bad_in_value);

                std::string target(length + 1, 'p'); // (not "/" + string: g++ 12 -O3 warns, bug 105329)
                target[0] = '/';
                target[position + 1] = c;
                const bool bad_in_target = value <= 0x20 || value == 0x7f;
                CHECK(is_safe_target(target) == !bad_in_target);
            }
        }
    }
    CHECK(is_safe_field_value("a\tb"));
    CHECK(is_safe_field_value("eight ch\tand a tab"));
    CHECK_FALSE(is_safe_field_value("a\tb\tc\td\x01"));
    CHECK_FALSE(is_safe_target("generate"));
    CHECK_FALSE(is_safe_target(""));
}

TEST_CASE("trim_ows removes spaces and tabs at both ends, nothing else") {
    static_assert(trim_ows(" \t a b \t ") == "a b");
    CHECK(trim_ows("value") == "value");
    CHECK(trim_ows("\t\tvalue") == "value");
    CHECK(trim_ows("value  ") == "value");
    CHECK(trim_ows(" a \t b ") == "a \t b"); // inside is kept
    CHECK(trim_ows(" \t ").empty());
    CHECK(trim_ows("").empty());
    CHECK(trim_ows("\r\nvalue\n") == "\r\nvalue\n"); // CR, LF and other controls are not OWS
    CHECK(trim_ows("\v\fvalue\x0b") == "\v\fvalue\x0b");
    const std::string_view text = "  x  ";
    CHECK(trim_ows(text).data() == text.data() + 2); // a view into the same characters
}
