// takeoff::sse::parser against the WHATWG event-stream rules. Every stream is fed whole, split in
// two at every byte offset, a byte at a time and in random chunks (fixed seeds), and each way must
// give exactly the same events and final state.

#include <takeoff/core/error.hpp>
#include <takeoff/sse/event.hpp>
#include <takeoff/sse/parser.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

using namespace std::string_literals;
using namespace std::string_view_literals;
using takeoff::errc;
using takeoff::sse::parser;
using takeoff::sse::parser_options;

namespace {

struct received {
    std::string type;
    std::string data;
    std::string id;
    friend bool operator==(const received&, const received&) = default;
};

// Everything a stream leaves behind: what was dispatched and the parser's final state.
struct outcome {
    std::vector<received> events{};
    std::string last_event_id{};
    std::optional<std::uint64_t> retry{};
    std::uint64_t comments = 0;
    std::size_t too_large = 0;     // errc::event_too_large reports
    bool contract_broken = false;  // a call made no progress, or returned another error
    friend bool operator==(const outcome&, const outcome&) = default;
};

std::string printable(std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out = "\"";
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '\n') out += "\\n";
        else if (c == '\r') out += "\\r";
        else if (c == '"' || c == '\\') (out += '\\') += c;
        else if (u < 0x20 || u >= 0x7f) ((out += "\\x") += hex[u >> 4]) += hex[u & 15];
        else out += c;
    }
    if (s.size() > 120) return out.substr(0, 120) + "...\" (" + std::to_string(s.size()) + " bytes)";
    return out + "\"";
}

std::ostream& operator<<(std::ostream& os, const outcome& o) {
    os << "{events: [";
    for (const auto& e : o.events)
        os << "{" << printable(e.type) << ", " << printable(e.data) << ", " << printable(e.id) << "} ";
    os << "], last_event_id: " << printable(o.last_event_id) << ", retry: ";
    if (o.retry) os << *o.retry; else os << "none";
    return os << ", comments: " << o.comments << ", too_large: " << o.too_large
              << (o.contract_broken ? ", CONTRACT BROKEN" : "") << "}";
}

// Feeds one piece as a transport would: parse until it is consumed. The piece is copied to a heap
// block of exactly its size, freed afterwards, so that the sanitizers see any read past its end
// and any view kept into it.
void feed(parser& p, std::string_view piece, outcome& out) {
    if (piece.empty()) return;
    const auto block = std::make_unique<char[]>(piece.size());
    std::memcpy(block.get(), piece.data(), piece.size());
    std::string_view rest(block.get(), piece.size());
    boost::system::error_code ec;
    while (!rest.empty()) {
        const std::size_t n = p.parse(rest, ec);
        if (ec == errc::event_too_large) ++out.too_large;
        else if (ec) out.contract_broken = true;
        if (p.has_event()) {
            const auto& ev = p.current();
            out.events.push_back({std::string(ev.type), std::string(ev.data), std::string(ev.id)});
        }
        if (n == 0 || n > rest.size()) {
            out.contract_broken = true;
            return;
        }
        rest.remove_prefix(n);
    }
}

outcome end_of_stream(parser& p, outcome out) {
    p.finish();
    out.last_event_id = std::string(p.last_event_id());
    out.retry = p.retry();
    out.comments = p.comment_count();
    return out;
}

// The whole stream in one piece, through next().
outcome run_whole(std::string_view stream, parser_options options) {
    parser p(options);
    outcome out;
    std::string copy(stream);
    std::string_view rest = copy;
    boost::system::error_code ec;
    for (int guard = 0; guard < 1'000'000; ++guard) {
        const std::size_t before = rest.size();
        auto ev = p.next(rest, ec);
        if (ec == errc::event_too_large) ++out.too_large;
        else if (ec) out.contract_broken = true;
        if (ev) {
            if (!p.has_event() || *ev != p.current()) out.contract_broken = true;
            out.events.push_back({std::string(ev->type), std::string(ev->data), std::string(ev->id)});
        } else if (ec ? rest.size() == before : !rest.empty()) {
            out.contract_broken = true; // nullopt without error means all input was consumed
        }
        if (rest.empty()) break;
    }
    return end_of_stream(p, std::move(out));
}

