// The emulated Takeoff server (takeoff_emulator/takeoff.hpp) on the wire, from synchronous Beast
// clients on 127.0.0.1: exact bodies and statuses of every inference, management and OpenAI route,
// the stream framing read as raw bytes (each event its own chunk, parsed with takeoff::sse::parser,
// stream text == buffered text), each failure knob, route prefixes, the legacy /status shape, and
// the routes behind the emulated SPCS ingress. No sleeps: pacing is the server's own timers and is
// only checked from below.

#include <takeoff_emulator/snowflake.hpp>
#include <takeoff_emulator/takeoff.hpp>

#include <takeoff/sse/parser.hpp>

#include <doctest/doctest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_to.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

namespace emu = takeoff::emulator;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace json = boost::json;
using string_request = http::request<http::string_body>;
using string_response = http::response<http::string_body>;
using namespace std::chrono_literals;

string_request make_request(http::verb method, std::string target, std::string body = {})
{
    string_request request{method, target, 11};
    if (!body.empty() || method == http::verb::post) {
        request.set(http::field::content_type, "application/json");
        request.body() = std::move(body);
    }
    return request;
}

// One request on a new connection; the whole response (a chunked body decoded by Beast).
string_response send(const emu::server& server, string_request request)
{
    request.set(http::field::host, "127.0.0.1:" + std::to_string(server.port()));
    request.prepare_payload();
    asio::io_context io;
    beast::tcp_stream stream(io);
    stream.connect(server.endpoint());
    http::write(stream, request);
    beast::flat_buffer buffer;
    string_response response;
    http::read(stream, buffer, response);
    return response;
}

string_response post(const emu::server& server, std::string target, std::string body)
{
    return send(server, make_request(http::verb::post, std::move(target), std::move(body)));
}

string_response get(const emu::server& server, std::string target)
{
    return send(server, make_request(http::verb::get, std::move(target)));
}

json::value parsed(const string_response& response)
{
    CHECK(response[http::field::content_type] == "application/json");
    return json::parse(response.body());
}

json::value detail_of(std::string_view message) { return json::object{{"detail", message}}; }

// A POST written by hand with `Connection: close`; every byte until the server closes.
std::string raw_post(const emu::server& server, std::string_view target, std::string_view body,
                     std::string_view extra_headers = {})
{
    asio::io_context io;
    asio::ip::tcp::socket socket(io);
    socket.connect(server.endpoint());
    std::string request = "POST " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" +
                          std::string(extra_headers) + "Content-Type: application/json\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
    asio::write(socket, asio::buffer(request));
    std::string bytes;
    boost::system::error_code ec;
    asio::read(socket, asio::dynamic_buffer(bytes), ec);
    CHECK((ec == asio::error::eof || ec == asio::error::connection_reset));
    return bytes;
}

// A response read as bytes: its head, the chunks of a chunked body, whether the last chunk came,
// and whatever bytes followed that were not a whole chunk.
struct raw_response {
    std::string head;
    std::vector<std::string> chunks;
    bool last_chunk = false;
    std::string rest;
};

raw_response split_chunked(const std::string& bytes)
{
    raw_response out;
    const auto end_of_head = bytes.find("\r\n\r\n");
    REQUIRE(end_of_head != std::string::npos);
    out.head = bytes.substr(0, end_of_head + 4);
    std::size_t pos = end_of_head + 4;
    for (;;) {
        const auto line_end = bytes.find("\r\n", pos);
        if (line_end == std::string::npos)
            break;
        const std::size_t size = std::stoul(bytes.substr(pos, line_end - pos), nullptr, 16);
        if (size == 0) {
            out.last_chunk = bytes.compare(line_end, 4, "\r\n\r\n") == 0;
            pos = line_end + 4;
            break;
        }
        if (line_end + 2 + size + 2 > bytes.size())
            break;
        out.chunks.push_back(bytes.substr(line_end + 2, size));
        CHECK(bytes.compare(line_end + 2 + size, 2, "\r\n") == 0);
        pos = line_end + 2 + size + 2;
    }
    out.rest = bytes.substr(std::min(pos, bytes.size()));
    return out;
}

// The data of every event in these bytes (SSE rules), and whether bytes of an unfinished event
// were left over.
struct sse_result {
    std::vector<std::string> data;
    bool partial_at_end = false;
};

sse_result sse_events(std::string_view bytes)
{
    takeoff::sse::parser parser;
    boost::system::error_code ec;
    sse_result out;
    std::string_view rest = bytes;
    while (auto ev = parser.next(rest, ec))
        out.data.emplace_back(ev->data);
    REQUIRE_FALSE(ec);
    const auto last_blank = bytes.rfind("\n\n");
    out.partial_at_end = !bytes.empty() && (last_blank == std::string_view::npos || last_blank + 2 != bytes.size());
    return out;
}

std::string joined(const std::vector<std::string>& parts)
{
    std::string out;
    for (const auto& p : parts)
        out += p;
    return out;
}

bool has_header(const std::string& head, std::string_view line)
{
    return head.find("\r\n" + std::string(line) + "\r\n") != std::string::npos;
}

// A server with the three APIs: inference at the root, management under /management, OpenAI at
// the root too (its paths start with /v1).
struct takeoff_fixture {
    emu::server server;
    emu::takeoff_emulator takeoff;

    explicit takeoff_fixture(emu::takeoff_options options = {}) : takeoff(std::move(options))
    {
        takeoff.install_inference(server);
        takeoff.install_management(server, "/management");
        takeoff.install_openai(server);
    }
};

} // namespace

