#include "coil/http/router.hpp"

#include <stdexcept>

namespace coil::http {

route router::make_route(std::string_view method, std::string_view path, body_mode body) {
    if (method.empty()) throw std::invalid_argument("coil::http::router: empty method");
    if (path.empty() || path.front() != '/') {
        throw std::invalid_argument("coil::http::router: a path starts with '/'");
    }
    route r;
    r.method = method;
    r.prefix = path.back() == '*';
    if (r.prefix) path.remove_suffix(1);
    r.path = path;
    r.body = body;
    return r;
}

router::lookup router::find(std::string_view method, std::string_view path) const noexcept {
    lookup out;
    const route* get_route = nullptr;
    for (const route& r : routes_) {
        if (!matches(r, path)) continue;
        out.path_known = true;
        if (r.method == method) {
            out.found = &r;
            return out;
        }
        if (get_route == nullptr && r.method == "GET") get_route = &r;
    }
    if (method == "HEAD") out.found = get_route;  // HEAD is GET without the body (RFC 9110 §9.3.2)
    return out;
}

void router::allowed_methods(std::string_view path, std::string& out) const {
    bool has_get = false;
    bool has_head = false;
    const std::size_t start = out.size();
    for (const route& r : routes_) {
        if (!matches(r, path)) continue;
        // The same method may have several routes (exact and prefix): list it once.
        const std::string_view listed(out.data() + start, out.size() - start);
        bool seen = false;
        for (std::size_t pos = 0; pos < listed.size();) {
            std::size_t end = listed.find(", ", pos);
            if (end == std::string_view::npos) end = listed.size();
            if (listed.substr(pos, end - pos) == r.method) seen = true;
            pos = end + 2;
        }
        if (seen) continue;
        if (out.size() > start) out += ", ";
        out += r.method;
        has_get = has_get || r.method == "GET";
        has_head = has_head || r.method == "HEAD";
    }
    if (has_get && !has_head) out += ", HEAD";
}

}  // namespace coil::http
