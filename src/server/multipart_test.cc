#include "server/multipart.h"

#include <gtest/gtest.h>

namespace partyd::server {
namespace {

const std::string kBoundary = "----formdata-undici-0123";

std::string part(const std::string& headers, const std::string& body) {
  return "--" + kBoundary + "\r\n" + headers + "\r\n\r\n" + body + "\r\n";
}

TEST(Multipart, ReadsFieldsAndFilesInOrder) {
  std::string body = part("Content-Disposition: form-data; name=\"code\"", "export {};\r\nx") +
                     part(
                         "Content-Disposition: form-data; name=\"upload/a.wasm\"; "
                         "filename=\"upload/a.wasm\"\r\nContent-Type: application/wasm",
                         std::string("\0asm\r\n--", 8)) +
                     "--" + kBoundary + "--\r\n";
  auto parts = parseMultipart(body, kBoundary);
  ASSERT_TRUE(parts.ok()) << parts.error().message;
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].name, "code");
  EXPECT_EQ((*parts)[0].body, "export {};\r\nx");
  EXPECT_FALSE((*parts)[0].filename.has_value());
  EXPECT_EQ((*parts)[1].name, "upload/a.wasm");
  EXPECT_EQ((*parts)[1].filename.value_or(""), "upload/a.wasm");
  EXPECT_EQ((*parts)[1].contentType, "application/wasm");
  EXPECT_EQ((*parts)[1].body, std::string("\0asm\r\n--", 8));
  EXPECT_EQ(findPart(*parts, "code"), &(*parts)[0]);
  EXPECT_EQ(findPart(*parts, "vars"), nullptr);
}

TEST(Multipart, EmptyFormIsJustTheClosingBoundary) {
  auto parts = parseMultipart("--" + kBoundary + "--\r\n", kBoundary);
  ASSERT_TRUE(parts.ok());
  EXPECT_TRUE(parts->empty());
}

TEST(Multipart, RefusesCorruptBodies) {
  std::string good = part("Content-Disposition: form-data; name=\"code\"", "x");
  // cut short: no closing boundary after the part
  EXPECT_FALSE(parseMultipart(good.substr(0, good.size() - 4), kBoundary).ok());
  // no boundary at all
  EXPECT_FALSE(parseMultipart("hello", kBoundary).ok());
  // a part without a name
  EXPECT_FALSE(parseMultipart(part("Content-Disposition: form-data", "x") + "--" + kBoundary + "--",
                              kBoundary)
                   .ok());
  // headers that never end
  EXPECT_FALSE(
      parseMultipart("--" + kBoundary + "\r\nContent-Disposition: form-data; name=\"a\"", kBoundary)
          .ok());
  // a header line without a colon
  EXPECT_FALSE(parseMultipart(part("garbage", "x") + "--" + kBoundary + "--", kBoundary).ok());
  // junk right after a boundary
  EXPECT_FALSE(parseMultipart("--" + kBoundary + "xx", kBoundary).ok());
}

TEST(Multipart, BoundaryFromContentType) {
  EXPECT_EQ(multipartBoundary("multipart/form-data; boundary=abc").value_or(""), "abc");
  EXPECT_EQ(multipartBoundary("Multipart/Form-Data; charset=utf-8; boundary=\"a b\"").value_or(""),
            "a b");
  EXPECT_FALSE(multipartBoundary("application/json").has_value());
  EXPECT_FALSE(multipartBoundary("multipart/form-data").has_value());
  EXPECT_FALSE(multipartBoundary("multipart/form-data; boundary=").has_value());
}

}  // namespace
}  // namespace partyd::server