outcome run_chunks(std::string_view stream, const std::vector<std::size_t>& sizes, parser_options options) {
    parser p(options);
    outcome out;
    std::size_t at = 0;
    for (const std::size_t size : sizes) {
        if (at >= stream.size()) break;
        feed(p, stream.substr(at, size), out);
        at += size;
    }
    if (at < stream.size()) feed(p, stream.substr(at), out);
    return end_of_stream(p, std::move(out));
}

// Runs the stream through every feeding strategy; each must give `expected`.
void check_stream(std::string_view stream, const outcome& expected, parser_options options = {}) {
    CAPTURE(printable(stream));
    {
        INFO("fed whole");
        CHECK(run_whole(stream, options) == expected);
    }
    std::size_t bad_splits = 0;
    for (std::size_t at = 0; at <= stream.size(); ++at) {
        const outcome got = run_chunks(stream, {at}, options);
        if (got != expected && bad_splits++ == 0) {
            INFO("split in two at offset ", at);
            CHECK(got == expected);
        }
    }
    CHECK_MESSAGE(bad_splits == 0, "two-piece splits that differ");
    {
        INFO("fed a byte at a time");
        CHECK(run_chunks(stream, std::vector<std::size_t>(stream.size(), 1), options) == expected);
    }
    for (const std::uint32_t seed : {1u, 2u, 7u, 42u, 1234u, 65537u}) {
        std::mt19937 rng(seed);
        const std::size_t max_piece = std::size_t{1} << (rng() % 7); // 1..64 bytes
        std::vector<std::size_t> sizes;
        for (std::size_t total = 0; total < stream.size();) {
            sizes.push_back(1 + rng() % max_piece);
            total += sizes.back();
        }
        INFO("random pieces, seed ", seed, ", at most ", max_piece, " bytes each");
        CHECK(run_chunks(stream, sizes, options) == expected);
    }
}

received message(std::string data, std::string id = {}) { return {"message", std::move(data), std::move(id)}; }

std::string repeat(char c, std::size_t n) { return std::string(n, c); }

} // namespace

TEST_CASE("sse: a data line and an empty line dispatch a message event") {
    check_stream("data: hello\n\n", {.events = {message("hello")}});
    check_stream("data: hello\n\ndata: world\n\n", {.events = {message("hello"), message("world")}});
    check_stream("data: hello\n", {});
    check_stream("", {});
}

TEST_CASE("sse: one leading BOM is dropped, only at the very start of the stream") {
    // wpt eventsource/format-bom: a BOM later on is part of a field name, so "\uFEFFdata" is unknown.
    check_stream("\xEF\xBB\xBF" "data:1\n\n\xEF\xBB\xBF" "data:2\n\ndata:3\n\n",
                 {.events = {message("1"), message("3")}});
    // wpt format-bom-2: only one BOM is dropped.
    check_stream("\xEF\xBB\xBF\xEF\xBB\xBF" "data:1\n\ndata:2\n\n", {.events = {message("2")}});
    check_stream("\xEF\xBB\xBF", {});
    check_stream("\xEF\xBB\xBF\n" "data:1\n\n", {.events = {message("1")}});
    // A BOM after a comment is not at the start of the stream.
    check_stream(":\n\xEF\xBB\xBF" "data:1\n\n", {.comments = 1});
}

TEST_CASE("sse: bytes that start like a BOM but are not one are ordinary text") {
    check_stream("\xEF\xBB" "data:1\n\ndata:2\n\n", {.events = {message("2")}});
    check_stream("\xEF" "data:1\n\ndata:2\n\n", {.events = {message("2")}});
    check_stream("\xEF\xBB\n" "data:1\n\n", {.events = {message("1")}});
    check_stream("\xEF\n" "data:1\n\n", {.events = {message("1")}});
    check_stream("\xEF\xBB", {});
    // "\xEF\xBB:" is a field named "\xEF\xBB", not a comment.
    check_stream("\xEF\xBB:x\ndata:1\n\n", {.events = {message("1")}});
}

