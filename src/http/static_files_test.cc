#include "http/static_files.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace partyd::http {
namespace {

namespace fs = std::filesystem;

// A project root with a few assets, and a file beside it that no request may reach.
class StaticFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "partyd-static-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    write("public/index.html", "home");
    write("public/a b.txt", "spaced");
    write("public/100%.txt", "percent");
    write("public/sub/index.html", "sub home");
    write("secret.txt", "secret");
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  void write(const std::string& rel, const std::string& text) {
    fs::create_directories((dir_ / rel).parent_path());
    std::ofstream(dir_ / rel, std::ios::binary) << text;
  }
  StaticFiles files() const {
    StaticOptions options;
    options.root = dir_ / "public";
    return StaticFiles(options);
  }
  std::optional<std::string> get(std::string_view target) const {
    Request req(boost::beast::http::verb::get, target, 11);
    auto r = files().serve(req);
    if (!r) return std::nullopt;
    return r->body;
  }

  fs::path dir_;
};

TEST_F(StaticFilesTest, DecodesEscapesInThePath) {
  EXPECT_EQ(get("/a%20b.txt"), "spaced");
  EXPECT_EQ(get("/%61%20b.txt?x=%20"), "spaced");
  EXPECT_EQ(get("/sub%2Findex.html"), "sub home");
  EXPECT_EQ(get("/100%25.txt"), "percent");
  EXPECT_EQ(get("/"), "home");
  EXPECT_EQ(get("/sub/"), "sub home");
}

TEST_F(StaticFilesTest, KeepsAnInvalidEscapeAsItIs) {
  EXPECT_EQ(get("/100%.txt"), "percent");
  EXPECT_FALSE(get("/a%2"));
  EXPECT_FALSE(get("/%zz"));
}

TEST_F(StaticFilesTest, RefusesEscapedWaysOutOfTheRoot) {
  EXPECT_FALSE(get("/../secret.txt"));
  EXPECT_FALSE(get("/%2e%2e/secret.txt"));
  EXPECT_FALSE(get("/..%2Fsecret.txt"));
  EXPECT_FALSE(get("/sub/%2E%2E/%2E%2E/secret.txt"));
  EXPECT_FALSE(get("/index.html%00.txt"));
}

TEST_F(StaticFilesTest, ServeFileDecodesToo) {
  auto r = files().serveFile("/a%20b.txt");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "spaced");
  EXPECT_FALSE(files().serveFile("/%2e%2e/secret.txt"));
}

}  // namespace
}  // namespace partyd::http
