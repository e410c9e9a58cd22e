#pragma once
// takeoff::emulator generators — what the emulated Takeoff "model" says, computed without a socket
// so that tests can predict every byte the routes of takeoff.hpp send:
//
//   generated_tokens / generated_text   tokens drawn from a fixed list by a hash of the prompt
//   regex_text                          a string that fully matches a simple regex
//   schema_json                         a compact JSON object valid for a simple object schema
//   embedding / classify_scores         deterministic vectors and scores
//   whitespace_tokenize / detokenize    the emulated tokenizer ("▁word" pieces)
//   chat_template                       "<|role|>\ncontent\n" per message
//   sse_event / utf8_pieces             how text becomes stream events
//
// Nothing here depends on the time, the machine or a random source: the same inputs give the same
// bytes everywhere (FNV-1a and splitmix64, no std::hash). This header includes only Boost.JSON and
// the standard library, so socket-free unit tests can use it without the emulator's server.

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace takeoff::emulator {

// ---------------------------------------------------------------------------------------------
// Hashing

/// FNV-1a (64 bit) of some bytes: the seed of everything generated from a prompt.
inline std::uint64_t text_hash(std::string_view text) noexcept
{
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (const char c : text) {
        h ^= static_cast<unsigned char>(c);
        h *= 0x100000001b3ull;
    }
    return h;
}

/// splitmix64's finaliser: spreads a counter or a combined seed over all 64 bits.
inline std::uint64_t mix64(std::uint64_t x) noexcept
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/// A tiny deterministic generator (splitmix64) for the choices the regex and schema generators make.
class choice_source {
public:
    explicit choice_source(std::uint64_t seed) noexcept : state_(seed) {}
    /// The next 64 pseudo-random bits.
    std::uint64_t next() noexcept { return mix64(state_++); }
    /// A value in [0, n) (0 when n is 0).
    std::size_t below(std::size_t n) noexcept { return n == 0 ? 0 : static_cast<std::size_t>(next() % n); }

private:
    std::uint64_t state_;
};

// ---------------------------------------------------------------------------------------------
// Token generation

namespace detail {

// Words of the emulated vocabulary. Some are there to test clients: non-ASCII UTF-8, JSON escapes
// (quote, backslash), an SSE-looking colon, and one that ends with two spaces.
inline constexpr std::array<std::string_view, 32> token_words{
    "the",    "quick",  "brown",   "fox",     "jumps", "over",   "lazy",     "dog",
    "snow",   "flake",  "takeoff", "reader",  "model", "stream", "token",    "batch",
    "café",   "naïve",  "数据",    "wide  ",  "42",    "3.14",   "\"quoted\"", "back\\slash",
    "colon:", "prompt", "group",   "emulate", "event", "data",   "ingress",  "spcs"};

// Every fifth token is one of these: a newline alone, between words, at the end, or two of them.
inline constexpr std::array<std::string_view, 5> newline_tokens{"\n", " line\nbreak", ".\n", "\n\n", " end.\n"};

} // namespace detail

/// Token `index` of the generation for `prompt`: " <word>" from a fixed list, except that every
/// fifth token (index 4, 9, ...) contains a newline. Valid UTF-8, never a CR.
inline std::string token_at(std::string_view prompt, std::size_t index)
{
    const std::uint64_t h = mix64(text_hash(prompt) ^ mix64(static_cast<std::uint64_t>(index)));
    if (index % 5 == 4)
        return std::string(detail::newline_tokens[h % detail::newline_tokens.size()]);
    std::string token = " ";
    token += detail::token_words[h % detail::token_words.size()];
    return token;
}

/// The first `count` tokens generated for `prompt` (the same prompt always gives the same tokens;
/// different prompts give different ones).
inline std::vector<std::string> generated_tokens(std::string_view prompt, std::size_t count)
{
    std::vector<std::string> tokens;
    tokens.reserve(count);
    for (std::size_t i = 0; i < count; ++i)
        tokens.push_back(token_at(prompt, i));
    return tokens;
}

/// The concatenation of generated_tokens(prompt, count): what /generate answers.
inline std::string generated_text(std::string_view prompt, std::size_t count)
{
    std::string text;
    for (const std::string& token : generated_tokens(prompt, count))
        text += token;
    return text;
}

/// How many tokens a request generates: max_new_tokens when set, else the default; at least
/// min_new_tokens.
inline std::size_t new_token_count(std::optional<std::size_t> max_new_tokens, std::optional<std::size_t> min_new_tokens,
                                   std::size_t default_max_new_tokens) noexcept
{
    const std::size_t n = max_new_tokens.value_or(default_max_new_tokens);
    return std::max(n, min_new_tokens.value_or(0));
}

// ---------------------------------------------------------------------------------------------
// Regex-constrained text

namespace detail {

// The printable ASCII characters a regex piece may produce (no control characters, so the text
// is safe in SSE data lines and JSON).
inline constexpr char first_printable = ' ';
inline constexpr char last_printable = '~';

struct char_set {
    std::array<bool, 128> in{}; // ASCII membership
    bool negated = false;

    void add(char lo, char hi) noexcept
    {
        for (int c = static_cast<unsigned char>(lo); c <= static_cast<unsigned char>(hi); ++c)
            in[static_cast<std::size_t>(c)] = true;
    }
    bool contains(char c) const noexcept { return in[static_cast<std::size_t>(static_cast<unsigned char>(c))] != negated; }
};

inline void add_class_escape(char_set& set, char letter) noexcept
{
    char_set inner;
    switch (letter) {
    case 'd': case 'D': inner.add('0', '9'); break;
    case 'w': case 'W': inner.add('a', 'z'); inner.add('A', 'Z'); inner.add('0', '9'); inner.add('_', '_'); break;
    default: inner.add(' ', ' '); inner.add('\t', '\r'); break; // s, S
    }
    const bool upper = letter >= 'A' && letter <= 'Z';
    for (std::size_t c = 0; c < inner.in.size(); ++c)
        if (inner.in[c] != upper)
            set.in[c] = true;
}

inline bool is_class_escape(char c) noexcept
{
    return c == 'd' || c == 'D' || c == 'w' || c == 'W' || c == 's' || c == 'S';
}

inline bool is_ascii_alnum(char c) noexcept
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// A recursive-descent parser of the supported regex subset that generates as it parses: each
// alternation picks one branch (deterministically), each quantifier a repeat count, each class a
// member. The branches not taken are still parsed, so an unsupported construct anywhere is an error.
class regex_generator {
public:
    regex_generator(std::string_view pattern, std::uint64_t seed) : pattern_(pattern), choices_(seed) {}

    std::optional<std::string> run(std::string& why)
    {
        std::string_view body = pattern_;
        // Anchors only where they assert nothing beyond a full match.
        if (!body.empty() && body.front() == '^')
            pos_ = 1;
        end_ = body.size();
        if (end_ > pos_ && body[end_ - 1] == '$' && !escaped_at(end_ - 1))
            --end_;
        std::string out;
        if (!alternation(out, true) || pos_ != end_) {
            if (why_.empty())
                why_ = pos_ < end_ && pattern_[pos_] == ')' ? "unbalanced ')'" : "unsupported construct";
            why = "unsupported regex_string at offset " + std::to_string(pos_) + ": " + why_;
            return std::nullopt;
        }
        return out;
    }

private:
    static constexpr std::size_t max_repeat = 1000;
    static constexpr std::size_t max_output = 65536;
    static constexpr int max_depth = 64;

    bool escaped_at(std::size_t i) const noexcept
    {
        std::size_t slashes = 0;
        while (i > 0 && pattern_[i - 1] == '\\') {
            ++slashes;
            --i;
        }
        return slashes % 2 == 1;
    }

    bool fail(std::string message)
    {
        if (why_.empty())
            why_ = std::move(message);
        return false;
    }

    bool at_end() const noexcept { return pos_ >= end_; }
    char peek() const noexcept { return pattern_[pos_]; }

    // alternation := sequence ('|' sequence)*; `emit` false parses without producing output.
    bool alternation(std::string& out, bool emit)
    {
        if (++depth_ > max_depth)
            return fail("nesting too deep");
        // Count the branches first would need a second pass; instead choose while parsing:
        // branch k replaces the choice with probability 1/(k+1) (reservoir sampling), so every
        // branch is parsed once and one is kept.
        std::string chosen;
        std::size_t branches = 0;
        for (;;) {
            std::string branch;
            if (!sequence(branch, emit))
                return false;
            ++branches;
            if (emit && choices_.below(branches) == 0)
                chosen = std::move(branch);
            if (!at_end() && peek() == '|') {
                ++pos_;
                continue;
            }
            break;
        }
        --depth_;
        if (emit)
            out += chosen;
        return out.size() <= max_output || fail("the generated text would be too long");
    }

    bool sequence(std::string& out, bool emit)
    {
        while (!at_end() && peek() != '|' && peek() != ')') {
            const std::size_t atom_start = pos_;
            std::string once;
            if (!atom(once, emit))
                return false;
            std::size_t low = 1, high = 1;
            if (!quantifier(low, high))
                return false;
            if (!emit)
                continue;
            if (low == 1 && high == 1) {
                out += once;
                continue;
            }
            const std::size_t count = low + choices_.below(std::min(high - low, std::size_t{3}) + 1);
            // Each repetition is generated anew (a class or a group may choose differently each time).
            for (std::size_t i = 0; i < count; ++i) {
                if (i == 0) {
                    out += once;
                    continue;
                }
                const std::size_t saved = pos_;
                pos_ = atom_start;
                std::string again;
                if (!atom(again, true))
                    return false;
                pos_ = saved;
                out += again;
                if (out.size() > max_output)
                    return fail("the generated text would be too long");
            }
        }
        return true;
    }

    // ? * + {n} {n,} {n,m}; none gives {1,1}.
    bool quantifier(std::size_t& low, std::size_t& high)
    {
        if (at_end())
            return true;
        const char c = peek();
        if (c == '?' || c == '*' || c == '+') {
            ++pos_;
            low = c == '+' ? 1 : 0;
            high = c == '?' ? 1 : low + 3;
        } else if (c == '{') {
            ++pos_;
            std::size_t n = 0;
            if (!number(n))
                return fail("'{' must start a repetition {n}, {n,} or {n,m}");
            std::size_t m = n;
            if (!at_end() && peek() == ',') {
                ++pos_;
                if (!at_end() && peek() == '}') {
                    m = n + 3;
                } else if (!number(m) || m < n) {
                    return fail("bad repetition bounds");
                }
            }
            if (at_end() || peek() != '}')
                return fail("unterminated repetition");
            ++pos_;
            if (n > max_repeat || m > max_repeat + 3)
                return fail("repetition count too large");
            low = n;
            high = m;
        } else {
            return true;
        }
        if (!at_end() && (peek() == '?' || peek() == '*' || peek() == '+' || peek() == '{'))
            return fail("lazy, possessive or stacked quantifiers are not supported");
        return true;
    }

    bool number(std::size_t& value)
    {
        const std::size_t start = pos_;
        value = 0;
        while (!at_end() && peek() >= '0' && peek() <= '9' && pos_ - start < 6) {
            value = value * 10 + static_cast<std::size_t>(peek() - '0');
            ++pos_;
        }
        return pos_ > start && (at_end() || peek() < '0' || peek() > '9');
    }

    bool atom(std::string& out, bool emit)
    {
        const char c = peek();
        const auto byte = static_cast<unsigned char>(c);
        switch (c) {
        case '(': {
            ++pos_;
            if (!at_end() && peek() == '?') {
                if (pos_ + 1 < end_ && pattern_[pos_ + 1] == ':')
                    pos_ += 2;
                else
                    return fail("only (...) and (?:...) groups are supported");
            }
            if (!alternation(out, emit))
                return false;
            if (at_end() || peek() != ')')
                return fail("unbalanced '('");
            ++pos_;
            return true;
        }
        case '[':
            return char_class(out, emit);
        case '.': {
            ++pos_;
            static constexpr std::string_view any = "abcdefghijklmnopqrstuvwxyz0123456789";
            if (emit)
                out += any[choices_.below(any.size())];
            return true;
        }
        case '\\':
            return escape(out, emit);
        case '?': case '*': case '+': case '{':
            return fail("a quantifier with nothing to repeat");
        case ']': case '}': case '^': case '$':
            return fail(std::string("'") + c + "' here is not supported");
        default:
            break;
        }
        if (byte < 0x20 || byte == 0x7f)
            return fail("control characters are not supported");
        // A UTF-8 character is one atom, as in the regex dialects of real servers.
        std::size_t length = 1;
        if (byte >= 0x80) {
            length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 0;
            if (length == 0 || pos_ + length > end_)
                return fail("invalid UTF-8");
            for (std::size_t i = 1; i < length; ++i)
                if ((static_cast<unsigned char>(pattern_[pos_ + i]) & 0xc0) != 0x80)
                    return fail("invalid UTF-8");
        }
        if (emit)
            out.append(pattern_.substr(pos_, length));
        pos_ += length;
        return true;
    }

    bool escape(std::string& out, bool emit)
    {
        if (pos_ + 1 >= end_)
            return fail("a trailing backslash");
        const char e = pattern_[pos_ + 1];
        pos_ += 2;
        if (is_class_escape(e)) {
            char_set set;
            add_class_escape(set, e);
            return pick(set, out, emit);
        }
        if (e == 'n' || e == 't') {
            if (emit)
                out += e == 'n' ? '\n' : '\t';
            return true;
        }
        const auto byte = static_cast<unsigned char>(e);
        if (byte < 0x80 && byte > 0x20 && byte != 0x7f && !is_ascii_alnum(e)) {
            if (emit)
                out += e;
            return true;
        }
        return fail(std::string("the escape \\") + e + " is not supported");
    }

    bool char_class(std::string& out, bool emit)
    {
        ++pos_; // '['
        char_set set;
        if (!at_end() && peek() == '^') {
            set.negated = true;
            ++pos_;
        }
        bool first = true;
        for (;;) {
            if (at_end())
                return fail("unterminated character class");
            char c = peek();
            if (c == ']' && !first) {
                ++pos_;
                break;
            }
            first = false;
            if (c == '[' && pos_ + 1 < end_ &&
                (pattern_[pos_ + 1] == ':' || pattern_[pos_ + 1] == '.' || pattern_[pos_ + 1] == '='))
                return fail("POSIX classes are not supported");
            char lo = 0;
            if (!class_char(lo, set))
                return false;
            if (lo == 0)
                continue; // it was \d, \w or \s
            if (pos_ + 1 < end_ && peek() == '-' && pattern_[pos_ + 1] != ']') {
                ++pos_;
                char hi = 0;
                if (!class_char(hi, set) || hi == 0)
                    return fail("bad range in a character class");
                if (hi < lo)
                    return fail("reversed range in a character class");
                set.add(lo, hi);
            } else {
                set.add(lo, lo);
            }
        }
        return pick(set, out, emit);
    }

    // One member of a class: a plain character (returned in `c`), or a class escape added to `set`
    // (then `c` is 0).
    bool class_char(char& c, char_set& set)
    {
        c = peek();
        const auto byte = static_cast<unsigned char>(c);
        if (byte >= 0x80 || byte < 0x20 || byte == 0x7f)
            return fail("only printable ASCII is supported in a character class");
        ++pos_;
        if (c != '\\')
            return true;
        if (at_end())
            return fail("a trailing backslash");
        const char e = peek();
        ++pos_;
        if (is_class_escape(e)) {
            add_class_escape(set, e);
            c = 0;
            return true;
        }
        if (e == 'n' || e == 't')
            return fail("\\n and \\t are not supported in a character class");
        if (!is_ascii_alnum(e) && static_cast<unsigned char>(e) > 0x20 && static_cast<unsigned char>(e) < 0x7f) {
            c = e;
            return true;
        }
        return fail(std::string("the escape \\") + e + " is not supported in a character class");
    }

    // A printable member of the set, chosen deterministically.
    bool pick(const char_set& set, std::string& out, bool emit)
    {
        std::string members;
        for (char c = first_printable; c <= last_printable; ++c)
            if (set.contains(c))
                members += c;
        if (members.empty())
            return fail("the class matches no printable character");
        if (emit)
            out += members[choices_.below(members.size())];
        return true;
    }

    std::string_view pattern_;
    choice_source choices_;
    std::size_t pos_ = 0;
    std::size_t end_ = 0;
    int depth_ = 0;
    std::string why_;
};

} // namespace detail

/// A string that fully matches `pattern`, chosen deterministically from the prompt. Supported:
/// literals (UTF-8 characters too), escapes \d \D \w \W \s \S \n \t and escaped punctuation, `.`,
/// classes ([a-z0-9_], [^...], with \d \w \s inside), groups ( ) and (?: ) with alternation,
/// quantifiers ? * + {n} {n,} {n,m}, and ^ / $ at the very start / end. Generated characters are
/// printable ASCII (plus the literals and \n \t written in the pattern). Anything else returns
/// nullopt and says why in `why`.
inline std::optional<std::string> regex_text(std::string_view pattern, std::string_view prompt, std::string& why)
{
    detail::regex_generator generator(pattern, mix64(text_hash(prompt)) ^ text_hash(pattern));
    return generator.run(why);
}

// ---------------------------------------------------------------------------------------------
// JSON-schema-constrained output

namespace detail {

// Compact JSON with numbers written the short way (to_chars), not Boost.JSON's "1.5E0".
inline void write_compact_json(const boost::json::value& value, std::string& out)
{
    switch (value.kind()) {
    case boost::json::kind::object: {
        out += '{';
        bool first = true;
        for (const auto& member : value.get_object()) {
            if (!first)
                out += ',';
            first = false;
            out += boost::json::serialize(boost::json::string(member.key()));
            out += ':';
            write_compact_json(member.value(), out);
        }
        out += '}';
        return;
    }
    case boost::json::kind::array: {
        out += '[';
        bool first = true;
        for (const auto& element : value.get_array()) {
            if (!first)
                out += ',';
            first = false;
            write_compact_json(element, out);
        }
        out += ']';
        return;
    }
    case boost::json::kind::double_: {
        std::array<char, 32> buffer{};
        const double d = std::isfinite(value.get_double()) ? value.get_double() : 0.0;
        const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), d);
        std::string_view text(buffer.data(), static_cast<std::size_t>(result.ptr - buffer.data()));
        out += text;
        if (text.find_first_of(".eE") == std::string_view::npos)
            out += ".0";
        return;
    }
    default:
        out += boost::json::serialize(value);
        return;
    }
}

