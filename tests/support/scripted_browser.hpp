#pragma once
// A stand-in for the user's browser in sign-in tests: it GETs the authorization URL (the emulated
// account signs the user in at once and redirects), then the redirect's Location (the library's
// loopback listener), on a thread of its own, as a browser is a process of its own.

#include <takeoff/http/client.hpp>
#include <takeoff/oauth/sign_in.hpp>
#include <takeoff_emulator/certificates.hpp>

#include "client_helpers.hpp"
#include "emulated_account.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <future>
#include <stdexcept>
#include <string>

namespace takeoff::test {

/// What the user's browser does: GET the authorization URL (the account signs the user in at once
/// and redirects), then GET the redirect's Location (the loopback listener), each on a client of its
/// own. `tamper` may rewrite the Location first.
struct browser_visit {
    std::string location;
    unsigned status = 0;
    std::string page;
};

inline browser_visit visit(const std::string& url, const emulator::certificate_authority& authority,
                    const std::function<std::string(std::string)>& tamper = {}) {
    boost::asio::io_context io;
    auto options = trusting(authority);
    options.defaults.redirects.follow = false;
    http::client browser(io.get_executor(), options);
    browser_visit out;
    diagnostics diag;
    auto [ec, authorize] = send(io, browser, http::request::get(boost::urls::url(url)), {}, diag);
    // (No doctest assertion here: this runs on the browser's thread; get() rethrows.)
    if (authorize.status != 302) throw std::runtime_error("the account did not redirect: " + diag.client_message());
    out.location = std::string(authorize.headers["location"]);
    if (tamper) out.location = tamper(out.location);
    auto [ec2, page] = send(io, browser, http::request::get(boost::urls::url(out.location)), {}, diag);
    out.status = page.status;
    out.page = page.body;
    return out;
}

// The browser runs on a thread of its own (the listener answers it from the io_context's thread).
struct scripted_browser {
    std::future<browser_visit> visit_done;
    std::function<std::string(std::string)> tamper;

    oauth::sign_in_options options(const emulator::certificate_authority& authority) {
        oauth::sign_in_options o;
        o.listener.timeout = std::chrono::seconds(60); // bounds a test whose browser failed
        o.open_url = [this, &authority](const std::string& url) {
            visit_done = std::async(std::launch::async, [url, &authority, tamper = tamper] { return visit(url, authority, tamper); });
        };
        return o;
    }
};

} // namespace takeoff::test
