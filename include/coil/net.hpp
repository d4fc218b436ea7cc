#pragma once
// The whole net layer (and the runtime it stands on) in one include: #include <coil/net.hpp>.
// coil's own sources include the specific headers instead.

#include "coil/runtime.hpp"
#include "coil/net/buffered_reader.hpp"
#include "coil/net/ip_endpoint.hpp"
#include "coil/net/resolve.hpp"
#include "coil/net/tcp_connect.hpp"
#include "coil/net/tcp_listener.hpp"
#include "coil/net/tcp_stream.hpp"
#include "coil/net/udp_socket.hpp"
#include "coil/net/unix_connect.hpp"
#include "coil/net/unix_endpoint.hpp"
#include "coil/net/unix_listener.hpp"
#include "coil/net/unix_stream.hpp"