inline std::optional<double> schema_number(const boost::json::object& schema, std::string_view key)
{
    const boost::json::value* v = schema.if_contains(key);
    if (!v)
        return std::nullopt;
    if (v->is_int64())
        return static_cast<double>(v->get_int64());
    if (v->is_uint64())
        return static_cast<double>(v->get_uint64());
    if (v->is_double())
        return v->get_double();
    return std::nullopt;
}

class schema_generator {
public:
    explicit schema_generator(std::uint64_t seed) : choices_(seed) {}

    bool generate(const boost::json::value& schema, boost::json::value& out, std::string& why, int depth = 0)
    {
        if (depth > 16)
            return fail(why, "the schema is nested too deeply");
        if (!schema.is_object())
            return fail(why, "every schema must be a JSON object");
        const boost::json::object& s = schema.get_object();
        static constexpr std::array<std::string_view, 20> known{
            "type",    "properties", "required", "items",     "additionalProperties", "title",    "description",
            "$schema", "$id",        "default",  "examples",  "enum",                 "const",    "minimum",
            "maximum", "minLength",  "maxLength", "minItems", "maxItems",             "$comment"};
        for (const auto& member : s)
            if (std::find(known.begin(), known.end(), std::string_view(member.key())) == known.end())
                return fail(why, "the keyword \"" + std::string(member.key()) + "\" is not supported");
        if (const boost::json::value* c = s.if_contains("const")) {
            out = *c;
            return true;
        }
        if (const boost::json::value* e = s.if_contains("enum")) {
            if (!e->is_array() || e->get_array().empty())
                return fail(why, "enum must be a non-empty array");
            out = e->get_array()[choices_.below(e->get_array().size())];
            return true;
        }
        std::string_view type;
        if (const boost::json::value* t = s.if_contains("type")) {
            if (!t->is_string())
                return fail(why, "type must be one string (type lists are not supported)");
            type = t->get_string();
        } else if (s.contains("properties")) {
            type = "object";
        } else {
            return fail(why, "a schema without type is not supported");
        }
        if (type == "object")
            return object(s, out, why, depth);
        if (type == "array")
            return array(s, out, why, depth);
        if (type == "string")
            return string(s, out, why);
        if (type == "integer")
            return integer(s, out, why);
        if (type == "number")
            return number(s, out, why);
        if (type == "boolean") {
            out = choices_.below(2) == 1;
            return true;
        }
        return fail(why, "the type \"" + std::string(type) + "\" is not supported");
    }

private:
    static bool fail(std::string& why, std::string message)
    {
        if (why.empty())
            why = std::move(message);
        return false;
    }

