// A recursive-descent JSON5 parser (https://spec.json5.org) that builds boost::json values and
// records the offset of every value and key by JSON Pointer. Boost.JSON's own parser accepts
// comments and trailing commas but not the rest of JSON5, and its errors say only "syntax error";
// this one says what it expected and what it found.
#include "project/json5.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <system_error>

#include "base/utf8.h"

namespace partyd::project {
namespace {

constexpr int kMaxDepth = 256;

// ---- UTF-8 --------------------------------------------------------------------------------------

// Decodes the code point at text[pos]; sets `length` to its byte count. Bad bytes read as U+FFFD
// with length 1, so a scan always moves forward. Overlong forms, surrogates and values past
// U+10FFFF are bad bytes too: otherwise E0 80 A2 would read as a '"' that ends a string.
char32_t decodeUtf8(std::string_view text, std::size_t pos, std::size_t& length) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  unsigned char b0 = byte(pos);
  length = 1;
  if (b0 < 0x80) return b0;
  std::size_t n = (b0 >= 0xF0 && b0 < 0xF8)   ? 4
                  : (b0 >= 0xE0 && b0 < 0xF0) ? 3
                  : (b0 >= 0xC2 && b0 < 0xE0) ? 2
                                              : 0;
  if (n == 0 || pos + n > text.size()) return 0xFFFD;
  char32_t cp = b0 & (0xFF >> (n + 1));
  for (std::size_t i = 1; i < n; ++i) {
    unsigned char b = byte(pos + i);
    if ((b & 0xC0) != 0x80) return 0xFFFD;
    cp = (cp << 6) | (b & 0x3F);
  }
  const char32_t shortest = n == 2 ? 0x80 : n == 3 ? 0x800 : 0x10000;
  if (cp < shortest || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0xFFFD;
  length = n;
  return cp;
}

bool isJson5Space(char32_t cp) {
  switch (cp) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
    case 0xA0:
    case 0xFEFF:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

bool isLineBreak(char32_t cp) {
  return cp == '\n' || cp == '\r' || cp == 0x2028 || cp == 0x2029;
}

// ECMAScript IdentifierName, loosely: any non-ASCII letter is accepted rather than checking Unicode
// categories, which only matters for keys nobody writes in a config file.
bool isIdentifierStart(char32_t cp) {
  return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || cp == '$' || cp == '_' ||
         (cp >= 0x80 && !isJson5Space(cp) && cp != 0xFFFD);
}
bool isIdentifierPart(char32_t cp) {
  return isIdentifierStart(cp) || (cp >= '0' && cp <= '9');
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// ---- the parser ---------------------------------------------------------------------------------

class Parser {
 public:
  Parser(std::string_view text, Json5Document& doc) : text_(text), doc_(doc) {}

  bool parseDocument() {
    if (!skipSpace()) return false;
    if (atEnd()) {
      return fail(pos_, "expected a value, found the end of the file (the file is empty)");
    }
    if (!parseValue(doc_.root, "", 0)) return false;
    if (!skipSpace()) return false;
    if (!atEnd()) return fail(pos_, "unexpected " + describeHere() + " after the end of the value");
    return true;
  }

  std::size_t errorOffset() const { return errorOffset_; }
  const std::string& errorMessage() const { return errorMessage_; }

 private:
  bool atEnd() const { return pos_ >= text_.size(); }
  char peek() const { return atEnd() ? '\0' : text_[pos_]; }

  bool fail(std::size_t offset, std::string message) {
    errorOffset_ = offset;
    errorMessage_ = std::move(message);
    return false;
  }

  std::string where(std::size_t offset) const {
    TextPosition p = positionOf(text_, offset);
    return std::to_string(p.line) + ":" + std::to_string(p.column);
  }

  // What sits at pos_, for "found ..." in messages.
  std::string describeHere() const {
    if (atEnd()) return "the end of the file";
    std::size_t length = 0;
    char32_t cp = decodeUtf8(text_, pos_, length);
    if (isLineBreak(cp)) return "a line break";
    if (cp < 0x20 || cp == 0x7F) {
      static const char* kHex = "0123456789ABCDEF";
      return std::string("the control character U+00") + kHex[cp >> 4] + kHex[cp & 0xF];
    }
    return "'" + std::string(text_.substr(pos_, length)) + "'";
  }

  // Skips whitespace and comments. Fails only on an unclosed block comment.
  bool skipSpace() {
    while (!atEnd()) {
      std::size_t length = 0;
      char32_t cp = decodeUtf8(text_, pos_, length);
      if (isJson5Space(cp)) {
        pos_ += length;
      } else if (cp == '/' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '/') {
        while (!atEnd() && text_[pos_] != '\n' && text_[pos_] != '\r') ++pos_;
      } else if (cp == '/' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '*') {
        std::size_t end = text_.find("*/", pos_ + 2);
        if (end == std::string_view::npos) {
          return fail(pos_, "this comment is never closed with */");
        }
        pos_ = end + 2;
      } else {
        break;
      }
    }
    return true;
  }

  bool parseValue(boost::json::value& out, const std::string& pointer, int depth) {
    if (depth > kMaxDepth) {
      return fail(pos_,
                  "values are nested more than " + std::to_string(kMaxDepth) + " levels deep");
    }
    doc_.valueOffsets[pointer] = pos_;
    char c = peek();
    if (c == '{') return parseObject(out, pointer, depth);
    if (c == '[') return parseArray(out, pointer, depth);
    if (c == '"' || c == '\'') {
      std::string s;
      if (!parseString(s)) return false;
      out = boost::json::string(s);
      return true;
    }
    if ((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.') return parseNumber(out);
    std::size_t length = 0;
    if (!atEnd() && isIdentifierStart(decodeUtf8(text_, pos_, length))) {
      std::size_t start = pos_;
      std::string word;
      if (!parseIdentifier(word)) return false;
      if (word == "true") {
        out = true;
      } else if (word == "false") {
        out = false;
      } else if (word == "null") {
        out = nullptr;
      } else if (word == "Infinity") {
        out = std::numeric_limits<double>::infinity();
      } else if (word == "NaN") {
        out = std::numeric_limits<double>::quiet_NaN();
      } else {
        return fail(start,
                    "expected a value, found the word '" + word + "' (strings must be in quotes)");
      }
      return true;
    }
    return fail(pos_, "expected a value, found " + describeHere());
  }

  bool parseObject(boost::json::value& out, const std::string& pointer, int depth) {
    std::size_t open = pos_++;
    boost::json::object& object = out.emplace_object();
    auto notClosed = [&] { return " (the object opened at " + where(open) + " is not closed)"; };
    while (true) {
      if (!skipSpace()) return false;
      if (peek() == '}' && !atEnd()) {
        ++pos_;
        return true;
      }
      std::size_t keyOffset = pos_;
      std::string key;
      std::size_t length = 0;
      if (peek() == '"' || peek() == '\'') {
        if (!parseString(key)) return false;
      } else if (!atEnd() &&
                 (isIdentifierStart(decodeUtf8(text_, pos_, length)) || peek() == '\\')) {
        if (!parseIdentifier(key)) return false;
      } else {
        std::string msg = "expected a property name or '}', found " + describeHere();
        return fail(pos_, atEnd() ? msg + notClosed() : msg);
      }
      if (!skipSpace()) return false;
      if (peek() != ':' || atEnd()) {
        return fail(
            pos_, "expected ':' after the property name \"" + key + "\", found " + describeHere());
      }
      ++pos_;
      if (!skipSpace()) return false;
      std::string child = jsonPointerAppend(pointer, key);
      doc_.keyOffsets[child] = keyOffset;
      boost::json::value value;
      if (atEnd()) {
        return fail(pos_, "expected a value for \"" + key + "\", found the end of the file");
      }
      if (!parseValue(value, child, depth + 1)) return false;
      object[key] = std::move(value);
      if (!skipSpace()) return false;
      if (peek() == ',' && !atEnd()) {
        ++pos_;
      } else if (peek() != '}' || atEnd()) {
        std::string msg =
            "expected ',' or '}' after the value of \"" + key + "\", found " + describeHere();
        return fail(pos_, atEnd() ? msg + notClosed() : msg);
      }
    }
  }

  bool parseArray(boost::json::value& out, const std::string& pointer, int depth) {
    std::size_t open = pos_++;
    boost::json::array& array = out.emplace_array();
    auto notClosed = [&] { return " (the array opened at " + where(open) + " is not closed)"; };
    while (true) {
      if (!skipSpace()) return false;
      if (peek() == ']' && !atEnd()) {
        ++pos_;
        return true;
      }
      if (atEnd()) {
        return fail(pos_, "expected a value or ']', found the end of the file" + notClosed());
      }
      boost::json::value value;
      if (!parseValue(value, jsonPointerAppend(pointer, std::to_string(array.size())), depth + 1)) {
        return false;
      }
      array.push_back(std::move(value));
      if (!skipSpace()) return false;
      if (peek() == ',' && !atEnd()) {
        ++pos_;
      } else if (peek() != ']' || atEnd()) {
        std::string msg = "expected ',' or ']' after an array element, found " + describeHere();
        return fail(pos_, atEnd() ? msg + notClosed() : msg);
      }
    }
  }

  // Reads `\uXXXX` at pos_ (pos_ at the 'u'); returns false if the four hex digits are missing.
  bool readHex4(char32_t& cp) {
    if (pos_ + 5 > text_.size()) return false;
    cp = 0;
    for (std::size_t i = 1; i <= 4; ++i) {
      int h = hexValue(text_[pos_ + i]);
      if (h < 0) return false;
      cp = (cp << 4) | static_cast<char32_t>(h);
    }
    pos_ += 5;
    return true;
  }

  // \uXXXX, joining a surrogate pair; pos_ at the 'u'.
  bool readUnicodeEscape(std::size_t escapeStart, char32_t& cp) {
    if (!readHex4(cp)) return fail(escapeStart, "\\u must be followed by four hex digits");
    if (cp >= 0xD800 && cp <= 0xDBFF && pos_ + 1 < text_.size() && text_[pos_] == '\\' &&
        text_[pos_ + 1] == 'u') {
      std::size_t save = pos_;
      ++pos_;
      char32_t low = 0;
      if (readHex4(low) && low >= 0xDC00 && low <= 0xDFFF) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
      } else {
        pos_ = save;
      }
    }
    return true;
  }

  bool parseString(std::string& out) {
    std::size_t start = pos_;
    char quote = text_[pos_++];
    while (true) {
      if (atEnd()) {
        return fail(start,
                    "this string is never closed (a string cannot run to the end of the file)");
      }
      std::size_t length = 0;
      char32_t cp = decodeUtf8(text_, pos_, length);
      if (cp == static_cast<unsigned char>(quote)) {
        ++pos_;
        return true;
      }
      if (cp == '\n' || cp == '\r') {
        return fail(start,
                    "this string is not closed before the end of the line (write \\n for a "
                    "line break inside a string)");
      }
      if (cp != '\\') {
        out.append(text_.substr(pos_, length));
        pos_ += length;
        continue;
      }
      std::size_t escapeStart = pos_++;
      if (atEnd()) continue;  // reported as an unclosed string above
      char e = text_[pos_];
      switch (e) {
        case 'b':
          out += '\b';
          ++pos_;
          break;
        case 'f':
          out += '\f';
          ++pos_;
          break;
        case 'n':
          out += '\n';
          ++pos_;
          break;
        case 'r':
          out += '\r';
          ++pos_;
          break;
        case 't':
          out += '\t';
          ++pos_;
          break;
        case 'v':
          out += '\v';
          ++pos_;
          break;
        case '0':
          if (pos_ + 1 < text_.size() && text_[pos_ + 1] >= '0' && text_[pos_ + 1] <= '9') {
            return fail(escapeStart, "octal escapes such as \\0" + std::string(1, text_[pos_ + 1]) +
                                         " are not allowed");
          }
          out += '\0';
          ++pos_;
          break;
        case 'x': {
          int hi = pos_ + 2 < text_.size() ? hexValue(text_[pos_ + 1]) : -1;
          int lo = pos_ + 2 < text_.size() ? hexValue(text_[pos_ + 2]) : -1;
          if (hi < 0 || lo < 0) return fail(escapeStart, "\\x must be followed by two hex digits");
          appendUtf8(out, static_cast<char32_t>(hi * 16 + lo));
          pos_ += 3;
          break;
        }
        case 'u': {
          char32_t u = 0;
          if (!readUnicodeEscape(escapeStart, u)) return false;
          appendUtf8(out, u);
          break;
        }
        case '\r':  // a line continuation: the backslash and the line break vanish
          ++pos_;
          if (peek() == '\n') ++pos_;
          break;
        default: {
          if (e >= '1' && e <= '9') {
            return fail(escapeStart, std::string("\\") + e + " is not a valid escape");
          }
          std::size_t n = 0;
          char32_t escaped = decodeUtf8(text_, pos_, n);
          if (!(escaped == '\n' || escaped == 0x2028 || escaped == 0x2029)) {
            out.append(text_.substr(pos_, n));  // \" \' \\ \/ and any other character: itself
          }
          pos_ += n;
        }
      }
    }
  }

  bool parseIdentifier(std::string& out) {
    std::size_t start = pos_;
    bool first = true;
    while (!atEnd()) {
      char32_t cp = 0;
      std::size_t length = 0;
      if (text_[pos_] == '\\') {
        std::size_t escapeStart = pos_;
        if (pos_ + 1 >= text_.size() || text_[pos_ + 1] != 'u') {
          return fail(escapeStart, "only \\u escapes may appear in an unquoted property name");
        }
        ++pos_;
        if (!readUnicodeEscape(escapeStart, cp)) return false;
        if (!(first ? isIdentifierStart(cp) : isIdentifierPart(cp))) {
          return fail(escapeStart, "this escape is not a valid identifier character");
        }
        appendUtf8(out, cp);
      } else {
        cp = decodeUtf8(text_, pos_, length);
        if (!(first ? isIdentifierStart(cp) : isIdentifierPart(cp)) && cp != 0x200C &&
            cp != 0x200D) {
          break;
        }
        out.append(text_.substr(pos_, length));
        pos_ += length;
      }
      first = false;
    }
    if (pos_ == start) return fail(pos_, "expected a name, found " + describeHere());
    return true;
  }

  bool parseNumber(boost::json::value& out) {
    std::size_t start = pos_;
    bool negative = false;
    if (peek() == '+' || peek() == '-') {
      negative = peek() == '-';
      ++pos_;
    }
    auto invalid = [&] {
      std::size_t end = pos_;
      while (end < text_.size() && (isIdentifierPart(static_cast<unsigned char>(text_[end])) ||
                                    text_[end] == '.' || text_[end] == '+' || text_[end] == '-')) {
        ++end;
      }
      return fail(start, "invalid number '" +
                             std::string(text_.substr(start, std::max(end, pos_ + 1) - start)) +
                             "'");
    };
    auto followedByWord = [&] {
      std::size_t length = 0;
      return !atEnd() && (isIdentifierPart(decodeUtf8(text_, pos_, length)) || peek() == '.');
    };

    if (peek() == 'I' || peek() == 'N') {
      std::string word;
      if (!parseIdentifier(word)) return false;
      if (word == "Infinity") {
        out = negative ? -std::numeric_limits<double>::infinity()
                       : std::numeric_limits<double>::infinity();
      } else if (word == "NaN") {
        out = std::numeric_limits<double>::quiet_NaN();
      } else {
        return invalid();
      }
      return true;
    }

    if (peek() == '0' && pos_ + 1 < text_.size() &&
        (text_[pos_ + 1] == 'x' || text_[pos_ + 1] == 'X')) {
      pos_ += 2;
      std::size_t digits = pos_;
      std::uint64_t v = 0;
      bool overflow = false;
      double approx = 0;
      while (!atEnd() && hexValue(peek()) >= 0) {
        int h = hexValue(peek());
        if (v > (std::numeric_limits<std::uint64_t>::max() >> 4)) overflow = true;
        v = (v << 4) | static_cast<unsigned>(h);
        approx = approx * 16 + h;
        ++pos_;
      }
      if (pos_ == digits || followedByWord()) return invalid();
      if (!overflow && v <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        out = negative ? -static_cast<std::int64_t>(v) : static_cast<std::int64_t>(v);
      } else if (!overflow && !negative) {
        out = v;
      } else {
        out = negative ? -approx : approx;
      }
      return true;
    }

    std::size_t intStart = pos_;
    while (!atEnd() && peek() >= '0' && peek() <= '9') ++pos_;
    std::size_t intDigits = pos_ - intStart;
    if (intDigits > 1 && text_[intStart] == '0') {
      return fail(start, "numbers cannot start with 0 (write " +
                             std::string(text_.substr(intStart + 1, intDigits - 1)) + ")");
    }
    bool isInteger = true;
    std::size_t fracDigits = 0;
    if (peek() == '.' && !atEnd()) {
      isInteger = false;
      ++pos_;
      std::size_t fracStart = pos_;
      while (!atEnd() && peek() >= '0' && peek() <= '9') ++pos_;
      fracDigits = pos_ - fracStart;
    }
    if (intDigits == 0 && fracDigits == 0) return invalid();
    if ((peek() == 'e' || peek() == 'E') && !atEnd()) {
      isInteger = false;
      ++pos_;
      if (peek() == '+' || peek() == '-') ++pos_;
      std::size_t expStart = pos_;
      while (!atEnd() && peek() >= '0' && peek() <= '9') ++pos_;
      if (pos_ == expStart) return invalid();
    }
    if (followedByWord()) return invalid();

    std::string_view digits = text_.substr(intStart, pos_ - intStart);
    if (isInteger) {
      std::uint64_t u = 0;
      auto r = std::from_chars(digits.data(), digits.data() + digits.size(), u);
      if (r.ec == std::errc()) {
        if (!negative && u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
          out = u;
          return true;
        }
        if (u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
          out = negative ? -static_cast<std::int64_t>(u) : static_cast<std::int64_t>(u);
          return true;
        }
        if (negative &&
            u == static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) + 1) {
          out = std::numeric_limits<std::int64_t>::min();
          return true;
        }
      }
      // Too large for 64 bits: fall through to a double, as JSON.parse would give.
    }
    double d = 0;
    auto r = std::from_chars(digits.data(), digits.data() + digits.size(), d);
    if (r.ec == std::errc::result_out_of_range) {
      d = std::numeric_limits<double>::infinity();
    } else if (r.ec != std::errc()) {
      return invalid();
    }
    out = negative ? -d : d;
    return true;
  }

  std::string_view text_;
  Json5Document& doc_;
  std::size_t pos_ = 0;
  std::size_t errorOffset_ = 0;
  std::string errorMessage_;
};

}  // namespace

TextPosition positionOf(std::string_view text, std::size_t offset) {
  TextPosition p;
  offset = std::min(offset, text.size());
  for (std::size_t i = 0; i < offset; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\n' || (c == '\r' && (i + 1 >= text.size() || text[i + 1] != '\n'))) {
      ++p.line;
      p.column = 1;
    } else if ((c & 0xC0) != 0x80 && c != '\r') {
      ++p.column;  // UTF-8 continuation bytes belong to the character before them
    }
  }
  return p;
}

std::string jsonPointerAppend(std::string_view base, std::string_view key) {
  std::string out(base);
  out += '/';
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

Result<Json5Document> parseJson5(std::string_view text, std::string_view displayName) {
  Json5Document doc;
  Parser parser(text, doc);
  if (!parser.parseDocument()) {
    TextPosition p = positionOf(text, parser.errorOffset());
    return makeError(std::string(displayName) + ":" + std::to_string(p.line) + ":" +
                     std::to_string(p.column) + ": " + parser.errorMessage());
  }
  return doc;
}

}  // namespace partyd::project
