// The emulator's socket-free generators (takeoff_emulator/generation.hpp): deterministic tokens
// and their count rules, newline tokens, regex-constrained text checked by std::regex, schema
// output parsed and checked, embeddings of unit length, scores, the tokenizer round trip, the
// chat template and the SSE event form (checked with takeoff::sse::parser).
//
// takeoff_unit_tests does not link the emulator target, and this header needs only Boost.JSON, so
// it is included by its path.
#include "../../emulator/include/takeoff_emulator/generation.hpp"

#include <takeoff/sse/parser.hpp>

#include <doctest/doctest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cmath>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace emu = takeoff::emulator;
namespace json = boost::json;

namespace {

// The events an SSE parser gets from these bytes (data only).
std::vector<std::string> sse_data(std::string_view bytes)
{
    takeoff::sse::parser parser;
    boost::system::error_code ec;
    std::vector<std::string> out;
    while (auto ev = parser.next(bytes, ec))
        out.emplace_back(ev->data);
    REQUIRE_FALSE(ec);
    return out;
}

bool valid_utf8(std::string_view s)
{
    for (std::size_t i = 0; i < s.size();) {
        const auto b = static_cast<unsigned char>(s[i]);
        const std::size_t n = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
        if (n == 0 || i + n > s.size())
            return false;
        for (std::size_t k = 1; k < n; ++k)
            if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80)
                return false;
        i += n;
    }
    return true;
}

} // namespace

TEST_CASE("emulator generation: the same prompt gives the same tokens, other prompts other texts")
{
    const auto a = emu::generated_tokens("Tell me about snow", 16);
    CHECK(a == emu::generated_tokens("Tell me about snow", 16));
    CHECK(a.size() == 16);
    // A longer generation starts with the shorter one.
    const auto longer = emu::generated_tokens("Tell me about snow", 40);
    CHECK(std::vector<std::string>(longer.begin(), longer.begin() + 16) == a);
    std::string joined;
    for (const auto& t : a)
        joined += t;
    CHECK(emu::generated_text("Tell me about snow", 16) == joined);
    std::set<std::string> texts;
    for (const char* prompt : {"", "a", "b", "Tell me about snow", "tell me about snow", "1 2 3"})
        texts.insert(emu::generated_text(prompt, 16));
    CHECK(texts.size() == 6);
    CHECK(emu::generated_tokens("x", 0).empty());
    CHECK(emu::token_at("Tell me about snow", 7) == a[7]);
}

TEST_CASE("emulator generation: every fifth token has a newline, the others are ' word' without one")
{
    bool saw_two_spaces = false;
    bool saw_non_ascii = false;
    for (const char* prompt : {"p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7"}) {
        const auto tokens = emu::generated_tokens(prompt, 200);
        for (std::size_t i = 0; i < tokens.size(); ++i) {
            const std::string& t = tokens[i];
            CHECK(valid_utf8(t));
            CHECK(t.find('\r') == std::string::npos);
            if (i % 5 == 4) {
                CHECK(t.find('\n') != std::string::npos);
            } else {
                CHECK(t.find('\n') == std::string::npos);
                REQUIRE(t.size() >= 2);
                CHECK(t[0] == ' ');
                CHECK(t[1] != ' ');
            }
            saw_two_spaces = saw_two_spaces || t.ends_with("  ");
            saw_non_ascii = saw_non_ascii || t.find_first_of("\xC3\xE6") != std::string::npos;
        }
    }
    CHECK(saw_two_spaces);
    CHECK(saw_non_ascii);
}

TEST_CASE("emulator generation: the token count is max_new_tokens or the default, at least min_new_tokens")
{
    CHECK(emu::new_token_count(std::nullopt, std::nullopt, 16) == 16);
    CHECK(emu::new_token_count(5, std::nullopt, 16) == 5);
    CHECK(emu::new_token_count(0, std::nullopt, 16) == 0);
    CHECK(emu::new_token_count(5, 9, 16) == 9);
    CHECK(emu::new_token_count(std::nullopt, 20, 16) == 20);
    CHECK(emu::new_token_count(std::nullopt, 3, 16) == 16);
}

