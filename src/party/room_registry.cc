#include "party/room_registry.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

namespace partyd::party {

std::string internalId(const RoomKey& key) {
  std::string input = key.party + '\0' + key.room;
  unsigned char digest[SHA256_DIGEST_LENGTH];
  // Fetched once: SHA256() looks OpenSSL 3's provider up again on every call (every new room).
  static EVP_MD* sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (!sha256 || EVP_Digest(input.data(), input.size(), digest, nullptr, sha256, nullptr) != 1) {
    SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * SHA256_DIGEST_LENGTH);
  for (unsigned char b : digest) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

std::pair<Room*, bool> RoomRegistry::getOrCreate(const RoomKey& key, std::int64_t nowMs) {
  std::string flat = flatKey(key);
  auto it = byKey_.find(flat);
  if (it != byKey_.end()) return {byHandle_.at(it->second).get(), false};
  std::uint32_t handle = nextHandle_++;
  if (nextHandle_ == 0) nextHandle_ = 1;
  auto room = std::make_unique<Room>();
  room->handle = handle;
  room->key = key;
  room->lastActiveMs = nowMs;
  Room* raw = room.get();
  byHandle_.emplace(handle, std::move(room));
  byKey_.emplace(std::move(flat), handle);
  return {raw, true};
}

Room* RoomRegistry::find(const RoomKey& key) {
  auto it = byKey_.find(flatKey(key));
  return it == byKey_.end() ? nullptr : byHandle_.at(it->second).get();
}

Room* RoomRegistry::byHandle(std::uint32_t handle) {
  auto it = byHandle_.find(handle);
  return it == byHandle_.end() ? nullptr : it->second.get();
}

void RoomRegistry::erase(std::uint32_t handle) {
  auto it = byHandle_.find(handle);
  if (it == byHandle_.end()) return;
  byKey_.erase(flatKey(it->second->key));
  byHandle_.erase(it);
}

std::vector<std::uint32_t> RoomRegistry::idleRooms(std::int64_t nowMs,
                                                   std::int64_t idleTimeoutMs) const {
  std::vector<std::uint32_t> out;
  for (const auto& [handle, room] : byHandle_) {
    if (room->idle() && nowMs - room->lastActiveMs >= idleTimeoutMs) out.push_back(handle);
  }
  return out;
}

std::vector<std::uint32_t> RoomRegistry::hibernationCandidates(std::int64_t nowMs,
                                                              std::int64_t afterMs) const {
  std::vector<std::uint32_t> out;
  for (const auto& [handle, room] : byHandle_) {
    if (room->hibernate && !room->hibernated && room->busy == 0 && !room->sockets.empty() &&
        nowMs - room->lastActiveMs >= afterMs) {
      out.push_back(handle);
    }
  }
  return out;
}

}  // namespace partyd::party
