// The one translation unit that compiles Boost.JSON and Boost.URL for the program.
#define TAKEOFF_BOOST_SOURCES
#include "../common/program.cpp"
