#pragma once
// GET /status and GET /healthz of the inference API (reference §2.9).
//
//     auto s = api::status();          // api::inference_status
//     auto ready = api::healthz();     // bool
//
// /status lists the readers and the consumer groups each serves; Takeoff 0.19 changed a reader's
// "consumer_group" (a string) into "consumer_groups" (an array): both are read. To address one
// reader (tokenize, chat_template) find its id with inference_status::readers_in(group).

#include <takeoff/api/detail/json_reply.hpp>
#include <takeoff/api/ids.hpp>
#include <takeoff/api/request.hpp>
#include <takeoff/core/config.hpp>
#include <takeoff/core/error.hpp>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace takeoff::api {

/// One reader as /status describes it.
struct reader_info {
    /// The groups it serves ("consumer_groups", or the older single "consumer_group").
    std::vector<consumer_group> consumer_groups;
    /// "cpu" or "cuda" ("backend" in older servers).
    std::string device;
    std::string model_name;
    std::string model_type;
    /// The LoRA modules it can apply, as the server wrote them (a string; another JSON value is kept
    /// as its JSON text); nullopt when absent or null.
    std::optional<std::string> loras;

    friend bool operator==(const reader_info&, const reader_info&) = default;
};

/// What the inference API's /status answers.
struct inference_status {
    std::map<reader_id, reader_info> live_readers;
    std::map<reader_id, reader_info> dead_readers;
    /// The ports the server listens on.
    std::vector<int> ports;

    /// The ids of the live readers that serve `group`, in id order (empty when none does).
    std::vector<reader_id> readers_in(const consumer_group& group) const {
        std::vector<reader_id> out;
        for (const auto& [id, info] : live_readers)
            for (const auto& g : info.consumer_groups)
                if (g == group) {
                    out.push_back(id);
                    break;
                }
        return out;
    }

    friend bool operator==(const inference_status&, const inference_status&) = default;
};

namespace detail {

/// One reader's info: "consumer_groups" (array of strings) or "consumer_group" (a string); "device"
/// or "backend"; absent strings are left empty; anything present of the wrong type is an error.
/// Other members ("consumer_name", "pids", "enable_document_processing") are ignored.
inline boost::system::result<reader_info> parse_reader_info(const boost::json::value& v, const std::string& id,
                                                            std::string_view what, diagnostics& diag) {
    const std::string where = "of reader '" + id + "'";
    const auto* obj = v.if_object();
    if (!obj) return bad_reply(diag, what, "has a reader '" + id + "' that is not an object");
    reader_info info;
    if (const auto* groups = obj->if_contains("consumer_groups"); groups && !groups->is_null()) {
        const auto* arr = groups->if_array();
        if (!arr) return bad_reply(diag, what, "has a 'consumer_groups' " + where + " that is not an array");
        for (const auto& g : *arr) {
            if (!g.is_string())
                return bad_reply(diag, what, "has a 'consumer_groups' " + where + " that holds a non-string");
            info.consumer_groups.emplace_back(std::string(g.get_string()));
        }
    } else {
        auto group = optional_string_member(*obj, "consumer_group", what, diag, where);
        if (!group) return group.error();
        if (*group) info.consumer_groups.emplace_back(std::move(**group));
    }
    auto device = optional_string_member(*obj, "device", what, diag, where);
    if (!device) return device.error();
    if (*device) {
        info.device = std::move(**device);
    } else {
        auto backend = optional_string_member(*obj, "backend", what, diag, where);
        if (!backend) return backend.error();
        if (*backend) info.device = std::move(**backend);
    }
    auto model_name = optional_string_member(*obj, "model_name", what, diag, where);
    if (!model_name) return model_name.error();
    if (*model_name) info.model_name = std::move(**model_name);
    auto model_type = optional_string_member(*obj, "model_type", what, diag, where);
    if (!model_type) return model_type.error();
    if (*model_type) info.model_type = std::move(**model_type);
    if (const auto* loras = obj->if_contains("loras"); loras && !loras->is_null())
        info.loras = loras->is_string() ? std::string(loras->get_string()) : boost::json::serialize(*loras);
    return info;
}

/// A {<reader_id>: info, ...} map. Absent or null: empty. An empty array (what some mocks send) is
/// taken as an empty map.
inline boost::system::result<std::map<reader_id, reader_info>> parse_reader_map(const boost::json::object& parent,
                                                                                std::string_view key,
                                                                                std::string_view what,
                                                                                diagnostics& diag) {
    std::map<reader_id, reader_info> out;
    const auto* v = parent.if_contains(key);
    if (!v || v->is_null()) return out;
    if (const auto* arr = v->if_array(); arr && arr->empty()) return out;
    const auto* obj = v->if_object();
    if (!obj) return bad_reply(diag, what, "has a '" + std::string(key) + "' that is not an object");
    for (const auto& [k, info_json] : *obj) {
        std::string id(k);
        auto info = parse_reader_info(info_json, id, what, diag);
        if (!info) return info.error();
        out.emplace(reader_id(std::move(id)), std::move(*info));
    }
    return out;
}

} // namespace detail

