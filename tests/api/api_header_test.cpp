// The api/ umbrella header brings every request type, and each one satisfies exactly one of the
// request concepts and names its API.
#include <takeoff/api/api.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace api = takeoff::api;

template <class R, api::api_kind Kind, bool Streamed = false>
constexpr bool shaped = api::request<R> && R::api == Kind && api::streaming_request<R> == Streamed &&
                        api::buffered_request<R> == !Streamed;

static_assert(shaped<api::basic_generate<false, std::string>, api::api_kind::inference>);
static_assert(shaped<api::basic_generate<true, std::string>, api::api_kind::inference, true>);
static_assert(shaped<api::basic_embed<std::vector<std::string>>, api::api_kind::inference>);
static_assert(shaped<api::basic_classify<std::vector<api::text_pair>>, api::api_kind::inference>);
static_assert(shaped<api::basic_tokenize<std::pair<std::string, std::string>>, api::api_kind::inference>);
static_assert(shaped<api::basic_detokenize<std::int64_t>, api::api_kind::inference>);
static_assert(shaped<api::basic_chat_template<true>, api::api_kind::inference>);
static_assert(shaped<api::status_request, api::api_kind::inference>);
static_assert(shaped<api::healthz_request, api::api_kind::inference>);
static_assert(shaped<api::reader_groups_request, api::api_kind::management>);
static_assert(shaped<api::create_reader_request, api::api_kind::management>);
static_assert(shaped<api::delete_reader_request, api::api_kind::management>);
static_assert(shaped<api::reader_config_request, api::api_kind::management>);
static_assert(shaped<api::management_status_request, api::api_kind::management>);
static_assert(shaped<api::openai::basic_chat<false>, api::api_kind::openai>);
static_assert(shaped<api::openai::basic_chat<true>, api::api_kind::openai, true>);
static_assert(shaped<api::openai::basic_embeddings<std::string>, api::api_kind::openai>);

TEST_CASE("api.hpp: GET requests send no body and no Content-Type") {
    const auto http = api::to_http_request(api::management_url(), api::reader_groups());
    CHECK(http.body.empty());
    CHECK_FALSE(http.headers.contains(boost::beast::http::field::content_type));
    CHECK(http.headers[boost::beast::http::field::accept] == "application/json");
}
