#pragma once
// The management API (port 3001, reference §5): list, create and delete readers, read a reader's
// config and the server's status.
//
//     auto groups = api::reader_groups();                      // consumer group -> reader summaries
//     api::reader_config cfg{.model_name = "TheBloke/Llama-2-7B-Chat-AWQ", .device = "cuda"};
//     cfg.max_sequence_length = 4096;
//     auto made = api::create_reader(cfg);                      // completes with the new reader_id
//     auto gone = api::delete_reader(api::reader_id("primary-1"));
//
// These requests name api_kind::management: sending one to the inference base URL does not
// compile. create_reader checks its config before sending (api::validate): an empty model name is
// errc::missing_field, a device other than "cpu" or "cuda" errc::invalid_argument.

#include <takeoff/api/detail/json_reply.hpp>
#include <takeoff/api/ids.hpp>
#include <takeoff/api/nothing.hpp>
#include <takeoff/api/request.hpp>
#include <takeoff/api/status.hpp>
#include <takeoff/core/config.hpp>
#include <takeoff/core/redact.hpp>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace takeoff::api {

/// One reader as /reader_groups lists it.
struct reader_summary {
    reader_id id{std::string()};
    /// "cpu" or "cuda" ("backend" in older servers).
    std::string device;
    std::string model_name;
    std::string model_type;
    /// Its processes.
    std::vector<std::int64_t> pids;
    /// Whether it serves requests yet (absent in older servers).
    std::optional<bool> ready;

    friend bool operator==(const reader_summary&, const reader_summary&) = default;
};

/// The body of POST /reader: what a new reader runs (takeoff_config's ReaderConfig). Only the
/// fields that are set are sent; `extra` carries any other field (disable_cuda_graph,
/// prefill_chunk_size, ...) as it is. Every member has an initializer so that designated
/// initializers naming only some of them draw no -Wmissing-field-initializers.
struct reader_config {
    /// The model (a Hugging Face name or a path the server can read). Required.
    std::string model_name{};
    /// "cpu" or "cuda". Required.
    std::string device{};
    /// The group the reader serves.
    api::consumer_group consumer_group = api::consumer_group::primary();
    std::optional<std::int64_t> max_batch_size{};
    /// The model's context length (max_sequence_length; LangChain's max_seq_length is not a
    /// Takeoff field).
    std::optional<std::int64_t> max_sequence_length{};
    std::optional<std::int64_t> batch_duration_millis{};
    /// The number of GPUs to split the model over.
    std::optional<std::int64_t> tensor_parallel{};
    /// e.g. "awq".
    std::optional<std::string> quant_type{};
    /// e.g. "10GB" or "90%".
    std::optional<std::string> page_cache_size{};
    /// e.g. "0,1".
    std::optional<std::string> cuda_visible_devices{};
    std::optional<std::string> log_level{};
    /// A Hugging Face token for gated models: a secret, never printed.
    std::optional<secret> access_token{};
    std::optional<std::string> backend{};
    std::optional<std::string> redis_host{};
    /// Further fields, sent as they are (must not repeat a field above).
    boost::json::object extra{};
};

namespace detail {
inline constexpr std::array<std::string_view, 15> reader_config_fields = {
    "model_name",      "device",          "consumer_group",       "max_batch_size", "max_sequence_length",
    "batch_duration_millis", "tensor_parallel", "quant_type",     "page_cache_size", "cuda_visible_devices",
    "log_level",       "access_token",    "backend",              "redis_host",     "max_seq_length"};
} // namespace detail