TEST_CASE("sse: CR, LF and CRLF all end lines; a CRLF split across pieces is one line end") {
    check_stream("data:1\n\n", {.events = {message("1")}});
    check_stream("data:1\r\r", {.events = {message("1")}});
    check_stream("data:1\r\n\r\n", {.events = {message("1")}});
    // If a CRLF split across pieces were two line ends, "1" and "2" would be two events.
    check_stream("data:1\r\ndata:2\r\n\r\n", {.events = {message("1\n2")}});
    check_stream("data:1\rdata:2\ndata:3\r\ndata:4\n\r\n", {.events = {message("1\n2\n3\n4")}});
    // LF CR is two line ends (the second ends an empty line); CR CR LF is an empty line, then CRLF ends another.
    check_stream("data:1\n\rdata:2\r\r\n\n", {.events = {message("1"), message("2")}});
    // wpt format-newlines.
    check_stream("data:test\r\ndata\ndata:test\r\r\n", {.events = {message("test\n\ntest")}});
}

TEST_CASE("sse: a CR at the end of a piece waits for the next byte") {
    parser p;
    boost::system::error_code ec;
    std::string_view a = "data:1\r", b = "\ndata:2\r", c = "\r", d = "\n";
    CHECK(p.parse(a, ec) == a.size());
    CHECK_FALSE(ec);
    CHECK_FALSE(p.has_event());
    CHECK(p.parse(b, ec) == b.size()); // the LF joins the CR: no empty line yet
    CHECK_FALSE(p.has_event());
    CHECK(p.parse(c, ec) == 1); // a CR right after a line end is an empty line: dispatch
    REQUIRE(p.has_event());
    CHECK(p.current().data == "1\n2");
    CHECK(p.parse(d, ec) == 1); // the LF after that CR is part of it, not another empty line
    CHECK_FALSE(p.has_event());
    CHECK(p.parse("data:3\n\n", ec) == 8);
    REQUIRE(p.has_event());
    CHECK(p.current().data == "3");
}

TEST_CASE("sse: comment lines are ignored, counted, and do not break an event") {
    check_stream(": keep-alive\n\n:\n\n", {.comments = 2});
    check_stream("data:1\n: a comment\ndata:2\n\n", {.events = {message("1\n2")}, .comments = 1});
    // wpt format-comments ("comment fest"), with the empty line that makes it an event.
    const std::string x2k = repeat('x', 2048);
    check_stream("data:1\r:\0\n:\r\ndata:2\n:"s + x2k + "\rdata:3\n:data:fail\r:" + x2k + "\ndata:4\n\n",
                 {.events = {message("1\n2\n3\n4")}, .comments = 5});
    // eventsource-parser's "even more odd uses of comments": empty lines between, a tail discarded.
    check_stream("data:1\r\r:\0\n:\r\ndata:2\n\n:"s + x2k + "\rdata:3\n\n:data:fail\r:" + x2k +
                     "\ndata:4\n\ndata:5",
                 {.events = {message("1"), message("2"), message("3"), message("4")}, .comments = 5});
}

TEST_CASE("sse: a field splits at the first colon and the value loses exactly one leading space") {
    check_stream("data:x\n\n", {.events = {message("x")}});
    check_stream("data: x\n\n", {.events = {message("x")}});
    check_stream("data:  x\n\n", {.events = {message(" x")}});
    check_stream("data: a:b: c\n\n", {.events = {message("a:b: c")}});
    check_stream("data::\n\n", {.events = {message(":")}});
    check_stream("data: \n\n", {.events = {message("")}});
    check_stream("event:x y \ndata:1\n\n", {.events = {{"x y ", "1", ""}}});
    // A tab is not the space that is dropped (wpt format-leading-space).
    check_stream("data:\ttest\rdata: \ndata:test\n\n", {.events = {message("\ttest\n\ntest")}});
    // A space before the colon is part of the name, and a space before the name too.
    check_stream("data :x\n data:y\ndata:z\n\n", {.events = {message("z")}});
}

