#include "server/clone_text.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>
#include <vector>

#include "base/log.h"
#include "base/utf8.h"

namespace partyd::server {

namespace {

constexpr int kMaxDepth = 64;

// As JS's Number.prototype.toString writes it (ECMA-262 Number::toString): the shortest digits
// that read back as `d`, in plain notation for exponents from -7 to 20 (Date.now() is
// 1796527734680, not 1.79652773468e+12 as printf's %g writes it).
std::string number(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  if (d == 0) return "0";
  char buf[40];
  auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<std::size_t>(r.ptr - buf));  // [-]D[.DDD]e±XX
  std::string out;
  if (sci.front() == '-') {
    out += '-';
    sci.remove_prefix(1);
  }
  std::size_t e = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e)) {
    if (c != '.') digits += c;
  }
  int exp = 0;
  std::string_view ex = sci.substr(e + 1);
  if (!ex.empty() && ex.front() == '+') ex.remove_prefix(1);
  std::from_chars(ex.data(), ex.data() + ex.size(), exp);
  const int k = static_cast<int>(digits.size());
  const int n = exp + 1;  // the decimal point's place after the first digit
  if (k <= n && n <= 21) {
    out += digits;
    out.append(static_cast<std::size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out += digits.substr(0, static_cast<std::size_t>(n));
    out += '.';
    out += digits.substr(static_cast<std::size_t>(n));
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(static_cast<std::size_t>(-n), '0');
    out += digits;
  } else {
    out += digits[0];
    if (k > 1) {
      out += '.';
      out += digits.substr(1);
    }
    out += n - 1 >= 0 ? "e+" : "e-";
    out += std::to_string(n - 1 >= 0 ? n - 1 : 1 - n);
  }
  return out;
}

class Reader {
 public:
  explicit Reader(std::string_view b) : b_(b) {}

  void header() {
    if (pos_ < b_.size() && static_cast<unsigned char>(b_[pos_]) == 0xFF) {
      ++pos_;
      auto v = varint();
      version_ = v.value_or(0);
    }
  }

  std::string run() {
    header();
    std::string out;
    if (!value(out, 0)) {
      out += "<unreadable at byte " + std::to_string(pos_) + ">";
    }
    return out;
  }

  // The text of each element of a top-level dense array, or nothing when the bytes hold
  // something else (or an element cannot be read).
  std::optional<std::vector<std::string>> items() {
    header();
    if (peek() != 'A') return std::nullopt;
    ++pos_;
    ++nextId_;
    auto len = varint();
    if (!len || *len > b_.size()) return std::nullopt;
    std::vector<std::string> out;
    for (std::uint64_t i = 0; i < *len; ++i) {
      std::string text;
      if (!value(text, 1)) return std::nullopt;
      out.push_back(std::move(text));
    }
    return out;
  }

