// Throughput of takeoff::sse::parser on the two shapes of stream an LLM server sends: many small
// token events, and large events. Each input is built in memory (64 MiB or more) and fed in 16 KiB
// pieces, as socket reads would deliver it; the best of several runs is reported. The memchr lines
// are the ceiling: one memchr('\n') pass over the same pieces.
//
// Prints only `BENCH <name> <value> <unit>` lines (MB = 1e6 bytes). Exits non-zero if the parser
// dispatched the wrong number of events or the wrong data.
//
// Run: `bash tools/bench.sh sse_parse`. The latest figures are in docs/benchmarks.md, not here,
// where they would go stale.

#include <takeoff/sse/parser.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

namespace {

constexpr std::size_t piece_size = 16 * 1024;
// Each figure is the best of at least min_runs runs lasting min_seconds in all: shared machines
// have slow phases that a fixed handful of runs can fall into.
constexpr int min_runs = 7;
constexpr double min_seconds = 2.0;

struct workload {
    std::string bytes;
    std::size_t events = 0;
    std::uint64_t checksum = 0; // what parse_all must compute from the dispatched data
};

// What the optimiser cannot drop: the size and the first and last bytes of every event's data.
std::uint64_t fold(std::string_view data) {
    if (data.empty()) return 0;
    return data.size() + static_cast<unsigned char>(data.front()) * 3u + static_cast<unsigned char>(data.back());
}

// ~27-byte events carrying an 8-byte token, the shape of a token stream.
workload small_events(std::size_t at_least) {
    workload w;
    w.bytes.reserve(at_least + 64);
    char line[64];
    while (w.bytes.size() < at_least) {
        const int n = std::snprintf(line, sizeof line, "data: {\"text\":\"tok%05u\"}\n\n",
                                    static_cast<unsigned>(w.events % 100000));
        w.bytes.append(line, static_cast<std::size_t>(n));
        w.checksum += fold(std::string_view(line + 6, static_cast<std::size_t>(n) - 8));
        ++w.events;
    }
    return w;
}

// Events whose data is one 64 KiB line.
workload large_events(std::size_t at_least) {
    workload w;
    std::string value = "{\"text\":\"";
    while (value.size() < 64 * 1024 - 2) value += static_cast<char>('a' + value.size() % 26);
    value += "\"}";
    w.bytes.reserve(at_least + value.size() + 16);
    while (w.bytes.size() < at_least) {
        value[9] = static_cast<char>('A' + w.events % 26); // events differ
        w.bytes += "data: ";
        w.bytes += value;
        w.bytes += "\n\n";
        w.checksum += fold(value);
        ++w.events;
    }
    return w;
}

struct tally {
    std::size_t events = 0;
    std::uint64_t checksum = 0;
    bool failed = false;
};

tally parse_all(const std::string& bytes) {
    tally t;
    takeoff::sse::parser p;
    boost::system::error_code ec;
    for (std::size_t at = 0; at < bytes.size(); at += piece_size) {
        std::string_view piece(bytes.data() + at, std::min(piece_size, bytes.size() - at));
        while (auto ev = p.next(piece, ec)) {
            ++t.events;
            t.checksum += fold(ev->data);
        }
        if (ec) t.failed = true;
    }
    p.finish();
    return t;
}

tally memchr_all(const std::string& bytes) {
    tally t;
    for (std::size_t at = 0; at < bytes.size(); at += piece_size) {
        const char* p = bytes.data() + at;
        const char* end = p + std::min(piece_size, bytes.size() - at);
        while (const void* hit = std::memchr(p, '\n', static_cast<std::size_t>(end - p))) {
            ++t.checksum;
            p = static_cast<const char*>(hit) + 1;
        }
    }
    t.events = static_cast<std::size_t>(t.checksum / 2); // two LFs per event
    return t;
}

template <class F>
double best_mb_per_s(const std::string& bytes, F run, tally& last) {
    double best = 0;
    double total = 0;
    for (int i = 0; i < min_runs || total < min_seconds; ++i) {
        const auto start = std::chrono::steady_clock::now();
        last = run(bytes);
        const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
        best = std::max(best, static_cast<double>(bytes.size()) / 1e6 / took.count());
        total += took.count();
    }
    return best;
}

bool measure(const char* name, const workload& w) {
    bool ok = true;
    tally t;
    const double parsed = best_mb_per_s(w.bytes, parse_all, t);
    if (t.failed || t.events != w.events || t.checksum != w.checksum) {
        std::fprintf(stderr, "%s: parsed %zu events (checksum %llu), expected %zu (checksum %llu)%s\n", name,
                     t.events, static_cast<unsigned long long>(t.checksum), w.events,
                     static_cast<unsigned long long>(w.checksum), t.failed ? ", with an error" : "");
        ok = false;
    }
    std::printf("BENCH %s %.1f MB/s\n", name, parsed);

    const double ceiling = best_mb_per_s(w.bytes, memchr_all, t);
    if (t.events != w.events) {
        std::fprintf(stderr, "%s_memchr: counted %zu events, expected %zu\n", name, t.events, w.events);
        ok = false;
    }
    std::printf("BENCH %s_memchr %.1f MB/s\n", name, ceiling);
    std::fflush(stdout);
    return ok;
}

} // namespace

int main() {
    constexpr std::size_t size = std::size_t{64} << 20;
    bool ok = measure("sse_parse_small", small_events(size));
    ok = measure("sse_parse_large", large_events(size)) && ok;
    return ok ? 0 : 1;
}
