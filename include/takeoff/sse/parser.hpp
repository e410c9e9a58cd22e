#pragma once
// The sans-io Server-Sent Events parser: text/event-stream bytes in, one event at a time out.
//
// It follows the WHATWG HTML rules for interpreting an event stream exactly (docs/sse.md lists them
// with the extensions and the size cap). It is pull-based so that a transport can hand out one
// event per async_next() without queueing: parse() stops right after the line that completes an
// event. Memory is bounded by the per-event cap, and buffers are reused, so a long stream does not
// allocate once they have grown to the size of its largest event.

#include <takeoff/core/config.hpp>
#include <takeoff/core/error.hpp>
#include <takeoff/sse/event.hpp>

#include <boost/system/error_code.hpp>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

// SSE2 is part of every x86-64 target; elsewhere the scan falls back to memchr. Defining
// TAKEOFF_SSE_NO_SIMD forces the fallback (the tests build it that way too).
#if !defined(TAKEOFF_SSE_NO_SIMD) && (defined(__SSE2__) || defined(_M_X64))
#define TAKEOFF_SSE_HAS_SSE2 1
#include <emmintrin.h>
#else
#define TAKEOFF_SSE_HAS_SSE2 0
#endif

namespace takeoff::sse {

/// The per-event cap a parser uses unless parser_options says otherwise: 1 MiB.
inline constexpr std::size_t default_max_event_size = std::size_t{1} << 20;

/// Settings of a parser.
struct parser_options {
    /// The most bytes one event may hold: its data (the values joined by LF, as dispatched), its
    /// type and its id value are each checked against it. A stream that exceeds it gets
    /// errc::event_too_large instead of unbounded buffering. SIZE_MAX disables the cap.
    std::size_t max_event_size = default_max_event_size;
};

namespace detail {

#if TAKEOFF_SSE_HAS_SSE2
// Bit i is set when q[i] is CR or LF.
inline unsigned line_end_mask(const char* q) noexcept {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
    const __m128i hits = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\n')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\r')));
    return static_cast<unsigned>(_mm_movemask_epi8(hits));
}

// find_line_end past the first 16 bytes, for lines that are longer: out of line to keep the caller small.
inline const char* find_line_end_long(const char* p, const char* end) noexcept {
    const __m128i lf = _mm_set1_epi8('\n');
    const __m128i cr = _mm_set1_epi8('\r');
    const auto hits = [&](const char* q) noexcept {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
        return _mm_or_si128(_mm_cmpeq_epi8(v, lf), _mm_cmpeq_epi8(v, cr));
    };
    const auto mask = [](__m128i h) noexcept { return static_cast<unsigned>(_mm_movemask_epi8(h)); };
    // One test per 64 bytes while no line end is in sight.
    while (end - p >= 64) {
        const __m128i a = hits(p), b = hits(p + 16), c = hits(p + 32), d = hits(p + 48);
        if (mask(_mm_or_si128(_mm_or_si128(a, b), _mm_or_si128(c, d))) != 0) {
            if (const unsigned m = mask(a)) return p + std::countr_zero(m);
            if (const unsigned m = mask(b)) return p + 16 + std::countr_zero(m);
            if (const unsigned m = mask(c)) return p + 32 + std::countr_zero(m);
            return p + 48 + std::countr_zero(mask(d));
        }
        p += 64;
    }
    while (end - p >= 16) {
        if (const unsigned m = mask(hits(p))) return p + std::countr_zero(m);
        p += 16;
    }
    if (p == end) return end;
    // The last 1..15 bytes: one load that ends at `end` (the caller checked that the input holds at
    // least 16 bytes before p), with the bytes already scanned shifted out.
    const char* q = end - 16;
    const unsigned m = mask(hits(q)) >> static_cast<unsigned>(p - q);
    return m != 0 ? p + std::countr_zero(m) : end;
}
#endif

/// The first CR or LF in [p, end), or end. Line ends are rare in large events and frequent in
/// small ones, so the scan tests 16 bytes at a time rather than branching on every byte.
inline const char* find_line_end(const char* p, const char* end) noexcept {
#if TAKEOFF_SSE_HAS_SSE2
    if (end - p >= 16) {
        // Most lines of a token stream end within their first 16 bytes or soon after.
        if (const unsigned m = line_end_mask(p)) return p + std::countr_zero(m);
        if (end - p >= 32) {
            if (const unsigned m = line_end_mask(p + 16)) return p + 16 + std::countr_zero(m);
            return find_line_end_long(p + 32, end);
        }
        return find_line_end_long(p + 16, end);
    }
    for (; p != end; ++p) {
        if (*p == '\n' || *p == '\r') return p;
    }
    return end;
#else
    // Two memchr passes, the CR one bounded by the LF found, so each byte is read at most twice.
    if (p == end) return end;
    const auto* lf = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
    const char* limit = lf != nullptr ? lf : end;
    const auto* cr = static_cast<const char*>(std::memchr(p, '\r', static_cast<std::size_t>(limit - p)));
    return cr != nullptr ? cr : limit;
#endif
}

} // namespace detail