    bool object(const boost::json::object& s, boost::json::value& out, std::string& why, int depth)
    {
        boost::json::object result;
        const boost::json::object* properties = nullptr;
        if (const boost::json::value* p = s.if_contains("properties")) {
            if (!p->is_object())
                return fail(why, "properties must be an object");
            properties = &p->get_object();
        }
        if (const boost::json::value* r = s.if_contains("required")) {
            if (!r->is_array())
                return fail(why, "required must be an array");
            for (const auto& name : r->get_array())
                if (!name.is_string() || !properties || !properties->contains(name.get_string()))
                    return fail(why, "required names a property that is not in properties");
        }
        if (properties) {
            for (const auto& member : *properties) {
                boost::json::value value;
                if (!generate(member.value(), value, why, depth + 1))
                    return false;
                result[member.key()] = std::move(value);
            }
        }
        out = std::move(result);
        return true;
    }

    bool array(const boost::json::object& s, boost::json::value& out, std::string& why, int depth)
    {
        const boost::json::value* items = s.if_contains("items");
        if (!items)
            return fail(why, "an array schema needs items");
        const double low = schema_number(s, "minItems").value_or(1.0);
        const double high = schema_number(s, "maxItems").value_or(std::max(low, 1.0) + 2.0);
        if (low < 0 || high < low || high > 1000)
            return fail(why, "minItems/maxItems give no usable length");
        const auto min_items = static_cast<std::size_t>(std::ceil(low));
        const auto max_items = static_cast<std::size_t>(std::floor(high));
        if (max_items < min_items)
            return fail(why, "minItems/maxItems give no usable length");
        const std::size_t count = min_items + choices_.below(std::min(max_items - min_items, std::size_t{2}) + 1);
        boost::json::array result;
        for (std::size_t i = 0; i < count; ++i) {
            boost::json::value value;
            if (!generate(*items, value, why, depth + 1))
                return false;
            result.push_back(std::move(value));
        }
        out = std::move(result);
        return true;
    }

