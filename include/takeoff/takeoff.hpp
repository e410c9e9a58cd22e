#pragma once
// takeoff-cpp: call a Takeoff inference server, signed in to Snowflake, from C++20 coroutines.
//
// The umbrella header and the root of the generated single header (tools/amalgamate.py).
// Library headers are included unconditionally here: the amalgamation inlines each one once.
//
// Define TAKEOFF_BOOST_SOURCES in exactly one translation unit, before including this header, to
// compile the Boost.JSON and Boost.URL sources into that unit. Do that only in programs that do not
// link Boost::json / Boost::url (e.g. a program that copied only the single header).

#include <takeoff/api/api.hpp>
#include <takeoff/batch.hpp>
#include <takeoff/client.hpp>
#include <takeoff/connection.hpp>
#include <takeoff/event_stream.hpp>
#include <takeoff/core/base64.hpp>
#include <takeoff/core/checked_literal.hpp>
#include <takeoff/core/config.hpp>
#include <takeoff/core/diagnostics.hpp>
#include <takeoff/core/error.hpp>
#include <takeoff/core/fixed_string.hpp>
#include <takeoff/core/json.hpp>
#include <takeoff/core/jwt.hpp>
#include <takeoff/core/redact.hpp>
#include <takeoff/core/secret_json.hpp>
#include <takeoff/core/with_diagnostics.hpp>
#include <takeoff/http/body_stream.hpp>
#include <takeoff/http/client.hpp>
#include <takeoff/http/hooks.hpp>
#include <takeoff/http/message.hpp>
#include <takeoff/http/options.hpp>
#include <takeoff/http/origin.hpp>
#include <takeoff/http/proxy.hpp>
#include <takeoff/http/redirect_policy.hpp>
#include <takeoff/http/retry_after.hpp>
#include <takeoff/http/retry_policy.hpp>
#include <takeoff/http/tls.hpp>
#include <takeoff/oauth/authorization.hpp>
#include <takeoff/oauth/browser.hpp>
#include <takeoff/oauth/endpoint.hpp>
#include <takeoff/oauth/form.hpp>
#include <takeoff/oauth/pkce.hpp>
#include <takeoff/oauth/redirect_listener.hpp>
#include <takeoff/oauth/sign_in.hpp>
#include <takeoff/oauth/token.hpp>
#include <takeoff/oauth/token_client.hpp>
#include <takeoff/oauth/token_set.hpp>
#include <takeoff/oauth/token_store.hpp>
#include <takeoff/snowflake/account_url.hpp>
#include <takeoff/snowflake/client_secrets.hpp>
#include <takeoff/snowflake/connection_config.hpp>
#include <takeoff/snowflake/credential.hpp>
#include <takeoff/snowflake/identifier.hpp>
#include <takeoff/snowflake/ingress.hpp>
#include <takeoff/snowflake/keypair.hpp>
#include <takeoff/snowflake/login.hpp>
#include <takeoff/snowflake/providers.hpp>
#include <takeoff/snowflake/scope.hpp>
#include <takeoff/snowflake/send.hpp>
#include <takeoff/sse/event.hpp>
#include <takeoff/sse/parser.hpp>

#if defined(TAKEOFF_BOOST_SOURCES)
#include <boost/json/src.hpp>
#include <boost/url/src.hpp>
#endif