 private:
  std::optional<std::uint64_t> varint() {
    std::uint64_t v = 0;
    int shift = 0;
    while (pos_ < b_.size() && shift < 64) {
      auto c = static_cast<unsigned char>(b_[pos_++]);
      v |= static_cast<std::uint64_t>(c & 0x7F) << shift;
      if (!(c & 0x80)) return v;
      shift += 7;
    }
    return std::nullopt;
  }
  std::optional<double> dbl() {
    if (b_.size() - pos_ < 8) return std::nullopt;
    double d;
    std::memcpy(&d, b_.data() + pos_, 8);
    pos_ += 8;
    return d;
  }
  std::optional<std::string_view> raw(std::uint64_t n) {
    if (b_.size() - pos_ < n) return std::nullopt;
    auto s = b_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  void skipPadding() {
    while (pos_ < b_.size() && b_[pos_] == '\0') ++pos_;
  }
  char peek() {
    skipPadding();
    return pos_ < b_.size() ? b_[pos_] : '\0';
  }

  // A string value's tag and bytes, as UTF-8.
  bool string(char tag, std::string& s) {
    auto n = varint();
    if (!n) return false;
    auto bytes = raw(*n);
    if (!bytes) return false;
    if (tag == 'S') {
      s.assign(*bytes);
    } else if (tag == '"') {
      for (unsigned char c : *bytes) appendUtf8(s, c);
    } else {  // 'c': UTF-16LE
      for (std::size_t i = 0; i + 1 < bytes->size(); i += 2) {
        std::uint32_t u = static_cast<unsigned char>((*bytes)[i]) |
                          (static_cast<unsigned char>((*bytes)[i + 1]) << 8);
        if (u >= 0xD800 && u < 0xDC00 && i + 3 < bytes->size()) {
          std::uint32_t lo = static_cast<unsigned char>((*bytes)[i + 2]) |
                             (static_cast<unsigned char>((*bytes)[i + 3]) << 8);
          if (lo >= 0xDC00 && lo < 0xE000) {
            appendUtf8(s, 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00));
            i += 2;
            continue;
          }
        }
        appendUtf8(s, (u >= 0xD800 && u < 0xE000) ? 0xFFFD : u);
      }
    }
    return true;
  }
  static void quoted(std::string& out, std::string_view s) {
    out += '"';
    log::appendJsonEscaped(out, s);
    out += '"';
  }

  // Properties until `end` tag: key: value pairs (keys are strings or numbers).
  bool properties(std::string& out, int depth, char end, bool arrayLike) {
    bool first = true;
    for (;;) {
      char t = peek();
      if (t == end) {
        ++pos_;
        return true;
      }
      if (pos_ >= b_.size()) return false;
      if (!first) out += ", ";
      first = false;
      std::string key;
      if (!value(key, depth + 1)) return false;
      if (!arrayLike || !key.empty()) {
        out += key;
        out += ": ";
      }
      if (!value(out, depth + 1)) return false;
    }
  }

  bool bigint(std::string& out) {
    auto bits = varint();
    if (!bits) return false;
    std::uint64_t len = (*bits >> 1) & 0x3FFFFFFF;
    auto digits = raw(len);
    if (!digits) return false;
    if (*bits & 1) out += '-';
    out += "0x";
    bool any = false;
    for (std::size_t i = digits->size(); i-- > 0;) {
      char hex[3];
      std::snprintf(hex, sizeof hex, "%02x", static_cast<unsigned char>((*digits)[i]));
      if (!any && hex[0] == '0' && hex[1] == '0') continue;
      if (!any && hex[0] == '0') {
        out += hex[1];
      } else {
        out += hex;
      }
      any = true;
    }
    if (!any) out += '0';
    out += 'n';
    return true;
  }