/// Checks `cfg` as the server would before anything is sent: an empty model_name is
/// errc::missing_field, a device other than "cpu" or "cuda" errc::invalid_argument, an empty
/// consumer group errc::missing_field, a max_batch_size, max_sequence_length or tensor_parallel
/// below 1 or a negative batch_duration_millis errc::out_of_range, and an `extra` key that repeats
/// a typed field (or is "max_seq_length") errc::invalid_argument. diag names the field.
inline boost::system::error_code validate(const reader_config& cfg, diagnostics& diag) {
    auto fail = [&](errc code, std::string message) {
        diag.set_client_message(std::move(message));
        return make_error_code(code);
    };
    if (cfg.model_name.empty()) return fail(errc::missing_field, "the reader config has no model_name");
    if (cfg.device != "cpu" && cfg.device != "cuda")
        return fail(errc::invalid_argument,
                    cfg.device.empty() ? std::string("the reader config has no device (expected \"cpu\" or \"cuda\")")
                                       : "the reader config's device \"" + cfg.device +
                                             "\" is neither \"cpu\" nor \"cuda\"");
    if (cfg.consumer_group.str().empty()) return fail(errc::missing_field, "the reader config has an empty consumer_group");
    auto at_least = [&](const std::optional<std::int64_t>& v, std::int64_t min, std::string_view name) {
        if (v && *v < min)
            return fail(errc::out_of_range, "the reader config's " + std::string(name) + " must be at least " +
                                                std::to_string(min) + " (got " + std::to_string(*v) + ")");
        return boost::system::error_code();
    };
    if (auto ec = at_least(cfg.max_batch_size, 1, "max_batch_size")) return ec;
    if (auto ec = at_least(cfg.max_sequence_length, 1, "max_sequence_length")) return ec;
    if (auto ec = at_least(cfg.tensor_parallel, 1, "tensor_parallel")) return ec;
    if (auto ec = at_least(cfg.batch_duration_millis, 0, "batch_duration_millis")) return ec;
    for (const auto& [key, value] : cfg.extra) {
        for (std::string_view field : detail::reader_config_fields)
            if (key == field)
                return fail(errc::invalid_argument,
                            field == "max_seq_length"
                                ? std::string("the reader config's extra sets \"max_seq_length\", which Takeoff does not "
                                              "know: use max_sequence_length")
                                : "the reader config's extra sets \"" + std::string(field) +
                                      "\", a field of reader_config: set it there");
    }
    return {};
}

/// The JSON of `cfg` as POST /reader takes it: the typed fields that are set, then `extra`. The
/// access token is written in plain text (the body is what carries it to the server).
inline boost::json::object to_json_object(const reader_config& cfg) {
    boost::json::object o;
    o["model_name"] = cfg.model_name;
    o["device"] = cfg.device;
    o["consumer_group"] = cfg.consumer_group.str();
    if (cfg.max_batch_size) o["max_batch_size"] = *cfg.max_batch_size;
    if (cfg.max_sequence_length) o["max_sequence_length"] = *cfg.max_sequence_length;
    if (cfg.batch_duration_millis) o["batch_duration_millis"] = *cfg.batch_duration_millis;
    if (cfg.tensor_parallel) o["tensor_parallel"] = *cfg.tensor_parallel;
    if (cfg.quant_type) o["quant_type"] = *cfg.quant_type;
    if (cfg.page_cache_size) o["page_cache_size"] = *cfg.page_cache_size;
    if (cfg.cuda_visible_devices) o["cuda_visible_devices"] = *cfg.cuda_visible_devices;
    if (cfg.log_level) o["log_level"] = *cfg.log_level;
    if (cfg.access_token) o["access_token"] = cfg.access_token->reveal();
    if (cfg.backend) o["backend"] = *cfg.backend;
    if (cfg.redis_host) o["redis_host"] = *cfg.redis_host;
    for (const auto& [key, value] : cfg.extra)
        if (!o.contains(key)) o[key] = value;
    return o;
}

/// GET /reader_groups. Made by api::reader_groups().
class reader_groups_request {
public:
    static constexpr api_kind api = api_kind::management;
    static constexpr boost::beast::http::verb method = boost::beast::http::verb::get;
    /// Each consumer group and its readers.
    using response_type = std::map<consumer_group, std::vector<reader_summary>>;

    std::string path() const { return "/reader_groups"; }
    std::string body() const { return {}; }