    bool string(const boost::json::object& s, boost::json::value& out, std::string& why)
    {
        // ASCII words only, so length in bytes is length in characters.
        static constexpr std::array<std::string_view, 12> words{"alpha", "bravo", "snow",  "flake", "reader", "model",
                                                                "token", "quick", "brown", "fox",   "lazy",   "dog"};
        const double low = schema_number(s, "minLength").value_or(0.0);
        const double high = schema_number(s, "maxLength").value_or(1e9);
        if (low < 0 || high < low || low > 65536)
            return fail(why, "minLength/maxLength give no usable length");
        const auto min_length = static_cast<std::size_t>(std::ceil(low));
        const auto max_length = static_cast<std::size_t>(std::min(std::floor(high), 1e9));
        if (max_length < min_length)
            return fail(why, "minLength/maxLength give no usable length");
        std::string text(words[choices_.below(words.size())]);
        if (text.size() < min_length)
            text.append(min_length - text.size(), 'x');
        if (text.size() > max_length)
            text.resize(max_length);
        out = boost::json::string(text);
        return true;
    }

    bool bounds(const boost::json::object& s, double& low, double& high, std::string& why)
    {
        const auto minimum = schema_number(s, "minimum");
        const auto maximum = schema_number(s, "maximum");
        low = minimum.value_or(maximum ? *maximum - 100.0 : 0.0);
        high = maximum.value_or(low + 100.0);
        if (!(low <= high) || std::abs(low) > 1e15 || std::abs(high) > 1e15)
            return fail(why, "minimum/maximum give no usable value");
        return true;
    }

