// Negative compile tests of the Takeoff request types (see cmake/TakeoffCompileFail.cmake). The
// expected texts hold no '[' or ']': CMake's list splitting would merge the cases after one.
#include <takeoff/api/api.hpp>

#include <string>

namespace api = takeoff::api;

int main() {
    auto fine = api::generate("x").temperature(0.7).regex("[0-9]+");
    auto http = api::to_http_request(api::inference_url(), fine);
    auto tokens = api::tokenize(api::reader_id("primary-0"), "hello");
    auto groups = api::to_http_request(api::management_url(), api::reader_groups());
    takeoff::diagnostics diag;
    auto parsed = api::generate("x").parse_response(takeoff::http::response{}, diag);
    (void)http;
    (void)tokens;
    (void)groups;
    (void)parsed;

#if defined(TAKEOFF_CASE_regex_and_json_schema) // expect: output_not_yet_constrained
    auto both = api::generate("x").regex("[0-9]+").json_schema(boost::json::object{});
#endif
#if defined(TAKEOFF_CASE_consumer_group_for_reader_id) // expect: tokenize takes a reader_id, not a consumer_group
    auto t = api::tokenize(api::consumer_group("primary"), "hello");
#endif
#if defined(TAKEOFF_CASE_string_for_reader_id) // expect: tokenize(const char
    auto t = api::tokenize("primary-0", std::string("hello"));
#endif
#if defined(TAKEOFF_CASE_management_request_to_inference_url) // expect: base_url<takeoff::api::api_kind::management>
    auto r = api::to_http_request(api::inference_url(), api::reader_groups());
#endif
#if defined(TAKEOFF_CASE_temperature_out_of_range) // expect: sampling temperature must lie in (0, 100
    auto g = api::generate("x").temperature(-1.0);
#endif
#if defined(TAKEOFF_CASE_openai_temperature_out_of_range) // expect: OpenAI temperature must lie in
    auto c = api::openai::chat(api::consumer_group::primary(), {{"user", "hi"}}).temperature(2.5);
#endif
#if defined(TAKEOFF_CASE_streamed_request_parsed_as_buffered) // expect: parse_response(takeoff::http::response
    auto s = api::generate_stream("x").parse_response(takeoff::http::response{}, diag);
#endif
}
