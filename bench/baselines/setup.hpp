// setup.hpp - what every baseline server does before and around serving: the command line, the
// fd limit, the listening socket, and stopping on SIGINT/SIGTERM.
//
// Deliberately free of coil (the baselines are the yardsticks coil is measured against).
// Errors at start-up print one line to stderr and exit (2: bad argument, 1: cannot listen).
#pragma once
#include <sys/socket.h>

#include <csignal>

namespace baseline {

enum class protocol { echo, http };

struct options {
    int port = 0;                       // 0: the kernel chooses (printed by open_listener)
    const char* bind = "127.0.0.1";     // IPv4 or IPv6 literal
    int workers = 0;                    // processes or threads; 0 where it does not apply
    protocol proto = protocol::echo;
};

// Parses --help, --port N, --bind ADDR, --protocol echo|http, and --workers N when
// default_workers > 0 (the server has a pool). --help prints the usage (with `summary`, one line
// on the architecture) to stdout and exits 0; a bad argument prints it to stderr and exits 2.
options parse_options(int argc, char** argv, const char* summary, int default_workers);

// Raises RLIMIT_NOFILE's soft limit to the hard limit.
void raise_nofile_limit();

// Prints the one line every harness reads the port from: "listening on HOST:PORT" ("[::1]:PORT"
// for IPv6), for the address in `ss`, and flushes stdout.
void print_listening(const sockaddr_storage& ss);

// socket + SO_REUSEADDR + bind + listen(SOMAXCONN), CLOEXEC (and NONBLOCK if asked). Prints
// exactly one line, "listening on HOST:PORT" ("[::1]:PORT" for IPv6), as baseline_epoll does, so
// harnesses read the port the same way from every server. Exits 1 if it cannot listen.
int open_listener(const options& opt, bool nonblocking);

// accept4 with SOCK_CLOEXEC (plus `flags`), then TCP_NODELAY. Returns the fd or -1 (errno set).
int accept_connection(int listen_fd, int flags);

// Stopping a server whose threads block in accept() or recv(): SIGINT/SIGTERM handlers (without
// SA_RESTART) set stop_requested() and shutdown(SHUT_RDWR) the watched listener and connection.
// A shut-down listening socket makes every accept() on it, blocked or later, fail at once (Linux),
// and a shut-down connection makes recv() return 0, so the signal cannot be lost in the window
// between checking the flag and blocking. Also ignores SIGPIPE (sends use MSG_NOSIGNAL anyway).
// Multi-threaded servers must block the signals in every thread but one (block_stop_signals).
void install_stop_handlers();
bool stop_requested();
void watch_listener(int fd);    // -1: none (a forked child must not shut its parent's listener)
void watch_connection(int fd);  // -1: none; set before serving, cleared before close
void request_stop();            // what the handler does, for a process told to stop otherwise

// The set {SIGINT, SIGTERM} (and SIGCHLD if `with_child`).
sigset_t stop_signals(bool with_child);
// Blocks stop_signals(with_child) in the calling thread; threads created afterwards inherit it.
void block_stop_signals(bool with_child);
void unblock_stop_signals(bool with_child);

}  // namespace baseline
