#pragma once
// http::fields: the header fields of a request or a response, in the order they were added or
// received. Names compare ignoring ASCII case (RFC 9110 section 5.1). All names and values live in
// one string and their positions in one vector, so a response header costs two allocations however
// many fields it has (Beast's basic_fields: one per field, in a list and a tree), and a move is a
// few pointers: the transport moves every response from its parser to the caller.
//
// Sans-io; a plain value type (copyable, movable, not thread-safe).

#include <takeoff/core/config.hpp>
#include <takeoff/http/detail/syntax.hpp>

#include <boost/beast/http/field.hpp>

#include <cstddef>
#include <functional>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace takeoff::http {

/// A header field name: a string, or one of Beast's known field constants
/// (`boost::beast::http::field::content_type`). Only a view: it does not own the text.
class field_name {
public:
    constexpr field_name(std::string_view name) noexcept : text_(name) {}
    constexpr field_name(const char* name) noexcept : text_(name) {}
    field_name(const std::string& name) noexcept : text_(name) {}
    field_name(boost::beast::http::field name) noexcept : text_(to_std(boost::beast::http::to_string(name))) {}

    constexpr std::string_view view() const noexcept { return text_; }

private:
    template <class View>
    static std::string_view to_std(View v) noexcept {
        return std::string_view(v.data(), v.size());
    }
    std::string_view text_;
};


/// Header fields in order, names compared ignoring ASCII case. See the file comment.
class fields {
    struct entry {
        std::uint32_t offset;     // of the name in text_; the value follows it
        std::uint32_t name_size;
        std::uint32_t value_size;
    };

public:
    /// One field as a pair of views into the container (valid until it is next modified).
    struct field {
        std::string_view name;
        std::string_view value;
    };

    /// Iterates over the fields in order; dereferencing gives a `field` by value.
    class const_iterator {
    public:
        using iterator_concept = std::forward_iterator_tag;
        using iterator_category = std::input_iterator_tag;
        using value_type = field;
        using difference_type = std::ptrdiff_t;
        using reference = field;

        const_iterator() = default;
        field operator*() const { return owner_->at_index(index_); }
        /// `it->name`, `it->value`: through a proxy holding the field.
        struct arrow {
            field f;
            const field* operator->() const noexcept { return &f; }
        };
        arrow operator->() const { return {owner_->at_index(index_)}; }
        const_iterator& operator++() noexcept {
            ++index_;
            return *this;
        }
        const_iterator operator++(int) noexcept {
            auto copy = *this;
            ++index_;
            return copy;
        }
        friend bool operator==(const const_iterator& a, const const_iterator& b) noexcept {
            return a.index_ == b.index_ && a.owner_ == b.owner_;
        }

    private:
        friend class fields;
        const_iterator(const fields* owner, std::size_t index) noexcept : owner_(owner), index_(index) {}
        const fields* owner_ = nullptr;
        std::size_t index_ = 0;
    };

    fields() = default;
    /// Fields from (name, value) pairs, in order.
    fields(std::initializer_list<std::pair<std::string_view, std::string_view>> init) {
        for (const auto& [name, value] : init) append(name, value);
    }

    std::size_t size() const noexcept { return entries_.size(); }
    bool empty() const noexcept { return entries_.empty(); }
    const_iterator begin() const noexcept { return {this, 0}; }
    const_iterator end() const noexcept { return {this, entries_.size()}; }

    /// The first field with this name, or end().
    const_iterator find(field_name name) const noexcept {
        for (std::size_t i = 0; i < entries_.size(); ++i)
            if (detail::iequals(name_at(i), name.view())) return {this, i};
        return end();
    }
    bool contains(field_name name) const noexcept { return find(name) != end(); }
    /// How many fields have this name.
    std::size_t count(field_name name) const noexcept {
        std::size_t n = 0;
        for (std::size_t i = 0; i < entries_.size(); ++i) n += detail::iequals(name_at(i), name.view()) ? 1 : 0;
        return n;
    }
    /// The value of the first field with this name; empty when there is none (use find() to tell
    /// an absent field from an empty one).
    std::string_view operator[](field_name name) const noexcept {
        auto it = find(name);
        return it == end() ? std::string_view() : (*it).value;
    }

    /// Adds a field after the others (a name may occur more than once). The transport checks
    /// names and values before sending a request: nothing is validated here.
    void append(field_name name, std::string_view value) {
        const std::string_view n = name.view();
        if (text_.size() + n.size() + value.size() > UINT32_MAX) throw std::length_error("takeoff::http::fields");
        entries_.push_back(entry{static_cast<std::uint32_t>(text_.size()), static_cast<std::uint32_t>(n.size()),
                                 static_cast<std::uint32_t>(value.size())});
        text_.append(n).append(value);
    }

    /// Replaces every field of this name by one with this value (at the end).
    void set(field_name name, std::string_view value) {
        // name and value may view this container's own text: copy them before erasing.
        if (points_into_text(name.view()) || points_into_text(value)) {
            const std::string n(name.view()), v(value);
            erase(n);
            append(n, v);
            return;
        }
        erase(name);
        append(name, value);
    }

    /// Removes every field of this name; returns how many there were.
    std::size_t erase(field_name name) {
        if (count(name) == 0) return 0;
        const std::string wanted(name.view()); // may view text_, which is rebuilt below
        fields kept;
        kept.text_.reserve(text_.size());
        std::size_t removed = 0;
        for (std::size_t i = 0; i < entries_.size(); ++i) {
            if (detail::iequals(name_at(i), wanted)) {
                ++removed;
                continue;
            }
            kept.append(name_at(i), value_at(i));
        }
        *this = std::move(kept);
        return removed;
    }

    void clear() noexcept {
        entries_.clear();
        text_.clear();
    }

    /// Room for `count` fields holding `bytes` of names and values in all, without reallocating.
    void reserve(std::size_t count, std::size_t bytes) {
        entries_.reserve(count);
        text_.reserve(bytes);
    }

    /// Same fields, same values, same order; names compared ignoring case.
    friend bool operator==(const fields& a, const fields& b) noexcept {
        if (a.size() != b.size()) return false;
        for (std::size_t i = 0; i < a.size(); ++i)
            if (!detail::iequals(a.name_at(i), b.name_at(i)) || a.value_at(i) != b.value_at(i)) return false;
        return true;
    }

private:
    std::string_view name_at(std::size_t i) const noexcept {
        return std::string_view(text_).substr(entries_[i].offset, entries_[i].name_size);
    }
    std::string_view value_at(std::size_t i) const noexcept {
        return std::string_view(text_).substr(entries_[i].offset + entries_[i].name_size, entries_[i].value_size);
    }
    field at_index(std::size_t i) const noexcept { return {name_at(i), value_at(i)}; }
    bool points_into_text(std::string_view s) const noexcept {
        return !s.empty() && !text_.empty() && std::less_equal<>{}(text_.data(), s.data()) &&
               std::less<>{}(s.data(), text_.data() + text_.size());
    }

    std::string text_;
    std::vector<entry> entries_;
};

} // namespace takeoff::http
