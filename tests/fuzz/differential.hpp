#pragma once
// Differential check: coil's request parser against Debian's libhttp-parser (nodejs/http-parser
// 2.9) on the same bytes. Used by the libFuzzer target (on generated inputs) and by
// tests/http/http_parser_differential_test.cpp (on the seed corpus).
//
// Where both accept the first request, method, target, version, header fields, body and trailers
// must agree. Where only one accepts, the disagreement must be one this file explains with the
// RFC rule behind coil's choice (see explain_* in differential.cpp and docs/http-parser.md);
// anything else is reported as unexplained, which the fuzz target turns into a crash.

#include <string>
#include <string_view>

namespace coil::fuzz {

struct verdict {
    enum kind_t { both_accept, both_reject, only_coil_rejects, only_http_parser_rejects, skipped };
    kind_t kind = skipped;
    bool explained = true;  // false: a disagreement (or a difference in what both accepted) with
                            // no rule to justify it
    std::string category;   // e.g. "coil 400 bare_lf: RFC 9112 §2.2 ..." or "agree"
};

/// Compares the two parsers on `in` (the first request only).
verdict compare(std::string_view in);

}  // namespace coil::fuzz