/// GET /status on the inference API. Made by api::status().
class status_request {
public:
    static constexpr api_kind api = api_kind::inference;
    static constexpr boost::beast::http::verb method = boost::beast::http::verb::get;
    using response_type = inference_status;

    std::string path() const { return "/status"; }
    std::string body() const { return {}; }

    /// {"live_readers": {...}, "dead_readers"?: {...}, "ports"?: [int, ...]}; live_readers is
    /// required.
    boost::system::result<inference_status> parse_response(const http::response& resp, diagnostics& diag) const {
        static constexpr std::string_view what = "/status";
        auto reply = detail::parse_object_reply(resp.body, what, diag);
        if (!reply) return reply.error();
        if (!reply->contains("live_readers")) return detail::bad_reply(diag, what, "has no 'live_readers'");
        inference_status out;
        auto live = detail::parse_reader_map(*reply, "live_readers", what, diag);
        if (!live) return live.error();
        out.live_readers = std::move(*live);
        auto dead = detail::parse_reader_map(*reply, "dead_readers", what, diag);
        if (!dead) return dead.error();
        out.dead_readers = std::move(*dead);
        if (const auto* ports = reply->if_contains("ports"); ports && !ports->is_null()) {
            const auto* arr = ports->if_array();
            if (!arr) return detail::bad_reply(diag, what, "has a 'ports' that is not an array");
            for (const auto& p : *arr) {
                auto n = detail::integer(p);
                if (!n || *n < 0 || *n > 65535) return detail::bad_reply(diag, what, "has a port that is not a port number");
                out.ports.push_back(static_cast<int>(*n));
            }
        }
        return out;
    }
};

/// GET /healthz on the inference API: whether the server is up and every reader ready. Made by
/// api::healthz().
class healthz_request {
public:
    static constexpr api_kind api = api_kind::inference;
    static constexpr boost::beast::http::verb method = boost::beast::http::verb::get;
    /// true when ready. The transport turns a 503 into errc::service_unavailable before this parser
    /// runs; the client maps that to false.
    using response_type = bool;

    std::string path() const { return "/healthz"; }
    std::string body() const { return {}; }

    /// Any 2xx (whatever the body) is true, a 503 false; another status is the errc of that status.
    boost::system::result<bool> parse_response(const http::response& resp, diagnostics& diag) const {
        if (resp.status >= 200 && resp.status < 300) return true;
        if (resp.status == 503) return false;
        diag.set_client_message("/healthz answered HTTP " + std::to_string(resp.status));
        diag.set_http_status(resp.status);
        const errc code = errc_from_http_status(resp.status);
        return boost::system::result<bool>(boost::system::in_place_error,
                                           make_error_code(code == errc{} ? errc::invalid_response : code));
    }
};

/// GET /status (inference API): the live and dead readers and the groups they serve.
inline status_request status() { return {}; }
/// GET /healthz: true once the server is ready to serve.
inline healthz_request healthz() { return {}; }

} // namespace takeoff::api