TEST_CASE("takeoff emulator: /generate answers the deterministic text for a prompt and for a batch")
{
    takeoff_fixture f;
    auto r = post(f.server, "/generate", R"({"text": "Tell me about snow"})");
    CHECK(r.result() == http::status::ok);
    CHECK(parsed(r) == json::object{{"text", emu::generated_text("Tell me about snow", 16)}});

    r = post(f.server, "/generate", R"({"text": ["a", "b"], "max_new_tokens": 3})");
    CHECK(parsed(r) == json::object{{"text", json::array{json::string(emu::generated_text("a", 3)),
                                                          json::string(emu::generated_text("b", 3))}}});

    // Every optional field as null (the older Python clients), then set, then min over max.
    r = post(f.server, "/generate",
             R"({"text": "x", "consumer_group": null, "sampling_temperature": null, "sampling_topp": null,
                 "sampling_topk": null, "repetition_penalty": null, "no_repeat_ngram_size": null,
                 "max_new_tokens": null, "min_new_tokens": null, "regex_string": null, "json_schema": null,
                 "prompt_max_tokens": null, "constrained_decoding_backend": null, "return_metadata": null})");
    CHECK(parsed(r) == json::object{{"text", emu::generated_text("x", 16)}});
    r = post(f.server, "/generate",
             R"({"text": "x", "consumer_group": "primary", "sampling_temperature": 0.7, "sampling_topp": 0.9,
                 "sampling_topk": 5, "repetition_penalty": 1.1, "no_repeat_ngram_size": 2, "max_new_tokens": 7,
                 "prompt_max_tokens": 100, "constrained_decoding_backend": "lmfe", "use_chat_template": false,
                 "lora_id": "adapter", "return_metadata": true})");
    CHECK(parsed(r) == json::object{{"text", emu::generated_text("x", 7)}, {"metadata", {{"tokens_count", 7}}}});
    r = post(f.server, "/generate", R"({"text": "x", "max_new_tokens": 2, "min_new_tokens": 4})");
    CHECK(parsed(r) == json::object{{"text", emu::generated_text("x", 4)}});
    r = post(f.server, "/generate", R"({"text": "x", "max_new_tokens": 0})");
    CHECK(parsed(r) == json::object{{"text", ""}});
    r = post(f.server, "/generate", R"({"text": ["a", "bb"], "max_new_tokens": 2, "return_metadata": true})");
    CHECK(parsed(r).at("metadata") == json::object{{"tokens_count", 4}});
    CHECK(f.takeoff.generate_requests() == 7);
}

TEST_CASE("takeoff emulator: /generate with regex_string or json_schema gives matching output; bad requests get 400 or 422")
{
    takeoff_fixture f;
    std::string why;
    auto r = post(f.server, "/generate", R"({"text": "pi is ", "regex_string": "[+-]?([0-9]*[.])?[0-9]+", "max_new_tokens": 1})");
    CHECK(parsed(r) == json::object{{"text", emu::regex_text("[+-]?([0-9]*[.])?[0-9]+", "pi is ", why).value()}});
    const std::string schema = R"({"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"}},"required":["name"]})";
    r = post(f.server, "/generate", R"({"text": "who", "json_schema": )" + schema + "}");
    const std::string object = emu::schema_json(json::parse(schema), "who", why).value();
    CHECK(parsed(r) == json::object{{"text", object}});
    CHECK(json::parse(object).as_object().size() == 2);

    const auto expect = [&](std::string body, http::status status, std::string_view message) {
        CAPTURE(body);
        const auto reply = post(f.server, "/generate", std::move(body));
        CHECK(reply.result() == status);
        CHECK(parsed(reply) == detail_of(message));
    };
    expect(R"({"text": "x", "regex_string": "a", "json_schema": {"type": "object"}})", http::status::bad_request,
           "regex_string and json_schema cannot be used together");
    expect(R"j({"text": "x", "regex_string": "(?=a)"})j", http::status::bad_request,
           "unsupported regex_string at offset 1: only (...) and (?:...) groups are supported");
    expect(R"({"text": "x", "json_schema": {"type": "string"}})", http::status::bad_request,
           "unsupported json_schema: the top level must be an object schema (\"type\": \"object\")");
    expect(R"({"text": "x", "consumer_group": "gpu"})", http::status::bad_request,
           "No reader serves the consumer group \"gpu\"");
    expect(R"({"text": "x", "max_new_tokens": -1})", http::status::bad_request, "max_new_tokens must be a non-negative integer");
    expect(R"({"text": "x", "max_new_tokens": "5"})", http::status::bad_request, "max_new_tokens must be a non-negative integer");
    expect(R"({"text": "x", "sampling_temperature": "hot"})", http::status::bad_request, "sampling_temperature must be a number");
    expect(R"({"text": "x", "return_metadata": 1})", http::status::bad_request, "return_metadata must be a boolean");
    expect(R"({"text": "x", "max_new_tokens": 100001})", http::status::bad_request, "the emulator generates at most 100000 tokens");
    expect("not json", http::status::unprocessable_entity, "Malformed request body: expected a JSON object");
    expect("[1]", http::status::unprocessable_entity, "Malformed request body: expected a JSON object");
    expect(R"({"prompt": "x"})", http::status::unprocessable_entity, "text is required");
    expect(R"({"text": null})", http::status::unprocessable_entity, "text is required");
    expect(R"({"text": 5})", http::status::unprocessable_entity, "text must be a string or an array of strings");
    expect(R"({"text": ["a", 1]})", http::status::unprocessable_entity, "text must be a string or an array of strings");
    CHECK(f.takeoff.generate_requests() == 2);
    CHECK(f.takeoff.requests_refused() == 0);
}