/// A sans-io text/event-stream parser (WHATWG rules). Feed it the response body in whatever
/// pieces the transport reads; each parse() consumes input up to and including the line that
/// completes the next event, or all of it. A single parser reads one stream after another:
/// finish() ends a stream (a reconnect then starts the next) and keeps last_event_id() and retry().
///
///     std::string_view chunk = ...;          // bytes just read
///     boost::system::error_code ec;
///     while (auto ev = p.next(chunk, ec)) use(ev->type, ev->data, ev->id);
///     if (ec) ...;                           // errc::event_too_large; parse again to skip past it
class parser {
public:
    explicit parser(parser_options options = {}) noexcept : options_(options) {}

    /// Consumes bytes of `input` up to and including the line that completes the next event (then
    /// has_event() is true), or all of them; returns how many. The bytes not consumed must be
    /// passed again, first, on the next call. ec is cleared, or set to errc::event_too_large when
    /// the event being read exceeds the cap: the bytes read so far are consumed, that event is
    /// dropped, and the next calls skip the rest of it and carry on with the following one.
    /// Events dispatched by an earlier call are released first (their views become invalid).
    /// Never throws except std::bad_alloc when a buffer has to grow.
    std::size_t parse(std::string_view input, boost::system::error_code& ec) {
        ec = {};
        if (has_event_) release_event();
        const char* const begin = input.data();
        const char* const end = begin + input.size();
        const char* p = begin;
        if (p == end) return 0;
        if (bom_state_ != bom_settled) [[unlikely]] {
            p = skip_bom(p, end);
            if (p == end) return input.size();
        }
        if (cr_pending_) {
            // The previous input ended with a CR; an LF here belongs to the same line end.
            cr_pending_ = false;
            if (*p == '\n' && ++p == end) return input.size();
        }
        while (p != end) {
            const char* eol;
            if (state_ == line_state::start && (*p == '\n' || *p == '\r')) {
                // An empty line, as after every event: no scan needed.
                eol = p;
                dispatch();
            } else {
                eol = detail::find_line_end(p, end);
                if (eol == end) {
                    line_part(p, end);
                    p = end;
                    break;
                }
                if (state_ == line_state::start) [[likely]] {
                    whole_line(p, eol);
                } else {
                    line_part(p, eol);
                    end_line();
                }
            }
            p = eol + 1;
            if (*eol == '\r') {
                if (p == end) {
                    cr_pending_ = true;
                } else if (*p == '\n') {
                    ++p;
                }
            }
            if (has_event_ || overflow_) break;
        }
        if (overflow_) [[unlikely]] {
            overflow_ = false;
            ec = errc::event_too_large;
        }
        return static_cast<std::size_t>(p - begin);
    }

    /// parse() that also removes the consumed bytes from `input` and returns the event, if one
    /// was completed. Loop on it until it returns nullopt, then check ec.
    std::optional<event> next(std::string_view& input, boost::system::error_code& ec) {
        input.remove_prefix(parse(input, ec));
        if (has_event_) return event_;
        return std::nullopt;
    }

    /// True when the last parse() completed an event; current() is that event.
    bool has_event() const noexcept { return has_event_; }

    /// True when part of an event that has not been dispatched has been read: a `data` line
    /// without the empty line that ends its event, or a field line (not a comment) without its
    /// line end. At the end of a stream that is an event cut off (finish() would discard it).
    bool in_event() const noexcept {
        return (!has_event_ && !data_.empty()) || state_ == line_state::name || state_ == line_state::value_start ||
               state_ == line_state::value;
    }

    /// The event the last parse() completed; all views empty when has_event() is false.
    const event& current() const noexcept { return has_event_ ? event_ : no_event_; }

    /// Ends the current stream: the incomplete trailing event, if any, is discarded (an `id` line
    /// in it is not adopted) as WHATWG says for end of stream. The parser is then ready for a new
    /// stream, whose leading BOM it drops again; last_event_id(), retry() and comment_count()
    /// carry over, as an EventSource keeps them across reconnects.
    void finish() noexcept {
        clear_event_state();
        last_event_pending_ = false;
        bom_state_ = 0;
    }

    /// Forgets everything, as a newly made parser (the options are kept).
    void reset() noexcept {
        finish();
        last_event_id_.clear();
        retry_.reset();
        comments_ = 0;
    }

    /// The last event ID string: set when an event ends (at its empty line, whether or not it is
    /// dispatched) from the latest `id` field, kept across events and streams, emptied by an
    /// empty `id`. A transport sends it as Last-Event-ID when it reconnects, if not empty.
    std::string_view last_event_id() const noexcept { return last_event_id_; }

