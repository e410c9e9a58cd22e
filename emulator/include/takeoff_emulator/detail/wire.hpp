#pragma once
// takeoff::emulator::detail wire helpers — the bytes of HTTP/1.1 response framing that the
// exchange writes itself (status line and fields, chunk-size lines) and the Connection check that
// decides keep-alive.

#include <takeoff/core/config.hpp>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/rfc7230.hpp>

#include <cstddef>
#include <string>

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
