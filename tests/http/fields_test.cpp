#include <takeoff/http/fields.hpp>

#include "../support/doctest_helpers.hpp"

#include <string>
#include <utility>
#include <vector>

using takeoff::http::fields;
namespace bhttp = boost::beast::http;

namespace {
std::vector<std::pair<std::string, std::string>> listed(const fields& f) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto [name, value] : f) out.emplace_back(name, value);
    return out;
}
} // namespace

TEST_CASE("fields: kept in order, names compared ignoring ASCII case, values as given") {
    fields f;
    CHECK(f.empty());
    f.append("Content-Type", "application/json");
    f.append("set-cookie", "a=1");
    f.append(bhttp::field::set_cookie, "b=2");
    f.append("X-Empty", "");
    CHECK(f.size() == 4);
    CHECK(listed(f) == std::vector<std::pair<std::string, std::string>>{
                           {"Content-Type", "application/json"}, {"set-cookie", "a=1"}, {"Set-Cookie", "b=2"}, {"X-Empty", ""}});
    CHECK(f["content-type"] == "application/json");
    CHECK(f[bhttp::field::content_type] == "application/json");
    CHECK(f["SET-COOKIE"] == "a=1"); // the first one
    CHECK(f.count("Set-Cookie") == 2);
    CHECK(f.contains("x-empty"));
    CHECK(f["x-empty"].empty());
    CHECK_FALSE(f.contains("X-Missing"));
    CHECK(f["X-Missing"].empty());
    CHECK(f.find("X-Missing") == f.end());
    auto it = f.find("x-EMPTY");
    REQUIRE(it != f.end());
    CHECK(it->name == "X-Empty");
    // Only ASCII letters fold: a byte above 0x7f is compared as it is.
    f.append("X-\xc3\x89", "1");
    CHECK_FALSE(f.contains("x-\xc3\xa9"));
}

TEST_CASE("fields: set replaces every field of the name, erase removes them all") {
    fields f{{"A", "1"}, {"b", "2"}, {"a", "3"}, {"C", "4"}};
    f.set("a", "new");
    CHECK(listed(f) == std::vector<std::pair<std::string, std::string>>{{"b", "2"}, {"C", "4"}, {"a", "new"}});
    CHECK(f.erase("B") == 1);
    CHECK(f.erase("B") == 0);
    CHECK(listed(f) == std::vector<std::pair<std::string, std::string>>{{"C", "4"}, {"a", "new"}});
    // A value that views the container's own text survives the set that rewrites it.
    const std::string_view own = f["C"];
    f.set("D", own);
    f.set("C", f["c"]);
    CHECK(f["D"] == "4");
    CHECK(f["C"] == "4");
    CHECK(f.size() == 3);
    f.clear();
    CHECK(f.empty());
    CHECK(f.begin() == f.end());
}

TEST_CASE("fields: copies and moves keep every field; equality ignores the case of names") {
    fields f;
    f.reserve(2, 64);
    for (int i = 0; i < 40; ++i) f.append("X-Field-" + std::to_string(i), std::string(static_cast<std::size_t>(i), 'v'));
    const fields copy = f;
    CHECK(copy == f);
    fields moved = std::move(f);
    CHECK(moved == copy);
    CHECK(moved["x-field-39"] == std::string(39, 'v'));
    fields other{{"a", "1"}};
    CHECK_FALSE(other == copy);
    CHECK(other == fields{{"A", "1"}});
    CHECK_FALSE(other == fields{{"A", "2"}});
}
