// A second translation unit including the library: inline definitions must not clash at link time.
#include <takeoff/takeoff.hpp>

int check_other_translation_unit() {
    boost::system::error_code ec = takeoff::errc::too_many_requests;
    return takeoff::is_retryable(ec) ? 0 : 1;
}