    /// The reconnection time in milliseconds from the last valid `retry` field (all ASCII digits,
    /// fitting 64 bits), or nullopt if none came.
    std::optional<std::uint64_t> retry() const noexcept { return retry_; }

    /// Extension: how many comment lines (starting with ':') were read, keep-alives included; a
    /// comment counts from its first byte. WHATWG ignores comments; a transport may use the count
    /// to tell a quiet but alive stream from a stalled one.
    std::uint64_t comment_count() const noexcept { return comments_; }

    /// The options the parser was made with.
    const parser_options& options() const noexcept { return options_; }

private:
    enum class line_state : std::uint8_t {
        start,       // no byte of the current line seen yet
        name,        // in the field name; name_ holds its first bytes
        value_start, // right after the colon: one space there is dropped
        value,       // in the value of field_
        skip,        // a comment or a field that is ignored: bytes are dropped up to the line end
    };
    enum class field : std::uint8_t { data, event, id, retry, ignored };
    enum class retry_state : std::uint8_t { empty, digits, invalid };

    // The longest field name that means something ("event", "retry"); longer names are ignored
    // without being buffered.
    static constexpr std::size_t max_name = 5;
    static constexpr std::uint8_t bom_settled = 3;
    static constexpr event no_event_{};

    // A whole line lies in the input and none of it came before: the hot path.
    void whole_line(const char* b, const char* e) {
        const auto n = static_cast<std::size_t>(e - b);
        if (n == 0) {
            dispatch();
            return;
        }
        if (n >= 5 && std::memcmp(b, "data:", 5) == 0 && !discarding_) [[likely]] {
            b += 5;
            if (b != e && *b == ' ') ++b;
            const auto size = static_cast<std::size_t>(e - b);
            if (!fits(data_, size)) [[unlikely]] {
                overflow();
                return;
            }
            data_.append(b, size);
            data_.push_back('\n');
            return;
        }
        line_part(b, e);
        end_line();
    }

    // Bytes [b, e) of the current line, which may go on in the next input.
    void line_part(const char* b, const char* e) {
        switch (state_) {
        case line_state::start:
            if (b == e) return;
            if (*b == ':') {
                ++comments_;
                state_ = line_state::skip;
                return;
            }
            name_size_ = 0;
            state_ = line_state::name;
            [[fallthrough]];
        case line_state::name: {
            // Look for the colon only as far as a meaningful name can reach.
            const std::size_t room = max_name - name_size_ + 1;
            const std::size_t window = std::min(static_cast<std::size_t>(e - b), room);
            std::size_t colon = 0;
            while (colon != window && b[colon] != ':') ++colon;
            if (colon == window) {
                if (window == room) {
                    state_ = line_state::skip; // a longer name: an unknown field
                } else {
                    std::memcpy(name_ + name_size_, b, window);
                    name_size_ += window;
                }
                return;
            }
            std::memcpy(name_ + name_size_, b, colon);
            name_size_ += colon;
            start_field();
            b += colon + 1;
            state_ = line_state::value_start;
            [[fallthrough]];
        }
        case line_state::value_start:
            if (b == e) return;
            if (*b == ' ') ++b;
            state_ = line_state::value;
            [[fallthrough]];
        case line_state::value:
            append_value(b, e);
            return;
        case line_state::skip:
            return;
        }
    }

    // The current line has ended (its bytes were given to line_part).
    void end_line() {
        switch (state_) {
        case line_state::start:
            dispatch();
            break;
        case line_state::name:
            // No colon: the whole line is the field name and the value is empty.
            start_field();
            end_value();
            break;
        case line_state::value_start:
        case line_state::value:
            end_value();
            break;
        case line_state::skip:
            break;
        }
        state_ = line_state::start;
    }

    void start_field() noexcept {
        field_ = discarding_ ? field::ignored : classify(std::string_view(name_, name_size_));
        switch (field_) {
        case field::event:
            type_.clear();
            break;
        case field::id:
            id_value_.clear();
            break;
        case field::retry:
            retry_value_ = 0;
            retry_state_ = retry_state::empty;
            break;
        case field::data:
            // The LF after the previous value becomes part of the event even if this value is empty.
            if (!fits(data_, 0)) overflow();
            break;
        case field::ignored:
            break;
        }
    }

    static field classify(std::string_view name) noexcept {
        // Names are case-sensitive: "Data" is an unknown field.
        if (name == "data") return field::data;
        if (name == "event") return field::event;
        if (name == "id") return field::id;
        if (name == "retry") return field::retry;
        return field::ignored;
    }

