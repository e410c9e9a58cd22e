// The program every consumer test builds: it uses the library the way an application would and
// exits non-zero if anything is off.
#include <takeoff/takeoff.hpp>

#include <boost/asio/io_context.hpp>
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

// The single-header consumer adds other.cpp, a second unit including the library (inline
// definitions must not clash at link time). The others build one unit: compile time on 2 cores.
#if defined(TAKEOFF_CONSUMER_SECOND_UNIT)
int check_other_translation_unit();
#else
int check_other_translation_unit() { return 0; }
#endif

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

    // The transport links: a client with its TLS context (no request is sent).
    boost::asio::io_context io;
    takeoff::http::client client(io.get_executor());
    if (client.connections_opened() != 0) return 5;
    std::cout << "takeoff " << takeoff::version_string << " works: " << diag.client_message() << "\n";
    return 0;
}