TEST_CASE("sse: a line with no colon is a field name with an empty value") {
    check_stream("data\n\n", {.events = {message("")}});
    check_stream("data:a\ndata\ndata:b\n\n", {.events = {message("a\n\nb")}});
    check_stream("event:x\nevent\ndata:1\n\n", {.events = {message("1")}});
    check_stream("id:7\ndata:1\n\nid\ndata:2\n\n", {.events = {message("1", "7"), message("2")}});
    check_stream("retry:5\nretry\n\n", {.retry = 5});
    check_stream("datadata\ndat\n\n", {});
}

TEST_CASE("sse: field names are case-sensitive") {
    check_stream("Data:1\nDATA:2\ndata:3\n\n", {.events = {message("3")}});
    check_stream("Event:x\nID:7\nRetry:5\nid:8\ndata:1\n\n", {.events = {message("1", "8")}, .last_event_id = "8"});
}

TEST_CASE("sse: event sets the type; message is the default; the type lasts one event") {
    check_stream("event: token\ndata: a\n\ndata: b\n\n", {.events = {{"token", "a", ""}, message("b")}});
    check_stream("event: a\nevent: b\ndata: 1\n\n", {.events = {{"b", "1", ""}}});
    // wpt format-field-event-empty.
    check_stream("event: \ndata:data\n\n", {.events = {message("data")}});
    // A type with no data is dropped with its event.
    check_stream("event: a\n\ndata: 1\n\n", {.events = {message("1")}});
    check_stream("data: 1\nevent: late\n\n", {.events = {{"late", "1", ""}}});
}

TEST_CASE("sse: data lines append their value and an LF; one trailing LF is removed") {
    // wpt format-field-data.
    check_stream("data:\n\ndata\ndata\n\ndata:test\n\n",
                 {.events = {message(""), message("\n"), message("test")}});
    check_stream("data:\ndata:\ndata:\n\n", {.events = {message("\n\n")}});
    check_stream("data: first\ndata: second\ndata: third\n\n", {.events = {message("first\nsecond\nthird")}});
    check_stream("data:a\n\n\n\ndata:b\n\n", {.events = {message("a"), message("b")}});
}

TEST_CASE("sse: id sets the last event ID, which persists across events; an empty id resets it") {
    // Chromium's LastEventIdShouldNotBeReset.
    check_stream("data:1\nid:1\n\nid:2\ndata:2\n\ndata:3\n\n",
                 {.events = {message("1", "1"), message("2", "2"), message("3", "2")}, .last_event_id = "2"});
    check_stream("id:9\n\ndata:x\n\nid:\n\ndata:y\n\n",
                 {.events = {message("x", "9"), message("y", "")}});
    check_stream("id: 5\ndata:a\n\nid\ndata:b\n\n", {.events = {message("a", "5"), message("b")}});
    // The ID takes effect at the empty line even when nothing is dispatched.
    check_stream("id: 42\n\n", {.last_event_id = "42"});
    check_stream("id: a\nid: b\ndata:1\n\n", {.events = {message("1", "b")}, .last_event_id = "b"});
    // An id line after the event's data still belongs to that event.
    check_stream("data:1\nid:3\n\n", {.events = {message("1", "3")}, .last_event_id = "3"});
}

TEST_CASE("sse: an id containing NUL is ignored") {
    check_stream("id:\0\ndata:x\n\n"sv, {.events = {message("x")}});
    check_stream("id:x\0\ndata:x\n\n"sv, {.events = {message("x")}});
    check_stream("id:1\n\nid:2\0\ndata:x\n\n"sv, {.events = {message("x", "1")}, .last_event_id = "1"});
}