TEST_CASE("emulator generation: regex_text fully matches each supported pattern (std::regex agrees)")
{
    const std::vector<std::string> patterns{
        "hello",
        "[a-z]+",
        "\\d{3}-\\d{4}",
        "(foo|bar)baz?",
        "^[A-Z][a-z]{2,5}$",
        "a.b.c",
        "[^a-z]{4}",
        "(?:ab|cd)*e",
        "\\w+@\\w+\\.com",
        "[+-]?([0-9]*[.])?[0-9]+",
        "(yes|no|maybe)",
        "\\s\\S\\D\\W",
        "[a-c0-2_]{5}",
        "x{2,}y{0,1}z{3}",
        "\\(\\)\\[\\]\\{\\}\\*\\+\\?\\.\\\\\\|\\^\\$",
        "((a|b)(c|d))+",
        "[\\d\\s]{3}",
        "[-a]{2}[a-]{2}",
        "(|x)y",
        "line\\nbreak\\tTab",
    };
    for (const std::string& pattern : patterns) {
        CAPTURE(pattern);
        const std::regex re(pattern);
        for (const char* prompt : {"", "one", "two", "three"}) {
            std::string why;
            const auto text = emu::regex_text(pattern, prompt, why);
            REQUIRE_MESSAGE(text.has_value(), why);
            CHECK(why.empty());
            CAPTURE(*text);
            CHECK(std::regex_match(*text, re));
            CHECK(emu::regex_text(pattern, prompt, why) == text); // deterministic
        }
    }
    // A non-ASCII literal is one character (repeat counts apply to the whole of it).
    std::string why;
    CHECK(emu::regex_text("é{3}", "p", why) == std::optional<std::string>("ééé"));
    // Alternatives and classes depend on the prompt.
    std::set<std::string> seen;
    for (const char* prompt : {"a", "b", "c", "d", "e", "f", "g", "h"})
        seen.insert(emu::regex_text("[a-z]{8}", prompt, why).value());
    CHECK(seen.size() > 1);
}

TEST_CASE("emulator generation: regex_text refuses what it does not support and says where")
{
    const std::vector<std::pair<std::string, std::string>> cases{
        {"a**", "offset 2: lazy, possessive or stacked quantifiers are not supported"},
        {"a+?", "offset 2: lazy, possessive or stacked quantifiers are not supported"},
        {"(?=x)", "offset 1: only (...) and (?:...) groups are supported"},
        {"\\bword", "offset 2: the escape \\b is not supported"},
        {"(a)\\1", "offset 5: the escape \\1 is not supported"},
        {"[[:alpha:]]", "offset 1: POSIX classes are not supported"},
        {"a{2", "offset 3: unterminated repetition"},
        {"a{x}", "offset 2: '{' must start a repetition {n}, {n,} or {n,m}"},
        {"a{3,2}", "offset 5: bad repetition bounds"},
        {"a{5000}", "offset 7: repetition count too large"},
        {"(ab", "offset 3: unbalanced '('"},
        {"ab)", "offset 2: unbalanced ')'"},
        {"x\\", "offset 1: a trailing backslash"},
        {"*a", "offset 0: a quantifier with nothing to repeat"},
        {"a^b", "offset 1: '^' here is not supported"},
        {"[z-a]", "offset 4: reversed range in a character class"},
        {"[abc", "offset 4: unterminated character class"},
        {"[\\x00]", "offset 3: the escape \\x is not supported in a character class"},
        {"[é]", "offset 1: only printable ASCII is supported in a character class"},
        {"[^\\x20-~]", "offset 4: the escape \\x is not supported in a character class"},
        {"a\rb", "offset 1: control characters are not supported"},
    };
    for (const auto& [pattern, message] : cases) {
        CAPTURE(pattern);
        std::string why;
        CHECK_FALSE(emu::regex_text(pattern, "p", why).has_value());
        CHECK(why == "unsupported regex_string at " + message);
    }
    std::string why;
    CHECK_FALSE(emu::regex_text("[^ -~]", "p", why).has_value());
    CHECK(why == "unsupported regex_string at offset 6: the class matches no printable character");
}

