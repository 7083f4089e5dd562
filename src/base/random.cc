#include "base/random.h"

#include <sys/random.h>

#include <cstring>

namespace partyd {

void randomBytes(void* out, std::size_t len) {
  auto* p = static_cast<std::uint8_t*>(out);
  while (len > 0) {
    ssize_t n = ::getrandom(p, len, 0);
    if (n <= 0) continue;  // EINTR; getrandom never fails otherwise once the pool is ready
    p += n;
    len -= static_cast<std::size_t>(n);
  }
}

namespace {
// UUIDs take their bytes from a per-thread pool that one getrandom(2) fills for 32 of them: a
// new connection's id used to cost a syscall of its own (issue 14, W2). The bytes are the
// kernel's CSPRNG output either way, and each is handed out once.
struct Pool {
  std::uint8_t bytes[512];
  std::size_t used = sizeof bytes;
};
thread_local Pool tPool;

void pooledBytes(std::uint8_t* out, std::size_t len) {
  if (tPool.used + len > sizeof tPool.bytes) {
    randomBytes(tPool.bytes, sizeof tPool.bytes);
    tPool.used = 0;
  }
  std::memcpy(out, tPool.bytes + tPool.used, len);
  std::memset(tPool.bytes + tPool.used, 0, len);  // nothing handed out stays in memory
  tPool.used += len;
}
}  // namespace

std::string randomUuid() {
  std::uint8_t b[16];
  pooledBytes(b, sizeof b);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s += '-';
    s += kHex[b[i] >> 4];
    s += kHex[b[i] & 15];
  }
  return s;
}

}  // namespace partyd
