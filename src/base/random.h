// Randomness for ids: UUIDs (v4) and random bytes, from OpenSSL-free getrandom(2).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace partyd {

void randomBytes(void* out, std::size_t len);
std::string randomUuid();  // "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx"

}  // namespace partyd