    bool integer(const boost::json::object& s, boost::json::value& out, std::string& why)
    {
        double low = 0, high = 0;
        if (!bounds(s, low, high, why))
            return false;
        const auto first = static_cast<std::int64_t>(std::ceil(low));
        const auto last = static_cast<std::int64_t>(std::floor(high));
        if (last < first)
            return fail(why, "minimum/maximum hold no integer");
        const auto span = static_cast<std::uint64_t>(last - first);
        out = first + static_cast<std::int64_t>(choices_.next() % (std::min<std::uint64_t>(span, 1000) + 1));
        return true;
    }

    bool number(const boost::json::object& s, boost::json::value& out, std::string& why)
    {
        double low = 0, high = 0;
        if (!bounds(s, low, high, why))
            return false;
        // Quarters are exact in binary and short in decimal; a range with none gets its midpoint.
        const double first = std::ceil(low * 4.0);
        const double last = std::floor(high * 4.0);
        if (last < first) {
            out = (low + high) / 2.0;
            return true;
        }
        const auto span = static_cast<std::uint64_t>(std::min(last - first, 1000.0));
        out = (first + static_cast<double>(choices_.next() % (span + 1))) / 4.0;
        return true;
    }

    choice_source choices_;
};

} // namespace detail

/// A compact JSON object (no spaces; numbers written the short way) valid for `schema`, chosen
/// deterministically from the prompt; every property is present. Supported: an object schema with
/// "properties" whose schemas have type string / number / integer / boolean / array (with "items")
/// / object (nested), plus "required" (names in properties), "enum", "const", minimum / maximum,
/// minLength / maxLength, minItems / maxItems and the annotations (title, description, ...). Any
/// other keyword, or a top level that is not an object schema, returns nullopt and says why.
inline std::optional<std::string> schema_json(const boost::json::value& schema, std::string_view prompt, std::string& why)
{
    if (!schema.is_object()) {
        why = "unsupported json_schema: it must be a JSON object";
        return std::nullopt;
    }
    const boost::json::value* type = schema.get_object().if_contains("type");
    const bool object_type = type ? (type->is_string() && type->get_string() == "object")
                                  : schema.get_object().contains("properties");
    if (!object_type) {
        why = "unsupported json_schema: the top level must be an object schema (\"type\": \"object\")";
        return std::nullopt;
    }
    detail::schema_generator generator(mix64(text_hash(prompt)) ^ text_hash(boost::json::serialize(schema)));
    boost::json::value value;
    std::string reason;
    if (!generator.generate(schema, value, reason)) {
        why = "unsupported json_schema: " + reason;
        return std::nullopt;
    }
    std::string out;
    detail::write_compact_json(value, out);
    return out;
}