TEST_CASE("takeoff emulator: /generate_stream sends each token as its own chunk; the parsed tokens join to /generate's text")
{
    takeoff_fixture f;
    const std::string body = R"({"text": "Tell me about snow", "max_new_tokens": 12})";
    const raw_response raw = split_chunked(raw_post(f.server, "/generate_stream", body));
    CHECK(raw.head.starts_with("HTTP/1.1 200 OK\r\n"));
    CHECK(has_header(raw.head, "Content-Type: text/event-stream"));
    CHECK(has_header(raw.head, "Transfer-Encoding: chunked"));
    CHECK(raw.last_chunk);
    CHECK(raw.rest.empty());
    const auto tokens = emu::generated_tokens("Tell me about snow", 12);
    REQUIRE(raw.chunks.size() == tokens.size());
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        CHECK(raw.chunks[i] == emu::sse_event(tokens[i])); // one event per chunk, data lines split at LF
        CHECK(sse_events(raw.chunks[i]).data == std::vector<std::string>{tokens[i]});
    }
    CHECK(raw.chunks[4].find("\ndata: ") != std::string::npos); // token 4 holds a newline: two data lines
    const auto events = sse_events(joined(raw.chunks));
    CHECK(joined(events.data) == json::value_to<std::string>(parsed(post(f.server, "/generate", body)).at("text")));

    // The stream ends with the last chunk, so the connection can carry the next request.
    asio::io_context io;
    beast::tcp_stream stream(io);
    stream.connect(f.server.endpoint());
    beast::flat_buffer buffer;
    for (const char* target : {"/generate_stream", "/generate"}) {
        auto request = make_request(http::verb::post, target, body);
        request.set(http::field::host, "127.0.0.1");
        request.prepare_payload();
        http::write(stream, request);
        string_response response;
        http::read(stream, buffer, response);
        CHECK(response.result() == http::status::ok);
        CHECK(response.keep_alive());
    }
    CHECK(f.server.connection_count() == 3); // raw_post, the /generate above, and this one connection
    CHECK(f.takeoff.stream_requests() == 2);
    CHECK(f.takeoff.generate_requests() == 4);
}

TEST_CASE("takeoff emulator: a batch stream interleaves {text, batch_id} events round-robin")
{
    takeoff_fixture f;
    const raw_response raw =
        split_chunked(raw_post(f.server, "/generate_stream", R"({"text": ["one", "two", "three"], "max_new_tokens": 6})"));
    CHECK(raw.last_chunk);
    REQUIRE(raw.chunks.size() == 18);
    const std::vector<std::string> prompts{"one", "two", "three"};
    std::vector<std::string> texts(3);
    for (std::size_t i = 0; i < raw.chunks.size(); ++i) {
        const auto events = sse_events(raw.chunks[i]);
        REQUIRE(events.data.size() == 1);
        CHECK(raw.chunks[i].find('\n') == raw.chunks[i].size() - 2); // one data line: the JSON escapes newlines
        const json::object event = json::parse(events.data[0]).as_object();
        CHECK(event.size() == 2);
        CHECK(event.at("batch_id") == i % 3);
        CHECK(event.at("text") == json::string(emu::token_at(prompts[i % 3], i / 3)));
        texts[i % 3] += json::value_to<std::string>(event.at("text"));
    }
    for (std::size_t b = 0; b < 3; ++b)
        CHECK(texts[b] == emu::generated_text(prompts[b], 6));
}

TEST_CASE("takeoff emulator: constrained output streams in pieces of at most 4 bytes that join to the buffered text")
{
    takeoff_fixture f;
    const std::string body = R"({"text": "name", "json_schema": {"type": "object", "properties": {"n": {"type": "string"}, "k": {"type": "integer"}}}})";
    const raw_response raw = split_chunked(raw_post(f.server, "/generate_stream", body));
    CHECK(raw.last_chunk);
    std::string text;
    for (const auto& chunk : raw.chunks) {
        const auto events = sse_events(chunk);
        REQUIRE(events.data.size() == 1);
        CHECK(events.data[0].size() <= 4);
        CHECK_FALSE(events.data[0].empty());
        text += events.data[0];
    }
    CHECK(text == json::value_to<std::string>(parsed(post(f.server, "/generate", body)).at("text")));
    CHECK(json::parse(text).as_object().size() == 2);
}

