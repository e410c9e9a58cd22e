#pragma once
// Tolerant JSON mapping for structs described with BOOST_DESCRIBE_STRUCT.
//
// Boost 1.81's own described-struct conversion is strict (every key present, no extra keys), which
// breaks on any server that adds a field. The rules here:
//   - unknown keys are ignored;
//   - a std::optional member may be absent or null (-> nullopt);
//   - any other member is required: absence is errc::missing_field, naming the field's path;
//   - a value of the wrong JSON type is errc::invalid_field_type, naming the path and the types;
//   - on output, empty optionals are omitted (some servers reject explicit nulls).
// Supported member types: bool, integers, floating point, std::string, std::optional, std::vector,
// string-keyed std::map / std::unordered_map, described enums (as their names), described structs,
// takeoff::secret (a JSON string; to_json writes the plain value, as a request body or a token file
// needs it), boost::json::value / object / array, and any type with its own Boost.JSON conversion.
//
// from_json/to_json are the entry points. To make boost::json::value_to / value_from use the same
// rules for the structs of a namespace, add `using takeoff::json_io::tag_invoke;` to it.

#include <takeoff/core/config.hpp>
#include <takeoff/core/diagnostics.hpp>
#include <takeoff/core/error.hpp>
#include <takeoff/core/redact.hpp>

#include <boost/describe/enum_from_string.hpp>
#include <boost/describe/enum_to_string.hpp>
#include <boost/describe/enumerators.hpp>
#include <boost/describe/members.hpp>
#include <boost/describe/modifiers.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>
#include <boost/mp11/algorithm.hpp>
#include <boost/system/result.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace takeoff {

namespace detail::json_mapping {

namespace json = boost::json;
namespace describe = boost::describe;

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

template <class T>
struct is_vector : std::false_type {};
template <class T, class A>
struct is_vector<std::vector<T, A>> : std::true_type {};

template <class T>
struct is_string_map : std::false_type {};
template <class V, class C, class A>
struct is_string_map<std::map<std::string, V, C, A>> : std::true_type {};
template <class V, class H, class E, class A>
struct is_string_map<std::unordered_map<std::string, V, H, E, A>> : std::true_type {};

template <class T>
using members_of = describe::describe_members<T, describe::mod_public | describe::mod_inherited>;

template <class T>
concept described_struct = std::is_class_v<T> && !std::is_union_v<T> && describe::has_describe_members<T>::value;

template <class T>
concept described_enum = std::is_enum_v<T> && describe::has_describe_enumerators<T>::value;

inline const char* kind_name(json::kind k) noexcept {
    switch (k) {
    case json::kind::null: return "null";
    case json::kind::bool_: return "boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_: return "number";
    case json::kind::string: return "string";
    case json::kind::array: return "array";
    case json::kind::object: return "object";
    }
    return "value";
}

// Tracks where in the document the decoder is, so errors can name the field.
struct context {
    std::string path;
    diagnostics* diag = nullptr;

