// Reader management (Takeoff's management API): list the reader groups, create a reader, see it
// listed, delete it, see it gone.
//
//   A real account:  example_readers --config takeoff.json [MODEL [DEVICE]]
//                    (management_url set; creating a reader loads MODEL on DEVICE, "cpu" or "cuda")
//   The emulator:    takeoff-emulator --https --auth pat --cert-dir /tmp/emu -- example_readers
#include "harness.hpp"

#include <iostream>
#include <map>
#include <string>
#include <vector>

namespace api = takeoff::api;

using reader_groups = std::map<api::consumer_group, std::vector<api::reader_summary>>;

// Prints the groups; true when `reader` is one of their readers.
static bool list(const reader_groups& groups, const api::reader_id& reader) {
    bool found = false;
    for (const auto& [group, readers] : groups)
        for (const auto& r : readers) {
            std::cout << "  " << group << ": " << r.id << " (" << r.model_name << ", " << r.device << ")\n";
            found = found || r.id == reader;
        }
    return found;
}

boost::asio::awaitable<void> run(example::context& ex) {
    ex.step = "list the reader groups";
    reader_groups groups = co_await ex.client().async_reader_groups();
    std::cout << "readers:\n";
    list(groups, api::reader_id());

    api::reader_config config; // checked before it is sent (model, device, limits)
    config.model_name = ex.arg(0, "Qwen/Qwen2.5-0.5B-Instruct");
    config.device = ex.arg(1, "cpu");
    config.consumer_group = api::consumer_group("example-readers");
    config.max_batch_size = 4;

    ex.step = "create a reader";
    api::reader_id id = co_await ex.client().async_create_reader(config);
    std::cout << "created " << id << ", now:\n";
    ex.step = "see the new reader";
    groups = co_await ex.client().async_reader_groups();
    example::expect(list(groups, id), "the new reader is not listed");

    ex.step = "delete the reader";
    co_await ex.client().async_delete_reader(id);
    std::cout << "deleted " << id << ", now:\n";
    ex.step = "see the reader gone";
    groups = co_await ex.client().async_reader_groups();
    example::expect(!list(groups, id), "the deleted reader is still listed");
}

int main(int argc, char** argv) { return example::main(argc, argv, "[MODEL [DEVICE]]", run); }
