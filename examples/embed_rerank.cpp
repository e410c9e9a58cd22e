// Embeddings of a few texts (one vector per text, in order; their dimensions printed), then the
// documents reranked for a query (Takeoff's /classify with [query, document] pairs: one score per
// pair from a reranker model), best first.
//
//   A real account:  example_embed_rerank --config takeoff.json [EMBED_GROUP [RERANK_GROUP]]
//                    (the consumer groups of an embedding and of a reranker model; the defaults
//                    "embed" and "classify" are the emulator's)
//   The emulator:    takeoff-emulator --https --auth pat --cert-dir /tmp/emu -- example_embed_rerank
#include "harness.hpp"

#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

namespace api = takeoff::api;

boost::asio::awaitable<void> run(example::context& ex) {
    std::vector<std::string> texts{"The cat sat on the mat.", "Snowflake runs containers.", "Paris is in France."};
    auto embed = api::embed(texts).consumer_group(api::consumer_group(ex.arg(0, "embed")));

    ex.step = "embed";
    std::vector<std::vector<float>> vectors = co_await ex.client().async_send(embed);
    example::expect(vectors.size() == texts.size(), "got " + std::to_string(vectors.size()) + " vectors");
    for (std::size_t i = 0; i < texts.size(); ++i) {
        std::cout << vectors[i].size() << " dimensions: " << texts[i] << '\n';
        example::expect(!vectors[i].empty() && vectors[i].size() == vectors[0].size(), "the dimensions differ");
    }

    const std::string query = "What is the capital of France?";
    std::vector<std::string> documents{"Berlin is the capital of Germany.", "Paris is the capital of France.",
                                       "The Seine flows through Paris."};
    auto rerank = api::rerank(query, documents).consumer_group(api::consumer_group(ex.arg(1, "classify")));

    ex.step = "rerank";
    std::vector<std::vector<double>> scores = co_await ex.client().async_send(rerank);
    example::expect(scores.size() == documents.size(), "got " + std::to_string(scores.size()) + " scores");
    std::vector<std::size_t> order{0, 1, 2};
    for (const auto& s : scores) example::expect(!s.empty(), "a document has no score");
    // A reranker gives one score per pair; with a classifier of several labels, the last is taken.
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a].back() > scores[b].back(); });
    std::cout << "for \"" << query << "\":\n";
    for (std::size_t i : order) std::cout << "  " << scores[i].back() << "  " << documents[i] << '\n';
}

int main(int argc, char** argv) { return example::main(argc, argv, "[EMBED_GROUP [RERANK_GROUP]]", run); }
