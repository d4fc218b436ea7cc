// baseline_iterative.cpp - the iterative server: one connection at a time.
//
// Architecture: accept() one connection, serve it to its end (the peer closes, or HTTP
// "Connection: close"), close it, accept the next. No concurrency at all.
//
// Known limits (background reading 001, 003): one slow or idle client stalls everyone, so
// throughput is bounded by one client's round trips; with keep-alive, a connection that stays
// open holds the server until it closes, and every other client waits in the listen backlog
// (SOMAXCONN) and then times out. The classic table shows it flat at ~7 requests/s. It is in the
// comparison as the floor, and it is as good as the design allows: blocking calls, no polling,
// TCP_NODELAY, one buffer reused for every connection.
//
// Stopping: the SIGINT/SIGTERM handler shuts down the listener and the connection being served
// (setup.hpp), so the blocked accept() or recv() returns at once and main returns 0.
#include <cerrno>
#include <unistd.h>

#include "protocol.hpp"
#include "setup.hpp"

int main(int argc, char** argv) {
    using namespace baseline;
    const options opt = parse_options(argc, argv, "iterative server: one connection at a time", 0);
    raise_nofile_limit();
    install_stop_handlers();
    const int lfd = open_listener(opt, false);
    watch_listener(lfd);
    while (!stop_requested()) {
        int fd = accept_connection(lfd, 0);
        if (fd < 0) {
            // EMFILE & co. cannot happen with one connection at a time; EINTR and a stop can.
            if (errno == EMFILE || errno == ENFILE) usleep(100 * 1000);
            continue;
        }
        watch_connection(fd);
        serve_blocking(fd, opt.proto);
        watch_connection(-1);
        close(fd);
    }
    watch_listener(-1);
    close(lfd);
    return 0;
}
