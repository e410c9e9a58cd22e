// The program every consumer test builds: it uses the library the way an application would and
// exits non-zero if anything is off.
#include <takeoff/takeoff.hpp>

#include <boost/describe/class.hpp>

#include <iostream>
#include <optional>
#include <sstream>
#include <string>

namespace consumer {
struct token_reply {
    std::string access_token;
    std::optional<int> expires_in;
};
BOOST_DESCRIBE_STRUCT(token_reply, (), (access_token, expires_in))
} // namespace consumer

int check_other_translation_unit(); // other.cpp, where one exists

int main() {
    takeoff::diagnostics diag;
    auto reply = takeoff::parse_json<consumer::token_reply>(R"({"access_token":"abc","extra":1})", diag);
    if (!reply || reply->access_token != "abc" || reply->expires_in) return 1;
    auto missing = takeoff::parse_json<consumer::token_reply>(R"({"expires_in":5})", diag);
    if (missing || missing.error() != takeoff::errc::missing_field) return 2;

    std::ostringstream printed;
    printed << takeoff::secret("a-token");
    if (printed.str() != "[redacted]") return 3;

    if (check_other_translation_unit() != 0) return 4;
    std::cout << "takeoff " << takeoff::version_string << " works: " << diag.client_message() << "\n";
    return 0;
}
