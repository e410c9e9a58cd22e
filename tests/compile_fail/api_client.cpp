// Negative compile tests of takeoff::client (see cmake/TakeoffCompileFail.cmake).
#include <takeoff/client.hpp>

#include <boost/asio/io_context.hpp>

void use(takeoff::client& c) {
    // What compiles: a buffered request sent, a streamed one opened.
    (void)c.async_send(takeoff::api::generate("x"));
    (void)c.async_open(takeoff::api::generate_stream("x"));
    (void)c.async_generate("x");
    (void)c.async_generate_stream("x");

#if defined(TAKEOFF_CASE_streaming_request_awaited_as_buffered) // expect: buffered_request
    (void)c.async_send(takeoff::api::generate_stream("x"));
#endif
#if defined(TAKEOFF_CASE_buffered_request_opened_as_stream) // expect: streaming_request
    (void)c.async_open(takeoff::api::generate("x"));
#endif
#if defined(TAKEOFF_CASE_stream_request_to_async_generate) // expect: generate_argument
    (void)c.async_generate(takeoff::api::generate_stream("x"));
#endif
}

int main() {
    boost::asio::io_context io;
    takeoff::client c(io.get_executor());
    use(c);
}
