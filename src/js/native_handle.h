// Native objects handed to JS as opaque handles (crypto keys, hash states). A handle is a
// one-byte ArrayBuffer whose backing store is the object itself and whose deleter frees it: V8
// runs the deleter when the buffer dies, on whichever thread sweeps it, or when the isolate is
// disposed, so handles neither leak nor need weak callbacks. One byte rather than none: V8 does
// not hand out the pointer of an empty buffer. A private symbol per kind brands the buffers, so
// no other ArrayBuffer, and no handle of another kind, is ever read as a T.
//
// T's first member is `unsigned char window` (all the buffer shows of it); T has a
// `static constexpr std::uint64_t kMagic` and a member `magic` equal to it until T is destroyed.
#pragma once

#include <v8.h>

#include <memory>

namespace partyd::js {

template <typename T>
v8::Local<v8::Value> wrapHandle(v8::Isolate* iso, std::unique_ptr<T> object, const char* brand) {
  auto free = [](void* data, std::size_t, void*) { delete static_cast<T*>(data); };
  std::unique_ptr<v8::BackingStore> store =
      v8::ArrayBuffer::NewBackingStore(object.get(), 1, free, nullptr);
  object.release();  // the backing store owns it now
  v8::Local<v8::ArrayBuffer> ab = v8::ArrayBuffer::New(iso, std::move(store));
  v8::Local<v8::Private> key = v8::Private::ForApi(
      iso, v8::String::NewFromUtf8(iso, brand).ToLocalChecked());
  ab->SetPrivate(iso->GetCurrentContext(), key, v8::True(iso)).FromMaybe(false);
  return ab;
}

// The T behind a handle made by wrapHandle with the same brand, or null for anything else.
template <typename T>
T* unwrapHandle(v8::Isolate* iso, v8::Local<v8::Value> value, const char* brand) {
  if (!value->IsArrayBuffer()) return nullptr;
  v8::Local<v8::Private> key = v8::Private::ForApi(
      iso, v8::String::NewFromUtf8(iso, brand).ToLocalChecked());
  auto ab = value.As<v8::ArrayBuffer>();
  if (!ab->HasPrivate(iso->GetCurrentContext(), key).FromMaybe(false)) return nullptr;
  auto* object = static_cast<T*>(ab->Data());
  if (ab->ByteLength() != 1 || object == nullptr || object->magic != T::kMagic) return nullptr;
  return object;
}

}  // namespace partyd::js