    void append_value(const char* b, const char* e) {
        const auto n = static_cast<std::size_t>(e - b);
        switch (field_) {
        case field::data:
            if (!fits(data_, n)) return overflow();
            data_.append(b, n);
            break;
        case field::event:
            if (!fits(type_, n)) return overflow();
            type_.append(b, n);
            break;
        case field::id:
            if (!fits(id_value_, n)) return overflow();
            id_value_.append(b, n);
            break;
        case field::retry:
            add_retry_digits(b, e);
            break;
        case field::ignored:
            break;
        }
    }

    void end_value() {
        switch (field_) {
        case field::data:
            data_.push_back('\n');
            break;
        case field::id:
            // An id containing NUL is ignored; otherwise it waits for the end of the event.
            if (id_value_.find('\0') == std::string::npos) {
                pending_event_id_.swap(id_value_);
                last_event_pending_ = true;
            }
            break;
        case field::retry:
            if (retry_state_ == retry_state::digits) retry_ = retry_value_;
            break;
        case field::event:
        case field::ignored:
            break;
        }
    }

    void add_retry_digits(const char* b, const char* e) noexcept {
        constexpr auto max = std::numeric_limits<std::uint64_t>::max();
        if (retry_state_ == retry_state::invalid) return;
        for (; b != e; ++b) {
            const unsigned digit = static_cast<unsigned char>(*b) - unsigned{'0'};
            if (digit > 9 || retry_value_ > (max - digit) / 10) {
                retry_state_ = retry_state::invalid; // not all digits, or too large to mean anything
                return;
            }
            retry_value_ = retry_value_ * 10 + digit;
            retry_state_ = retry_state::digits;
        }
    }

    // The data buffer holds one LF after each value, so "fits" also counts the LFs between values:
    // an event whose dispatched data is exactly max_event_size bytes passes.
    bool fits(const std::string& buffer, std::size_t n) const noexcept {
        const std::size_t cap = options_.max_event_size;
        return n <= cap && buffer.size() <= cap - n;
    }

    void overflow() noexcept {
        overflow_ = true;
        discarding_ = true;
        field_ = field::ignored;
        data_.clear();
        type_.clear();
        id_value_.clear();
        last_event_pending_ = false;
    }

    // An empty line.
    void dispatch() noexcept {
        if (last_event_pending_) {
            last_event_id_.swap(pending_event_id_);
            last_event_pending_ = false;
        }
        if (discarding_) {
            discarding_ = false;
            data_.clear();
            type_.clear();
            return;
        }
        if (data_.empty()) {
            type_.clear();
            return;
        }
        event_.type = type_.empty() ? std::string_view("message") : std::string_view(type_);
        event_.data = std::string_view(data_.data(), data_.size() - 1);
        event_.id = last_event_id_;
        has_event_ = true;
    }

    // event_ is left as it is: current() stops showing it once has_event_ is false.
    void release_event() noexcept {
        has_event_ = false;
        data_.clear();
        type_.clear();
    }

    // Drops one leading UTF-8 BOM, which may arrive a byte at a time.
    const char* skip_bom(const char* p, const char* end) {
        static constexpr char bom[3] = {'\xEF', '\xBB', '\xBF'};
        while (p != end && bom_state_ != bom_settled && *p == bom[bom_state_]) {
            ++p;
            ++bom_state_;
        }
        if (bom_state_ == bom_settled || p == end) return p;
        // Not a BOM after all: the bytes held back are the start of the first line.
        const std::uint8_t held = bom_state_;
        bom_state_ = bom_settled;
        line_part(bom, bom + held);
        return p;
    }

    void clear_event_state() noexcept {
        release_event();
        id_value_.clear();
        state_ = line_state::start;
        field_ = field::ignored;
        discarding_ = false;
        overflow_ = false;
        cr_pending_ = false;
        name_size_ = 0;
    }

    parser_options options_;
    std::string data_;             // the data buffer: each value followed by LF
    std::string type_;             // the event type buffer
    std::string id_value_;         // the value of the `id` line being read
    std::string pending_event_id_; // the last event ID buffer, when it differs from last_event_id_
    std::string last_event_id_;    // the last event ID string
    event event_;
    std::optional<std::uint64_t> retry_;
    std::uint64_t retry_value_ = 0;
    std::uint64_t comments_ = 0;
    std::size_t name_size_ = 0;
    char name_[max_name] = {};
    line_state state_ = line_state::start;
    field field_ = field::ignored;
    retry_state retry_state_ = retry_state::empty;
    std::uint8_t bom_state_ = 0; // BOM bytes matched so far, or bom_settled
    bool last_event_pending_ = false;
    bool has_event_ = false;
    bool cr_pending_ = false;  // the last input ended with a CR: skip an LF that comes next
    bool discarding_ = false;  // inside an event that exceeded the cap, up to its empty line
    bool overflow_ = false;
};

} // namespace takeoff::sse
