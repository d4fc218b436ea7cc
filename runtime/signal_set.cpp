#include "coil/runtime/signal_set.hpp"

#include <sys/signalfd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "coil/runtime/io.hpp"

namespace coil {

signal_set::signal_set(std::initializer_list<int> signals) {
    sigset_t mask;
    sigset_t previous;
    sigemptyset(&mask);
    sigemptyset(&added_);
    for (int s : signals) sigaddset(&mask, s);
    if (const int err = pthread_sigmask(SIG_BLOCK, &mask, &previous); err != 0) {
        throw std::system_error(err, std::system_category(), "coil::signal_set: pthread_sigmask");
    }
    for (int s : signals) {
        if (!sigismember(&previous, s)) sigaddset(&added_, s);
    }
    const int fd = ::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) {
        const int err = errno;
        pthread_sigmask(SIG_UNBLOCK, &added_, nullptr);
        throw std::system_error(err, std::system_category(), "coil::signal_set: signalfd");
    }
    fd_ = io_handle(unique_fd(fd));
}

signal_set::~signal_set() {
    fd_.reset();
    pthread_sigmask(SIG_UNBLOCK, &added_, nullptr);
}

task<result<int>> signal_set::wait() {
    signalfd_siginfo info{};
    auto buf = std::as_writable_bytes(std::span(&info, 1));
    auto n = co_await fd_.track(coil::read(fd_.fd(), buf));
    if (!n) co_return n.error();
    co_return static_cast<int>(info.ssi_signo);
}

}  // namespace coil