    boost::system::error_code wrong_type(const json::value& v, const char* expected) {
        if (diag) {
            std::string where = path.empty() ? std::string("the JSON document") : "field '" + path + "'";
            diag->set_client_message(where + " has the wrong type: expected " + expected + ", got " +
                                     kind_name(v.kind()));
        }
        return make_error_code(errc::invalid_field_type);
    }
    boost::system::error_code missing(std::string_view name) {
        if (diag)
            diag->set_client_message("missing required field '" + joined(name) + "'");
        return make_error_code(errc::missing_field);
    }
    std::string joined(std::string_view name) const {
        return path.empty() ? std::string(name) : path + "." + std::string(name);
    }
};

// Appends a path segment for the lifetime of a scope.
class path_segment {
public:
    path_segment(context& ctx, std::string_view segment, bool is_index) : ctx_(ctx), size_(ctx.path.size()) {
        if (!is_index && !ctx.path.empty()) ctx.path += '.';
        ctx.path += segment;
    }
    ~path_segment() { ctx_.path.resize(size_); }
    path_segment(const path_segment&) = delete;
    path_segment& operator=(const path_segment&) = delete;

private:
    context& ctx_;
    std::size_t size_;
};

template <class T>
boost::system::error_code decode(const json::value& v, T& out, context& ctx);

template <class T>
boost::system::error_code decode_integer(const json::value& v, T& out, context& ctx) {
    using limits = std::numeric_limits<T>;
    if (const std::int64_t* i = v.if_int64()) {
        if constexpr (std::is_signed_v<T>) {
            if (*i >= static_cast<std::int64_t>(limits::min()) && *i <= static_cast<std::int64_t>(limits::max())) {
                out = static_cast<T>(*i);
                return {};
            }
        } else if (*i >= 0 && static_cast<std::uint64_t>(*i) <= static_cast<std::uint64_t>(limits::max())) {
            out = static_cast<T>(*i);
            return {};
        }
        return ctx.wrong_type(v, "an integer in range");
    }
    if (const std::uint64_t* u = v.if_uint64()) {
        if (*u <= static_cast<std::uint64_t>(limits::max())) {
            out = static_cast<T>(*u);
            return {};
        }
        return ctx.wrong_type(v, "an integer in range");
    }
    if (const double* d = v.if_double()) {
        // 3600.0 is accepted as 3600; 1.5 is not an integer.
        if (std::trunc(*d) == *d && *d >= static_cast<double>(limits::min()) &&
            *d <= static_cast<double>(limits::max())) {
            out = static_cast<T>(*d);
            return {};
        }
        return ctx.wrong_type(v, "an integer in range");
    }
    return ctx.wrong_type(v, "an integer");
}

template <described_struct T>
boost::system::error_code decode_struct(const json::value& v, T& out, context& ctx) {
    const json::object* obj = v.if_object();
    if (!obj) return ctx.wrong_type(v, "object");
    boost::system::error_code ec;
    boost::mp11::mp_for_each<members_of<T>>([&](auto member) {
        if (ec) return;
        using member_type = std::remove_cvref_t<decltype(out.*member.pointer)>;
        const json::value* field = obj->if_contains(member.name);
        if constexpr (is_optional<member_type>::value) {
            if (!field || field->is_null()) {
                (out.*member.pointer).reset();
                return;
            }
        } else if (!field) {
            ec = ctx.missing(member.name);
            return;
        }
        path_segment segment(ctx, member.name, false);
        ec = decode(*field, out.*member.pointer, ctx);
    });
    return ec;
}

template <class T>
boost::system::error_code decode(const json::value& v, T& out, context& ctx) {
    if constexpr (std::is_same_v<T, bool>) {
        if (!v.is_bool()) return ctx.wrong_type(v, "boolean");
        out = v.get_bool();
        return {};
    } else if constexpr (std::is_integral_v<T>) {
        return decode_integer(v, out, ctx);
    } else if constexpr (std::is_floating_point_v<T>) {
        if (!v.is_number()) return ctx.wrong_type(v, "number");
        out = static_cast<T>(v.to_number<double>());
        return {};
    } else if constexpr (std::is_same_v<T, std::string>) {
        const json::string* s = v.if_string();
        if (!s) return ctx.wrong_type(v, "string");
        out.assign(s->data(), s->size());
        return {};
    } else if constexpr (std::is_same_v<T, secret>) {
        const json::string* s = v.if_string();
        if (!s) return ctx.wrong_type(v, "string");
        out = secret(std::string_view(s->data(), s->size()));
        return {};
    } else if constexpr (std::is_same_v<T, json::value>) {
        out = v;
        return {};
    } else if constexpr (std::is_same_v<T, json::object>) {
        if (!v.is_object()) return ctx.wrong_type(v, "object");
        out = v.get_object();
        return {};
    } else if constexpr (std::is_same_v<T, json::array>) {
        if (!v.is_array()) return ctx.wrong_type(v, "array");
        out = v.get_array();
        return {};
    } else if constexpr (is_optional<T>::value) {
        if (v.is_null()) {
            out.reset();
            return {};
        }
        typename T::value_type inner{};
        if (auto ec = decode(v, inner, ctx)) return ec;
        out = std::move(inner);
        return {};
    } else if constexpr (is_vector<T>::value) {
        const json::array* arr = v.if_array();
        if (!arr) return ctx.wrong_type(v, "array");
        T result;
        result.reserve(arr->size());
        for (std::size_t i = 0; i < arr->size(); ++i) {
            path_segment segment(ctx, "[" + std::to_string(i) + "]", true);
            typename T::value_type item{};
            if (auto ec = decode((*arr)[i], item, ctx)) return ec;
            result.push_back(std::move(item));
        }
        out = std::move(result);
        return {};
    } else if constexpr (is_string_map<T>::value) {
        const json::object* obj = v.if_object();
        if (!obj) return ctx.wrong_type(v, "object");
        T result;
        for (const auto& kv : *obj) {
            path_segment segment(ctx, kv.key(), false);
            typename T::mapped_type item{};
            if (auto ec = decode(kv.value(), item, ctx)) return ec;
            result.emplace(std::string(kv.key()), std::move(item));
        }
        out = std::move(result);
        return {};
    } else if constexpr (described_enum<T>) {
        const json::string* s = v.if_string();
        if (!s) return ctx.wrong_type(v, "string");
        if (!describe::enum_from_string(std::string(s->data(), s->size()).c_str(), out))
            return ctx.wrong_type(v, "one of the enumerated names");
        return {};
    } else if constexpr (described_struct<T>) {
        return decode_struct(v, out, ctx);
    } else {
        auto r = json::try_value_to<T>(v);
        if (!r) return ctx.wrong_type(v, "a convertible value");
        out = std::move(*r);
        return {};
    }
}

template <class T>
json::value encode(const T& in);

template <described_struct T>
json::value encode_struct(const T& in) {
    json::object obj;
    boost::mp11::mp_for_each<members_of<T>>([&](auto member) {
        const auto& field = in.*member.pointer;
        using member_type = std::remove_cvref_t<decltype(field)>;
        if constexpr (is_optional<member_type>::value) {
            if (!field) return;
        }
        obj.emplace(member.name, encode(field));
    });
    return obj;
}

template <class T>
json::value encode(const T& in) {
    if constexpr (is_optional<T>::value) {
        return in ? encode(*in) : json::value(nullptr);
    } else if constexpr (std::is_same_v<T, secret>) {
        return json::value(json::string_view(in.reveal().data(), in.reveal().size()));
    } else if constexpr (is_vector<T>::value) {
        json::array arr;
        arr.reserve(in.size());
        for (const auto& item : in) arr.push_back(encode(item));
        return arr;
    } else if constexpr (is_string_map<T>::value) {
        json::object obj;
        for (const auto& [key, item] : in) obj.emplace(key, encode(item));
        return obj;
    } else if constexpr (described_enum<T>) {
        const char* name = describe::enum_to_string(in, nullptr);
        return name ? json::value(name) : json::value(static_cast<std::underlying_type_t<T>>(in));
    } else if constexpr (described_struct<T>) {
        return encode_struct(in);
    } else {
        return json::value_from(in);
    }
}

} // namespace detail::json_mapping

