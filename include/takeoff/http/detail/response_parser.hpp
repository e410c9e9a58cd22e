#pragma once
// The transport's HTTP/1.1 response parser, writing into an http::response of ours: the fields go
// into one flat http::fields and the body either into the response's string or into a caller's
// buffer (for body_stream, which reads in constant memory). Sans-io.
//
// Two ways through a response:
// - the common one, parsed here (parse_simple_head): the whole head is in the buffer, HTTP/1.0 or
//   1.1, a final status, plain "name: value" lines, and the body's length is known (Content-Length,
//   or none by the rules of RFC 9112 section 6.3). The body is then copied as it comes.
// - everything else goes to Beast's basic_parser, from the first byte: chunked or close-delimited
//   bodies, 1xx, obsolete line folding, bare LF, duplicate Content-Length, a head larger than the
//   limit, and every malformed input, so that errors are Beast's, unchanged.
// The first is a strict subset of what Beast accepts and gives the same result for it (tested by
// parsing the same responses both ways). It costs a fraction of Beast's per-field work, which was
// the largest single share of the client's CPU time on small keep-alive requests (bench/http_rps).

#include <takeoff/core/config.hpp>
#include <takeoff/http/detail/syntax.hpp>
#include <takeoff/http/message.hpp>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/optional/optional.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace takeoff::http::detail {

/// What parse_simple_head found besides the status and the fields.
struct simple_head {
    std::size_t size = 0;                       // bytes of the head, the empty line included
    std::optional<std::uint64_t> content_length;
    bool keep_alive = false;
};

/// Room for a typical response head (nginx sends 5 to 8 fields in about 150 bytes): one allocation
/// for each of the two arrays of http::fields.
inline void reserve_typical_head(fields& f) { f.reserve(12, 384); }

enum class simple_head_result {
    parsed,      // out and head are filled
    incomplete,  // the head has not fully arrived (and is within the limit)
    unsupported, // leave it to the general parser; out is left empty
};

namespace simple_head_detail {
inline bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// The end of the run of field-value characters (field_value_chars) starting at p, which must be
// followed by a character outside that set before `end` (the line's CR). Eight bytes at a time
// while none of them is a control character or DEL (obs-text passes), then byte by byte.
inline const char* skip_field_value(const char* p, const char* end) noexcept {
    while (end - p >= 8) {
        const std::uint64_t word = swar::load(p);
        if (swar::has_less(word, 0x20) || swar::has_byte(word, 0x7f)) break;
        p += 8;
    }
    while (field_value_chars[static_cast<unsigned char>(*p)]) ++p;
    return p;
}
inline bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }

// The tokens of a Connection value that matter here; false when the list looks unusual.
inline bool scan_connection(std::string_view value, bool& close, bool& keep_alive) noexcept {
    if (iequals(value, "keep-alive")) { // what nearly every server sends
        keep_alive = true;
        return true;
    }
    while (!value.empty()) {
        const std::size_t comma = value.find(',');
        const std::string_view item = trim_ows(value.substr(0, comma));
        if (!item.empty() && !is_token(item)) return false;
        if (iequals(item, "close")) close = true;
        if (iequals(item, "keep-alive")) keep_alive = true;
        if (iequals(item, "upgrade")) return false; // Beast's rules for upgrades apply
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
    return true;
}
} // namespace simple_head_detail