TEST_CASE("takeoff emulator: /embed gives unit vectors and /classify two scores per text or one per pair")
{
    takeoff_fixture f;
    const auto vector = [](std::string_view text) {
        json::array out;
        for (double x : emu::embedding(text, 8))
            out.push_back(x);
        return out;
    };
    auto r = post(f.server, "/embed", R"({"text": "hello", "consumer_group": "embed"})");
    json::object expected;
    expected["result"] = vector("hello");
    CHECK(parsed(r) == expected);
    r = post(f.server, "/embed", R"({"text": ["hello", "world"], "consumer_group": null})");
    json::array both;
    both.push_back(vector("hello"));
    both.push_back(vector("world"));
    expected["result"] = std::move(both);
    CHECK(parsed(r) == expected);
    r = post(f.server, "/embed", R"({"text": "hello", "consumer_group": "nope"})");
    CHECK(r.result() == http::status::bad_request);
    f.takeoff.configure([](emu::takeoff_options& o) { o.embedding_dimensions = 3; });
    r = post(f.server, "/embed", R"({"text": "hello"})");
    CHECK(parsed(r).at("result").as_array().size() == 3);

    const auto scores = [](std::vector<double> s) {
        json::array out;
        for (double x : s)
            out.push_back(x);
        return out;
    };
    r = post(f.server, "/classify", R"({"text": "great film", "consumer_group": "classify"})");
    CHECK(parsed(r) == json::object{{"result", json::array{scores(emu::classify_scores("great film"))}}});
    r = post(f.server, "/classify", R"({"text": [["query", "doc a"], ["query", "doc b"], "plain"]})");
    CHECK(parsed(r) == json::object{{"result", json::array{scores(emu::classify_scores("query", "doc a")),
                                                            scores(emu::classify_scores("query", "doc b")),
                                                            scores(emu::classify_scores("plain"))}}});
    r = post(f.server, "/classify", R"({"text": [["only one"]]})");
    CHECK(r.result() == http::status::unprocessable_entity);
    CHECK(parsed(r) == detail_of("text must be a string, an array of strings or an array of [string, string] pairs"));
    r = post(f.server, "/classify", R"({"consumer_group": "classify"})");
    CHECK(r.result() == http::status::unprocessable_entity);
    CHECK(parsed(r) == detail_of("text is required"));
}

TEST_CASE("takeoff emulator: /tokenize, /detokenize and /chat_template by reader id; an unknown id is 404")
{
    takeoff_fixture f;
    auto r = post(f.server, "/tokenize/primary-0", R"({"text": "hello world", "use_chat_template": true, "skip_special_tokens": null})");
    CHECK(parsed(r) == json::object{{"tokens", {"\xE2\x96\x81hello", "\xE2\x96\x81world"}}, {"tokens_count", 2}});
    r = post(f.server, "/tokenize/primary-0", R"({"text": ["a b", "c"]})");
    CHECK(parsed(r) == json::object{{"tokens", {"\xE2\x96\x81" "a", "\xE2\x96\x81" "b", "\xE2\x96\x81" "c"}}, {"tokens_count", 3}});
    r = post(f.server, "/tokenize/primary-0", R"({"text": ["a", "b", "c"]})");
    CHECK(r.result() == http::status::unprocessable_entity);
    r = post(f.server, "/tokenize/nobody-0", R"({"text": "x"})");
    CHECK(r.result() == http::status::not_found);
    CHECK(parsed(r) == detail_of("Reader nobody-0 not found"));
    r = post(f.server, "/tokenize/", R"({"text": "x"})");
    CHECK(r.result() == http::status::not_found);
    r = post(f.server, "/tokenize/embed%2D0", R"({"text": "x"})"); // percent-encoded '-'
    CHECK(r.result() == http::status::ok);

    r = post(f.server, "/detokenize/primary-0", R"({"tokens": ["\u2581hello", "\u2581world"], "skip_special_tokens": true})");
    CHECK(parsed(r) == json::object{{"text", "hello world"}});
    r = post(f.server, "/detokenize/primary-0", R"({"tokens": [1, 2, 30]})");
    CHECK(parsed(r) == json::object{{"text", "tok1 tok2 tok30"}});
    r = post(f.server, "/detokenize/primary-0", R"({"tokens": ["a", 2]})");
    CHECK(r.result() == http::status::unprocessable_entity);
    r = post(f.server, "/detokenize/primary-9", R"({"tokens": []})");
    CHECK(r.result() == http::status::not_found);

    r = post(f.server, "/chat_template/primary-0",
             R"({"inputs": [[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}], [{"role": "user", "content": "Yo"}]],
                 "add_generation_prompt": true})");
    CHECK(parsed(r) == json::object{{"messages", {"<|system|>\nBe brief.\n<|user|>\nHi\n<|assistant|>\n", "<|user|>\nYo\n<|assistant|>\n"}}});
    r = post(f.server, "/chat_template/primary-0", R"({"inputs": [[{"role": "user", "content": "Hi"}]]})");
    CHECK(parsed(r) == json::object{{"messages", {"<|user|>\nHi\n"}}});
    r = post(f.server, "/chat_template/primary-0", R"({"inputs": []})");
    CHECK(r.result() == http::status::bad_request);
    CHECK(parsed(r) == detail_of("Chat template failed: the input is empty"));
    r = post(f.server, "/chat_template/primary-0", R"({"inputs": [[{"role": "user"}]]})");
    CHECK(r.result() == http::status::unprocessable_entity);
    r = post(f.server, "/chat_template/x", R"({"inputs": []})");
    CHECK(r.result() == http::status::not_found);
}