TEST_CASE("emulator generation: schema_json gives a compact object with every property of the right type")
{
    const json::value schema = json::parse(R"({
        "type": "object", "title": "Person",
        "properties": {
            "name": {"type": "string", "minLength": 2, "maxLength": 3},
            "age": {"type": "integer", "minimum": 18, "maximum": 20},
            "score": {"type": "number", "minimum": 0.5, "maximum": 1},
            "ok": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2},
            "colour": {"enum": ["red", "green"]},
            "kind": {"const": "person"},
            "address": {"type": "object", "properties": {"street": {"type": "string"}, "no": {"type": "integer"}},
                        "required": ["street"]}
        },
        "required": ["name", "age"]
    })");
    for (const char* prompt : {"a", "b", "c", "d"}) {
        std::string why;
        const auto text = emu::schema_json(schema, prompt, why);
        REQUIRE_MESSAGE(text.has_value(), why);
        CAPTURE(*text);
        CHECK(text->find(' ') == std::string::npos);
        CHECK(emu::schema_json(schema, prompt, why) == text);
        const json::object o = json::parse(*text).as_object();
        CHECK(o.size() == 8);
        REQUIRE(o.at("name").is_string());
        CHECK(o.at("name").get_string().size() >= 2);
        CHECK(o.at("name").get_string().size() <= 3);
        REQUIRE(o.at("age").is_int64());
        CHECK(o.at("age").get_int64() >= 18);
        CHECK(o.at("age").get_int64() <= 20);
        REQUIRE(o.at("score").is_double());
        CHECK(o.at("score").get_double() >= 0.5);
        CHECK(o.at("score").get_double() <= 1.0);
        CHECK(o.at("ok").is_bool());
        REQUIRE(o.at("tags").is_array());
        CHECK(o.at("tags").get_array().size() == 2);
        CHECK(o.at("tags").get_array()[0].is_string());
        CHECK((o.at("colour") == "red" || o.at("colour") == "green"));
        CHECK(o.at("kind") == "person");
        const json::object& address = o.at("address").as_object();
        CHECK(address.size() == 2);
        CHECK(address.at("street").is_string());
        CHECK(address.at("no").is_int64());
    }
    // Keys come out in the schema's order, numbers the short way.
    std::string why;
    const auto small = emu::schema_json(json::parse(R"({"type":"object","properties":{"b":{"type":"number","minimum":2.25,"maximum":2.25},"a":{"type":"integer","minimum":7,"maximum":7}}})"),
                                        "p", why);
    CHECK(small == std::optional<std::string>(R"({"b":2.25,"a":7})"));
    // "properties" alone means an object; an empty object schema gives {}.
    CHECK(emu::schema_json(json::parse(R"({"properties":{}})"), "p", why) == std::optional<std::string>("{}"));
}

TEST_CASE("emulator generation: schema_json refuses unsupported schemas and says why")
{
    const std::vector<std::pair<std::string, std::string>> cases{
        {R"("a string")", "unsupported json_schema: it must be a JSON object"},
        {R"({"type":"string"})", "unsupported json_schema: the top level must be an object schema (\"type\": \"object\")"},
        {R"({"type":"object","properties":{"a":{"type":"string","pattern":"x"}}})",
         "unsupported json_schema: the keyword \"pattern\" is not supported"},
        {R"({"type":"object","properties":{"a":{"anyOf":[]}}})", "unsupported json_schema: the keyword \"anyOf\" is not supported"},
        {R"({"type":"object","properties":{"a":{"type":["string","null"]}}})",
         "unsupported json_schema: type must be one string (type lists are not supported)"},
        {R"({"type":"object","properties":{"a":{"type":"null"}}})", "unsupported json_schema: the type \"null\" is not supported"},
        {R"({"type":"object","properties":{"a":{"type":"array"}}})", "unsupported json_schema: an array schema needs items"},
        {R"({"type":"object","properties":{"a":{}}})", "unsupported json_schema: a schema without type is not supported"},
        {R"({"type":"object","properties":{"a":{"type":"string"}},"required":["b"]})",
         "unsupported json_schema: required names a property that is not in properties"},
        {R"({"type":"object","properties":{"a":{"type":"integer","minimum":1.5,"maximum":1.7}}})",
         "unsupported json_schema: minimum/maximum hold no integer"},
        {R"({"type":"object","properties":{"a":{"type":"string","minLength":5,"maxLength":2}}})",
         "unsupported json_schema: minLength/maxLength give no usable length"},
        {R"({"type":"object","properties":{"a":{"enum":[]}}})", "unsupported json_schema: enum must be a non-empty array"},
    };
    for (const auto& [schema, message] : cases) {
        CAPTURE(schema);
        std::string why;
        CHECK_FALSE(emu::schema_json(json::parse(schema), "p", why).has_value());
        CHECK(why == message);
    }
}