// ---------------------------------------------------------------------------------------------
// Streaming helpers

/// Splits text into pieces of at most `max_bytes` bytes (at least 4), never inside a UTF-8
/// character: how constrained output is streamed.
inline std::vector<std::string> utf8_pieces(std::string_view text, std::size_t max_bytes = 4)
{
    max_bytes = std::max<std::size_t>(max_bytes, 4);
    std::vector<std::string> pieces;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t end = std::min(pos + max_bytes, text.size());
        // Back off while `end` points at a continuation byte (the middle of a character).
        while (end < text.size() && end > pos + 1 && (static_cast<unsigned char>(text[end]) & 0xc0) == 0x80)
            --end;
        pieces.emplace_back(text.substr(pos, end - pos));
        pos = end;
    }
    return pieces;
}

/// One SSE event whose data is `data`: a `data: ` line per line of it (split at LF) and the blank
/// line, so an SSE parser hands back exactly `data`. `data` must not contain CR.
inline std::string sse_event(std::string_view data)
{
    std::string out;
    out.reserve(data.size() + 8);
    std::size_t pos = 0;
    for (;;) {
        const std::size_t newline = data.find('\n', pos);
        out += "data: ";
        out += data.substr(pos, newline == std::string_view::npos ? std::string_view::npos : newline - pos);
        out += '\n';
        if (newline == std::string_view::npos)
            break;
        pos = newline + 1;
    }
    out += '\n';
    return out;
}