TEST_CASE("takeoff emulator: /status in the 0.19 and the legacy shape; /healthz; not ready is 503 on both")
{
    takeoff_fixture f;
    auto r = get(f.server, "/status");
    const json::value expected = json::parse(R"({
        "live_readers": {
            "primary-0": {"consumer_groups": ["primary"], "device": "cpu", "loras": null, "model_name": "emulator/generate", "model_type": "CAUSAL"},
            "embed-0": {"consumer_groups": ["embed"], "device": "cpu", "loras": null, "model_name": "emulator/embed", "model_type": "EMBEDDING"},
            "classify-0": {"consumer_groups": ["classify"], "device": "cpu", "loras": null, "model_name": "emulator/classify", "model_type": "CLASSIFICATION"}},
        "dead_readers": {}, "ports": [3000, 3001, 3003]})");
    CHECK(parsed(r) == expected);
    f.takeoff.configure([](emu::takeoff_options& o) { o.legacy_status_shape = true; });
    r = get(f.server, "/status");
    CHECK(parsed(r).at("live_readers").at("embed-0") ==
          json::parse(R"({"consumer_group": "embed", "device": "cpu", "loras": null, "model_name": "emulator/embed", "model_type": "EMBEDDING"})"));
    r = get(f.server, "/healthz");
    CHECK(r.result() == http::status::ok);
    CHECK(parsed(r) == json::object{{"status", "ok"}});

    f.takeoff.set_ready(false);
    for (const char* target : {"/status", "/healthz"}) {
        r = get(f.server, target);
        CHECK(r.result() == http::status::service_unavailable);
        CHECK(r[http::field::retry_after] == "0");
        CHECK(parsed(r) == detail_of("The server is not ready to process requests yet"));
    }
    for (const char* target : {"/generate", "/generate_stream", "/embed", "/classify", "/tokenize/primary-0",
                               "/detokenize/primary-0", "/chat_template/primary-0", "/v1/chat/completions", "/v1/embeddings"}) {
        CAPTURE(target);
        CHECK(post(f.server, target, "{}").result() == http::status::service_unavailable);
    }
    // The management API has no failure knobs.
    CHECK(get(f.server, "/management/status").result() == http::status::ok);
    CHECK(f.takeoff.requests_refused() == 11);
    f.takeoff.set_ready(true);
    CHECK(get(f.server, "/healthz").result() == http::status::ok);
}

TEST_CASE("takeoff emulator: unavailable_requests gives N 503s, too_many_requests_every a 429 every k-th, with Retry-After")
{
    emu::takeoff_options options;
    options.unavailable_requests = 2;
    options.retry_after = "7";
    takeoff_fixture f(options);
    const std::string body = R"({"text": "x"})";
    for (int i = 0; i < 2; ++i) {
        const auto r = post(f.server, "/generate", body);
        CHECK(r.result() == http::status::service_unavailable);
        CHECK(r[http::field::retry_after] == "7");
    }
    CHECK(get(f.server, "/healthz").result() == http::status::ok); // status routes do not count down
    CHECK(post(f.server, "/generate", body).result() == http::status::ok);
    CHECK(f.takeoff.options().unavailable_requests == 0);

    f.takeoff.configure([](emu::takeoff_options& o) {
        o.too_many_requests_every = 3;
        o.retry_after = "";
    });
    std::vector<unsigned> statuses;
    std::optional<string_response> last;
    for (int i = 0; i < 9; ++i) {
        last = post(f.server, i % 2 ? "/embed" : "/generate", body);
        statuses.push_back(last->result_int());
    }
    CHECK(statuses == std::vector<unsigned>{200, 200, 429, 200, 200, 429, 200, 200, 429});
    CHECK(parsed(*last) == detail_of("Too many requests"));
    CHECK(last->find(http::field::retry_after) == last->end());
    CHECK(f.takeoff.requests_refused() == 5);
}

TEST_CASE("takeoff emulator: drop_stream_after_tokens closes without the last chunk, truncate_last_event leaves a partial event")
{
    emu::takeoff_options options;
    options.drop_stream_after_tokens = 3;
    takeoff_fixture f(options);
    const std::string body = R"({"text": "drop", "max_new_tokens": 10})";
    raw_response raw = split_chunked(raw_post(f.server, "/generate_stream", body));
    CHECK_FALSE(raw.last_chunk);
    CHECK(raw.rest.empty());
    const auto tokens = emu::generated_tokens("drop", 10);
    CHECK(sse_events(joined(raw.chunks)).data == std::vector<std::string>(tokens.begin(), tokens.begin() + 3));
    CHECK_FALSE(sse_events(joined(raw.chunks)).partial_at_end);

    f.takeoff.configure([](emu::takeoff_options& o) { o.truncate_last_event = true; });
    raw = split_chunked(raw_post(f.server, "/generate_stream", body));
    CHECK_FALSE(raw.last_chunk);
    REQUIRE(raw.chunks.size() == 4);
    CHECK(raw.chunks.back() == "data: part");
    const auto events = sse_events(joined(raw.chunks));
    CHECK(events.data.size() == 3);
    CHECK(events.partial_at_end);

    // Fewer tokens than N: every token, then the close without the end.
    f.takeoff.configure([](emu::takeoff_options& o) {
        o.truncate_last_event = false;
        o.drop_stream_after_tokens = 50;
    });
    raw = split_chunked(raw_post(f.server, "/generate_stream", body));
    CHECK_FALSE(raw.last_chunk);
    CHECK(sse_events(joined(raw.chunks)).data == tokens);
    // A chat stream stops before its finish chunk and [DONE].
    raw = split_chunked(raw_post(f.server, "/v1/chat/completions",
                                 R"({"model": "primary", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2, "stream": true})"));
    CHECK_FALSE(raw.last_chunk);
    CHECK(raw.chunks.size() == 3); // the role chunk and two tokens
}