TEST_CASE("emulator generation: embeddings are deterministic, of unit length and nine decimals; scores are exact steps")
{
    for (const char* text : {"", "hello", "a longer text with words"}) {
        const auto v = emu::embedding(text, 8);
        REQUIRE(v.size() == 8);
        double norm = 0;
        for (double x : v)
            norm += x * x;
        CHECK(std::abs(norm - 1.0) < 1e-8);
        for (double x : v)
            CHECK(std::round(x * 1e9) / 1e9 == x); // nine decimals: exact through any JSON parser
        CHECK(emu::embedding(text, 8) == v);
    }
    CHECK(emu::embedding("hello", 8) != emu::embedding("world", 8));
    CHECK(emu::embedding("hello", 384).size() == 384);
    CHECK(emu::embedding("hello", 0).empty());

    const auto two = emu::classify_scores("great film");
    REQUIRE(two.size() == 2);
    CHECK(emu::classify_scores("great film") == two);
    const auto one = emu::classify_scores("query", "document");
    REQUIRE(one.size() == 1);
    CHECK(emu::classify_scores("document", "query") != one);
    for (double s : {two[0], two[1], one[0]}) {
        CHECK(s >= -12.0);
        CHECK(s < 12.0);
        CHECK(s * 128.0 == std::floor(s * 128.0)); // a multiple of 1/128: exact through JSON
    }
}

TEST_CASE("emulator generation: the whitespace tokenizer prefixes words with U+2581 and detokenize undoes it")
{
    const auto tokens = emu::whitespace_tokenize("  hello \t world\nagain ");
    CHECK(tokens == std::vector<std::string>{"\xE2\x96\x81hello", "\xE2\x96\x81world", "\xE2\x96\x81" "again"});
    CHECK(emu::detokenize(tokens) == "hello world again");
    CHECK(emu::whitespace_tokenize("").empty());
    CHECK(emu::whitespace_tokenize(" \n ").empty());
    CHECK(emu::detokenize(std::vector<std::string>{}).empty());
    for (const char* text : {"one", "one two three", "caf\xC3\xA9 au lait"})
        CHECK(emu::detokenize(emu::whitespace_tokenize(text)) == text);
    // Pieces without the prefix join to the previous one.
    CHECK(emu::detokenize(std::vector<std::string>{"\xE2\x96\x81hel", "lo", "\xE2\x96\x81you"}) == "hello you");
    CHECK(emu::detokenize(std::vector<std::uint64_t>{1, 22, 333}) == "tok1 tok22 tok333");
    CHECK(emu::detokenize(std::vector<std::uint64_t>{}).empty());
}

TEST_CASE("emulator generation: the chat template writes <|role|> lines and the generation prompt")
{
    const std::vector<emu::chat_message> conversation{{"system", "Be brief."}, {"user", "Hi"}};
    CHECK(emu::chat_template(conversation, false) == "<|system|>\nBe brief.\n<|user|>\nHi\n");
    CHECK(emu::chat_template(conversation, true) == "<|system|>\nBe brief.\n<|user|>\nHi\n<|assistant|>\n");
    CHECK(emu::chat_template({}, true) == "<|assistant|>\n");
}

TEST_CASE("emulator generation: sse_event writes one data line per line and a parser gets the text back")
{
    CHECK(emu::sse_event(" word") == "data:  word\n\n");
    CHECK(emu::sse_event(" line\nbreak") == "data:  line\ndata: break\n\n");
    CHECK(emu::sse_event("\n") == "data: \ndata: \n\n");
    CHECK(emu::sse_event("") == "data: \n\n");
    std::string stream;
    const auto tokens = emu::generated_tokens("round trip", 60);
    for (const auto& t : tokens)
        stream += emu::sse_event(t);
    CHECK(sse_data(stream) == tokens);
}

TEST_CASE("emulator generation: utf8_pieces cuts at most 4 bytes and never inside a character")
{
    CHECK(emu::utf8_pieces("abcdefghi") == std::vector<std::string>{"abcd", "efgh", "i"});
    CHECK(emu::utf8_pieces("abc\xC3\xA9" "fg") == std::vector<std::string>{"abc", "\xC3\xA9" "fg"});
    CHECK(emu::utf8_pieces("\xE6\x95\xB0\xE6\x8D\xAE") == std::vector<std::string>{"\xE6\x95\xB0", "\xE6\x8D\xAE"});
    CHECK(emu::utf8_pieces("\xF0\x9F\x98\x80!") == std::vector<std::string>{"\xF0\x9F\x98\x80", "!"});
    CHECK(emu::utf8_pieces("").empty());
    const std::string text = "{\"caf\xC3\xA9\":\"\xE6\x95\xB0\xE6\x8D\xAE\",\"n\":1}";
    std::string joined;
    for (const auto& piece : emu::utf8_pieces(text)) {
        CHECK(piece.size() <= 4);
        CHECK(valid_utf8(piece));
        joined += piece;
    }
    CHECK(joined == text);
}
