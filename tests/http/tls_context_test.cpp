// tls_context_source: the client's TLS context, made on first use, shared per process when only the
// system store is trusted, and a failure remembered with its message.
#include <takeoff/http/tls.hpp>

#include <doctest/doctest.h>

namespace http = takeoff::http;

TEST_CASE("tls_context_source: system trust alone is one context per process; other trust is its own") {
    http::tls_context_source first{http::tls_options{}};
    http::tls_context_source second{http::tls_options{}};
    takeoff::diagnostics diag;
    auto a = first.get(diag);
    auto b = second.get(diag);
    REQUIRE(a);
    REQUIRE(b);
    CHECK(a->get() == b->get());
    CHECK(first.get(diag)->get() == a->get()); // made once

    http::tls_options no_system;
    no_system.use_system_trust = false;
    http::tls_context_source own{no_system};
    auto c = own.get(diag);
    REQUIRE(c);
    CHECK(c->get() != a->get());
}

TEST_CASE("tls_context_source: a CA file that does not load fails every get with the same message") {
    http::tls_options options;
    options.use_system_trust = false;
    options.ca_file = "/nonexistent/ca.pem";
    http::tls_context_source source{options};
    for (int i = 0; i < 2; ++i) {
        takeoff::diagnostics diag;
        auto context = source.get(diag);
        REQUIRE_FALSE(context);
        CHECK(diag.client_message().rfind("cannot load the CA file '/nonexistent/ca.pem': ", 0) == 0);
    }
}
