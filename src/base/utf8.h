// Writing code points as UTF-8 (RFC 3629), for parsers that turn escapes such as \u00e9 into
// text. Checking UTF-8 that arrives from the network is ws/utf8.h's job.
#pragma once

#include <string>

namespace partyd {

// Appends cp as 1 to 4 bytes. A UTF-16 surrogate (U+D800..U+DFFF) or a value past U+10FFFF has
// no UTF-8 form and is written as U+FFFD, the replacement character.
void appendUtf8(std::string& out, char32_t cp);

}  // namespace partyd
