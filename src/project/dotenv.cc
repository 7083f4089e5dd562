// The .env reader: one pass over the lines, following dotenv 16's LINE regex closely enough that a
// file which works with `partykit dev` gives the same values here.
#include "project/dotenv.h"

#include <algorithm>

namespace partyd::project {
namespace {

bool isBlank(char c) {
  return c == ' ' || c == '\t' || c == '\v' || c == '\f';
}

bool isKeyChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (isBlank(s.front()) || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (isBlank(s.back()) || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

// dotenv turns the two-character sequences \n and \r into line breaks inside double quotes, and
// leaves every other backslash alone.
std::string expandNewlines(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == 'n' || s[i + 1] == 'r')) {
      out += s[i + 1] == 'n' ? '\n' : '\r';
      ++i;
    } else {
      out += s[i];
    }
  }
  return out;
}

void setVar(Dotenv& env, std::string key, std::string value) {
  auto it = std::find_if(env.vars.begin(), env.vars.end(),
                         [&](const auto& kv) { return kv.first == key; });
  if (it != env.vars.end()) {
    it->second = std::move(value);
  } else {
    env.vars.emplace_back(std::move(key), std::move(value));
  }
}

}  // namespace

Dotenv parseDotenv(std::string_view input, std::string_view displayName) {
  std::string text;
  text.reserve(input.size());
  for (std::size_t i = 0; i < input.size(); ++i) {
    if (input[i] == '\r') {
      text += '\n';
      if (i + 1 < input.size() && input[i + 1] == '\n') ++i;
    } else {
      text += input[i];
    }
  }

  Dotenv env;
  std::size_t pos = 0;
  int lineNumber = 1;
  auto lineEnd = [&](std::size_t from) {
    std::size_t e = text.find('\n', from);
    return e == std::string::npos ? text.size() : e;
  };
  auto countLines = [&](std::size_t from, std::size_t to) {
    return static_cast<int>(std::count(text.begin() + from, text.begin() + to, '\n'));
  };
  auto warn = [&](const std::string& what) {
    env.warnings.push_back(std::string(displayName) + ":" + std::to_string(lineNumber) + ": " +
                           what);
  };

  while (pos < text.size()) {
    std::size_t end = lineEnd(pos);
    std::size_t next = end < text.size() ? end + 1 : end;
    std::size_t p = pos;
    while (p < end && isBlank(text[p])) ++p;
    if (p == end || text[p] == '#') {
      lineNumber += countLines(pos, next);
      pos = next;
      continue;
    }
    if (text.compare(p, 6, "export") == 0 && p + 6 < end && isBlank(text[p + 6])) {
      p += 6;
      while (p < end && isBlank(text[p])) ++p;
    }
    std::size_t keyStart = p;
    while (p < end && isKeyChar(text[p])) ++p;
    std::string key = text.substr(keyStart, p - keyStart);
    std::size_t sep = p;
    while (sep < end && isBlank(text[sep])) ++sep;
    bool hasSeparator = !key.empty() && sep < end &&
                        (text[sep] == '=' ||
                         (text[sep] == ':' && sep == p && sep + 1 < end && isBlank(text[sep + 1])));
    if (!hasSeparator) {
      warn(key.empty() ? "skipped a line that does not start with a KEY (letters, digits, _ . -)"
                       : "skipped \"" + key + "\": expected KEY=VALUE");
      lineNumber += countLines(pos, next);
      pos = next;
      continue;
    }
    p = sep + 1;
    while (p < end && isBlank(text[p])) ++p;

    // A quoted value may run over several lines; it must be followed only by blanks or a comment.
    if (p < end && (text[p] == '\'' || text[p] == '"' || text[p] == '`')) {
      char quote = text[p];
      std::size_t q = p + 1;
      while (q < text.size() && text[q] != quote)
        q += (text[q] == '\\' && q + 1 < text.size() && text[q + 1] == quote) ? 2 : 1;
      if (q < text.size()) {
        std::size_t closeLineEnd = lineEnd(q);
        std::size_t after = q + 1;
        while (after < closeLineEnd && isBlank(text[after])) ++after;
        if (after == closeLineEnd || text[after] == '#') {
          std::string_view inner(text.data() + p + 1, q - p - 1);
          setVar(env, key, quote == '"' ? expandNewlines(inner) : std::string(inner));
          std::size_t after_next = closeLineEnd < text.size() ? closeLineEnd + 1 : closeLineEnd;
          lineNumber += countLines(pos, after_next);
          pos = after_next;
          continue;
        }
      }
    }

    // Unquoted (or a quote that does not close cleanly): the rest of the line up to a '#'.
    std::size_t hash = text.find('#', p);
    std::string_view value = trim(std::string_view(text.data() + p, std::min(hash, end) - p));
    char first = value.empty() ? '\0' : value.front();
    if (value.size() >= 2 && (first == '\'' || first == '"' || first == '`') &&
        value.back() == first) {
      value = value.substr(1, value.size() - 2);
    }
    setVar(env, key, first == '"' ? expandNewlines(value) : std::string(value));
    lineNumber += countLines(pos, next);
    pos = next;
  }
  return env;
}

}  // namespace partyd::project
