// Engine is one shard's V8 for one project: an isolate with one context. The isolate is entered
// (Engine::Scope) while it runs, since several may share a shard thread; the thread's first
// engine stays entered between runs too (createIsolate). An Engine lives and dies on one thread. It owns the
// platform setup (once per process), turning exceptions into log text, structured clone through
// v8::ValueSerializer, the watchdog deadline that stops a handler which runs too long without
// stopping the shard's other rooms, and the heap limit (a stop at the limit, and replacing the
// isolate when the heap stays full). It knows nothing of rooms.
#pragma once

#include <v8.h>

#include <atomic>
#include <initializer_list>
#include <mutex>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace partyd::js {

// Starts V8 once per process (idempotent). Must run before the first Engine.
void initializeV8();

class Engine {
 public:
  struct Options {
    std::size_t heapLimitMb = 0;  // 0: V8's default
    // false: the isolate stays entered for the engine's life (one engine on its thread, as in
    // unit tests); true: entered only inside Engine::Scope, so that several share a thread.
    bool shareThread = false;
  };
  explicit Engine(const Options& options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Makes this engine's isolate the thread's current one for its lifetime (nests).
  class Scope {
   public:
    explicit Scope(const Engine& e) : scope_(e.isolate_) {}
   private:
    v8::Isolate::Scope scope_;
  };

  v8::Isolate* isolate() const { return isolate_; }
  v8::Local<v8::Context> context() const { return context_.Get(isolate_); }

  // Compiles and runs a classic script. Errors come back as text with the JS stack.
  Result<void> runScript(std::string_view source, std::string_view name);
  // Compiles, instantiates and evaluates an ES module with no imports (a bundle), and waits for
  // its top-level await: microtasks and the engine's own tasks run until the evaluation settles.
  // A module still waiting after that (on a timer or I/O, which need the shard's loop) is an
  // error, as is a throw or a rejection (its text with the JS stack).
  Result<void> runModule(std::string_view source, std::string_view name);

  // Text for an exception caught by `tryCatch`: "Error: msg\n    at ..." when there is a stack.
  std::string describeException(const v8::TryCatch& tryCatch);
  std::string describeValue(v8::Local<v8::Value> value);

  // Structured clone. serialize fails (returns Error with V8's message) for functions, symbols, ...
  Result<std::string> serialize(v8::Local<v8::Value> value);
  v8::MaybeLocal<v8::Value> deserialize(std::string_view bytes);

  // Watchdog: while a deadline is armed, a watchdog thread terminates execution once it passes.
  // `takeStop()` tells, after the call returns, that this happened and why (and clears the
  // state and the termination).
  void armDeadline(std::int64_t budgetMs);
  void disarmDeadline();
  enum class Stop { kNone, kCpu, kMemory };
  Stop takeStop();
  bool takeTerminated() { return takeStop() != Stop::kNone; }

  // The heap limit: V8 calls back near it; the engine terminates the running JS and raises the
  // limit just enough for it to unwind (kHeapStepMb at a time), so the process never aborts on
  // a JS heap limit. The limit goes back down once the heap shrinks (after the room's reset).
  static constexpr std::size_t kHeapStepMb = 32;
  std::size_t heapLimitBytes() const { return initialHeapLimit_; }
  std::size_t usedHeapBytes();
  std::uint64_t heapLimitHits() const { return heapLimitHits_; }
  // Disposes of the isolate and creates a fresh one (with a fresh, empty context); the Engine
  // object stays, so the watchdog's pointer to it stays good.
  void replaceIsolate();

  // The watchdog thread calls this; it is safe from any thread.
  void checkDeadline(std::int64_t nowMs);

  // Runs the tasks V8 posted to this isolate's thread that are due (incremental GC steps, the
  // memory reducer, finishing async Wasm compiles). The shard calls it at the end of each loop
  // pass and on its sweep timer; V8 relies on the embedder for it.
  void runPendingTasks();

 private:
  static std::size_t nearHeapLimit(void* data, std::size_t current, std::size_t initial);
  void createIsolate();
  void disposeIsolate();

  Options options_;

  v8::Isolate* isolate_ = nullptr;
  std::unique_ptr<v8::ArrayBuffer::Allocator> allocator_;
  v8::Global<v8::Context> context_;
  std::atomic<std::int64_t> deadlineMs_{0};
  std::atomic<int> stop_{0};  // a Stop, set by the watchdog or the heap callback
  std::size_t initialHeapLimit_ = 0;
  std::uint64_t heapLimitHits_ = 0;
  std::mutex watchdogMutex_;  // makes disarm and terminate exclusive, so no stray termination
  // The isolate is entered until disposeIsolate (!shareThread, or the thread's resident engine).
  bool enteredForLife_ = false;
};

// Small conversions used by every binding.
inline v8::Local<v8::String> str(v8::Isolate* iso, std::string_view s) {
  return v8::String::NewFromUtf8(iso, s.data(), v8::NewStringType::kNormal,
                                 static_cast<int>(s.size()))
      .ToLocalChecked();
}
std::string toUtf8(v8::Isolate* iso, v8::Local<v8::Value> value);
// Bytes of an ArrayBuffer or ArrayBufferView; false if `value` is neither.
bool bufferBytes(v8::Local<v8::Value> value, std::string_view* out);
v8::Local<v8::ArrayBuffer> newArrayBuffer(v8::Isolate* iso, std::string_view bytes);
// [[name, value], ...] for header lists and the like.
v8::Local<v8::Array> stringPairs(v8::Isolate* iso,
                                 const std::vector<std::pair<std::string, std::string>>& pairs);

// The one way natives reach JS: each function becomes a property of `target`, and `data` is what
// its callback gets back as info.Data(). False, with an exception pending, if V8 refused.
struct NativeFunction {
  const char* name;
  v8::FunctionCallback callback;
};
bool addFunctions(v8::Local<v8::Context> ctx, v8::Local<v8::Object> target,
                  std::initializer_list<NativeFunction> functions,
                  v8::Local<v8::Value> data = v8::Local<v8::Value>());

}  // namespace partyd::js
