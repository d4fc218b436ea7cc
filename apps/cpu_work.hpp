#pragma once
// The CPU work behind http_server's GET /cpu?kib=N: SHA-256 (OpenSSL libcrypto, EVP) over N KiB
// of generated data, as a lowercase hex digest. Byte i of the data is (i * 131 + 7) mod 256, so
// anyone can check a digest independently, e.g. in Python:
//     hashlib.sha256(bytes((i * 131 + 7) % 256 for i in range(n * 1024))).hexdigest()
// Blocking and CPU-bound (about 2 ms per MiB on a current core): run it inline on a loop only
// where stalling that loop is the point of the demonstration, else on a thread pool. libcrypto
// keeps per-thread state that it frees when the thread ends: end the pool threads that hashed
// before main returns (an app-owned pool), or LeakSanitizer reports it (seen with the default
// pool, which is joined only at static destruction, after libcrypto's exit handler).

#include <cstddef>
#include <string>

namespace coil_apps {

/// The largest N accepted by GET /cpu (16 MiB of data).
inline constexpr std::size_t max_cpu_kib = 16 * 1024;

/// The hex SHA-256 of `kib` KiB of the generated data. Thread-safe.
std::string sha256_of_generated(std::size_t kib);

}  // namespace coil_apps
