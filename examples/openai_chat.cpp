// The OpenAI-compatible chat route (/v1/chat/completions; the OpenAI "model" is a consumer group):
// one answer buffered, then a follow-up question streamed chunk by chunk, the history kept.
//
//   A real account:  example_openai_chat --config takeoff.json ["QUESTION"]   (openai_url set)
//   The emulator:    takeoff-emulator --https --auth pat --cert-dir /tmp/emu -- example_openai_chat
#include "harness.hpp"

#include <iostream>
#include <string>
#include <vector>

namespace api = takeoff::api;

boost::asio::awaitable<void> run(example::context& ex) {
    std::vector<api::chat_message> messages{{"system", "You answer in one sentence."},
                                            {"user", ex.arg(0, "What is Snowpark Container Services?")}};

    ex.step = "chat";
    api::openai::chat_completion answer = co_await ex.client().async_chat(ex.group(), messages);
    std::cout << "assistant: " << answer.text() << '\n';
    example::expect(!answer.text().empty(), "the answer is empty");

    messages.push_back({"assistant", answer.text()});
    messages.push_back({"user", "And how do I call a service in it from C++?"});
    ex.step = "chat_stream";
    auto chunks = co_await ex.client().async_chat_stream(ex.group(), messages);
    std::cout << "assistant: " << std::flush;
    std::string streamed;
    while (auto chunk = co_await chunks.async_next()) { // ends at data: [DONE]
        std::cout << chunk->content << std::flush;
        streamed += chunk->content;
    }
    std::cout << '\n';
    example::expect(!streamed.empty(), "the streamed answer is empty");
}

int main(int argc, char** argv) { return example::main(argc, argv, "[QUESTION]", run); }
