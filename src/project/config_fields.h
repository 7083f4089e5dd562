// readConfigFields checks one partykit config object against PartyKit's schema and copies each
// field into a Config. It owns the field list: adding a field to partykit.json support means
// adding it here and to Config. Files are only stat()ed (main and parties must exist), not read.
#pragma once

#include <boost/json/object.hpp>
#include <string>

#include "project/config.h"
#include "project/schema_reader.h"

namespace partyd::project {

struct FieldOptions {
  bool mainFromCommandLine = false;  // LoadOptions::main replaces the file's "main"
};

// `config.root` must be set: relative paths are resolved against it. The raw "vars" object is
// copied to `vars` for merging with .env files. Problems go to `reader`.
void readConfigFields(SchemaReader& reader, const boost::json::object& object,
                      const std::string& pointer, const FieldOptions& options, Config& config,
                      boost::json::object& vars);

// /^[a-z0-9_-]+$/: the rule for project and party names.
bool isValidName(std::string_view name);

}  // namespace partyd::project