TEST_CASE("sse: retry takes effect only when its value is all ASCII digits") {
    check_stream("retry:03000\ndata:x\n\n", {.events = {message("x")}, .retry = 3000});
    check_stream("retry: 0\n\n", {.retry = 0});
    // wpt format-field-retry-bogus.
    check_stream("retry:2000\nretry:1000x\n\ndata:x\n\n", {.events = {message("x")}, .retry = 2000});
    // wpt format-field-retry-empty.
    check_stream("retry:2000\n\nretry\n\ndata:x\n\n", {.events = {message("x")}, .retry = 2000});
    check_stream("retry: 1000\nretry:  2000\nretry:-1\nretry:1.5\nretry:1e3\nretry: 3\n\n", {.retry = 3});
    check_stream("retry:18446744073709551615\n", {.retry = 18446744073709551615ULL});
    // Too large for 64 bits: ignored, as Chromium does.
    check_stream("retry:7\nretry:18446744073709551616\n", {.retry = 7});
    check_stream("retry:99999999999999999999999\n", {});
    // retry is not part of an event and survives the end of the stream.
    check_stream("retry:10\ndata:incomplete", {.retry = 10});
}

TEST_CASE("sse: unknown fields are ignored") {
    // wpt format-field-unknown.
    check_stream("data:1\nfoo\nfoo: bar\ndata:2\n\n", {.events = {message("1\n2")}});
    check_stream("datas:1\nevents:x\nids:1\nretrying:5\nx:y\n\n", {});
    check_stream("a-very-long-unknown-field-name-that-goes-on: and a value\ndata:1\n\n",
                 {.events = {message("1")}});
    // wpt format-field-parsing.
    check_stream("data:\0\ndata:  2\rData:1\ndata\0:2\ndata:1\r\0data:4\nda-ta:3\rdata_5\ndata:3\rdata:\r\n"
                 " data:32\ndata:4\n\n"sv,
                 {.events = {message("\0\n 2\n1\n3\n\n4"s)}});
}

TEST_CASE("sse: an empty line with an empty data buffer dispatches nothing") {
    check_stream("\n\n\n", {});
    check_stream("event:x\n\n", {});
    check_stream("id:1\nevent:x\nretry:9\n\n", {.last_event_id = "1", .retry = 9});
    check_stream("\r\n\r\ndata:1\n\n\r\n", {.events = {message("1")}});
}

TEST_CASE("sse: NUL bytes in data are kept") {
    // wpt format-null-character.
    check_stream("data:\0\n\n"sv, {.events = {message("\0"s)}});
    check_stream("data:a\0b\0\n\n"sv, {.events = {message("a\0b\0"s)}});
    check_stream("event:t\0\ndata:1\n\n"sv, {.events = {{"t\0"s, "1", ""}}});
}

TEST_CASE("sse: the incomplete event at the end of the stream is discarded") {
    // wpt format-data-before-final-empty-line: the id of the discarded event is not adopted either.
    check_stream("retry:1000\ndata:test1\n\nid:test\ndata:test2", {.events = {message("test1")}, .retry = 1000});
    check_stream("retry:1000\ndata:test1\n\nid:test\ndata:test2\n", {.events = {message("test1")}, .retry = 1000});
    check_stream("data:1\n\ndata:2\r", {.events = {message("1")}});
    check_stream("data", {});
}

TEST_CASE("sse: finish() starts a new stream that keeps the last event ID and retry") {
    parser p;
    outcome out;
    feed(p, "\xEF\xBB\xBF" "retry: 500\nid: 1\ndata: a\n\nid: 2\ndata: cut", out);
    p.finish();
    CHECK(p.last_event_id() == "1");
    CHECK(p.retry() == 500u);
    // The reconnected stream: its own BOM is dropped, and the old event's bytes are gone.
    feed(p, "\xEF\xBB\xBF" "data: b\n\n", out);
    // A CR that ended the old stream does not swallow the new stream's first LF.
    feed(p, "data: c\r", out);
    p.finish();
    feed(p, "\ndata: d\n\n", out);
    const std::vector<received> expected = {message("a", "1"), message("b", "1"), message("d", "1")};
    CHECK(out.events == expected);
    CHECK_FALSE(out.contract_broken);

    p.reset();
    CHECK(p.last_event_id().empty());
    CHECK_FALSE(p.retry().has_value());
    CHECK(p.comment_count() == 0);
    CHECK_FALSE(p.has_event());
}