  bool view(std::string& out, std::string_view buffer) {
    ++pos_;  // 'V'
    auto sub = raw(1);
    auto offset = varint();
    auto length = varint();
    if (!sub || !offset || !length) return false;
    if (version_ >= 14 && !varint()) return false;  // flags
    struct Kind {
      char tag;
      const char* name;
      int size;
    };
    static constexpr Kind kKinds[] = {
        {'b', "Int8Array", 1},     {'B', "Uint8Array", 1},     {'C', "Uint8ClampedArray", 1},
        {'w', "Int16Array", 2},    {'W', "Uint16Array", 2},    {'d', "Int32Array", 4},
        {'D', "Uint32Array", 4},   {'f', "Float32Array", 4},   {'F', "Float64Array", 8},
        {'q', "BigInt64Array", 8}, {'Q', "BigUint64Array", 8}, {'?', "DataView", 1}};
    const Kind* kind = nullptr;
    for (const Kind& k : kKinds) {
      if (k.tag == (*sub)[0]) kind = &k;
    }
    if (!kind || *offset > buffer.size() || *length > buffer.size() - *offset) return false;
    std::string_view data = buffer.substr(*offset, *length);
    std::size_t n = data.size() / kind->size;
    out += kind->name;
    out += "(" + std::to_string(n) + ") [";
    constexpr std::size_t kShown = 64;
    for (std::size_t i = 0; i < n && i < kShown; ++i) {
      if (i) out += ", ";
      const char* p = data.data() + i * kind->size;
      switch (kind->tag) {
        case 'b':
          out += std::to_string(static_cast<std::int8_t>(*p));
          break;
        case 'B':
        case 'C':
        case '?':
          out += std::to_string(static_cast<unsigned char>(*p));
          break;
        case 'w': {
          std::int16_t v;
          std::memcpy(&v, p, 2);
          out += std::to_string(v);
          break;
        }
        case 'W': {
          std::uint16_t v;
          std::memcpy(&v, p, 2);
          out += std::to_string(v);
          break;
        }
        case 'd': {
          std::int32_t v;
          std::memcpy(&v, p, 4);
          out += std::to_string(v);
          break;
        }
        case 'D': {
          std::uint32_t v;
          std::memcpy(&v, p, 4);
          out += std::to_string(v);
          break;
        }
        case 'f': {
          float v;
          std::memcpy(&v, p, 4);
          out += number(v);
          break;
        }
        case 'F': {
          double v;
          std::memcpy(&v, p, 8);
          out += number(v);
          break;
        }
        case 'q': {
          std::int64_t v;
          std::memcpy(&v, p, 8);
          out += std::to_string(v) + "n";
          break;
        }
        default: {
          std::uint64_t v;
          std::memcpy(&v, p, 8);
          out += std::to_string(v) + "n";
          break;
        }
      }
    }
    if (n > kShown) out += ", ... " + std::to_string(n - kShown) + " more";
    out += ']';
    return true;
  }

