#include <takeoff/http/redirect_policy.hpp>

#include <doctest/doctest.h>

#include <boost/url/url_view.hpp>

#include <string>
#include <string_view>

using boost::beast::http::verb;
using takeoff::errc;
using takeoff::http::decide_redirect;
using takeoff::http::redirect_action;
using takeoff::http::redirect_decision;
using takeoff::http::redirect_policy;

namespace {

constexpr std::string_view current_url = "https://api.example.com/v1/generate?x=1";

redirect_decision decide(verb method, unsigned status, std::string_view location, unsigned so_far = 0,
                         redirect_policy policy = {}, std::string_view current = current_url) {
    return decide_redirect(policy, method, status, boost::urls::url_view(current), location, so_far);
}

void check_follow(const redirect_decision& d, std::string_view target) {
    REQUIRE(d.action == redirect_action::follow);
    CHECK(d.target.buffer() == target);
    CHECK_FALSE(d.error);
}

void check_fail(const redirect_decision& d, errc expected) {
    REQUIRE(d.action == redirect_action::fail);
    CHECK(d.error == takeoff::make_error_code(expected));
    CHECK_FALSE(d.message.empty());
}

void check_returned(const redirect_decision& d) {
    CHECK(d.action == redirect_action::return_response);
    CHECK_FALSE(d.error);
}

} // namespace

TEST_CASE("redirect_policy defaults") {
    const redirect_policy p;
    CHECK(p.max_redirects == 5);
    CHECK(p.follow);
    CHECK(takeoff::http::is_redirect_status(301));
    CHECK(takeoff::http::is_redirect_status(308));
    CHECK_FALSE(takeoff::http::is_redirect_status(300));
    CHECK_FALSE(takeoff::http::is_redirect_status(304));
    CHECK_FALSE(takeoff::http::is_redirect_status(306));
}

TEST_CASE("a non-redirect status or a missing Location returns the response") {
    for (unsigned status : {200u, 204u, 300u, 304u, 305u, 306u, 400u, 401u, 500u})
        check_returned(decide(verb::get, status, "/elsewhere"));
    check_returned(decide(verb::get, 302, ""));
    check_returned(decide(verb::get, 302, " \t "));
    check_returned(decide(verb::post, 307, ""));
}

TEST_CASE("GET and HEAD follow every redirect status within the origin, keeping Authorization") {
    for (unsigned status : {301u, 302u, 303u, 307u, 308u}) {
        CAPTURE(status);
        check_follow(decide(verb::get, status, "/v2/next"), "https://api.example.com/v2/next");
        check_follow(decide(verb::head, status, "/v2/next"), "https://api.example.com/v2/next");
    }
}

TEST_CASE("relative Locations are resolved against the current URL") {
    check_follow(decide(verb::get, 302, "next"), "https://api.example.com/v1/next");
    check_follow(decide(verb::get, 302, "../x?y=2"), "https://api.example.com/x?y=2");
    check_follow(decide(verb::get, 302, "?page=2"), "https://api.example.com/v1/generate?page=2");
    check_follow(decide(verb::get, 302, "/a/./b/../c"), "https://api.example.com/a/c");
    check_follow(decide(verb::get, 302, "//cdn.example.com/a"), "https://cdn.example.com/a");
    check_follow(decide(verb::get, 302, "  /padded\t"), "https://api.example.com/padded");
    check_follow(decide(verb::get, 302, "/a#section"), "https://api.example.com/a"); // fragment dropped
}

TEST_CASE("GET and HEAD follow to other origins without Authorization") {
    for (unsigned status : {301u, 302u, 303u, 307u, 308u}) {
        CAPTURE(status);
        check_follow(decide(verb::get, status, "https://other.example.com/x"), "https://other.example.com/x");
        check_follow(decide(verb::head, status, "https://other.example.com/x"), "https://other.example.com/x");
    }
    // Another port, or http -> https, is another origin.
    check_follow(decide(verb::get, 302, "https://api.example.com:8443/x"), "https://api.example.com:8443/x");
    check_follow(decide(verb::get, 301, "https://api.example.com/a", 0, {}, "http://api.example.com/a"),
                 "https://api.example.com/a");
    // The same origin spelled differently keeps it.
    check_follow(decide(verb::get, 302, "HTTPS://API.Example.com:443/x"), "HTTPS://API.Example.com:443/x");
    check_follow(decide(verb::get, 302, "http://api.example.com/b", 0, {}, "http://api.example.com:80/a"),
                 "http://api.example.com/b");
}

TEST_CASE("https to http is refused") {
    for (verb m : {verb::get, verb::head, verb::post}) {
        check_fail(decide(m, 307, "http://api.example.com/v1/generate"), errc::insecure_redirect);
        check_fail(decide(m, 308, "http://other.example.com/"), errc::insecure_redirect);
    }
    check_fail(decide(verb::get, 302, "http://api.example.com/"), errc::insecure_redirect);
    // A scheme-relative Location keeps the current scheme: no downgrade.
    check_follow(decide(verb::get, 302, "//api.example.com/x", 0, {}, "http://api.example.com/"),
                 "http://api.example.com/x");
}

