#pragma once
// JSON that holds secrets (token replies, login replies, client secrets, token files) is parsed into
// memory that is zeroed before it is freed, so that the parsed copies of tokens do not linger in
// freed heap memory. One parser for every layer that reads such JSON.

#include <takeoff/core/config.hpp>

#include <boost/json/memory_resource.hpp>
#include <boost/json/parser.hpp>
#include <boost/json/storage_ptr.hpp>
#include <boost/json/value.hpp>
#include <boost/system/error_code.hpp>

#include <cstddef>
#include <new>
#include <string_view>

namespace takeoff::detail {

// A memory resource that zeroes each block before it frees it. Over-aligned blocks only through the
// align_val_t forms, as a sanitizer expects of each new/delete pair.
class wiping_resource final : public boost::json::memory_resource {
    static constexpr bool over_aligned(std::size_t align) noexcept { return align > __STDCPP_DEFAULT_NEW_ALIGNMENT__; }
    void* do_allocate(std::size_t bytes, std::size_t align) override {
        return over_aligned(align) ? ::operator new(bytes, std::align_val_t(align)) : ::operator new(bytes);
    }
    void do_deallocate(void* p, std::size_t bytes, std::size_t align) override {
        volatile unsigned char* q = static_cast<unsigned char*>(p);
        for (std::size_t i = 0; i < bytes; ++i) q[i] = 0;
        if (over_aligned(align)) ::operator delete(p, bytes, std::align_val_t(align));
        else ::operator delete(p, bytes);
    }
    bool do_is_equal(const boost::json::memory_resource& other) const noexcept override { return this == &other; }
};

// A JSON document that may hold secrets. The value, its strings and the parser's working memory all
// come from a wiping_resource (and a stack buffer wiped afterwards). Not copyable or movable: the
// value points into the object's own resource.
class secret_json {
public:
    explicit secret_json(std::string_view text) : value_(boost::json::storage_ptr(&resource_)) {
        unsigned char temp[512];
        {
            boost::json::parser parser(boost::json::storage_ptr(&resource_), {}, temp, sizeof temp);
            parser.reset(boost::json::storage_ptr(&resource_));
            boost::system::error_code ec;
            parser.write(text.data(), text.size(), ec);
            if (!ec) {
                value_ = parser.release();
                ok_ = true;
            }
        }
        volatile unsigned char* p = temp;
        for (std::size_t i = 0; i < sizeof temp; ++i) p[i] = 0;
    }
    secret_json(const secret_json&) = delete;
    secret_json& operator=(const secret_json&) = delete;

    /// The document, or null when the text is not JSON.
    const boost::json::value* value() const noexcept { return ok_ ? &value_ : nullptr; }
    /// The document as an object, or null.
    const boost::json::object* object() const noexcept { return ok_ ? value_.if_object() : nullptr; }

private:
    wiping_resource resource_; // declared first: it outlives value_
    boost::json::value value_;
    bool ok_ = false;
};

} // namespace takeoff::detail