  bool value(std::string& out, int depth) {
    if (depth > kMaxDepth) return false;
    skipPadding();
    if (pos_ >= b_.size()) return false;
    char tag = b_[pos_++];
    switch (tag) {
      case '_':
        out += "undefined";
        return true;
      case '0':
        out += "null";
        return true;
      case 'T':
        out += "true";
        return true;
      case 'F':
        out += "false";
        return true;
      case '-':
        out += "<hole>";
        return true;
      case 'I': {
        auto v = varint();
        if (!v) return false;
        std::int64_t z = static_cast<std::int64_t>((*v >> 1) ^ (~(*v & 1) + 1));
        out += std::to_string(static_cast<std::int32_t>(z));
        return true;
      }
      case 'U': {
        auto v = varint();
        if (!v) return false;
        out += std::to_string(*v);
        return true;
      }
      case 'N': {
        auto d = dbl();
        if (!d) return false;
        out += number(*d);
        return true;
      }
      case 'Z':
        return bigint(out);
      case 'S':
      case '"':
      case 'c': {
        std::string s;
        if (!string(tag, s)) return false;
        quoted(out, s);
        return true;
      }
      case '^': {
        auto id = varint();
        if (!id) return false;
        out += "<ref *" + std::to_string(*id) + ">";
        return true;
      }
      case 'o': {
        ++nextId_;
        out += '{';
        if (!properties(out, depth, '{', false)) return false;
        if (!varint()) return false;
        out += '}';
        return true;
      }
      case 'A': {
        ++nextId_;
        auto len = varint();
        if (!len) return false;
        out += '[';
        for (std::uint64_t i = 0; i < *len; ++i) {
          if (i) out += ", ";
          if (!value(out, depth + 1)) return false;
        }
        // Extra (non-index) properties, then '$' numProperties length.
        std::string extra;
        if (!properties(extra, depth, '$', false)) return false;
        if (!extra.empty()) out += ", " + extra;
        if (!varint() || !varint()) return false;
        out += ']';
        return true;
      }
      case 'a': {
        ++nextId_;
        auto len = varint();
        if (!len) return false;
        out += "Array(" + std::to_string(*len) + ") [";
        if (!properties(out, depth, '@', false)) return false;
        if (!varint() || !varint()) return false;
        out += ']';
        return true;
      }
      case 'D': {
        ++nextId_;
        auto d = dbl();
        if (!d) return false;
        out += "Date(";
        if (std::isfinite(*d)) {
          std::time_t secs = static_cast<std::time_t>(std::floor(*d / 1000));
          int ms = static_cast<int>(*d - static_cast<double>(secs) * 1000);
          std::tm tm;
          gmtime_r(&secs, &tm);
          char buf[80];
          std::snprintf(buf, sizeof buf, "\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"",
                        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                        tm.tm_sec, ms);
          out += buf;
        } else {
          out += "Invalid Date";
        }
        out += ')';
        return true;
      }
      case 'y':
        ++nextId_;
        out += "Boolean(true)";
        return true;
      case 'x':
        ++nextId_;
        out += "Boolean(false)";
        return true;
      case 'n': {
        ++nextId_;
        auto d = dbl();
        if (!d) return false;
        out += "Number(" + number(*d) + ")";
        return true;
      }
      case 'z':
        ++nextId_;
        out += "Object(";
        if (!bigint(out)) return false;
        out += ')';
        return true;
      case 's': {
        ++nextId_;
        out += "String(";
        if (!value(out, depth + 1)) return false;
        out += ')';
        return true;
      }
      case 'R': {
        ++nextId_;
        std::string source;
        if (pos_ >= b_.size()) return false;
        char st = b_[pos_++];
        if (!string(st, source)) return false;
        auto flags = varint();
        if (!flags) return false;
        out += "/" + source + "/";
        static constexpr char kFlags[] = "gimyusd";
        for (int i = 0; i < 7; ++i) {
          if (*flags & (1u << i)) out += kFlags[i];
        }
        return true;
      }
      case ';': {
        ++nextId_;
        std::string body;
        std::size_t n = 0;
        for (;;) {
          char t = peek();
          if (t == ':') {
            ++pos_;
            break;
          }
          if (pos_ >= b_.size()) return false;
          if (n) body += ", ";
          if (!value(body, depth + 1)) return false;
          body += " => ";
          if (!value(body, depth + 1)) return false;
          ++n;
        }
        if (!varint()) return false;
        out += "Map(" + std::to_string(n) + ") {" + body + "}";
        return true;
      }
      case '\'': {
        ++nextId_;
        std::string body;
        std::size_t n = 0;
        for (;;) {
          char t = peek();
          if (t == ',') {
            ++pos_;
            break;
          }
          if (pos_ >= b_.size()) return false;
          if (n) body += ", ";
          if (!value(body, depth + 1)) return false;
          ++n;
        }
        if (!varint()) return false;
        out += "Set(" + std::to_string(n) + ") {" + body + "}";
        return true;
      }
      case 'B': {
        ++nextId_;
        auto len = varint();
        if (!len) return false;
        auto bytes = raw(*len);
        if (!bytes) return false;
        if (peek() == 'V') {
          ++nextId_;
          return view(out, *bytes);
        }
        out += "ArrayBuffer(" + std::to_string(bytes->size()) + ") <";
        for (std::size_t i = 0; i < bytes->size() && i < 64; ++i) {
          char hex[4];
          std::snprintf(hex, sizeof hex, i ? " %02x" : "%02x",
                        static_cast<unsigned char>((*bytes)[i]));
          out += hex;
        }
        if (bytes->size() > 64) out += " ...";
        out += '>';
        return true;
      }
      default:
        out += "<unreadable tag 0x";
        char hex[4];
        std::snprintf(hex, sizeof hex, "%02x", static_cast<unsigned char>(tag));
        out += hex;
        out += ">";
        pos_ = b_.size();
        return true;
    }
  }

  std::string_view b_;
  std::size_t pos_ = 0;
  std::uint64_t version_ = 0;
  std::uint64_t nextId_ = 0;
};

}  // namespace

std::string cloneToText(std::string_view bytes) {
  return Reader(bytes).run();
}

std::optional<std::vector<std::string>> cloneArrayToTexts(std::string_view bytes) {
  return Reader(bytes).items();
}

}  // namespace partyd::server