/// Maps a JSON value to T under the tolerant rules above; on failure diag names the field.
template <class T>
boost::system::result<T> from_json(const boost::json::value& v, diagnostics& diag) {
    diag.clear();
    detail::json_mapping::context ctx{{}, &diag};
    T out{};
    if (auto ec = detail::json_mapping::decode(v, out, ctx))
        return boost::system::result<T>(boost::system::in_place_error, ec);
    return out;
}

/// As from_json(v, diag), without the explanation.
template <class T>
boost::system::result<T> from_json(const boost::json::value& v) {
    detail::json_mapping::context ctx;
    T out{};
    if (auto ec = detail::json_mapping::decode(v, out, ctx))
        return boost::system::result<T>(boost::system::in_place_error, ec);
    return out;
}

/// Parses JSON text and maps it to T. Text that is not JSON is errc::invalid_json.
template <class T>
boost::system::result<T> parse_json(std::string_view text, diagnostics& diag) {
    diag.clear();
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(boost::json::string_view(text.data(), text.size()), ec);
    if (ec) {
        diag.set_client_message("the body is not valid JSON: " + ec.message());
        return boost::system::result<T>(boost::system::in_place_error, make_error_code(errc::invalid_json));
    }
    return from_json<T>(v, diag);
}

/// Maps T to JSON, omitting empty optionals of described structs.
template <class T>
boost::json::value to_json(const T& value) {
    return detail::json_mapping::encode(value);
}

/// Opt-in hooks that make boost::json::value_to / try_value_to / value_from apply the tolerant rules
/// to the described structs of a namespace that says `using takeoff::json_io::tag_invoke;`.
namespace json_io {

template <detail::json_mapping::described_struct T>
boost::system::result<T> tag_invoke(boost::json::try_value_to_tag<T>, const boost::json::value& v) {
    return from_json<T>(v);
}

template <detail::json_mapping::described_struct T>
void tag_invoke(boost::json::value_from_tag, boost::json::value& out, const T& value) {
    out = to_json(value);
}

} // namespace json_io

namespace detail {
inline void pretty_json_to(const boost::json::value& v, std::string& out, std::size_t depth)
{
    const std::string indent((depth + 1) * 2, ' ');
    const std::string closing(depth * 2, ' ');
    if (v.is_object()) {
        const auto& object = v.get_object();
        if (object.empty()) {
            out += "{}";
            return;
        }
        out += "{\n";
        bool first = true;
        for (const auto& member : object) {
            if (!first)
                out += ",\n";
            first = false;
            out += indent;
            out += boost::json::serialize(boost::json::string(member.key()));
            out += ": ";
            pretty_json_to(member.value(), out, depth + 1);
        }
        out += "\n" + closing + "}";
    } else if (v.is_array()) {
        const auto& array = v.get_array();
        if (array.empty()) {
            out += "[]";
            return;
        }
        out += "[\n";
        bool first = true;
        for (const auto& element : array) {
            if (!first)
                out += ",\n";
            first = false;
            out += indent;
            pretty_json_to(element, out, depth + 1);
        }
        out += "\n" + closing + "]";
    } else {
        out += boost::json::serialize(v);
    }
}

} // namespace detail

/// JSON text with two-space indentation and one member or element per line, ending with a
/// newline: for files a person also reads and edits (the takeoff CLI's configuration).
inline std::string pretty_json(const boost::json::value& value)
{
    std::string out;
    detail::pretty_json_to(value, out, 0);
    out += '\n';
    return out;
}

} // namespace takeoff
