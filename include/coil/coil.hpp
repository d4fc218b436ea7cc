#pragma once
// Everything coil offers applications, in one include: #include <coil/coil.hpp>.
// Finer-grained: <coil/runtime.hpp>, <coil/net.hpp>, <coil/http.hpp>, or one header such as
// <coil/net/tcp_stream.hpp>. coil's own sources include the specific headers instead.

#include "coil/http.hpp"
#include "coil/net.hpp"
#include "coil/runtime.hpp"
