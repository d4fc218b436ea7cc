#pragma once
// The HTTP layer (and the net layer and runtime it stands on) in one include:
// #include <coil/http.hpp>. coil's own sources include the specific headers instead.

#include "coil/net.hpp"
#include "coil/http/parser/parse_error.hpp"
#include "coil/http/parser/request_parser.hpp"
#include "coil/http/request.hpp"
#include "coil/http/response.hpp"
#include "coil/http/router.hpp"
#include "coil/http/server.hpp"
#include "coil/http/static_files.hpp"