    /// {"<group>": [{"reader_id", "device" | "backend", "model_name", "model_type", "pids"?,
    /// "ready"?}, ...], ...}; reader_id is required, absent strings are left empty.
    boost::system::result<response_type> parse_response(const http::response& resp, diagnostics& diag) const {
        static constexpr std::string_view what = "/reader_groups";
        auto reply = detail::parse_object_reply(resp.body, what, diag);
        if (!reply) return reply.error();
        response_type out;
        for (const auto& [group_key, readers_json] : *reply) {
            const std::string group(group_key);
            const auto* readers = readers_json.if_array();
            if (!readers) return detail::bad_reply(diag, what, "has a group '" + group + "' that is not an array");
            std::vector<reader_summary> summaries;
            summaries.reserve(readers->size());
            for (std::size_t i = 0; i < readers->size(); ++i) {
                const std::string where = "in group '" + group + "'";
                const auto* r = (*readers)[i].if_object();
                if (!r) return detail::bad_reply(diag, what, "has a reader " + where + " that is not an object");
                reader_summary s;
                auto id = detail::string_member(*r, "reader_id", what, diag, where);
                if (!id) return id.error();
                s.id = reader_id(std::move(*id));
                const std::string of = "of reader '" + s.id.str() + "'";
                auto device = detail::optional_string_member(*r, "device", what, diag, of);
                if (!device) return device.error();
                auto backend = detail::optional_string_member(*r, "backend", what, diag, of);
                if (!backend) return backend.error();
                s.device = *device ? std::move(**device) : (*backend ? std::move(**backend) : std::string());
                auto model_name = detail::optional_string_member(*r, "model_name", what, diag, of);
                if (!model_name) return model_name.error();
                if (*model_name) s.model_name = std::move(**model_name);
                auto model_type = detail::optional_string_member(*r, "model_type", what, diag, of);
                if (!model_type) return model_type.error();
                if (*model_type) s.model_type = std::move(**model_type);
                if (const auto* pids = r->if_contains("pids"); pids && !pids->is_null()) {
                    const auto* arr = pids->if_array();
                    if (!arr) return detail::bad_reply(diag, what, "has a 'pids' " + of + " that is not an array");
                    for (const auto& p : *arr) {
                        auto n = detail::integer(p);
                        if (!n) return detail::bad_reply(diag, what, "has a pid " + of + " that is not an integer");
                        s.pids.push_back(*n);
                    }
                }
                if (const auto* ready = r->if_contains("ready"); ready && !ready->is_null()) {
                    if (!ready->is_bool()) return detail::bad_reply(diag, what, "has a 'ready' " + of + " that is not a boolean");
                    s.ready = ready->get_bool();
                }
                summaries.push_back(std::move(s));
            }
            out.emplace(consumer_group(group), std::move(summaries));
        }
        return out;
    }
};

/// POST /reader: starts a reader. Made by api::create_reader(cfg).
class create_reader_request {
public:
    static constexpr api_kind api = api_kind::management;
    static constexpr boost::beast::http::verb method = boost::beast::http::verb::post;
    /// The new reader's id.
    using response_type = reader_id;

    explicit create_reader_request(reader_config cfg) : config_(std::move(cfg)) {}

    /// The config sent.
    const reader_config& config() const noexcept { return config_; }

    std::string path() const { return "/reader"; }
    /// The config's JSON (to_json_object).
    std::string body() const { return boost::json::serialize(to_json_object(config_)); }

    /// validate(config(), diag): the client calls it before sending.
    boost::system::error_code validate(diagnostics& diag) const { return api::validate(config_, diag); }

    /// {"reader_id": "..."} with any 2xx status (201 from current servers); a reply without it
    /// (an empty body included) is errc::invalid_response.
    boost::system::result<reader_id> parse_response(const http::response& resp, diagnostics& diag) const {
        static constexpr std::string_view what = "POST /reader";
        if (resp.body.empty()) return detail::bad_reply(diag, what, "is empty (expected the new reader's reader_id)");
        auto reply = detail::parse_object_reply(resp.body, what, diag);
        if (!reply) return reply.error();
        auto id = detail::string_member(*reply, "reader_id", what, diag);
        if (!id) return id.error();
        if (id->empty()) return detail::bad_reply(diag, what, "has an empty 'reader_id'");
        return reader_id(std::move(*id));
    }

private:
    reader_config config_;
};

/// DELETE /reader/{reader_id}. Made by api::delete_reader(id).
class delete_reader_request {
public:
    static constexpr api_kind api = api_kind::management;
    static constexpr boost::beast::http::verb method = boost::beast::http::verb::delete_;
    using response_type = nothing;

    explicit delete_reader_request(reader_id id) : id_(std::move(id)) {}

    /// The reader addressed.
    const reader_id& reader() const noexcept { return id_; }

    std::string path() const { return "/reader/" + detail::encode_segment(id_.str()); }
    std::string body() const { return {}; }

    /// An empty reader id would address /reader/ itself: errc::invalid_argument.
    boost::system::error_code validate(diagnostics& diag) const {
        if (id_.str().empty()) return detail::empty_reader_id(diag, "DELETE /reader");
        return {};
    }

    /// Any 2xx (204 from current servers), whatever the body.
    boost::system::result<nothing> parse_response(const http::response&, diagnostics&) const { return nothing{}; }

private:
    reader_id id_;
};

/// GET /config/{reader_id}. Made by api::reader_config_of(id).
class reader_config_request {
public:
    static constexpr api_kind api = api_kind::management;
    static constexpr boost::beast::http::verb method = boost::beast::http::verb::get;
    /// The reader's config as the server keeps it (its fields vary between versions).
    using response_type = boost::json::object;

    explicit reader_config_request(reader_id id) : id_(std::move(id)) {}

    /// The reader addressed.
    const reader_id& reader() const noexcept { return id_; }

