// libFuzzer target for reading a project config from text: parseJson5 (src/project/json5.h), then,
// when the document is an object, the partykit.json schema as loadConfig applies it
// (SchemaReader and readConfigFields, src/project/config_fields.h), as partykit.json and as the
// "partykit" key of a package.json, and CronSchedule::parse on every cron it accepts. Only
// loadConfig's file reading is left out: the root is a directory that does not exist, so the
// file checks (main, parties, serve) stat and fail. It owns nothing but its checks:
//   - a parse error reads "<name>:<line>:<col>: <message>" with a position inside the text;
//   - every recorded value and key offset lies inside the text;
//   - a parsed document without NaN or infinities survives boost::json::serialize and a second
//     parseJson5 unchanged (JSON is JSON5);
//   - the schema never throws, and an error always has a message.
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "project/config.h"
#include "project/config_fields.h"
#include "project/cron.h"
#include "project/json5.h"
#include "project/schema_reader.h"

namespace {

using namespace partyd::project;

#define FUZZ_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

bool allFinite(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::double_:
      return std::isfinite(v.get_double());
    case boost::json::kind::array:
      for (const auto& e : v.get_array()) {
        if (!allFinite(e)) return false;
      }
      return true;
    case boost::json::kind::object:
      for (const auto& m : v.get_object()) {
        if (!allFinite(m.value())) return false;
      }
      return true;
    default:
      return true;
  }
}

// "name:line:col: message", with a line and column that exist in `text`.
void checkErrorMessage(const std::string& message, std::string_view name, std::string_view text) {
  FUZZ_CHECK(message.substr(0, name.size() + 1) == std::string(name) + ":");
  std::size_t at = name.size() + 1;
  int line = 0;
  int column = 0;
  int used = 0;
  FUZZ_CHECK(std::sscanf(message.c_str() + at, "%d:%d: %n", &line, &column, &used) == 2);
  FUZZ_CHECK(used > 0 && message.size() > at + static_cast<std::size_t>(used));
  const TextPosition end = positionOf(text, text.size());
  FUZZ_CHECK(line >= 1 && line <= end.line);
  FUZZ_CHECK(column >= 1);
}

// The schema over the config object at `pointer`, as loadConfig runs it.
void readConfig(const Json5Document& doc, std::string_view text, const std::string& pointer,
                const boost::json::object& object) {
  SchemaReader reader(doc, text, "partykit.json", pointer);
  Config config;
  config.root = "/nonexistent/partyd-fuzz";
  boost::json::object vars;
  readConfigFields(reader, object, pointer, FieldOptions{}, config, vars);
  if (!reader.ok()) FUZZ_CHECK(!reader.takeError().message.empty());
  for (const auto& [name, expression] : config.crons) {
    auto cron = CronSchedule::parse(expression);
    if (cron) (void)cron->next(0);
  }
  (void)boost::json::serialize(vars);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto doc = parseJson5(text, "partykit.json");
  if (!doc) {
    checkErrorMessage(doc.error().message, "partykit.json", text);
    return 0;
  }
  FUZZ_CHECK(doc->valueOffsets.count("") == 1);
  for (const auto& [pointer, offset] : doc->valueOffsets) FUZZ_CHECK(offset < text.size());
  for (const auto& [pointer, offset] : doc->keyOffsets) {
    FUZZ_CHECK(offset < text.size());
    FUZZ_CHECK(doc->valueOffsets.count(pointer) == 1);
  }

  if (allFinite(doc->root)) {
    const std::string json = boost::json::serialize(doc->root);
    auto again = parseJson5(json, "serialized");
    if (!again) {
      std::fprintf(stderr, "serialized form does not parse: %s\n%s\n",
                   again.error().message.c_str(), json.c_str());
      std::abort();
    }
    FUZZ_CHECK(again->root == doc->root);
  }

  if (doc->root.is_object()) {
    const boost::json::object& root = doc->root.get_object();
    readConfig(*doc, text, "", root);
    if (const boost::json::value* inner = root.if_contains("partykit");
        inner != nullptr && inner->is_object()) {
      readConfig(*doc, text, "/partykit", inner->get_object());
    }
  }
  return 0;
}