TEST_CASE("sse: multi-byte UTF-8 split anywhere comes out intact") {
    const std::string text = "h\xC3\xA9llo w\xC3\xB6rld \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E \xF0\x9F\x8E\x89";
    check_stream("event: \xC3\xA9v\xC3\xA9nement\nid: \xE2\x98\x83\ndata: " + text + "\ndata:" + text + "\n\n",
                 {.events = {{"\xC3\xA9v\xC3\xA9nement", text + "\n" + text, "\xE2\x98\x83"}},
                  .last_event_id = "\xE2\x98\x83"});
    // wpt format-utf-8.
    check_stream("d\xC3\xB6m\n\ndata:d\xC3\xB6m\n\n", {.events = {message("d\xC3\xB6m")}});
    // Not decoded: bytes that are not valid UTF-8 pass through unchanged.
    check_stream("data:\xFF\xC3\n\n", {.events = {message("\xFF\xC3")}});
}

TEST_CASE("sse: a stream that exercises every rule at once") {
    // In the spirit of WebKit's event-stream.php: comments, `data :`, bare data, id persistence,
    // a bare id reset, CR and CRLF endings, a bogus retry, an unknown field and a discarded tail.
    const std::string stream =
        ":comment\n"
        "data: one\n"
        "data :not data\n"
        "\n"
        "id: 7\r\n"
        "event: update\r\n"
        "data\r\n"
        "data:  two\r\n"
        "\r\n"
        "retry: 250\r"
        "retry: 1s\r"
        "bogus: field\r"
        "data: three\r"
        "\r"
        "id\n"
        "data: four\n"
        "\n"
        "id: 8\n"
        "data: lost";
    check_stream(stream, {.events = {message("one"), {"update", "\n two", "7"}, message("three", "7"), message("four")},
                          .retry = 250,
                          .comments = 1});
}

