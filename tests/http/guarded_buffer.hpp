#pragma once
// A copy of some bytes placed flush against an inaccessible page (picohttpparser's test trick):
// a parser that reads one byte past the input faults at once, in any build, sanitizers or not.

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <string_view>

namespace coil::testing {

class guarded_buffer {
public:
    explicit guarded_buffer(std::string_view bytes) {
        const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
        data_pages_ = (bytes.size() + page - 1) / page * page;
        if (data_pages_ == 0) data_pages_ = page;
        total_ = data_pages_ + page;
        void* m = ::mmap(nullptr, total_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) throw std::runtime_error("mmap failed");
        base_ = static_cast<char*>(m);
        if (::mprotect(base_ + data_pages_, page, PROT_NONE) != 0) {
            ::munmap(base_, total_);
            throw std::runtime_error("mprotect failed");
        }
        char* start = base_ + data_pages_ - bytes.size();
        if (!bytes.empty()) std::memcpy(start, bytes.data(), bytes.size());
        view_ = std::string_view(start, bytes.size());
    }
    guarded_buffer(const guarded_buffer&) = delete;
    guarded_buffer& operator=(const guarded_buffer&) = delete;
    ~guarded_buffer() { ::munmap(base_, total_); }

    /// The bytes; the byte after the last one is on an inaccessible page.
    [[nodiscard]] std::string_view view() const noexcept { return view_; }

private:
    char* base_ = nullptr;
    std::size_t data_pages_ = 0;
    std::size_t total_ = 0;
    std::string_view view_;
};

}  // namespace coil::testing
