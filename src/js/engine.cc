#include "js/engine.h"

#include "base/clock.h"

#include <libplatform/libplatform.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

namespace partyd::js {

// ---- process-wide V8 ------------------------------------------------------------------------

namespace {
std::once_flag gInitOnce;
std::unique_ptr<v8::Platform> gPlatform;
}  // namespace

void initializeV8() {
  std::call_once(gInitOnce, [] {
    // Two flags matter here: harmony features are already on in 10.2, and a modest stack keeps
    // deep recursion in user code a RangeError rather than a crash of the shard thread.
    static const char kFlags[] = "--stack-size=900";
    v8::V8::SetFlagsFromString(kFlags, sizeof kFlags - 1);
    // For diagnosis (--trace-gc and the like); not a supported interface.
    if (const char* extra = std::getenv("PARTYD_V8_FLAGS")) v8::V8::SetFlagsFromString(extra);
    gPlatform = v8::platform::NewDefaultPlatform(1);
    v8::V8::InitializePlatform(gPlatform.get());
    v8::V8::Initialize();
  });
}

bool addFunctions(v8::Local<v8::Context> ctx, v8::Local<v8::Object> target,
                  std::initializer_list<NativeFunction> functions, v8::Local<v8::Value> data) {
  v8::Isolate* iso = ctx->GetIsolate();
  for (const NativeFunction& f : functions) {
    v8::Local<v8::Function> fn;
    if (!v8::FunctionTemplate::New(iso, f.callback, data)->GetFunction(ctx).ToLocal(&fn) ||
        !target->Set(ctx, str(iso, f.name), fn).FromMaybe(false)) {
      return false;
    }
  }
  return true;
}

// ---- Engine ---------------------------------------------------------------------------------

namespace {
// The isolate that stays entered on this thread between its runs (createIsolate).
thread_local v8::Isolate* tResident = nullptr;
}  // namespace

void Engine::runPendingTasks() {
  v8::Isolate::Scope enter(isolate_);
  while (v8::platform::PumpMessageLoop(gPlatform.get(), isolate_,
                                       v8::platform::MessageLoopBehavior::kDoNotWait)) {
  }
}

Engine::Engine(const Options& options) : options_(options) {
  initializeV8();
  createIsolate();
}

// The heap stays over its limit: the isolate goes, and a fresh one with an empty context takes
// its place. Under the watchdog's lock, which reads isolate_ from its own thread. Every handle
// into the old isolate must be gone before this.
void Engine::replaceIsolate() {
  std::lock_guard<std::mutex> lock(watchdogMutex_);
  deadlineMs_.store(0);
  stop_.store(0);
  disposeIsolate();
  createIsolate();
}

void Engine::disposeIsolate() {
  {
    v8::Isolate::Scope enter(isolate_);
    v8::HandleScope scope(isolate_);
    context()->Exit();
  }
  context_.Reset();
  if (enteredForLife_) {
    isolate_->Exit();  // on the thread that made it, as every Engine is used
    if (tResident == isolate_) tResident = nullptr;
  }
  enteredForLife_ = false;
  isolate_->Dispose();
  isolate_ = nullptr;
}

void Engine::createIsolate() {
  allocator_.reset(v8::ArrayBuffer::Allocator::NewDefaultAllocator());
  const Options& options = options_;
  v8::Isolate::CreateParams params;
  params.array_buffer_allocator = allocator_.get();
  if (options.heapLimitMb > 0) {
    params.constraints.ConfigureDefaultsFromHeapSize(0, options.heapLimitMb * 1024 * 1024);
  }
  // A young generation of 1 MB semi-spaces (V8 sizes the young generation as two semi-spaces
  // and a large-object space of the same size). V8's default lets it grow to 16 MB semi-spaces
  // when much survives, and in a server much does: every room's objects live on. The growth
  // only touches fresh pages, which fault in one by one and are given back when the young
  // generation shrinks again, while a scavenge copies what lives the same number of times at
  // either size. W2 (issue 14): 25% less server CPU per new room, one at a time; W1, W3 and W6
  // unchanged. --max-semi-space-size in PARTYD_V8_FLAGS still overrides it.
  constexpr std::size_t kSemiSpaceBytes = std::size_t{1} << 20;
  params.constraints.set_max_young_generation_size_in_bytes(3 * kSemiSpaceBytes);
  isolate_ = v8::Isolate::New(params);
  isolate_->AddNearHeapLimitCallback(&Engine::nearHeapLimit, this);
  // Once the heap is back under half the limit, a raised limit returns to the initial one.
  isolate_->AutomaticallyRestoreInitialHeapLimit(0.5);
  {
    v8::HeapStatistics stats;
    isolate_->GetHeapStatistics(&stats);
    initialHeapLimit_ = stats.heap_size_limit();
  }
  // Several engines may share a thread (partyd serve: one per project on each shard), so an
  // isolate is entered while it runs (Engine::Scope); its context stays entered for life, which
  // V8 keeps per isolate. One engine per thread, its first, also stays entered between runs: V8
  // looks the thread up in a table, under a lock, on each Enter from outside and on each last
  // Exit, which W6 (a run per request) showed at 2% of the server's CPU. Its runs' own Enter and
  // Exit then only count. The others are entered and left around each run.
  const bool nothingEntered = v8::Isolate::GetCurrent() == nullptr;
  v8::Isolate::Scope enter(isolate_);
  isolate_->SetMicrotasksPolicy(v8::MicrotasksPolicy::kExplicit);
  isolate_->SetCaptureStackTraceForUncaughtExceptions(true, 20);
  v8::HandleScope scope(isolate_);
  v8::Local<v8::Context> ctx = v8::Context::New(isolate_);
  context_.Reset(isolate_, ctx);
  ctx->Enter();
  if (!options.shareThread || (nothingEntered && tResident == nullptr)) {
    isolate_->Enter();  // balanced in disposeIsolate; the Scope above leaves this one in place
    enteredForLife_ = true;
    if (tResident == nullptr) tResident = isolate_;
  }
}

Engine::~Engine() { disposeIsolate(); }

Result<void> Engine::runScript(std::string_view source, std::string_view name) {
  v8::Isolate::Scope enter(isolate_);
  v8::HandleScope scope(isolate_);
  v8::TryCatch tryCatch(isolate_);
  v8::ScriptOrigin origin(isolate_, str(isolate_, name));
  v8::Local<v8::Script> script;
  if (!v8::Script::Compile(context(), str(isolate_, source), &origin).ToLocal(&script)) {
    return makeError(describeException(tryCatch));
  }
  if (script->Run(context()).IsEmpty()) return makeError(describeException(tryCatch));
  return {};
}

namespace {

// A bundle imports nothing: any import left is an error.
v8::MaybeLocal<v8::Module> refuseImport(v8::Local<v8::Context> context,
                                        v8::Local<v8::String> specifier,
                                        v8::Local<v8::FixedArray>, v8::Local<v8::Module>) {
  v8::Isolate* iso = context->GetIsolate();
  iso->ThrowException(v8::Exception::Error(
      str(iso, "partyd: the bundle imports \"" + toUtf8(iso, specifier) +
                   "\", which it should contain")));
  return {};
}

}  // namespace

Result<void> Engine::runModule(std::string_view source, std::string_view name) {
  v8::Isolate::Scope enter(isolate_);
  v8::HandleScope scope(isolate_);
  v8::TryCatch tryCatch(isolate_);
  v8::ScriptOrigin origin(isolate_, str(isolate_, name), 0, 0, false, -1, v8::Local<v8::Value>(),
                          false, false, /*is_module=*/true);
  v8::ScriptCompiler::Source src(str(isolate_, source), origin);
  v8::Local<v8::Module> module;
  if (!v8::ScriptCompiler::CompileModule(isolate_, &src).ToLocal(&module)) {
    return makeError(describeException(tryCatch));
  }
  if (!module->InstantiateModule(context(), refuseImport).FromMaybe(false)) {
    return makeError(describeException(tryCatch));
  }
  v8::Local<v8::Value> result;
  if (!module->Evaluate(context()).ToLocal(&result)) return makeError(describeException(tryCatch));
  if (!result->IsPromise()) return {};
  v8::Local<v8::Promise> done = result.As<v8::Promise>();
  // Top-level await: what settles it without the shard's loop (promises, async WebAssembly
  // compiles on V8's worker threads) runs here, for at most a few seconds: a module waiting on a
  // timer or on I/O never settles before the loop runs.
  const auto giveUp = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (done->State() == v8::Promise::kPending && !tryCatch.HasTerminated()) {
    isolate_->PerformMicrotaskCheckpoint();
    if (done->State() != v8::Promise::kPending) break;
    runPendingTasks();
    isolate_->PerformMicrotaskCheckpoint();
    if (done->State() != v8::Promise::kPending) break;
    if (std::chrono::steady_clock::now() > giveUp) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (tryCatch.HasTerminated()) return makeError(describeException(tryCatch));
  switch (done->State()) {
    case v8::Promise::kFulfilled:
      return {};
    case v8::Promise::kRejected:
      return makeError(describeValue(done->Result()));
    default:
      return makeError("the module's top-level await did not settle while it loaded: partyd "
                       "evaluates party code before it serves, so a top-level await can wait for "
                       "promises and WebAssembly compiles, but not for timers or I/O");
  }
}

std::string toUtf8(v8::Isolate* iso, v8::Local<v8::Value> value) {
  if (value.IsEmpty()) return {};
  if (value->IsString()) {
    v8::Local<v8::String> s = value.As<v8::String>();
    std::string out;
    // Most strings that cross (header names and values, small bodies) are one-byte and ASCII,
    // which are their own UTF-8: one copy, then a scan, instead of Utf8Length's pass and a write.
    if (s->IsOneByte()) {
      out.resize(static_cast<std::size_t>(s->Length()));
      s->WriteOneByte(iso, reinterpret_cast<std::uint8_t*>(out.data()), 0,
                      static_cast<int>(out.size()), v8::String::NO_NULL_TERMINATION);
      bool ascii = true;
      for (unsigned char c : out) {
        if (c >= 0x80) {
          ascii = false;
          break;
        }
      }
      if (ascii) return out;
    }
    out.resize(static_cast<std::size_t>(s->Utf8Length(iso)));
    s->WriteUtf8(iso, out.data(), static_cast<int>(out.size()), nullptr,
                 v8::String::NO_NULL_TERMINATION | v8::String::REPLACE_INVALID_UTF8);
    return out;
  }
  v8::String::Utf8Value utf8(iso, value);
  return *utf8 ? std::string(*utf8, static_cast<std::size_t>(utf8.length())) : std::string();
}

std::string Engine::describeValue(v8::Local<v8::Value> value) {
  v8::HandleScope scope(isolate_);
  if (value->IsObject()) {
    v8::Local<v8::Value> stack;
    v8::TryCatch inner(isolate_);
    if (value.As<v8::Object>()->Get(context(), str(isolate_, "stack")).ToLocal(&stack) &&
        stack->IsString()) {
      return toUtf8(isolate_, stack);
    }
  }
  return toUtf8(isolate_, value);
}

std::string Engine::describeException(const v8::TryCatch& tryCatch) {
  if (tryCatch.HasTerminated()) return "Error: the handler ran too long and was stopped";
  if (!tryCatch.HasCaught()) return "unknown error";
  std::string text = describeValue(tryCatch.Exception());
  v8::Local<v8::Message> message = tryCatch.Message();
  if (!message.IsEmpty() && text.find("\n    at ") == std::string::npos) {
    std::string where = toUtf8(isolate_, message->GetScriptResourceName());
    int line = message->GetLineNumber(context()).FromMaybe(0);
    text += " (" + where + ":" + std::to_string(line) + ")";
  }
  return text;
}

// ---- structured clone -----------------------------------------------------------------------

namespace {

class SerializerDelegate final : public v8::ValueSerializer::Delegate {
 public:
  explicit SerializerDelegate(v8::Isolate* iso) : iso_(iso) {}
  void ThrowDataCloneError(v8::Local<v8::String> message) override {
    error_ = toUtf8(iso_, message);
    iso_->ThrowException(v8::Exception::Error(message));
  }
  std::string error_;

 private:
  v8::Isolate* iso_;
};

}  // namespace

Result<std::string> Engine::serialize(v8::Local<v8::Value> value) {
  v8::HandleScope scope(isolate_);
  v8::TryCatch tryCatch(isolate_);
  SerializerDelegate delegate(isolate_);
  v8::ValueSerializer serializer(isolate_, &delegate);
  serializer.WriteHeader();
  if (serializer.WriteValue(context(), value).IsNothing()) {
    std::string msg = delegate.error_;
    if (msg.empty() && tryCatch.HasCaught()) msg = describeValue(tryCatch.Exception());
    if (msg.empty()) msg = "value could not be cloned";
    return makeError(msg);
  }
  std::pair<std::uint8_t*, std::size_t> buf = serializer.Release();
  std::string out(reinterpret_cast<char*>(buf.first), buf.second);
  std::free(buf.first);
  return out;
}

v8::MaybeLocal<v8::Value> Engine::deserialize(std::string_view bytes) {
  v8::EscapableHandleScope scope(isolate_);
  v8::ValueDeserializer deserializer(isolate_,
                                     reinterpret_cast<const std::uint8_t*>(bytes.data()),
                                     bytes.size());
  if (deserializer.ReadHeader(context()).IsNothing()) return {};
  v8::Local<v8::Value> value;
  if (!deserializer.ReadValue(context()).ToLocal(&value)) return {};
  return scope.Escape(value);
}

// ---- buffers --------------------------------------------------------------------------------

bool bufferBytes(v8::Local<v8::Value> value, std::string_view* out) {
  if (value->IsArrayBuffer()) {
    auto ab = value.As<v8::ArrayBuffer>();
    *out = std::string_view(static_cast<const char*>(ab->Data()), ab->ByteLength());
    return true;
  }
  if (value->IsArrayBufferView()) {
    auto view = value.As<v8::ArrayBufferView>();
    auto ab = view->Buffer();
    *out = std::string_view(static_cast<const char*>(ab->Data()) + view->ByteOffset(),
                            view->ByteLength());
    return true;
  }
  return false;
}

v8::Local<v8::ArrayBuffer> newArrayBuffer(v8::Isolate* iso, std::string_view bytes) {
  v8::Local<v8::ArrayBuffer> ab = v8::ArrayBuffer::New(iso, bytes.size());
  if (!bytes.empty()) std::memcpy(ab->Data(), bytes.data(), bytes.size());
  return ab;
}

v8::Local<v8::Array> stringPairs(v8::Isolate* iso,
                                 const std::vector<std::pair<std::string, std::string>>& pairs) {
  // Arrays made whole from their elements: a Set per element goes through V8's slow API path.
  std::vector<v8::Local<v8::Value>> items;
  items.reserve(pairs.size());
  for (const auto& [k, v] : pairs) {
    v8::Local<v8::Value> pair[] = {str(iso, k), str(iso, v)};
    items.push_back(v8::Array::New(iso, pair, 2));
  }
  return v8::Array::New(iso, items.data(), items.size());
}

// ---- watchdog -------------------------------------------------------------------------------

void Engine::armDeadline(std::int64_t budgetMs) {
  deadlineMs_.store(budgetMs > 0 ? monotonicMs() + budgetMs : 0, std::memory_order_relaxed);
}

void Engine::disarmDeadline() {
  std::lock_guard<std::mutex> lock(watchdogMutex_);
  deadlineMs_.store(0, std::memory_order_relaxed);
}

void Engine::checkDeadline(std::int64_t nowMs) {
  if (deadlineMs_.load(std::memory_order_relaxed) == 0) return;
  std::lock_guard<std::mutex> lock(watchdogMutex_);
  std::int64_t deadline = deadlineMs_.load(std::memory_order_relaxed);
  if (deadline != 0 && nowMs > deadline) {
    deadlineMs_.store(0, std::memory_order_relaxed);
    int none = 0;
    stop_.compare_exchange_strong(none, static_cast<int>(Stop::kCpu));
    isolate_->TerminateExecution();
  }
}

Engine::Stop Engine::takeStop() {
  int stop = stop_.exchange(0);
  if (stop == 0) return Stop::kNone;
  isolate_->CancelTerminateExecution();
  return static_cast<Stop>(stop);
}

// On the isolate's thread, in the middle of a garbage collection that could not get the heap
// under its limit: no JS, no allocation here. V8 10.2 aborts the process ("Reached heap limit")
// if this returns a limit the heap is still over, so it always raises it, by a step: enough for
// the terminated JS to unwind (termination is taken at the next interrupt check, within a few
// allocations), and small enough that a process with many shards does not double its memory.
// The step repeats if the JS allocates that much before it stops.
std::size_t Engine::nearHeapLimit(void* data, std::size_t current, std::size_t initial) {
  auto* self = static_cast<Engine*>(data);
  ++self->heapLimitHits_;
  self->stop_.store(static_cast<int>(Stop::kMemory));
  self->isolate_->TerminateExecution();
  (void)initial;
  return current + kHeapStepMb * 1024 * 1024;
}

std::size_t Engine::usedHeapBytes() {
  v8::HeapStatistics stats;
  isolate_->GetHeapStatistics(&stats);
  return stats.used_heap_size();
}

}  // namespace partyd::js
