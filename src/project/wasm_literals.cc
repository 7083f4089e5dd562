// Finding and decoding esbuild's wasm data URLs: read the JS string literal (any quote, any JS
// escape), split the data URL, undo base64 or percent-encoding, and re-encode as plain base64.
#include "project/wasm_literals.h"

#include <optional>

#include "base/base64.h"
#include "base/utf8.h"

namespace partyd::project {
namespace {

constexpr std::string_view kPrefix = "data:application/wasm";
constexpr std::string_view kCall = "__partyd_wasm(\"";

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Reads the JS string literal whose opening quote is at code[open]. Returns its value as UTF-8 and
// sets `end` past the closing quote; nothing if it is not a plain literal (or is a template with
// ${...} in it).
std::optional<std::string> readStringLiteral(std::string_view code, std::size_t open,
                                             std::size_t& end) {
  char quote = code[open];
  std::string out;
  std::size_t i = open + 1;
  auto hexRun = [&](std::size_t from, std::size_t n) -> std::optional<char32_t> {
    if (from + n > code.size()) return std::nullopt;
    char32_t v = 0;
    for (std::size_t k = 0; k < n; ++k) {
      int h = hexValue(code[from + k]);
      if (h < 0) return std::nullopt;
      v = (v << 4) | static_cast<char32_t>(h);
    }
    return v;
  };
  while (i < code.size()) {
    char c = code[i];
    if (c == quote) {
      end = i + 1;
      return out;
    }
    if (c == '\n' && quote != '`') return std::nullopt;
    if (quote == '`' && c == '$' && i + 1 < code.size() && code[i + 1] == '{') return std::nullopt;
    if (c != '\\') {
      out += c;
      ++i;
      continue;
    }
    if (++i >= code.size()) return std::nullopt;
    char e = code[i];
    switch (e) {
      case 'n':
        out += '\n';
        ++i;
        break;
      case 'r':
        out += '\r';
        ++i;
        break;
      case 't':
        out += '\t';
        ++i;
        break;
      case 'b':
        out += '\b';
        ++i;
        break;
      case 'f':
        out += '\f';
        ++i;
        break;
      case 'v':
        out += '\v';
        ++i;
        break;
      case '0':
        out += '\0';
        ++i;
        break;
      case 'x': {
        auto v = hexRun(i + 1, 2);
        if (!v) return std::nullopt;
        appendUtf8(out, *v);
        i += 3;
        break;
      }
      case 'u': {
        char32_t cp = 0;
        if (i + 1 < code.size() && code[i + 1] == '{') {
          std::size_t close = code.find('}', i + 2);
          if (close == std::string_view::npos || close == i + 2 || close - i - 2 > 6) {
            return std::nullopt;
          }
          auto v = hexRun(i + 2, close - i - 2);
          if (!v) return std::nullopt;
          cp = *v;
          i = close + 1;
        } else {
          auto v = hexRun(i + 1, 4);
          if (!v) return std::nullopt;
          cp = *v;
          i += 5;
          // esbuild writes astral characters as surrogate pairs in ASCII-only output.
          if (cp >= 0xD800 && cp <= 0xDBFF && i + 1 < code.size() && code[i] == '\\' &&
              code[i + 1] == 'u') {
            auto low = hexRun(i + 2, 4);
            if (low && *low >= 0xDC00 && *low <= 0xDFFF) {
              cp = 0x10000 + ((cp - 0xD800) << 10) + (*low - 0xDC00);
              i += 6;
            }
          }
        }
        appendUtf8(out, cp);
        break;
      }
      case '\r':
        ++i;
        if (i < code.size() && code[i] == '\n') ++i;
        break;
      case '\n':
        ++i;
        break;
      default:
        out += e;  // \\ \" \' \` \$ and any other character stand for themselves
        ++i;
    }
  }
  return std::nullopt;
}

std::optional<std::string> percentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      int hi = hexValue(text[i + 1]);
      int lo = hexValue(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

// The module bytes of a decoded data URL, or nothing if it is not a wasm data URL.
std::optional<std::string> wasmBytes(std::string_view url) {
  if (url.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  std::size_t comma = url.find(',');
  if (comma == std::string_view::npos) return std::nullopt;
  std::string_view header = url.substr(0, comma);
  std::string_view payload = url.substr(comma + 1);
  if (header.size() > kPrefix.size() && header[kPrefix.size()] != ';') return std::nullopt;
  constexpr std::string_view kBase64 = ";base64";
  if (header.size() >= kBase64.size() && header.substr(header.size() - kBase64.size()) == kBase64) {
    return base64Decode(payload);
  }
  return percentDecode(payload);
}

}  // namespace

WasmRewrite rewriteWasmDataUrls(std::string_view code) {
  WasmRewrite result;
  result.code.reserve(code.size());
  std::size_t copied = 0;
  std::size_t search = 0;
  while (true) {
    std::size_t at = code.find(kPrefix, search);
    if (at == std::string_view::npos) break;
    search = at + kPrefix.size();
    if (at == 0) continue;
    std::size_t open = at - 1;
    char quote = code[open];
    if (quote != '"' && quote != '\'' && quote != '`') continue;
    std::size_t end = 0;
    std::optional<std::string> url = readStringLiteral(code, open, end);
    if (!url) continue;
    std::optional<std::string> bytes = wasmBytes(*url);
    if (!bytes) continue;

    std::string call = std::string(kCall) + base64Encode(*bytes) + "\")";
    std::size_t literalLength = end - open;
    if (call.size() < literalLength) call.append(literalLength - call.size(), ' ');
    result.code.append(code.substr(copied, open - copied));
    result.code += call;
    copied = end;
    search = end;
    ++result.count;
  }
  result.code.append(code.substr(copied));
  return result;
}

}  // namespace partyd::project