// ---------------------------------------------------------------------------------------------
// Embeddings and scores

/// A deterministic unit-length vector (L2 norm 1 within 1e-8) of `dimensions` components for
/// `text`, each rounded to nine decimals.
inline std::vector<double> embedding(std::string_view text, std::size_t dimensions)
{
    std::vector<double> v(dimensions);
    const std::uint64_t seed = text_hash(text);
    double norm = 0;
    for (std::size_t i = 0; i < dimensions; ++i) {
        // A component in [-1, 1), from the top 53 bits.
        const double unit = static_cast<double>(mix64(seed ^ mix64(i + 0x1000)) >> 11) * 0x1p-53;
        v[i] = unit * 2.0 - 1.0;
        norm += v[i] * v[i];
    }
    if (norm == 0 && dimensions != 0) {
        v[0] = 1.0;
        norm = 1.0;
    }
    // Nine decimals: short enough that every JSON parser reads back exactly the same double
    // (Boost.JSON 1.81's parser can be 1 ulp off on 17-digit numbers), close enough to norm 1.
    for (double& x : v)
        x = std::round(x / std::sqrt(norm) * 1e9) / 1e9;
    return v;
}

namespace detail {

// A score in [-12, 12) with a step of 1/128: exact in binary, so it survives JSON both ways.
inline double score_from(std::uint64_t h) noexcept
{
    return static_cast<double>(static_cast<std::int64_t>(h % 3072) - 1536) / 128.0;
}

} // namespace detail

