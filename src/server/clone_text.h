// Structured-clone bytes (v8::ValueSerializer output: what room.storage stores, and a hibernated
// socket's stash) shown as JSON-like text for the inspector, read without V8 and so without
// touching the room: strings, numbers, booleans, null and undefined, BigInt, objects, arrays,
// Date, RegExp, Map, Set, ArrayBuffer and its views, and references to an object seen before.
// What it cannot read is shown as <unreadable ...> in place; it never throws.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace partyd::server {

std::string cloneToText(std::string_view bytes);
// The text of each element of a structured-clone array (a hibernated socket's stash: id, uri,
// tags, state, attachment), or nothing when the bytes are not an array that reads whole.
std::optional<std::vector<std::string>> cloneArrayToTexts(std::string_view bytes);

}  // namespace partyd::server