/// Parses a response head that is entirely in `in` when it is of the common kind described in
/// the file comment; a head that has not fully arrived is `incomplete` only while every line
/// seen so far is of that kind. `skip_body`: the request was HEAD, so no body follows whatever the head says.
inline simple_head_result parse_simple_head(std::string_view in, std::size_t header_limit, bool skip_body,
                                            response& out, simple_head& head) {
    using namespace simple_head_detail;
    const char* p = in.data();
    const char* const window_end = in.data() + std::min(in.size(), header_limit);

    // Either way the caller starts again from the first byte, with an empty response.
    auto give_up = [&out](simple_head_result why) {
        out.status = 0;
        out.headers.clear();
        return why;
    };
    auto unsupported = [&give_up] { return give_up(simple_head_result::unsupported); };
    // The next line, checked to end with CRLF: line_end is set to its CR. A line that has not
    // fully arrived is `incomplete`, unless the head would exceed the limit (Beast reports that).
    const char* line_end = nullptr;
    auto next_line = [&]() -> std::optional<simple_head_result> {
        const void* lf = std::memchr(p, '\n', static_cast<std::size_t>(window_end - p));
        if (lf == nullptr) return give_up(in.size() < header_limit ? simple_head_result::incomplete : simple_head_result::unsupported);
        line_end = static_cast<const char*>(lf) - 1;
        if (line_end < p || *line_end != '\r') return unsupported(); // a bare LF
        return std::nullopt;
    };

    // status-line = "HTTP/1.x" SP 3DIGIT SP reason CRLF, with a final (2xx to 5xx) status.
    if (auto r = next_line()) return *r;
    if (line_end - p < 13 || std::memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') || p[8] != ' ' ||
        !is_digit(p[9]) || !is_digit(p[10]) || !is_digit(p[11]) || p[12] != ' ')
        return unsupported();
    const bool http11 = p[7] == '1';
    const unsigned status = static_cast<unsigned>((p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0'));
    if (status < 200 || status > 599) return unsupported();
    p = skip_field_value(p + 13, line_end); // the reason; stops at the CR at the latest
    if (p != line_end) return unsupported();
    p += 2;
    out.status = status;
    reserve_typical_head(out.headers);

    bool close = false, keep_alive_token = false;
    std::optional<std::uint64_t> content_length;
    // field-line = field-name ":" OWS field-value OWS CRLF, until the empty line.
    for (;;) {
        if (auto r = next_line()) return *r;
        if (line_end == p) break;
        const char* name = p;
        while (token_chars[static_cast<unsigned char>(*p)]) ++p;
        if (p == name || *p != ':') return unsupported(); // also a line folded onto the previous one
        const std::string_view field_name(name, static_cast<std::size_t>(p - name));
        ++p;
        while (is_ows(*p)) ++p;
        const char* value = p;
        p = skip_field_value(p, line_end);
        if (p != line_end) return unsupported(); // a control character
        const char* value_end = p;
        while (value_end > value && is_ows(value_end[-1])) --value_end;
        const std::string_view field_value(value, static_cast<std::size_t>(value_end - value));
        p += 2;

        // The fields that decide the framing: by length first, as most fields are none of them.
        const char first = ascii_lower(field_name.front());
        switch (first == 'c' || first == 't' || first == 'p' ? field_name.size() : 0) {
        case 14: // Content-Length
            if (iequals(field_name, "content-length")) {
                if (content_length || field_value.empty() || field_value.size() > 18) return unsupported();
                std::uint64_t n = 0;
                for (const char c : field_value) {
                    if (!is_digit(c)) return unsupported();
                    n = n * 10 + static_cast<std::uint64_t>(c - '0');
                }
                content_length = n;
            }
            break;
        case 17: // Transfer-Encoding
            if (iequals(field_name, "transfer-encoding")) return unsupported();
            break;
        case 10: // Connection
        case 16: // Proxy-Connection
            if ((iequals(field_name, "connection") || iequals(field_name, "proxy-connection")) &&
                !scan_connection(field_value, close, keep_alive_token))
                return unsupported();
            break;
        default: break;
        }
        out.headers.append(field_name, field_value);
    }
    p += 2;

    // RFC 9112 section 6.3: no body after HEAD, 204 and 304; a length otherwise, or the body runs
    // to the end of the connection (Beast's case).
    const bool no_body = skip_body || status == 204 || status == 304;
    if (!no_body && !content_length) return unsupported();
    if (!http11 && close && keep_alive_token) return unsupported(); // contradictory: Beast's reading
    head.size = static_cast<std::size_t>(p - in.data());
    head.content_length = content_length;
    if (no_body) head.content_length.reset();
    head.keep_alive = http11 ? !close : keep_alive_token;
    return simple_head_result::parsed;
}

/// What find_interim_head saw at the start of the bytes read.
enum class interim_head_result {
    none,       // the next response is not an interim one (or not HTTP: the parser will say)
    incomplete, // it may be an interim one that has not fully arrived
    complete,   // an interim (1xx, not 101) head of `size` bytes, empty line included
    invalid,    // 101 Switching Protocols (never asked for), or an interim head over the limit
};

/// Recognises an interim response (RFC 9110 section 15.2: 100 Continue, 103 Early Hints, ...) at
/// the start of `in`, which a client reads and drops before the final response. Its head must end
/// with CRLF CRLF within `limit` bytes.
inline interim_head_result find_interim_head(std::string_view in, std::size_t limit, std::size_t& size) noexcept {
    // "HTTP/1.x 1dd " at least, before anything is decided.
    constexpr std::string_view prefix = "HTTP/1.";
    const std::size_t known = std::min(in.size(), prefix.size());
    if (in.substr(0, known) != prefix.substr(0, known)) return interim_head_result::none;
    if (in.size() > 7 && in[7] != '0' && in[7] != '1') return interim_head_result::none;
    if (in.size() > 8 && in[8] != ' ') return interim_head_result::none;
    if (in.size() > 9 && in[9] != '1') return interim_head_result::none;
    if (in.size() < 12) return interim_head_result::incomplete;
    if (in[10] < '0' || in[10] > '9' || in[11] < '0' || in[11] > '9') return interim_head_result::none;
    if (in[10] == '0' && in[11] == '1') return interim_head_result::invalid;
    const std::size_t end = in.substr(0, limit).find("\r\n\r\n");
    if (end == std::string_view::npos)
        return in.size() < limit ? interim_head_result::incomplete : interim_head_result::invalid;
    size = end + 4;
    return interim_head_result::complete;
}


/// The parser the transport feeds (connection::feed). Its interface is the part of
/// beast::http::basic_parser the transport uses; it hides basic_parser's functions of the same
/// names so that both ways through a response (file comment) look the same.
class response_parser final : public boost::beast::http::basic_parser<false> {
    using base = boost::beast::http::basic_parser<false>;
    using string_view = boost::beast::string_view;

public:
    /// Where the body goes: into the response's string (the default), or into the buffer given
    /// to set_buffer(), completing with beast::http::error::need_buffer when that is full.
    enum class body_mode { string, buffer };

    /// Parses into target, which must outlive the parser (it is not moved with it).
    explicit response_parser(response& target) noexcept : target_(&target) {}

    response_parser(const response_parser&) = delete;
    response_parser& operator=(const response_parser&) = delete;

    response& target() noexcept { return *target_; }

    /// Sends the body into caller buffers from now on (see set_buffer).
    void use_buffers() noexcept { mode_ = body_mode::buffer; }

    /// The buffer the next body bytes go into (buffer mode).
    void set_buffer(boost::asio::mutable_buffer b) noexcept {
        out_ = static_cast<char*>(b.data());
        room_ = b.size();
    }
    /// Room left in that buffer.
    std::size_t buffer_room() const noexcept { return room_; }

    /// True when the simple way (file comment) took the response.
    bool simple() const noexcept { return state_ == state::simple_body || state_ == state::simple_done; }

    // basic_parser's interface, for both ways.

    void header_limit(std::uint32_t v) {
        header_limit_ = v;
        base::header_limit(v);
    }
    void skip(bool v) {
        skip_ = v;
        base::skip(v);
    }

    /// As basic_parser::put: bytes used, need_more when the input ends inside the head.
    std::size_t put(boost::asio::const_buffer input, boost::system::error_code& ec) {
        ec = {};
        const std::string_view in(static_cast<const char*>(input.data()), input.size());
        if (!in.empty()) got_some_ = true;
        switch (state_) {
        case state::start: {
            simple_head head;
            switch (parse_simple_head(in, header_limit_, skip_, *target_, head)) {
            case simple_head_result::incomplete: ec = boost::beast::http::error::need_more; return 0;
            case simple_head_result::unsupported: state_ = state::general; return base::put(input, ec);
            case simple_head_result::parsed: break;
            }
            keep_alive_ = head.keep_alive;
            content_length_ = head.content_length;
            remaining_ = head.content_length.value_or(0);
            state_ = remaining_ > 0 ? state::simple_body : state::simple_done;
            reserve_body(remaining_);
            return head.size;
        }
        case state::simple_body: {
            const std::size_t n = put_body(in.substr(0, static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, in.size()))), ec);
            remaining_ -= n;
            if (remaining_ == 0) state_ = state::simple_done;
            return n;
        }
        case state::simple_done: return 0;
        case state::general: break;
        }
        return base::put(input, ec);
    }

    /// As basic_parser::put_eof: the end of the input (the connection closed).
    void put_eof(boost::system::error_code& ec) {
        if (state_ == state::general) return base::put_eof(ec);
        ec = state_ == state::simple_done ? boost::system::error_code{}
                                          : make_error_code(boost::beast::http::error::partial_message);
    }

    bool got_some() const noexcept { return state_ == state::general ? base::got_some() : got_some_; }
    bool is_header_done() const noexcept { return state_ == state::general ? base::is_header_done() : simple(); }
    bool is_done() const noexcept { return state_ == state::general ? base::is_done() : state_ == state::simple_done; }
    bool keep_alive() const { return state_ == state::general ? base::keep_alive() : keep_alive_; }
    /// The Content-Length of a response that has a body of that length (not after HEAD, 204, 304).
    boost::optional<std::uint64_t> content_length() const {
        if (state_ == state::general) return base::content_length();
        return content_length_ ? boost::optional<std::uint64_t>(*content_length_) : boost::none;
    }

private:
    enum class state { start, simple_body, simple_done, general };

    void on_request_impl(boost::beast::http::verb, string_view, string_view, int, boost::system::error_code&) override {}

    void on_response_impl(int code, string_view, int, boost::system::error_code&) override {
        target_->status = static_cast<unsigned>(code);
        reserve_typical_head(target_->headers);
    }

    void on_field_impl(boost::beast::http::field, string_view name, string_view value,
                       boost::system::error_code&) override {
        target_->headers.append(std::string_view(name.data(), name.size()), std::string_view(value.data(), value.size()));
    }

    void on_header_impl(boost::system::error_code&) override {}

    void on_body_init_impl(const boost::optional<std::uint64_t>& content_length, boost::system::error_code&) override {
        if (content_length) reserve_body(*content_length);
    }

    std::size_t on_body_impl(string_view body, boost::system::error_code& ec) override {
        return put_body(std::string_view(body.data(), body.size()), ec);
    }

    void on_chunk_header_impl(std::uint64_t, string_view, boost::system::error_code&) override {}

    std::size_t on_chunk_body_impl(std::uint64_t, string_view body, boost::system::error_code& ec) override {
        return put_body(std::string_view(body.data(), body.size()), ec);
    }

    void on_finish_impl(boost::system::error_code&) override {}

    // Room in the response's string for an announced body (the caller checked it against its
    // limit before the body is read: client.hpp); a larger one grows as it arrives.
    void reserve_body(std::uint64_t length) {
        if (mode_ == body_mode::string && length > 0 && length <= max_reserve)
            target_->body.reserve(static_cast<std::size_t>(length));
    }

    std::size_t put_body(std::string_view body, boost::system::error_code& ec) {
        if (mode_ == body_mode::string) {
            target_->body.append(body);
            return body.size();
        }
        // As beast::http::buffer_body: need_buffer when not everything fitted.
        const std::size_t n = std::min(room_, body.size());
        if (n > 0) std::memcpy(out_, body.data(), n);
        out_ += n;
        room_ -= n;
        if (n < body.size()) ec = boost::beast::http::error::need_buffer;
        return n;
    }

    // Bodies announced larger than this grow as they arrive instead of being reserved up front.
    static constexpr std::uint64_t max_reserve = 1024 * 1024;

    response* target_;
    body_mode mode_ = body_mode::string;
    char* out_ = nullptr;
    std::size_t room_ = 0;
    state state_ = state::start;
    std::uint32_t header_limit_ = 8192; // basic_parser's default
    bool skip_ = false;
    bool got_some_ = false;
    bool keep_alive_ = false;
    std::optional<std::uint64_t> content_length_;
    std::uint64_t remaining_ = 0;
};

} // namespace takeoff::http::detail
