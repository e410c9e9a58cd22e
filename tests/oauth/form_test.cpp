#include <takeoff/oauth/form.hpp>

#include <doctest/doctest.h>

#include <string>

using takeoff::oauth::form_builder;
using takeoff::oauth::form_encode;

TEST_CASE("form_encode keeps alphanumerics and *-._, writes a space as + and every other byte as %XX") {
    CHECK(form_encode("AZaz09*-._") == "AZaz09*-._");
    CHECK(form_encode("a b") == "a+b");
    CHECK(form_encode("abc+/=") == "abc%2B%2F%3D");
    CHECK(form_encode("~!'()") == "%7E%21%27%28%29");
    CHECK(form_encode("http://127.0.0.1:53682/cb") == "http%3A%2F%2F127.0.0.1%3A53682%2Fcb");
    CHECK(form_encode(std::string("\x00\xff\xc3\xa9", 4)) == "%00%FF%C3%A9");
    CHECK(form_encode("") == "");
}

TEST_CASE("form_builder joins encoded fields with & in the order added, and take() empties it") {
    form_builder form;
    form.add("grant_type", "refresh_token").add("refresh_token", "r+1/2=").add("scope", "refresh_token session:role:R");
    CHECK(form.take() == "grant_type=refresh_token&refresh_token=r%2B1%2F2%3D&scope=refresh_token+session%3Arole%3AR");
    CHECK(form.take() == "");
    form.add("a b", "");
    CHECK(form.take() == "a+b=");
}