TEST_CASE("sse: the event size cap") {
    const parser_options cap10{.max_event_size = 10};

    SUBCASE("an event of exactly the cap passes") {
        check_stream("data: 0123456789\n\n", {.events = {message("0123456789")}}, cap10);
        // The LFs between data lines count: "01234\n0123" is 10 bytes.
        check_stream("data: 01234\ndata:0123\n\n", {.events = {message("01234\n0123")}}, cap10);
        check_stream("event: 0123456789\ndata\n\n", {.events = {{"0123456789", "", ""}}}, cap10);
        check_stream("id: 0123456789\ndata\n\n", {.events = {message("", "0123456789")}, .last_event_id = "0123456789"},
                     cap10);
    }
    SUBCASE("one byte more is errc::event_too_large, reported once, and parsing carries on") {
        check_stream("data: 01234567890\n\ndata: ok\n\n", {.events = {message("ok")}, .too_large = 1}, cap10);
        check_stream("data: 01234\ndata:01234\n\ndata: ok\n\n", {.events = {message("ok")}, .too_large = 1}, cap10);
        check_stream("data: 0123456789\ndata\n\ndata: ok\n\n", {.events = {message("ok")}, .too_large = 1}, cap10);
        check_stream("event: 0123456789A\ndata: x\n\ndata: ok\n\n", {.events = {message("ok")}, .too_large = 1},
                     cap10);
        // The rest of the oversized event is skipped, however many lines it has.
        check_stream("data: 0123456789A\ndata: more\nevent: x\ndata: 1\n\ndata: 2\n\n",
                     {.events = {message("2")}, .too_large = 1}, cap10);
        // Two oversized events, two reports.
        check_stream("data: 0123456789A\n\ndata: 0123456789B\n\n", {.too_large = 2}, cap10);
    }
    SUBCASE("the id of an oversized event is not adopted, nor one after the overflow") {
        check_stream("id: 1\ndata: a\n\nid: 2\ndata: 0123456789A\nid: 3\n\ndata: b\n\n",
                     {.events = {message("a", "1"), message("b", "1")}, .last_event_id = "1", .too_large = 1}, cap10);
        check_stream("id: 0123456789A\ndata: a\n\ndata: b\n\n", {.events = {message("b")}, .too_large = 1}, cap10);
    }
    SUBCASE("comments and unknown fields are not buffered, so they never hit the cap") {
        const std::string long_line = repeat('c', 100);
        check_stream(":" + long_line + "\n" + long_line + ": value\ndata: ok\n\n",
                     {.events = {message("ok")}, .comments = 1}, cap10);
    }
    SUBCASE("the default cap is 1 MiB") {
        CHECK(parser_options{}.max_event_size == 1024u * 1024u);
        CHECK(takeoff::sse::default_max_event_size == 1024u * 1024u);
        parser p;
        boost::system::error_code ec;
        const std::string at_cap = "data:" + repeat('a', 1024 * 1024) + "\n\n";
        CHECK(p.parse(at_cap, ec) == at_cap.size());
        CHECK_FALSE(ec);
        REQUIRE(p.has_event());
        CHECK(p.current().data.size() == 1024u * 1024u);
        const std::string over = "data:" + repeat('a', 1024 * 1024 + 1) + "\n\n";
        std::string_view rest = over;
        const std::size_t n = p.parse(rest, ec);
        CHECK(ec == errc::event_too_large);
        CHECK(ec == boost::system::error_code(errc::event_too_large));
        CHECK_FALSE(p.has_event());
        rest.remove_prefix(n);
        CHECK(p.parse(rest, ec) == rest.size()); // the rest of the event is skipped without error
        CHECK_FALSE(ec);
        CHECK_FALSE(p.has_event());
        CHECK(p.parse("data: next\n\n", ec) == 12);
        REQUIRE(p.has_event());
        CHECK(p.current().data == "next");
    }
    SUBCASE("the cap applies across pieces") {
        parser p(cap10);
        boost::system::error_code ec;
        CHECK(p.parse("data: 01234", ec) == 11);
        CHECK_FALSE(ec);
        CHECK(p.parse("56789", ec) == 5);
        CHECK_FALSE(ec);
        CHECK(p.parse("A", ec) == 1);
        CHECK(ec == errc::event_too_large);
        CHECK(p.parse("BCD\n\n", ec) == 5);
        CHECK_FALSE(ec);
        CHECK_FALSE(p.has_event());
    }
}

TEST_CASE("sse: event views stay valid and unchanged until the next parse") {
    parser p;
    boost::system::error_code ec;
    auto input = std::make_unique<std::string>("event: e\nid: 1\ndata: first\ndata: second\n\ndata: third\n\n");
    const std::size_t n = p.parse(*input, ec);
    REQUIRE(p.has_event());
    const takeoff::sse::event ev = p.current();
    const std::string rest = input->substr(n);
    // The views do not point into the input: overwrite it, then free it.
    std::fill(input->begin(), input->end(), 'X');
    input.reset();
    CHECK(ev.type == "e");
    CHECK(ev.data == "first\nsecond");
    CHECK(ev.id == "1");
    // Queries leave the event alone.
    CHECK(p.has_event());
    CHECK(p.last_event_id() == "1");
    CHECK_FALSE(p.retry().has_value());
    CHECK(p.comment_count() == 0);
    CHECK(p.current() == ev);
    CHECK(p.current().data.data() == ev.data.data());
    // The next parse releases the event and dispatches the following one.
    CHECK(p.parse(rest, ec) == rest.size());
    REQUIRE(p.has_event());
    CHECK(p.current().type == "message");
    CHECK(p.current().data == "third");
    CHECK(p.current().id == "1");
    // A parse that completes no event leaves no event behind.
    CHECK(p.parse("data: x", ec) == 7);
    CHECK_FALSE(p.has_event());
    CHECK(p.current() == takeoff::sse::event{});
}