TEST_CASE("takeoff emulator: close_delimited_streams sends no chunked framing and ends the stream by closing")
{
    emu::takeoff_options options;
    options.close_delimited_streams = true;
    takeoff_fixture f(options);
    const std::string bytes = raw_post(f.server, "/generate_stream", R"({"text": "plain", "max_new_tokens": 9})");
    const auto end_of_head = bytes.find("\r\n\r\n");
    REQUIRE(end_of_head != std::string::npos);
    const std::string head = bytes.substr(0, end_of_head + 4);
    CHECK(head == "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n");
    const auto events = sse_events(std::string_view(bytes).substr(end_of_head + 4));
    CHECK(events.data == emu::generated_tokens("plain", 9));
    CHECK_FALSE(events.partial_at_end);
}

TEST_CASE("takeoff emulator: first_token_delay and token_interval pace a stream; record_stream_timings keeps X-Request-Id")
{
    emu::takeoff_options options;
    options.first_token_delay = 40ms;
    options.token_interval = 10ms;
    options.record_stream_timings = true;
    takeoff_fixture f(options);
    const auto start = std::chrono::steady_clock::now();
    const raw_response raw = split_chunked(
        raw_post(f.server, "/generate_stream", R"({"text": "slow", "max_new_tokens": 4})", "X-Request-Id: req-42\r\n"));
    const auto elapsed = std::chrono::steady_clock::now() - start;
    CHECK(raw.last_chunk);
    CHECK(raw.chunks.size() == 4);
    CHECK(elapsed >= 70ms); // 40 ms, then 3 x 10 ms
    auto timings = f.takeoff.stream_timings();
    REQUIRE(timings.size() == 1);
    CHECK(timings[0].request_id == "req-42");
    CHECK(timings[0].first_token_written - timings[0].received >= 40ms);

    // Without a header the id is empty; a chat stream is recorded too; with the knob off nothing is.
    raw_post(f.server, "/v1/chat/completions",
             R"({"model": "primary", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1, "stream": true})");
    timings = f.takeoff.stream_timings();
    REQUIRE(timings.size() == 2);
    CHECK(timings[1].request_id.empty());
    f.takeoff.configure([](emu::takeoff_options& o) {
        o.record_stream_timings = false;
        o.first_token_delay = {};
        o.token_interval = {};
    });
    raw_post(f.server, "/generate_stream", R"({"text": "fast", "max_new_tokens": 2})");
    CHECK(f.takeoff.stream_timings().size() == 2);
}

TEST_CASE("takeoff emulator: management routes list, create, show and delete readers; /status has config and status")
{
    takeoff_fixture f;
    auto r = get(f.server, "/management/reader_groups");
    json::object groups = parsed(r).as_object();
    CHECK(groups.size() == 3);
    const json::value primary = json::object{{"reader_id", "primary-0"},
                                             {"device", "cpu"},
                                             {"model_name", "emulator/generate"},
                                             {"model_type", "CAUSAL"},
                                             {"pids", json::array{emu::detail::reader_pid("primary-0")}},
                                             {"ready", true}};
    CHECK(groups.at("primary") == json::array{primary});

    r = post(f.server, "/management/reader",
             R"({"model_name": "gpt2", "device": "cuda", "consumer_group": "primary", "max_batch_size": 4, "redis_host": null})");
    CHECK(r.result() == http::status::created);
    CHECK(parsed(r) == json::object{{"reader_id", "primary-1"}});
    r = get(f.server, "/management/config/primary-1");
    CHECK(parsed(r) == json::parse(R"({"model_name": "gpt2", "device": "cuda", "consumer_group": "primary", "max_batch_size": 4, "redis_host": null})"));
    r = get(f.server, "/management/config/embed-0");
    CHECK(parsed(r) == json::parse(R"({"model_name": "emulator/embed", "device": "cpu", "consumer_group": "embed"})"));
    CHECK(get(f.server, "/management/reader_groups").body().find("primary-1") != std::string::npos);
    CHECK(f.takeoff.readers().size() == 4);
    // The new reader serves its group on the inference API too.
    r = post(f.server, "/management/reader", R"({"model_name": "m", "device": "cpu", "consumer_group": "gpu"})");
    CHECK(parsed(r) == json::object{{"reader_id", "gpu-0"}});
    CHECK(post(f.server, "/generate", R"({"text": "x", "consumer_group": "gpu"})").result() == http::status::ok);
    CHECK(post(f.server, "/tokenize/gpu-0", R"({"text": "x"})").result() == http::status::ok);

    const auto refused = [&](std::string body, std::string_view message) {
        CAPTURE(body);
        const auto reply = post(f.server, "/management/reader", std::move(body));
        CHECK(reply.result() == http::status::bad_request);
        CHECK(parsed(reply) == detail_of(message));
    };
    refused(R"({"device": "cpu", "consumer_group": "g"})", "Reader creation failed: model_name must be a non-empty string");
    refused(R"({"model_name": "", "device": "cpu", "consumer_group": "g"})", "Reader creation failed: model_name must be a non-empty string");
    refused(R"({"model_name": "m", "device": "mars", "consumer_group": "g"})", "Reader creation failed: device must be \"cpu\" or \"cuda\"");
    refused(R"({"model_name": "m", "consumer_group": "g"})", "Reader creation failed: device must be a non-empty string");
    refused(R"({"model_name": "m", "device": "cpu"})", "Reader creation failed: consumer_group must be a non-empty string");
    CHECK(post(f.server, "/management/reader", "nope").result() == http::status::unprocessable_entity);

    r = send(f.server, make_request(http::verb::delete_, "/management/reader/primary-1"));
    CHECK(r.result() == http::status::no_content);
    CHECK(r.body().empty());
    CHECK(r.find(http::field::content_type) == r.end());
    r = send(f.server, make_request(http::verb::delete_, "/management/reader/primary-1"));
    CHECK(r.result() == http::status::not_found);
    CHECK(parsed(r) == detail_of("Reader primary-1 not found"));
    CHECK(get(f.server, "/management/config/primary-1").result() == http::status::not_found);
    // An id once given is not given again.
    r = post(f.server, "/management/reader", R"({"model_name": "m", "device": "cpu", "consumer_group": "primary"})");
    CHECK(parsed(r) == json::object{{"reader_id", "primary-2"}});

    r = get(f.server, "/management/status");
    const json::object status = parsed(r).as_object();
    const json::object& config = status.at("config").as_object();
    CHECK(config.at("port") == 3000);
    CHECK(config.at("management_port") == 3001);
    CHECK(config.at("openai_port") == 3003);
    CHECK(config.at("vertex_port") == 3002);
    CHECK(config.at("snowflake_port") == 3004);
    CHECK(config.at("internal_port") == 3005);
    CHECK(config.at("enable_metrics") == true);
    CHECK(config.at("body_size_limit_bytes") == 2097152);
    CHECK(config.at("reserved_consumers") == "primary");
    const json::object& inner = status.at("status").as_object();
    CHECK(inner.at("live_readers").as_object().size() == 5);
    CHECK(inner.at("live_readers").at("embed-0") ==
          json::object{{"consumer_groups", {"embed"}},
                       {"consumer_name", "embed-0"},
                       {"device", "cpu"},
                       {"model_name", "emulator/embed"},
                       {"model_type", "EMBEDDING"},
                       {"pids", json::array{emu::detail::reader_pid("embed-0")}}});
    CHECK(inner.at("dead_readers") == json::object{});
    CHECK(inner.at("loading_readers") == json::object{});
    CHECK(inner.at("reserved_consumers") == json::array{"primary"});
    CHECK(inner.at("last_heartbeat").at("embed-0").at("heartbeat_wait_interval") == 1);
    CHECK(inner.at("last_heartbeat").at("embed-0").at("heartbeat_timestamp").is_int64());
    f.takeoff.configure([](emu::takeoff_options& o) { o.legacy_status_shape = true; });
    r = get(f.server, "/management/status");
    CHECK(parsed(r).at("status").at("live_readers").at("embed-0").at("consumer_group") == "embed");
}

