#pragma once
// doctest printing for Boost types that have no usable operator<< of their own in assertions.
#include <boost/system/result.hpp>
#include <doctest/doctest.h>

#include <string>

namespace doctest {
template <class T, class E>
struct StringMaker<boost::system::result<T, E>> {
    static String convert(const boost::system::result<T, E>& r) {
        if (r.has_value()) return "result(value)";
        return ("result(error: " + r.error().message() + ")").c_str();
    }
};
} // namespace doctest
