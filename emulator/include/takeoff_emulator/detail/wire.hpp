#pragma once
// takeoff::emulator::detail wire helpers — the bytes of HTTP/1.1 response framing that the
// exchange writes itself (status line and fields, interim 1xx responses, chunk-size lines) and the
// Connection check that decides keep-alive.

#include <takeoff/core/config.hpp>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/rfc7230.hpp>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace takeoff::emulator {

namespace beast = boost::beast;
namespace http = boost::beast::http;

namespace detail {

// Serializes a response start line and fields (nothing of the body).
template <class Fields>
std::string serialize_header(const http::header<false, Fields>& header)
{
    std::string out;
    out.reserve(256);
    out += "HTTP/";
    out += static_cast<char>('0' + header.version() / 10);
    out += '.';
    out += static_cast<char>('0' + header.version() % 10);
    out += ' ';
    out += std::to_string(header.result_int());
    out += ' ';
    const auto reason = header.reason();
    out.append(reason.data(), reason.size());
    out += "\r\n";
    for (const auto& field : header) {
        const auto name = field.name_string();
        const auto value = field.value();
        out.append(name.data(), name.size());
        out += ": ";
        out.append(value.data(), value.size());
        out += "\r\n";
    }
    out += "\r\n";
    return out;
}

// Rejects what is not an interim response: only 1xx, and not 101 (a protocol switch ends HTTP/1.1
// on the connection, so it is no interim answer to a request).
inline void check_interim_status(unsigned code)
{
    if (code < 100 || code > 199 || code == 101)
        throw std::invalid_argument("takeoff-emulator: " + std::to_string(code) +
                                    " is not an interim status (1xx other than 101)");
}

// The reason phrase of the 1xx statuses in use; others get an empty one, which RFC 9112 allows.
inline std::string_view interim_reason(unsigned code) noexcept
{
    switch (code) {
    case 100: return "Continue";
    case 102: return "Processing";
    case 103: return "Early Hints";
    default: return {};
    }
}

// `HTTP/1.1 1xx Reason\r\n`, the fields as given, then the empty line.
inline std::string serialize_interim(unsigned code, const std::vector<std::pair<std::string, std::string>>& fields)
{
    std::string out = "HTTP/1.1 " + std::to_string(code) + ' ';
    out += interim_reason(code);
    out += "\r\n";
    for (const auto& [name, value] : fields) {
        out += name;
        out += ": ";
        out += value;
        out += "\r\n";
    }
    out += "\r\n";
    return out;
}

inline std::string chunk_size_line(std::size_t size)
{
    static constexpr char hex[] = "0123456789abcdef";
    std::string digits;
    do {
        digits.insert(digits.begin(), hex[size & 0xf]);
        size >>= 4;
    } while (size != 0);
    digits += "\r\n";
    return digits;
}

template <class Fields>
bool says_connection_close(const http::header<false, Fields>& header)
{
    for (const auto& token : http::token_list{header[http::field::connection]})
        if (beast::iequals(token, "close"))
            return true;
    return false;
}

} // namespace detail

} // namespace takeoff::emulator
