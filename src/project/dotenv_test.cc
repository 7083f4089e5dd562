#include "project/dotenv.h"

#include <gtest/gtest.h>

#include "project/test_support.h"

namespace partyd::project {
namespace {

std::string valueOf(const Dotenv& env, const std::string& key) {
  for (const auto& [k, v] : env.vars) {
    if (k == key) return v;
  }
  return "<missing " + key + ">";
}

TEST(Dotenv, ReadsKeyValueLinesCommentsAndExport) {
  Dotenv env = parseDotenv(
      "# a comment\n"
      "PLAIN=hello world  \n"
      "\n"
      "export EXPORTED=yes\n"
      "  SPACED = around  \n"
      "WITH_COMMENT=value # trailing comment\n"
      "EMPTY=\n"
      "DOTTED.KEY-1=x\n",
      ".env");
  EXPECT_EQ(valueOf(env, "PLAIN"), "hello world");
  EXPECT_EQ(valueOf(env, "EXPORTED"), "yes");
  EXPECT_EQ(valueOf(env, "SPACED"), "around");
  EXPECT_EQ(valueOf(env, "WITH_COMMENT"), "value");
  EXPECT_EQ(valueOf(env, "EMPTY"), "");
  EXPECT_EQ(valueOf(env, "DOTTED.KEY-1"), "x");
  EXPECT_TRUE(env.warnings.empty());
}

TEST(Dotenv, QuotedValuesKeepHashesAndDoubleQuotesExpandNewlines) {
  Dotenv env = parseDotenv(
      "SINGLE='a # not a comment'\n"
      "DOUBLE=\"line1\\nline2\"  # comment\n"
      "BACKTICK=`it's \"quoted\"`\n"
      "RAW_SINGLE='keeps \\n as is'\n"
      "MULTI=\"first\n"
      "second\"\n"
      "AFTER=ok\n",
      ".env");
  EXPECT_EQ(valueOf(env, "SINGLE"), "a # not a comment");
  EXPECT_EQ(valueOf(env, "DOUBLE"), "line1\nline2");
  EXPECT_EQ(valueOf(env, "BACKTICK"), "it's \"quoted\"");
  EXPECT_EQ(valueOf(env, "RAW_SINGLE"), "keeps \\n as is");
  EXPECT_EQ(valueOf(env, "MULTI"), "first\nsecond");
  EXPECT_EQ(valueOf(env, "AFTER"), "ok");
}

TEST(Dotenv, LaterDuplicateWinsAndCrlfIsALineBreak) {
  Dotenv env = parseDotenv("A=1\r\nB=2\r\nA=3\r\n", ".env");
  ASSERT_EQ(env.vars.size(), 2u);
  EXPECT_EQ(env.vars[0].first, "A");
  EXPECT_EQ(env.vars[0].second, "3");
  EXPECT_EQ(valueOf(env, "B"), "2");
}

TEST(Dotenv, SkippedLinesBecomeWarningsWithLineNumbers) {
  Dotenv env = parseDotenv("A=1\nthis is not an assignment\nB=2\n", ".env");
  EXPECT_EQ(valueOf(env, "B"), "2");
  ASSERT_EQ(env.warnings.size(), 1u);
  EXPECT_CONTAINS(env.warnings[0], ".env:2: skipped \"this\": expected KEY=VALUE");
}

}  // namespace
}  // namespace partyd::project