TEST_CASE("POST and other methods follow 307/308 within the origin, keeping method, body and Authorization") {
    for (verb m : {verb::post, verb::put, verb::patch, verb::delete_}) {
        check_follow(decide(m, 307, "/v1/generate_stream"), "https://api.example.com/v1/generate_stream");
        check_follow(decide(m, 308, "https://API.example.com:443/v2"), "https://API.example.com:443/v2");
    }
}

TEST_CASE("POST and other methods refuse 307/308 to another origin") {
    for (verb m : {verb::post, verb::put, verb::patch, verb::delete_}) {
        check_fail(decide(m, 307, "https://other.example.com/v1/generate"), errc::insecure_redirect);
        check_fail(decide(m, 308, "https://api.example.com:8443/v1/generate"), errc::insecure_redirect);
        check_fail(decide(m, 307, "//other.example.com/"), errc::insecure_redirect);
    }
    const auto d = decide(verb::post, 307, "https://other.example.com/v1/generate");
    CHECK(d.message == "refused a 307 redirect of a POST request to another origin");
}

TEST_CASE("POST and other methods return 301/302/303 unchanged") {
    for (verb m : {verb::post, verb::put, verb::patch, verb::delete_}) {
        for (unsigned status : {301u, 302u, 303u}) {
            CAPTURE(status);
            check_returned(decide(m, status, "/v1/other"));
            check_returned(decide(m, status, "https://other.example.com/"));
            check_returned(decide(m, status, "http://api.example.com/"));
            check_returned(decide(m, status, "not a url at all"));
            check_returned(decide(m, status, "/x", 99)); // not followed, so no limit either
        }
    }
}

TEST_CASE("the policy knows no service's login host: a path or query naming it changes nothing") {
    check_follow(decide(verb::get, 302, "/sfc-endpoint-login/x"), "https://api.example.com/sfc-endpoint-login/x");
    check_follow(decide(verb::get, 302, "https://other.example/?h=sfc-endpoint-login"),
                 "https://other.example/?h=sfc-endpoint-login");
}

TEST_CASE("follow == false returns every redirect unchanged") {
    redirect_policy p;
    p.follow = false;
    for (unsigned status : {301u, 302u, 303u, 307u, 308u}) {
        check_returned(decide(verb::get, status, "/next", 0, p));
        check_returned(decide(verb::post, status, "http://other.example.com/", 0, p));
    }
}

TEST_CASE("the redirect limit") {
    check_follow(decide(verb::get, 302, "/next", 4), "https://api.example.com/next");
    check_fail(decide(verb::get, 302, "/next", 5), errc::redirect_limit);
    check_fail(decide(verb::post, 307, "/next", 6), errc::redirect_limit);
    CHECK(decide(verb::get, 302, "/next", 5).message == "stopped after 5 redirects (redirect_policy::max_redirects)");
    redirect_policy none;
    none.max_redirects = 0;
    check_fail(decide(verb::get, 301, "/next", 0, none), errc::redirect_limit);
    redirect_policy many;
    many.max_redirects = 20;
    check_follow(decide(verb::get, 301, "/next", 19, many), "https://api.example.com/next");
}

TEST_CASE("an invalid Location is invalid_response") {
    for (std::string_view bad : {"http://exa mple.com/", "https://[::1/", "/a b", "http:///nohost", "https://:443/x",
                                 "https://host:99999/", "https://exa%0Ample.com/", "http://[v1.x]/",
                                 "https://user@api.example.com@evil.example/"}) {
        CAPTURE(bad);
        check_fail(decide(verb::get, 302, bad), errc::invalid_response);
    }
}

TEST_CASE("a redirect to a scheme other than http(s) is insecure_redirect") {
    check_fail(decide(verb::get, 302, "ftp://files.example.com/x"), errc::insecure_redirect);
    check_fail(decide(verb::get, 302, "javascript:alert(1)"), errc::insecure_redirect);
    check_fail(decide(verb::get, 302, "file:///etc/passwd"), errc::insecure_redirect);
}

TEST_CASE("a current URL that is not http(s) is invalid_url") {
    check_fail(decide(verb::get, 302, "/a", 0, {}, "ftp://files.example.com/x"), errc::invalid_url);
}

TEST_CASE("redirect_decision factories") {
    check_returned(redirect_decision::return_response());
    const auto f = redirect_decision::follow_to(boost::urls::url("https://a.example/"));
    check_follow(f, "https://a.example/");
    const auto e = redirect_decision::fail_with(errc::redirect_limit, "why");
    check_fail(e, errc::redirect_limit);
    CHECK(e.message == "why");
}
