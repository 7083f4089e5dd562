// structuredClone, ArrayBuffer detaching and zlib streams for the JS runtime (see
// stream_natives.h). A zlib stream is a handle like node_natives' hash states: a one-byte
// ArrayBuffer whose backing store owns the z_stream and frees it when V8 collects the buffer, so a
// stream abandoned half-way never leaks.
#include "api/stream_natives.h"

#include <zlib.h>

#include <atomic>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "js/engine.h"
#include "js/native_handle.h"

namespace partyd::api {

using js::str;
using v8::FunctionCallbackInfo;
using v8::Isolate;
using v8::Local;
using v8::Value;

namespace {

bool failType(Isolate* iso, std::string_view msg) {
  iso->ThrowException(v8::Exception::TypeError(str(iso, msg)));
  return false;
}
bool fail(Isolate* iso, std::string_view msg) {
  iso->ThrowException(v8::Exception::Error(str(iso, msg)));
  return false;
}

// ---- structuredClone --------------------------------------------------------------------------

// Throws what the JS side's `makeError(message)` builds (a DataCloneError DOMException), so a
// clone error is a DOMException while an exception from a getter passes through untouched.
class CloneSerializerDelegate final : public v8::ValueSerializer::Delegate {
 public:
  CloneSerializerDelegate(Isolate* iso, Local<v8::Function> makeError)
      : iso_(iso), makeError_(makeError) {}

  void ThrowDataCloneError(Local<v8::String> message) override {
    Local<Value> arg = message;
    Local<Value> error;
    if (makeError_->Call(iso_->GetCurrentContext(), v8::Undefined(iso_), 1, &arg)
            .ToLocal(&error)) {
      iso_->ThrowException(error);
    }
    // else makeError threw, and that exception is pending already.
  }

 private:
  Isolate* iso_;
  Local<v8::Function> makeError_;
};

class CloneDeserializerDelegate final : public v8::ValueDeserializer::Delegate {};

// cloneValue(value, transfer: ArrayBuffer[], makeError) -> the clone. The transfer list's
// buffers are moved into the clone (their backing stores change hands, nothing is copied) and
// detached; the JS side has checked that they are distinct, detachable ArrayBuffers.
void nCloneValue(const FunctionCallbackInfo<Value>& info) {
  Isolate* iso = info.GetIsolate();
  Local<v8::Context> ctx = iso->GetCurrentContext();
  if (!info[1]->IsArray() || !info[2]->IsFunction()) {
    return (void)failType(iso, "cloneValue(value, transfer, makeError)");
  }
  Local<v8::Array> list = info[1].As<v8::Array>();
  std::vector<Local<v8::ArrayBuffer>> transfer;
  for (uint32_t i = 0; i < list->Length(); ++i) {
    Local<Value> item;
    if (!list->Get(ctx, i).ToLocal(&item)) return;
    if (!item->IsArrayBuffer() || !item.As<v8::ArrayBuffer>()->IsDetachable()) {
      return (void)failType(iso, "cloneValue: transfer holds only detachable ArrayBuffers");
    }
    transfer.push_back(item.As<v8::ArrayBuffer>());
  }

  CloneSerializerDelegate delegate(iso, info[2].As<v8::Function>());
  v8::ValueSerializer serializer(iso, &delegate);
  for (uint32_t i = 0; i < transfer.size(); ++i) serializer.TransferArrayBuffer(i, transfer[i]);
  serializer.WriteHeader();
  if (serializer.WriteValue(ctx, info[0]).IsNothing()) return;  // the exception is pending
  std::pair<std::uint8_t*, std::size_t> buf = serializer.Release();
  std::unique_ptr<std::uint8_t, decltype(&std::free)> bytes(buf.first, &std::free);

  CloneDeserializerDelegate readDelegate;
  v8::ValueDeserializer deserializer(iso, bytes.get(), buf.second, &readDelegate);
  for (uint32_t i = 0; i < transfer.size(); ++i) {
    std::shared_ptr<v8::BackingStore> store = transfer[i]->GetBackingStore();
    transfer[i]->Detach();
    deserializer.TransferArrayBuffer(i, v8::ArrayBuffer::New(iso, std::move(store)));
  }
  if (deserializer.ReadHeader(ctx).IsNothing()) return;
  Local<Value> clone;
  if (deserializer.ReadValue(ctx).ToLocal(&clone)) info.GetReturnValue().Set(clone);
}

// detachArrayBuffer(buffer) -> a new ArrayBuffer with buffer's backing store; buffer is detached.
void nDetachArrayBuffer(const FunctionCallbackInfo<Value>& info) {
  Isolate* iso = info.GetIsolate();
  if (!info[0]->IsArrayBuffer()) return (void)failType(iso, "Expected an ArrayBuffer");
  auto ab = info[0].As<v8::ArrayBuffer>();
  if (!ab->IsDetachable()) return (void)failType(iso, "This ArrayBuffer cannot be detached");
  std::shared_ptr<v8::BackingStore> store = ab->GetBackingStore();
  ab->Detach();
  info.GetReturnValue().Set(v8::ArrayBuffer::New(iso, std::move(store)));
}

// arrayBufferDetached(buffer) -> whether buffer was detached.
void nArrayBufferDetached(const FunctionCallbackInfo<Value>& info) {
  if (!info[0]->IsArrayBuffer()) return (void)failType(info.GetIsolate(), "Expected an ArrayBuffer");
  info.GetReturnValue().Set(info[0].As<v8::ArrayBuffer>()->WasDetached());
}

// ---- zlib streams -----------------------------------------------------------------------------

constexpr std::uint64_t kZlibMagic = 0x7061727479643a7aULL;  // "partyd:z"
constexpr char kZlibBrand[] = "partyd.zlibStreamHandle";
std::atomic<std::int64_t> gLiveZlib{0};

// zlib writes its output in pieces of kOutChunk; a push returns to JS once it holds kMaxPush, so
// that a small compressed input (a "zip bomb": 64 KiB of gzip inflate to 64 MiB) is never
// inflated all at once, outside the heap limit, but piece by piece as the reader asks for it.
constexpr std::size_t kOutChunk = 64 * 1024;
constexpr std::size_t kMaxPush = 256 * 1024;

struct ZlibStream {
  static constexpr std::uint64_t kMagic = kZlibMagic;
  unsigned char window = 0;  // all the handle's ArrayBuffer shows of this struct
  std::uint64_t magic = kZlibMagic;
  z_stream z{};
  bool inflate = false;
  bool open = false;   // z was initialised and not yet ended
  bool ended = false;  // inflate saw the end of the compressed data
  bool more = false;   // a push stopped at kMaxPush: more output waits for the next push
  std::string pending;  // the input that push had not consumed

