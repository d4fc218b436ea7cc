#pragma once
// The byte pattern: one shared, periodic pseudo-random "tape". Connection c's byte stream is the
// tape read from an offset derived from c, so message n of connection c is the tape at
// start(c) + n * size: a pattern derived from (connection, sequence number). Sends go straight
// from the tape (several consecutive messages are one contiguous range, so credit is sent in one
// call) and every receive is checked with one memcmp against it.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace echo_load {

inline std::uint64_t splitmix64(std::uint64_t& state) noexcept {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// A periodic pseudo-random byte sequence: tape[i] == tape[i % period] for every stored i. The
// period is prime and does not divide the message size, so consecutive messages differ.
class pattern_tape {
public:
    pattern_tape(std::size_t message_size, std::size_t longest_span)
        : period_(message_size % 65521 == 0 ? 65537 : 65521), bytes_(period_ + longest_span) {
        std::uint64_t state = 0x636f696c;  // "coil"
        for (std::size_t i = 0; i < period_; ++i) {
            bytes_[i] = static_cast<std::byte>(splitmix64(state) >> 56);
        }
        for (std::size_t i = period_; i < bytes_.size(); ++i) bytes_[i] = bytes_[i - period_];
    }

    /// Where connection `id`'s byte stream starts on the tape.
    [[nodiscard]] std::uint64_t start_of(std::uint32_t id) const noexcept {
        std::uint64_t state = id;
        return splitmix64(state) % period_;
    }

    /// `length` (at most longest_span) bytes of the stream at `position`.
    [[nodiscard]] std::span<const std::byte> bytes(std::uint64_t position, std::size_t length) const noexcept {
        return {bytes_.data() + position % period_, length};
    }

    [[nodiscard]] bool matches(std::uint64_t position, std::span<const std::byte> received) const noexcept {
        return std::memcmp(bytes_.data() + position % period_, received.data(), received.size()) == 0;
    }

private:
    std::size_t period_;
    std::vector<std::byte> bytes_;
};

}  // namespace echo_load