TEST_CASE("takeoff emulator: OpenAI chat completions, buffered and streamed, and embeddings; an unknown model is 404")
{
    takeoff_fixture f;
    const std::string messages = R"([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "first"},
                                     {"role": "assistant", "content": "ok"}, {"role": "user", "content": "Tell me more"}])";
    auto r = post(f.server, "/v1/chat/completions", R"({"model": "primary", "max_tokens": 5, "temperature": 0.2, "messages": )" + messages + "}");
    CHECK(r.result() == http::status::ok);
    json::object reply = parsed(r).as_object();
    CHECK(reply.at("id") == "chatcmpl-emu-1");
    CHECK(reply.at("object") == "chat.completion");
    CHECK(reply.at("created").is_int64());
    CHECK(reply.at("model") == "primary");
    const json::value choice = json::object{{"index", 0},
                                            {"message", {{"role", "assistant"}, {"content", emu::generated_text("Tell me more", 5)}}},
                                            {"finish_reason", "length"}};
    CHECK(reply.at("choices") == json::array{choice});
    CHECK(reply.at("usage") == json::object{{"prompt_tokens", 7}, {"completion_tokens", 5}, {"total_tokens", 12}});

    const raw_response raw = split_chunked(raw_post(
        f.server, "/v1/chat/completions", R"({"model": "primary", "stream": true, "max_tokens": 6, "messages": )" + messages + "}"));
    CHECK(raw.last_chunk);
    CHECK(has_header(raw.head, "Content-Type: text/event-stream"));
    const auto events = sse_events(joined(raw.chunks));
    REQUIRE(events.data.size() == 9); // role, 6 tokens, finish, [DONE]
    CHECK(raw.chunks.size() == 9);
    const auto chunk_of = [](const std::string& data) { return json::parse(data).as_object(); };
    json::object first = chunk_of(events.data[0]);
    CHECK(first.at("id") == "chatcmpl-emu-2");
    CHECK(first.at("object") == "chat.completion.chunk");
    CHECK(first.at("model") == "primary");
    CHECK(first.at("choices") ==
          json::array{json::object{{"index", 0}, {"delta", {{"role", "assistant"}, {"content", ""}}}, {"finish_reason", nullptr}}});
    std::string content;
    for (std::size_t i = 1; i <= 6; ++i) {
        const json::object c = chunk_of(events.data[i]);
        CHECK(c.at("id") == "chatcmpl-emu-2");
        CHECK(c.at("created") == first.at("created"));
        const json::object& ch = c.at("choices").as_array().at(0).as_object();
        CHECK(ch.at("finish_reason").is_null());
        CHECK(ch.at("delta").as_object().size() == 1);
        content += json::value_to<std::string>(ch.at("delta").at("content"));
    }
    CHECK(content == emu::generated_text("Tell me more", 6));
    CHECK(chunk_of(events.data[7]).at("choices") ==
          json::array{json::object{{"index", 0}, {"delta", json::object{}}, {"finish_reason", "length"}}});
    CHECK(events.data[8] == "[DONE]");
    CHECK(raw.chunks[8] == "data: [DONE]\n\n");

    r = post(f.server, "/v1/chat/completions", R"({"model": "gpt-4", "messages": [{"role": "user", "content": "x"}]})");
    CHECK(r.result() == http::status::not_found);
    CHECK(parsed(r) == json::parse(R"({"error": {"message": "The model `gpt-4` does not exist", "type": "invalid_request_error"}})"));
    r = post(f.server, "/v1/chat/completions", R"({"model": "primary", "messages": [{"role": "system", "content": "x"}]})");
    CHECK(r.result() == http::status::bad_request);
    CHECK(parsed(r) == detail_of("messages has no user message"));
    r = post(f.server, "/v1/chat/completions", R"({"model": "primary"})");
    CHECK(r.result() == http::status::unprocessable_entity);
    r = post(f.server, "/v1/chat/completions", R"({"messages": []})");
    CHECK(r.result() == http::status::unprocessable_entity);
    r = post(f.server, "/v1/chat/completions", R"({"model": "primary", "stream": "yes", "messages": [{"role": "user", "content": "x"}]})");
    CHECK(r.result() == http::status::bad_request);

    r = post(f.server, "/v1/embeddings", R"({"input": ["hello", "big world"], "model": "embed"})");
    reply = parsed(r).as_object();
    CHECK(reply.at("object") == "list");
    CHECK(reply.at("model") == "embed");
    CHECK(reply.at("usage") == json::object{{"prompt_tokens", 3}, {"total_tokens", 3}});
    const json::array& data = reply.at("data").as_array();
    REQUIRE(data.size() == 2);
    CHECK(data[1].at("object") == "embedding");
    CHECK(data[1].at("index") == 1);
    // The same vectors as /embed.
    CHECK(data[1].at("embedding") == parsed(post(f.server, "/embed", R"({"text": "big world"})")).at("result"));
    r = post(f.server, "/v1/embeddings", R"({"input": "hello", "model": "nope"})");
    CHECK(r.result() == http::status::not_found);
    CHECK(parsed(r).at("error").at("type") == "invalid_request_error");
    CHECK(f.takeoff.stream_requests() == 1);
    CHECK(f.takeoff.generate_requests() == 0);
}

