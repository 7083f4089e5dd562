// Test support for the project layer's tests: TempDir gives one test a fresh directory under
// $TMPDIR (or /tmp) and removes it afterwards; EXPECT_CONTAINS checks for a substring and prints
// the whole text when it is missing (the tests link gtest only, not gmock).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>

namespace partyd::project {

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
                          "/partyd-project-test-XXXXXX";
    char* made = ::mkdtemp(pattern.data());
    if (made == nullptr) std::abort();
    path_ = std::filesystem::path(made);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

  std::filesystem::path write(const std::string& relative, std::string_view contents) const {
    std::filesystem::path file = path_ / relative;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    return file;
  }

 private:
  std::filesystem::path path_;
};

inline ::testing::AssertionResult assertContains(const char* haystackExpr, const char* needleExpr,
                                                 std::string_view haystack,
                                                 std::string_view needle) {
  if (haystack.find(needle) != std::string_view::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << haystackExpr << " does not contain " << needleExpr
                                       << "\n  looked for: " << needle << "\n  in: " << haystack;
}

}  // namespace partyd::project

#define EXPECT_CONTAINS(haystack, needle) \
  EXPECT_PRED_FORMAT2(::partyd::project::assertContains, haystack, needle)
