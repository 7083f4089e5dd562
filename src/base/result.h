// Result<T> carries either a value or an Error: how expected failures (I/O, parsing, a bad
// config, SQLite busy) travel up the layers, in the manner of absl::StatusOr. Broken invariants
// use PARTYD_CHECK instead, and errors that JS must see are thrown only in api/ and js/.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace partyd {

struct Error {
  std::string message;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}
  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return *error_; }

 private:
  std::optional<Error> error_;
};

inline Error makeError(std::string message) { return Error{std::move(message)}; }

[[noreturn]] inline void checkFailed(const char* file, int line, const char* expr,
                                     const char* what) {
  std::fprintf(stderr, "partyd: invariant broken at %s:%d: %s (%s)\n", file, line, expr, what);
  std::abort();
}

}  // namespace partyd

// Stops loudly when an invariant is broken. Never used for input that a client controls.
#define PARTYD_CHECK(cond, what) \
  do {                           \
    if (!(cond)) ::partyd::checkFailed(__FILE__, __LINE__, #cond, what); \
  } while (0)
