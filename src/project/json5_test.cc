#include "project/json5.h"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <cmath>

#include "project/test_support.h"

namespace partyd::project {
namespace {

std::string errorOf(std::string_view text) {
  auto doc = parseJson5(text, "partykit.json");
  EXPECT_FALSE(doc.ok()) << "parsed: " << text;
  return doc.ok() ? "" : doc.error().message;
}

TEST(Json5, ParsesPlainJson) {
  auto doc = parseJson5(R"({"a": [1, 2.5, "x", true, null], "b": {"c": -3}})", "f");
  ASSERT_TRUE(doc.ok()) << doc.error().message;
  EXPECT_EQ(boost::json::serialize(doc->root), R"({"a":[1,2.5E0,"x",true,null],"b":{"c":-3}})");
}

TEST(Json5, AcceptsCommentsAndTrailingCommas) {
  auto doc = parseJson5(R"(// leading comment
{
  /* block
     comment */
  "a": 1, // after a value
  "b": [1, 2,],
})",
                        "f");
  ASSERT_TRUE(doc.ok()) << doc.error().message;
  EXPECT_EQ(boost::json::serialize(doc->root), R"({"a":1,"b":[1,2]})");
}

TEST(Json5, AcceptsUnquotedKeysSingleQuotesHexAndSpecialNumbers) {
  auto doc = parseJson5(R"({name: 'it\'s', $x: 0x1F, y: +.5, z: 5., inf: -Infinity, n: NaN,
    multi: 'a\
b', esc: "\x41\u00e9\uD83D\uDE00\0"})",
                        "f");
  ASSERT_TRUE(doc.ok()) << doc.error().message;
  const auto& o = doc->root.as_object();
  EXPECT_EQ(o.at("name").as_string(), "it's");
  EXPECT_EQ(o.at("$x").as_int64(), 31);
  EXPECT_DOUBLE_EQ(o.at("y").as_double(), 0.5);
  EXPECT_DOUBLE_EQ(o.at("z").as_double(), 5.0);
  EXPECT_TRUE(std::isinf(o.at("inf").as_double()) && o.at("inf").as_double() < 0);
  EXPECT_TRUE(std::isnan(o.at("n").as_double()));
  EXPECT_EQ(o.at("multi").as_string(), "ab");
  EXPECT_EQ(std::string(o.at("esc").as_string()), std::string("A\xC3\xA9\xF0\x9F\x98\x80\0", 8));
}

TEST(Json5, DuplicateKeysKeepTheLastValue) {
  auto doc = parseJson5(R"({"a": 1, "b": 2, "a": 3})", "f");
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(boost::json::serialize(doc->root), R"({"a":3,"b":2})");
}

TEST(Json5, LargeIntegersBecomeUnsignedOrDouble) {
  auto doc =
      parseJson5("[9223372036854775807, 18446744073709551615, 1e400, 99999999999999999999]", "f");
  ASSERT_TRUE(doc.ok());
  const auto& a = doc->root.as_array();
  EXPECT_EQ(a[0].as_int64(), 9223372036854775807LL);
  EXPECT_EQ(a[1].as_uint64(), 18446744073709551615ULL);
  EXPECT_TRUE(std::isinf(a[2].as_double()));
  EXPECT_DOUBLE_EQ(a[3].as_double(), 1e20);
}

TEST(Json5, RecordsOffsetsOfValuesAndKeysByPointer) {
  std::string text = "{\n  \"a\": {\"b/c\": [10, 20]}\n}";
  auto doc = parseJson5(text, "f");
  ASSERT_TRUE(doc.ok());
  TextPosition p = positionOf(text, doc->valueOffsets.at("/a/b~1c/1"));
  EXPECT_EQ(p.line, 2);
  EXPECT_EQ(p.column, 21);
  p = positionOf(text, doc->keyOffsets.at("/a"));
  EXPECT_EQ(p.line, 2);
  EXPECT_EQ(p.column, 3);
}

TEST(Json5, MissingCommaNamesLineAndColumn) {
  EXPECT_CONTAINS(errorOf("{\n  \"name\": \"x\"\n  \"main\": \"y\"\n}"),
                  "partykit.json:3:3: expected ',' or '}' after the value of \"name\", found '\"'");
}

TEST(Json5, UnclosedObjectSaysWhereItOpened) {
  EXPECT_CONTAINS(errorOf("{\n  \"a\": 1,\n"),
                  "partykit.json:3:1: expected a property name or '}', found the end of the "
                  "file (the object opened at 1:1 is not closed)");
}

TEST(Json5, ErrorsDescribeWhatWasFound) {
  EXPECT_CONTAINS(errorOf("{\"a\" 1}"),
                  ":1:6: expected ':' after the property name \"a\", found '1'");
  EXPECT_CONTAINS(errorOf("{\"a\": yes}"), ":1:7: expected a value, found the word 'yes'");
  EXPECT_CONTAINS(errorOf("{\"a\": \"abc\n\"}"),
                  ":1:7: this string is not closed before the end of the line");
  EXPECT_CONTAINS(errorOf("[1, 2"),
                  ":1:6: expected ',' or ']' after an array element, found the end of the file");
  EXPECT_CONTAINS(errorOf("{} x"), ":1:4: unexpected 'x' after the end of the value");
  EXPECT_CONTAINS(errorOf("/* never closed"), ":1:1: this comment is never closed");
  EXPECT_CONTAINS(errorOf("  "), "the file is empty");
  EXPECT_CONTAINS(errorOf("[012]"), ":1:2: numbers cannot start with 0");
  EXPECT_CONTAINS(errorOf("[1x]"), ":1:2: invalid number '1x'");
  EXPECT_CONTAINS(errorOf("[\"\\1\"]"), ":1:3: \\1 is not a valid escape");
}

TEST(Json5, ColumnsCountCharactersNotBytes) {
  // "é" is two bytes; the missing comma is reported at character column 11.
  EXPECT_CONTAINS(errorOf("{\"é\": \"ü\" 1}"), ":1:11: expected ',' or '}'");
}

TEST(Json5, RejectsVeryDeepNesting) {
  EXPECT_CONTAINS(errorOf(std::string(1000, '[')), "nested more than 256 levels");
}

// A deterministic stand-in for the fuzzer: every truncation and many single-byte changes of a
// config must parse or fail cleanly (run under ASan/UBSan to catch overruns).
TEST(Json5, SurvivesTruncatedAndMutatedInput) {
  const std::string sample = R"({
  // comment
  name: 'x\u00e9\\', "main": "src/server.ts", /* c */ n: [0x1F, -1.5e3, .5, +Infinity, NaN],
  "é": {"nested": [true, false, null, "\x41\0"]},
})";
  for (std::size_t len = 0; len <= sample.size(); ++len) {
    (void)parseJson5(std::string_view(sample).substr(0, len), "f");
  }
  const char replacements[] = {'\0', '"', '\'', '\\', '/', '*', '{', '}',  '[',    ']',
                               ',',  ':', 'x',  '0',  '.', 'e', '-', '\n', '\xC3', '\xFF'};
  for (std::size_t i = 0; i < sample.size(); ++i) {
    for (char c : replacements) {
      std::string mutated = sample;
      mutated[i] = c;
      auto doc = parseJson5(mutated, "f");
      if (!doc.ok()) {
        EXPECT_EQ(doc.error().message.rfind("f:", 0), 0u) << doc.error().message;
      }
    }
  }
}

}  // namespace
}  // namespace partyd::project
