// SchemaReader checks the fields of a parsed JSON5 document against the types the code expects. It
// turns each mismatch into a message that names the file, line and column, and the field
// ("partykit.json:4:11: vars: expected an object, got a number (3)"). It gathers every problem
// rather than stopping at the first, so one run shows the user all the fields to fix. It reads the
// document and owns nothing else.
#pragma once

#include <boost/json/value.hpp>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "project/json5.h"

namespace partyd::project {

enum class UnknownKeys {
  kError,  // zod .strict(): an unknown key is a mistake
  kWarn,   // plain zod object: unknown keys are dropped; we say so
};

class SchemaReader {
 public:
  // `basePointer` is where the config object sits in the document ("" for partykit.json,
  // "/partykit" for package.json); field names are printed relative to it.
  SchemaReader(const Json5Document& doc, std::string_view text, std::string displayName,
               std::string basePointer);

  // Each returns nothing, and records an error, when `value` has another type.
  const boost::json::object* object(const boost::json::value& value, const std::string& pointer);
  std::optional<std::string> string(const boost::json::value& value, const std::string& pointer);
  std::optional<bool> boolean(const boost::json::value& value, const std::string& pointer);
  std::optional<double> number(const boost::json::value& value, const std::string& pointer);
  // A string array, or with `allowSingle` also one string (read as a one-element array).
  std::optional<std::vector<std::string>> strings(const boost::json::value& value,
                                                  const std::string& pointer, bool allowSingle);
  // Record<string, string>, in file order.
  std::optional<std::vector<std::pair<std::string, std::string>>> stringMap(
      const boost::json::value& value, const std::string& pointer);

  void checkKeys(const boost::json::object& object, const std::string& pointer,
                 std::initializer_list<std::string_view> known, UnknownKeys unknown);

  // Records an error at the value, or at the key, of the field at `pointer`.
  void error(const std::string& pointer, std::string_view message);
  void errorAtKey(const std::string& pointer, std::string_view message);
  void warning(const std::string& pointer, std::string_view message);

  // "serve.build.entry", `parties["chat-room"]`, "tailConsumers[0]".
  std::string fieldName(const std::string& pointer) const;
  // "a number (3)", "a string (\"x\")", "an object", "null".
  static std::string describe(const boost::json::value& value);

  bool ok() const { return errors_.empty(); }
  // Every error, one per line, in the order they appear in the file.
  Error takeError() const;
  std::vector<std::string>& warnings() { return warnings_; }
  const std::string& displayName() const { return displayName_; }

 private:
  // "<file>:<line>:<col>: " for the key or value at `pointer`, then the field name for locate().
  std::string position(const std::string& pointer, bool atKey) const;
  // The byte offset of the key or value at `pointer`, or SIZE_MAX when it is not in the document.
  std::size_t offsetOf(const std::string& pointer, bool atKey) const;
  void addError(const std::string& pointer, bool atKey, std::string message);
  std::string locate(const std::string& pointer, bool atKey) const;
  void typeError(const boost::json::value& value, const std::string& pointer,
                 std::string_view expected);

  const Json5Document& doc_;
  std::string_view text_;
  std::string displayName_;
  std::string basePointer_;
  std::vector<std::pair<std::size_t, std::string>> errors_;  // (offset, message)
  std::vector<std::string> warnings_;
};

}  // namespace partyd::project