    std::string path() const { return "/config/" + detail::encode_segment(id_.str()); }
    std::string body() const { return {}; }

    /// An empty reader id: errc::invalid_argument.
    boost::system::error_code validate(diagnostics& diag) const {
        if (id_.str().empty()) return detail::empty_reader_id(diag, "/config");
        return {};
    }

    /// A JSON object.
    boost::system::result<boost::json::object> parse_response(const http::response& resp, diagnostics& diag) const {
        return detail::parse_object_reply(resp.body, "/config", diag);
    }

private:
    reader_id id_;
};

/// The readers part of the management /status.
struct server_readers {
    std::map<reader_id, reader_info> live_readers;
    std::map<reader_id, reader_info> dead_readers;
    std::map<reader_id, reader_info> loading_readers;
    /// The consumer groups reserved by the server's config.
    std::vector<std::string> reserved_consumers;

    friend bool operator==(const server_readers&, const server_readers&) = default;
};

/// What the management API's /status answers.
struct management_status_reply {
    /// The server's AppConfig (ports, limits; the fields vary between versions).
    boost::json::object config;
    /// The readers; nullopt when the server sent null.
    std::optional<server_readers> status;

    friend bool operator==(const management_status_reply&, const management_status_reply&) = default;
};

/// GET /status on the management API. Made by api::management_status().
class management_status_request {
public:
    static constexpr api_kind api = api_kind::management;
    static constexpr boost::beast::http::verb method = boost::beast::http::verb::get;
    using response_type = management_status_reply;

    std::string path() const { return "/status"; }
    std::string body() const { return {}; }

    /// {"config": {...}, "status": {"live_readers", "dead_readers", "loading_readers",
    /// "reserved_consumers", "last_heartbeat", ...} | null}. config is required; reader maps as in
    /// the inference /status (either consumer group shape); reserved_consumers may be an array or
    /// one string; last_heartbeat is ignored.
    boost::system::result<management_status_reply> parse_response(const http::response& resp, diagnostics& diag) const {
        static constexpr std::string_view what = "management /status";
        auto reply = detail::parse_object_reply(resp.body, what, diag);
        if (!reply) return reply.error();
        management_status_reply out;
        const auto* config = reply->if_contains("config");
        if (!config) return detail::bad_reply(diag, what, "has no 'config'");
        if (!config->is_object()) return detail::bad_reply(diag, what, "has a 'config' that is not an object");
        out.config = config->get_object();
        const auto* status = reply->if_contains("status");
        if (!status || status->is_null()) return out;
        const auto* st = status->if_object();
        if (!st) return detail::bad_reply(diag, what, "has a 'status' that is neither an object nor null");
        server_readers readers;
        auto live = detail::parse_reader_map(*st, "live_readers", what, diag);
        if (!live) return live.error();
        readers.live_readers = std::move(*live);
        auto dead = detail::parse_reader_map(*st, "dead_readers", what, diag);
        if (!dead) return dead.error();
        readers.dead_readers = std::move(*dead);
        auto loading = detail::parse_reader_map(*st, "loading_readers", what, diag);
        if (!loading) return loading.error();
        readers.loading_readers = std::move(*loading);
        if (const auto* reserved = st->if_contains("reserved_consumers"); reserved && !reserved->is_null()) {
            if (reserved->is_string()) {
                if (!reserved->get_string().empty()) readers.reserved_consumers.emplace_back(reserved->get_string());
            } else if (const auto* arr = reserved->if_array()) {
                for (const auto& r : *arr) {
                    if (!r.is_string())
                        return detail::bad_reply(diag, what, "has a 'reserved_consumers' that holds a non-string");
                    readers.reserved_consumers.emplace_back(r.get_string());
                }
            } else {
                return detail::bad_reply(diag, what, "has a 'reserved_consumers' that is neither an array nor a string");
            }
        }
        out.status = std::move(readers);
        return out;
    }
};

/// GET /reader_groups: each consumer group and its readers.
inline reader_groups_request reader_groups() { return {}; }
/// POST /reader: starts a reader with `cfg` (checked before sending: see validate); completes with
/// its id.
inline create_reader_request create_reader(reader_config cfg) { return create_reader_request(std::move(cfg)); }
/// DELETE /reader/{id}: stops the reader.
inline delete_reader_request delete_reader(reader_id id) { return delete_reader_request(std::move(id)); }
/// GET /config/{id}: the reader's config.
inline reader_config_request reader_config_of(reader_id id) { return reader_config_request(std::move(id)); }
/// GET /status (management API): the server's config and its readers.
inline management_status_request management_status() { return {}; }

} // namespace takeoff::api