TEST_CASE("sse: parse stops right after the line that completes an event") {
    parser p;
    boost::system::error_code ec;
    std::string_view in = "data:1\n\ndata:2\r\rdata:3\r\n\r\n:tail";
    CHECK(p.parse(in, ec) == 8);
    CHECK(p.current().data == "1");
    in.remove_prefix(8);
    CHECK(p.parse(in, ec) == 8);
    CHECK(p.current().data == "2");
    in.remove_prefix(8);
    CHECK(p.parse(in, ec) == 10); // the LF of the final CRLF is taken with its CR
    CHECK(p.current().data == "3");
    in.remove_prefix(10);
    CHECK(p.parse(in, ec) == 5);
    CHECK_FALSE(p.has_event());
    CHECK(p.parse({}, ec) == 0);
    CHECK_FALSE(ec);
    CHECK(p.comment_count() == 1); // a comment counts from its first byte
    CHECK(p.parse("\n", ec) == 1);
    CHECK(p.comment_count() == 1);

    // next() removes what it consumed.
    std::string_view two = "data:a\n\ndata:b\n\n";
    auto a = p.next(two, ec);
    REQUIRE(a);
    CHECK(a->data == "a");
    CHECK(two == "data:b\n\n");
    auto b = p.next(two, ec);
    REQUIRE(b);
    CHECK(b->data == "b");
    CHECK(two.empty());
    CHECK_FALSE(p.next(two, ec));
}

TEST_CASE("sse: lines of every length around the scan width, and long lines") {
    for (std::size_t len = 0; len <= 140; ++len) {
        CAPTURE(len);
        const std::string value = repeat('v', len);
        for (const std::string_view eol : {"\n"sv, "\r"sv, "\r\n"sv}) {
            const std::string stream = "data:" + value + std::string(eol) + "event:t" + std::string(eol) +
                                       std::string(eol) + "data:" + value + "\n\n";
            parser p;
            outcome out;
            feed(p, stream, out);
            const std::vector<received> expected = {{"t", value, ""}, message(value)};
            CHECK(out.events == expected);
        }
    }
    const std::string big = repeat('b', 300'000);
    const std::string stream = "data: " + big + "\r\ndata: " + big + "\r\n\r\n";
    for (const std::size_t piece : {std::size_t{1} << 14, std::size_t{4093}, stream.size()}) {
        CAPTURE(piece);
        parser p;
        outcome out;
        for (std::size_t at = 0; at < stream.size(); at += piece) feed(p, std::string_view(stream).substr(at, piece), out);
        REQUIRE(out.events.size() == 1);
        CHECK(out.events[0].data == big + "\n" + big);
    }
}

TEST_CASE("sse: in_event is true while an event has begun and not been dispatched, false between events") {
    takeoff::sse::parser p;
    boost::system::error_code ec;
    auto feed = [&](std::string_view s) {
        std::vector<std::string> out;
        while (auto ev = p.next(s, ec)) out.emplace_back(ev->data);
        return out;
    };
    CHECK_FALSE(p.in_event());
    CHECK(feed("data: one\n\n") == std::vector<std::string>{"one"});
    CHECK_FALSE(p.in_event());
    CHECK(feed("dat").empty());
    CHECK(p.in_event()); // a field name cut off
    CHECK(feed("a: two").empty());
    CHECK(p.in_event()); // a value without its line end
    CHECK(feed("\n").empty());
    CHECK(p.in_event()); // a data line without the empty line that dispatches it
    CHECK(feed("\n") == std::vector<std::string>{"two"});
    CHECK_FALSE(p.in_event());
    CHECK(feed(": a comment, then a comment cut off\n: keep").empty());
    CHECK_FALSE(p.in_event()); // comments hold no event
    CHECK(feed("\nid: 7\n").empty());
    CHECK_FALSE(p.in_event()); // an id alone dispatches nothing, so nothing is lost at the end
    p.finish();
    CHECK_FALSE(p.in_event());
}