TEST_CASE("takeoff emulator: routes under a prefix answer only there; a prefix must start with '/'")
{
    emu::server server;
    emu::takeoff_emulator takeoff;
    takeoff.install_inference(server, "/inference/");
    takeoff.install_management(server, "/mgmt");
    takeoff.install_openai(server, "/oai");
    CHECK(post(server, "/inference/generate", R"({"text": "x"})").result() == http::status::ok);
    CHECK(post(server, "/inference/tokenize/primary-0", R"({"text": "x"})").result() == http::status::ok);
    CHECK(get(server, "/inference/status").body().find("consumer_groups") != std::string::npos);
    CHECK(get(server, "/mgmt/status").body().find("management_port") != std::string::npos);
    CHECK(post(server, "/oai/v1/embeddings", R"({"input": "x", "model": "embed"})").result() == http::status::ok);
    auto r = post(server, "/generate", R"({"text": "x"})");
    CHECK(r.result() == http::status::not_found);
    CHECK(r.body() == R"({"detail":"Not Found"})");
    CHECK(get(server, "/status").result() == http::status::not_found);
    CHECK_THROWS_AS(takeoff.install_inference(server, "inference"), std::invalid_argument);
}

TEST_CASE("takeoff emulator: behind the Snowflake ingress a request without a credential gets 302, with a session token 200")
{
    emu::server server;
    emu::snowflake_emulator account;
    emu::takeoff_emulator takeoff;
    const emu::takeoff_emulator::wrapper behind_ingress = [&account](emu::handler h) { return account.ingress(std::move(h)); };
    takeoff.install_inference(server, "", behind_ingress);
    takeoff.install_management(server, "/management", behind_ingress);
    takeoff.install_openai(server, "", behind_ingress);

    auto r = post(server, "/generate", R"({"text": "x"})");
    CHECK(r.result() == http::status::found);
    CHECK(std::string_view(r[http::field::location]).starts_with(account.options().ingress_login_url + "?"));
    CHECK(get(server, "/management/reader_groups").result() == http::status::found);
    CHECK(takeoff.generate_requests() == 0);

    const std::string token = account.issue_session_token();
    const auto with_token = [&](string_request request) {
        request.set(http::field::authorization, "Snowflake Token=\"" + token + "\"");
        return send(server, std::move(request));
    };
    r = with_token(make_request(http::verb::post, "/generate", R"({"text": "x"})"));
    CHECK(r.result() == http::status::ok);
    CHECK(parsed(r) == json::object{{"text", emu::generated_text("x", 16)}});
    CHECK(with_token(make_request(http::verb::get, "/management/reader_groups")).result() == http::status::ok);
    r = with_token(make_request(http::verb::post, "/generate_stream", R"({"text": "x", "max_new_tokens": 3})"));
    CHECK(r.result() == http::status::ok);
    CHECK(sse_events(r.body()).data == emu::generated_tokens("x", 3));
    r = with_token(make_request(http::verb::post, "/v1/embeddings", R"({"input": "x", "model": "embed"})"));
    CHECK(r.result() == http::status::ok);
    CHECK(takeoff.generate_requests() == 2);
    CHECK(account.ingress_accepted() == 4);
    CHECK(account.ingress_rejections() == 2);
}