  ZlibStream() { ++gLiveZlib; }
  ~ZlibStream() {
    if (open) inflate ? inflateEnd(&z) : deflateEnd(&z);
    magic = 0;
    --gLiveZlib;
  }
};

// zlib's windowBits for each CompressionStream format: 15 + 16 is gzip, negative is raw.
bool windowBitsFor(std::string_view format, int* bits) {
  if (format == "gzip") *bits = 15 + 16;
  else if (format == "deflate") *bits = 15;
  else if (format == "deflate-raw") *bits = -15;
  else return false;
  return true;
}

// zlibNew(format, decompress) -> handle.
void nZlibNew(const FunctionCallbackInfo<Value>& info) {
  Isolate* iso = info.GetIsolate();
  int bits = 0;
  if (!windowBitsFor(js::toUtf8(iso, info[0]), &bits)) {
    return (void)failType(iso,
        "The compression format must be either 'deflate', 'deflate-raw' or 'gzip'.");
  }
  auto s = std::make_unique<ZlibStream>();
  s->inflate = info[1]->BooleanValue(iso);
  int rc = s->inflate ? inflateInit2(&s->z, bits)
                      : deflateInit2(&s->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, bits, 8,
                                     Z_DEFAULT_STRATEGY);
  if (rc != Z_OK) return (void)fail(iso, "zlib could not start a stream");
  s->open = true;
  info.GetReturnValue().Set(js::wrapHandle(iso, std::move(s), kZlibBrand));
}

// zlibPush(handle, bytes | undefined, finish) -> Uint8Array of the output so far (may be empty).
// A decompressor stops at about kMaxPush and keeps the rest: zlibHasMore(handle) is then true,
// and the caller pushes again with undefined (and the same finish) for the next piece, without
// new bytes. With finish, once nothing is left, the stream is flushed and ended; a decompressor
// that has not seen the end of its data then throws, as does one fed corrupt data or bytes past
// the end.
void nZlibPush(const FunctionCallbackInfo<Value>& info) {
  Isolate* iso = info.GetIsolate();
  auto* s = js::unwrapHandle<ZlibStream>(iso, info[0], kZlibBrand);
  if (s == nullptr) return (void)failType(iso, "Expected a zlib stream handle");
  if (!s->open) return (void)failType(iso, "This zlib stream has ended");
  std::string_view in;
  if (!info[1]->IsUndefined() && !js::bufferBytes(info[1], &in)) {
    return (void)failType(iso, "Expected an ArrayBuffer or a view");
  }
  bool finish = info[2]->BooleanValue(iso);
  auto finishStream = [&] {
    s->inflate ? inflateEnd(&s->z) : deflateEnd(&s->z);
    s->open = false;
  };
  if (s->inflate && s->ended && !in.empty()) {
    finishStream();
    return (void)failType(iso, "Trailing bytes after end of compressed data");
  }

  if (s->more && !in.empty()) {
    return (void)failType(iso, "zlibPush: the previous push has output left");
  }
  std::string carried;
  if (s->more) {
    carried.swap(s->pending);
    in = carried;
  }
  std::string out;
  s->z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  s->z.avail_in = static_cast<uInt>(in.size());
  s->more = false;
  for (;;) {
    if (s->inflate && out.size() >= kMaxPush) {
      s->more = true;
      s->pending.assign(reinterpret_cast<const char*>(s->z.next_in), s->z.avail_in);
      break;
    }
    std::size_t at = out.size();
    out.resize(at + kOutChunk);
    s->z.next_out = reinterpret_cast<Bytef*>(out.data() + at);
    s->z.avail_out = static_cast<uInt>(kOutChunk);
    int rc;
    if (s->inflate) {
      rc = ::inflate(&s->z, Z_NO_FLUSH);
    } else {
      rc = ::deflate(&s->z, finish ? Z_FINISH : Z_NO_FLUSH);
    }
    out.resize(at + (kOutChunk - s->z.avail_out));
    if (s->inflate) {
      if (rc == Z_STREAM_END) {
        s->ended = true;
        if (s->z.avail_in > 0) {
          finishStream();
          return (void)failType(iso, "Trailing bytes after end of compressed data");
        }
        break;
      }
      if (rc == Z_BUF_ERROR && s->z.avail_in == 0) break;  // needs more input
      if (rc != Z_OK) {
        finishStream();
        return (void)fail(iso, "Decompression failed.");
      }
      if (s->z.avail_in == 0 && s->z.avail_out > 0) break;
    } else {
      if (rc == Z_STREAM_END) break;
      if (rc != Z_OK && rc != Z_BUF_ERROR) {
        finishStream();
        return (void)fail(iso, "Compression failed.");
      }
      if (!finish && s->z.avail_in == 0 && s->z.avail_out > 0) break;
    }
  }
  s->z.next_in = nullptr;
  s->z.avail_in = 0;
  if (finish && !s->more) {
    bool complete = !s->inflate || s->ended;
    finishStream();
    if (!complete) return (void)fail(iso, "Decompression failed.");
  }
  Local<v8::ArrayBuffer> ab = js::newArrayBuffer(iso, out);
  info.GetReturnValue().Set(v8::Uint8Array::New(ab, 0, out.size()));
}

// zlibHasMore(handle) -> whether the last push stopped with output left.
void nZlibHasMore(const FunctionCallbackInfo<Value>& info) {
  Isolate* iso = info.GetIsolate();
  auto* s = js::unwrapHandle<ZlibStream>(iso, info[0], kZlibBrand);
  if (s == nullptr) return (void)failType(iso, "Expected a zlib stream handle");
  info.GetReturnValue().Set(s->open && s->more);
}

// Runs a native with C++ exceptions stopped at the V8 boundary.
template <void (*F)(const FunctionCallbackInfo<Value>&)>
void guarded(const FunctionCallbackInfo<Value>& info) {
  try {
    F(info);
  } catch (const std::exception& e) {
    fail(info.GetIsolate(), e.what());
  } catch (...) {
    fail(info.GetIsolate(), "Internal error");
  }
}

}  // namespace

std::int64_t liveZlibStreamCount() {
  return gLiveZlib.load();
}

bool installStreamNatives(Isolate* iso, Local<v8::Context> ctx, Local<v8::Object> native) {
  return js::addFunctions(ctx, native,
                         {
                             {"cloneValue", guarded<nCloneValue>},
                             {"detachArrayBuffer", guarded<nDetachArrayBuffer>},
                             {"arrayBufferDetached", guarded<nArrayBufferDetached>},
                             {"zlibNew", guarded<nZlibNew>},
                             {"zlibPush", guarded<nZlibPush>},
                             {"zlibHasMore", guarded<nZlibHasMore>},
                         });
}

}  // namespace partyd::api
