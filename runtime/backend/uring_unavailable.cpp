// Built instead of uring_backend.cpp when coil is configured with -Dio_uring=disabled (or liburing
// is missing): the probe then always reports io_uring as unavailable.

#include "coil/runtime/backend/backend.hpp"

namespace coil::detail {

std::unique_ptr<backend> make_uring_backend(ready_queue& /*ready*/, std::string& why) {
    why = "coil was built without io_uring support";
    return nullptr;
}

}  // namespace coil::detail