/// The two class scores (logits) of a text, deterministic.
inline std::vector<double> classify_scores(std::string_view text)
{
    const std::uint64_t h = text_hash(text);
    return {detail::score_from(mix64(h ^ 1)), detail::score_from(mix64(h ^ 2))};
}

/// The one relevance score of a query/document pair (a reranker), deterministic and dependent on
/// the order of the two.
inline std::vector<double> classify_scores(std::string_view query, std::string_view document)
{
    const std::uint64_t h = mix64(text_hash(query)) ^ text_hash(document);
    return {detail::score_from(mix64(h ^ 3))};
}

// ---------------------------------------------------------------------------------------------
// Tokenizer and chat template

/// The emulated tokenizer's word prefix (U+2581 LOWER ONE EIGHTH BLOCK, as SentencePiece uses).
inline constexpr std::string_view word_prefix = "\xE2\x96\x81";

/// Splits at ASCII whitespace; each word becomes "▁word".
inline std::vector<std::string> whitespace_tokenize(std::string_view text)
{
    std::vector<std::string> tokens;
    const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
    std::size_t pos = 0;
    while (pos < text.size()) {
        while (pos < text.size() && space(text[pos]))
            ++pos;
        const std::size_t start = pos;
        while (pos < text.size() && !space(text[pos]))
            ++pos;
        if (pos > start) {
            std::string token(word_prefix);
            token += text.substr(start, pos - start);
            tokens.push_back(std::move(token));
        }
    }
    return tokens;
}

/// Joins token strings: every "▁" becomes a space, and one leading space is removed.
inline std::string detokenize(const std::vector<std::string>& tokens)
{
    std::string out;
    for (const std::string& token : tokens) {
        std::size_t pos = 0;
        for (;;) {
            const std::size_t found = token.find(word_prefix, pos);
            out.append(token, pos, found == std::string::npos ? std::string::npos : found - pos);
            if (found == std::string::npos)
                break;
            out += ' ';
            pos = found + word_prefix.size();
        }
    }
    if (!out.empty() && out.front() == ' ')
        out.erase(0, 1);
    return out;
}

/// Joins token ids as "tok<N>" words separated by one space.
inline std::string detokenize(const std::vector<std::uint64_t>& ids)
{
    std::string out;
    for (const std::uint64_t id : ids) {
        if (!out.empty())
            out += ' ';
        out += "tok" + std::to_string(id);
    }
    return out;
}

/// One message of a conversation.
struct chat_message {
    std::string role;
    std::string content;
};

/// The emulated chat template: "<|role|>\ncontent\n" per message, then "<|assistant|>\n" when a
/// generation prompt is asked for.
inline std::string chat_template(const std::vector<chat_message>& conversation, bool add_generation_prompt)
{
    std::string out;
    for (const chat_message& message : conversation)
        out += "<|" + message.role + "|>\n" + message.content + "\n";
    if (add_generation_prompt)
        out += "<|assistant|>\n";
    return out;
}

} // namespace takeoff::emulator
