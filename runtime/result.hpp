#pragma once
// coil::result<T>: the value of an I/O operation, or the std::error_code that says why there is none.
//
// Shaped like C++23 std::expected<T, std::error_code> (has_value, operator bool, value, error,
// operator*, operator->) so it can become an alias once the project moves to C++23. It is the one
// error channel of every I/O call in coil; exceptions are kept for programmer errors and setup.

#include <cassert>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

namespace coil {

template <class T>
class result {
    static_assert(!std::is_reference_v<T>, "result<T&> is not supported; use a pointer");
    static_assert(!std::is_same_v<std::remove_cv_t<T>, std::error_code>,
                  "result<std::error_code> would be ambiguous");

public:
    using value_type = T;

    result(const T& value) : storage_(std::in_place_index<0>, value) {}
    result(T&& value) noexcept(std::is_nothrow_move_constructible_v<T>)
        : storage_(std::in_place_index<0>, std::move(value)) {}
    template <class U>
        requires(std::is_constructible_v<T, U &&> && !std::is_same_v<std::remove_cvref_t<U>, T> &&
                 !std::is_same_v<std::remove_cvref_t<U>, std::error_code> &&
                 !std::is_error_code_enum_v<std::remove_cvref_t<U>> &&
                 !std::is_error_condition_enum_v<std::remove_cvref_t<U>> &&
                 !std::is_same_v<std::remove_cvref_t<U>, result>)
    result(U&& value) : storage_(std::in_place_index<0>, std::forward<U>(value)) {}

    /// An error. `ec` must be an error (non-zero); a "successful error" is a programmer error.
    result(std::error_code ec) noexcept : storage_(std::in_place_index<1>, ec) { assert(ec); }
    template <class E>
        requires(std::is_error_code_enum_v<E> || std::is_error_condition_enum_v<E>)
    result(E e) noexcept : result(make_code(e)) {}

    [[nodiscard]] bool has_value() const noexcept { return storage_.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }

    /// The value; throws std::system_error holding error() if there is none.
    T& value() & { check(); return *std::get_if<0>(&storage_); }
    const T& value() const& { check(); return *std::get_if<0>(&storage_); }
    T&& value() && { check(); return std::move(*std::get_if<0>(&storage_)); }

    /// Unchecked access: only after has_value() said yes.
    T& operator*() & noexcept { assert(has_value()); return *std::get_if<0>(&storage_); }
    const T& operator*() const& noexcept { assert(has_value()); return *std::get_if<0>(&storage_); }
    T&& operator*() && noexcept { assert(has_value()); return std::move(*std::get_if<0>(&storage_)); }
    T* operator->() noexcept { assert(has_value()); return std::get_if<0>(&storage_); }
    const T* operator->() const noexcept { assert(has_value()); return std::get_if<0>(&storage_); }

    /// The error, or a default (success) error_code when there is a value.
    [[nodiscard]] std::error_code error() const noexcept {
        const auto* ec = std::get_if<1>(&storage_);
        return ec ? *ec : std::error_code{};
    }

    template <class U>
    T value_or(U&& fallback) const& {
        return has_value() ? **this : static_cast<T>(std::forward<U>(fallback));
    }

private:
    template <class E>
    static std::error_code make_code(E e) {
        if constexpr (std::is_error_code_enum_v<E>) {
            return make_error_code(e);
        } else {
            const std::error_condition cond = make_error_condition(e);
            return std::error_code(cond.value(), cond.category() == std::generic_category()
                                                     ? std::system_category()
                                                     : cond.category());
        }
    }
    void check() const {
        if (!has_value()) throw std::system_error(*std::get_if<1>(&storage_));
    }

    std::variant<T, std::error_code> storage_;
};

template <>
class result<void> {
public:
    using value_type = void;

    result() noexcept = default;
    result(std::error_code ec) noexcept : error_(ec) { assert(ec); }
    template <class E>
        requires(std::is_error_code_enum_v<E> || std::is_error_condition_enum_v<E>)
    result(E e) noexcept : result(result<int>(e).error()) {}

    [[nodiscard]] bool has_value() const noexcept { return !error_; }
    explicit operator bool() const noexcept { return has_value(); }
    void value() const {
        if (error_) throw std::system_error(error_);
    }
    [[nodiscard]] std::error_code error() const noexcept { return error_; }

private:
    std::error_code error_;
};

/// Maps a syscall-style return value (>= 0 success, negative errno failure; the shape of both
/// io_uring's cqe->res and "-errno") to a result.
inline std::error_code errno_code(int err) noexcept {
    return std::error_code(err, std::system_category());
}

}  // namespace coil
