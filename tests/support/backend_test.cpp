#include "support/backend_test.hpp"

#include <dirent.h>

#include <cstdlib>

namespace coil::testing {

int open_fd_count() {
    DIR* dir = ::opendir("/proc/self/fd");
    if (dir == nullptr) return -1;
    int count = 0;
    while (const dirent* entry = ::readdir(dir)) {
        if (entry->d_name[0] != '.') ++count;
    }
    ::closedir(dir);
    return count - 1;  // the directory stream's own fd
}

void BackendTest::SetUp() {
    // The parameter picks the backend; an inherited COIL_BACKEND would override it.
    ::unsetenv("COIL_BACKEND");
    if (!backend_available(GetParam())) {
        GTEST_SKIP() << to_string(GetParam()) << " is not available on this machine";
    }
    fds_before_ = open_fd_count();
}

void BackendTest::TearDown() {
    if (fds_before_ >= 0) {
        EXPECT_EQ(open_fd_count(), fds_before_) << "the test leaked file descriptors";
    }
}

std::string backend_name(const ::testing::TestParamInfo<backend_kind>& info) {
    return std::string(to_string(info.param));
}

}  // namespace coil::testing
