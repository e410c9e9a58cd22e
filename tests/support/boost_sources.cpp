// Compiles Asio, Asio-SSL and Beast once for all of takeoff's own test, example and benchmark
// targets (they define BOOST_ASIO_SEPARATE_COMPILATION and BOOST_BEAST_SEPARATE_COMPILATION).
// Boost.JSON and Boost.URL come from the linked Boost::json / Boost::url libraries.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
