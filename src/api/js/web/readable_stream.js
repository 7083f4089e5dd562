// ReadableStream (WHATWG Streams) with its default and BYOB readers, default and byte
// controllers, tee(), async iteration and ReadableStream.from(). The algorithms work on a plain
// per-stream state record (reachable only through a private field), so readers and controllers
// share it without exposing internals. Byte streams queue copies of the enqueued bytes; while a
// BYOB read waits and nothing is queued, the controller's byobRequest offers the reader's view,
// which the source fills and answers with respond(n) or respondWithNewView(view).
import {
  deferred,
  dequeueValue,
  enqueueValueWithSize,
  extractHighWaterMark,
  extractSizeAlgorithm,
  getMethod,
  markHandled,
  promiseCall,
  rejected,
  resetQueue,
} from "./stream_common.js";
import { pipeStreams } from "./stream_pipe.js";
import { isWritableStream } from "./writable_stream.js";
import {
  defineToStringTag,
  illegalConstructor,
  inspectSymbol,
  isUint8Array,
  makeEnumerable,
} from "./util.js";

const kCreate = Symbol("create");
let stateOf; // ReadableStream -> state record, set in the class's static block

// ---------------------------------------------------------------------------------------------
// Stream-level algorithms

function newState(stream) {
  return {
    stream,
    state: "readable",
    storedError: undefined,
    disturbed: false,
    reader: null, // reader state record: { stream, mode, readRequests, readIntoRequests, closed }
    // controller slots
    controller: null,
    isBytes: false,
    queue: [],
    queueTotalSize: 0,
    started: false,
    closeRequested: false,
    pulling: false,
    pullAgain: false,
    highWaterMark: 1,
    sizeAlgorithm: () => 1,
    pullAlgorithm: null,
    cancelAlgorithm: null,
  };
}

function closeStream(rs) {
  rs.state = "closed";
  const reader = rs.reader;
  if (reader === null) return;
  reader.closed.resolve(undefined);
  for (const request of reader.readRequests.splice(0)) request.close();
  for (const request of reader.readIntoRequests.splice(0)) {
    request.byobRequest?.invalidate();
    request.resolve({ value: viewOf(request, request.filled), done: true });
  }
}

function errorStream(rs, error) {
  rs.state = "errored";
  rs.storedError = error;
  const reader = rs.reader;
  if (reader === null) return;
  reader.closed.reject(error);
  markHandled(reader.closed.promise);
  for (const request of reader.readRequests.splice(0)) request.error(error);
  for (const request of reader.readIntoRequests.splice(0)) {
    request.byobRequest?.invalidate();
    request.reject(error);
  }
}

function cancelStream(rs, reason) {
  rs.disturbed = true;
  if (rs.state === "closed") return Promise.resolve(undefined);
  if (rs.state === "errored") return rejected(rs.storedError);
  closeStream(rs);
  resetQueue(rs);
  const cancel = rs.cancelAlgorithm;
  clearAlgorithms(rs);
  return (cancel ? cancel(reason) : Promise.resolve()).then(() => undefined);
}

// Passes the next chunk (or the end) to `request` ({ chunk, close, error }).
function readerRead(reader, request) {
  const rs = reader.stream;
  rs.disturbed = true;
  if (rs.state === "closed") request.close();
  else if (rs.state === "errored") request.error(rs.storedError);
  else pullSteps(rs, request);
}

// ---------------------------------------------------------------------------------------------
// Controller algorithms

function clearAlgorithms(rs) {
  rs.pullAlgorithm = null;
  rs.cancelAlgorithm = null;
  rs.sizeAlgorithm = () => 1;
}

function canCloseOrEnqueue(rs) {
  return !rs.closeRequested && rs.state === "readable";
}

function desiredSize(rs) {
  if (rs.state === "errored") return null;
  if (rs.state === "closed") return 0;
  return rs.highWaterMark - rs.queueTotalSize;
}

function pendingReads(rs) {
  const reader = rs.reader;
  return reader === null ? 0 : reader.readRequests.length + reader.readIntoRequests.length;
}

function shouldCallPull(rs) {
  if (!canCloseOrEnqueue(rs) || !rs.started) return false;
  if (pendingReads(rs) > 0) return true;
  return desiredSize(rs) > 0;
}

function callPullIfNeeded(rs) {
  if (!shouldCallPull(rs)) return;
  if (rs.pulling) {
    rs.pullAgain = true;
    return;
  }
  rs.pulling = true;
  rs.pullAlgorithm().then(
    () => {
      rs.pulling = false;
      if (rs.pullAgain) {
        rs.pullAgain = false;
        callPullIfNeeded(rs);
      }
    },
    (error) => controllerError(rs, error),
  );
}

function controllerClose(rs) {
  if (!canCloseOrEnqueue(rs)) return;
  rs.closeRequested = true;
  if (rs.queue.length === 0) {
    clearAlgorithms(rs);
    closeStream(rs);
  }
}

function controllerError(rs, error) {
  if (rs.state !== "readable") return;
  resetQueue(rs);
  clearAlgorithms(rs);
  errorStream(rs, error);
}

function controllerEnqueue(rs, chunk) {
  if (!canCloseOrEnqueue(rs)) return;
  const reader = rs.reader;
  if (reader !== null && reader.readRequests.length > 0 && rs.queue.length === 0) {
    reader.readRequests.shift().chunk(chunk);
  } else {
    let size;
    try {
      size = rs.sizeAlgorithm(chunk);
      enqueueValueWithSize(rs, chunk, size);
    } catch (error) {
      controllerError(rs, error);
      throw error;
    }
    if (rs.isBytes) serveReadIntoRequests(rs);
  }
  callPullIfNeeded(rs);
}

function pullSteps(rs, request) {
  if (rs.queue.length > 0) {
    const chunk = dequeueValue(rs);
    afterDequeue(rs);
    request.chunk(chunk);
  } else {
    rs.reader.readRequests.push(request);
    callPullIfNeeded(rs);
  }
}

function afterDequeue(rs) {
  if (rs.closeRequested && rs.queue.length === 0) {
    clearAlgorithms(rs);
    closeStream(rs);
  } else {
    callPullIfNeeded(rs);
  }
}

function setUpController(rs, controller, start, pull, cancel, highWaterMark, sizeAlgorithm) {
  rs.controller = controller;
  rs.highWaterMark = highWaterMark;
  rs.sizeAlgorithm = sizeAlgorithm;
  rs.pullAlgorithm = pull;
  rs.cancelAlgorithm = cancel;
  const startResult = start();
  Promise.resolve(startResult).then(
    () => {
      rs.started = true;
      callPullIfNeeded(rs);
    },
    (error) => controllerError(rs, error),
  );
}

// ---------------------------------------------------------------------------------------------
// Byte streams: BYOB reads copy queued bytes into the caller's view.

function viewOf(request, length) {
  const { view } = request;
  return new view.constructor(view.buffer, view.byteOffset, length / request.elementSize);
}

function serveReadIntoRequests(rs) {
  const reader = rs.reader;
  if (reader === null) return;
  while (reader.readIntoRequests.length > 0 && rs.queue.length > 0) {
    const request = reader.readIntoRequests[0];
    request.byobRequest?.invalidate();
    request.byobRequest = undefined;
    fillFromQueue(rs, request);
    if (request.filled < request.elementSize) return;
    reader.readIntoRequests.shift();
    request.resolve({ value: viewOf(request, request.filled), done: false });
  }
}

function fillFromQueue(rs, request) {
  const { view } = request;
  const target = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  const capacity = view.byteLength - (view.byteLength % request.elementSize);
  while (request.filled < capacity && rs.queue.length > 0) {
    const head = rs.queue[0];
    const bytes = head.value;
    const n = Math.min(bytes.byteLength, capacity - request.filled);
    target.set(bytes.subarray(0, n), request.filled);
    request.filled += n;
    if (n === bytes.byteLength) {
      dequeueValue(rs);
    } else {
      head.value = bytes.subarray(n);
      head.size -= n;
      rs.queueTotalSize -= n;
    }
  }
}

function byobRead(reader, view) {
  const rs = reader.stream;
  rs.disturbed = true;
  const request = { view, filled: 0, elementSize: view.BYTES_PER_ELEMENT ?? 1, ...deferred() };
  if (rs.state === "errored") {
    request.reject(rs.storedError);
  } else if (rs.queue.length > 0) {
    fillFromQueue(rs, request);
    if (request.filled >= request.elementSize) {
      request.resolve({ value: viewOf(request, request.filled), done: false });
      afterDequeue(rs);
    } else {
      reader.readIntoRequests.push(request);
      callPullIfNeeded(rs);
    }
  } else if (rs.state === "closed") {
    request.resolve({ value: viewOf(request, 0), done: true });
  } else {
    reader.readIntoRequests.push(request);
    callPullIfNeeded(rs);
  }
  return request.promise;
}

// The BYOB request a byte controller offers: the head read-into request while no bytes are
// queued to fill it. One ReadableStreamBYOBRequest per read request, until it is answered.
function currentByobRequest(rs) {
  const head = rs.reader?.readIntoRequests?.[0];
  if (head === undefined || rs.queue.length > 0 || rs.state !== "readable") return null;
  head.byobRequest ??= new ReadableStreamBYOBRequest(kCreate, rs, head);
  return head.byobRequest;
}

function respondToRequest(rs, request, bytesWritten) {
  const reader = rs.reader;
  if (reader === null || reader.readIntoRequests[0] !== request) {
    throw new TypeError("This BYOB request has already been answered");
  }
  const room = request.view.byteLength - request.filled;
  if (rs.state === "closed") {
    if (bytesWritten !== 0) throw new TypeError("bytesWritten must be 0 when the stream is closed");
  } else if (bytesWritten === 0) {
    throw new TypeError("bytesWritten must be greater than 0 when the stream is readable");
  } else if (bytesWritten > room) {
    throw new RangeError("bytesWritten out of range");
  }
  request.filled += bytesWritten;
  request.byobRequest?.invalidate();
  if (rs.state === "closed") {
    reader.readIntoRequests.shift();
    request.resolve({ value: viewOf(request, request.filled - (request.filled % request.elementSize)), done: true });
    return;
  }
  if (request.filled < request.elementSize) return;
  reader.readIntoRequests.shift();
  const usable = request.filled - (request.filled % request.elementSize);
  const rest = request.filled - usable;
  if (rest > 0) {
    const { view } = request;
    const tail = new Uint8Array(view.buffer, view.byteOffset + usable, rest);
    enqueueValueWithSize(rs, new Uint8Array(tail), rest);
  }
  request.resolve({ value: viewOf(request, usable), done: false });
  callPullIfNeeded(rs);
}

export class ReadableStreamBYOBRequest {
  #rs;
  #request;
  #view;

  constructor(token, rs, request) {
    if (token !== kCreate) illegalConstructor();
    this.#rs = rs;
    this.#request = request;
    const { view } = request;
    this.#view = new Uint8Array(view.buffer, view.byteOffset + request.filled,
      view.byteLength - request.filled);
  }

  invalidate() {
    this.#rs = null;
    this.#view = null;
  }

  get view() {
    return this.#view;
  }

  respond(bytesWritten) {
    if (this.#rs === null) throw new TypeError("This BYOB request has already been answered");
    const n = Number(bytesWritten);
    if (!Number.isInteger(n) || n < 0) throw new TypeError("bytesWritten must be a non-negative integer");
    respondToRequest(this.#rs, this.#request, n);
  }

  respondWithNewView(view) {
    if (this.#rs === null) throw new TypeError("This BYOB request has already been answered");
    if (!ArrayBuffer.isView(view)) throw new TypeError("respondWithNewView needs an ArrayBufferView");
    const target = this.#view;
    if (view.buffer !== target.buffer || view.byteOffset !== target.byteOffset) {
      if (view.byteLength > target.byteLength) throw new RangeError("The view is larger than the request");
      target.set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
    }
    respondToRequest(this.#rs, this.#request, view.byteLength);
  }
}
defineToStringTag(ReadableStreamBYOBRequest);
makeEnumerable(ReadableStreamBYOBRequest, ["view", "respond", "respondWithNewView"]);

function copyBytes(view) {
  return new Uint8Array(view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength));
}

// ---------------------------------------------------------------------------------------------
// Controllers

export class ReadableStreamDefaultController {
  #rs;

  constructor(token, rs) {
    if (token !== kCreate) illegalConstructor();
    this.#rs = rs;
  }

  get desiredSize() {
    return desiredSize(this.#rs);
  }

  close() {
    if (!canCloseOrEnqueue(this.#rs)) throw new TypeError("The stream is not in a state that permits close");
    controllerClose(this.#rs);
  }

  enqueue(chunk = undefined) {
    if (!canCloseOrEnqueue(this.#rs)) {
      throw new TypeError("The stream is not in a state that permits enqueue");
    }
    controllerEnqueue(this.#rs, chunk);
  }

  error(error = undefined) {
    controllerError(this.#rs, error);
  }
}
defineToStringTag(ReadableStreamDefaultController);
makeEnumerable(ReadableStreamDefaultController, ["desiredSize", "close", "enqueue", "error"]);

export class ReadableByteStreamController {
  #rs;

  constructor(token, rs) {
    if (token !== kCreate) illegalConstructor();
    this.#rs = rs;
  }

  get byobRequest() {
    return currentByobRequest(this.#rs);
  }

  get desiredSize() {
    return desiredSize(this.#rs);
  }

  close() {
    const rs = this.#rs;
    if (!canCloseOrEnqueue(rs)) throw new TypeError("The stream is not in a state that permits close");
    const pending = rs.reader?.readIntoRequests ?? [];
    if (pending.some((request) => request.filled % request.elementSize !== 0)) {
      const error = new TypeError("Insufficient bytes to fill elements in the given buffer");
      controllerError(rs, error);
      throw error;
    }
    controllerClose(rs);
  }

  enqueue(chunk) {
    if (!ArrayBuffer.isView(chunk)) {
      throw new TypeError("ReadableByteStreamController.enqueue: chunk must be an ArrayBufferView");
    }
    if (chunk.byteLength === 0) throw new TypeError("ReadableByteStreamController.enqueue: chunk is empty");
    if (!canCloseOrEnqueue(this.#rs)) {
      throw new TypeError("The stream is not in a state that permits enqueue");
    }
    // The spec transfers the buffer; copying gives the same isolation without detaching.
    controllerEnqueue(this.#rs, copyBytes(chunk));
  }

  error(error = undefined) {
    controllerError(this.#rs, error);
  }
}
defineToStringTag(ReadableByteStreamController);
makeEnumerable(ReadableByteStreamController, ["byobRequest", "desiredSize", "close", "enqueue", "error"]);

// ---------------------------------------------------------------------------------------------
// Readers

function acquireReader(rs, mode) {
  if (rs.reader !== null) throw new TypeError("The stream is locked to a reader");
  const reader = { stream: rs, mode, readRequests: [], readIntoRequests: [], closed: deferred() };
  rs.reader = reader;
  if (rs.state === "closed") {
    reader.closed.resolve(undefined);
  } else if (rs.state === "errored") {
    reader.closed.reject(rs.storedError);
    markHandled(reader.closed.promise);
  }
  return reader;
}

function releaseReader(reader) {
  const rs = reader.stream;
  const error = new TypeError("The reader's lock was released");
  if (rs.state === "readable") {
    reader.closed.reject(error);
  } else {
    reader.closed = deferred();
    reader.closed.reject(error);
  }
  markHandled(reader.closed.promise);
  rs.reader = null;
  reader.stream = null;
  for (const request of reader.readRequests.splice(0)) request.error(error);
  for (const request of reader.readIntoRequests.splice(0)) {
    request.byobRequest?.invalidate();
    request.reject(error);
  }
}

function streamStateOf(stream, where) {
  if (!isReadableStream(stream)) throw new TypeError(`${where}: argument is not a ReadableStream`);
  return stateOf(stream);
}

function releasedError() {
  return new TypeError("The reader has been released");
}

export class ReadableStreamDefaultReader {
  #reader;

  constructor(stream) {
    this.#reader = acquireReader(streamStateOf(stream, "ReadableStreamDefaultReader"), "default");
  }

  get closed() {
    return this.#reader.closed.promise;
  }

  read() {
    const reader = this.#reader;
    if (reader.stream === null) return rejected(releasedError());
    const { promise, resolve, reject } = deferred();
    readerRead(reader, {
      chunk: (value) => resolve({ value, done: false }),
      close: () => resolve({ value: undefined, done: true }),
      error: reject,
    });
    return promise;
  }

  releaseLock() {
    if (this.#reader.stream !== null) releaseReader(this.#reader);
  }

  cancel(reason = undefined) {
    if (this.#reader.stream === null) return rejected(releasedError());
    return cancelStream(this.#reader.stream, reason);
  }
}
defineToStringTag(ReadableStreamDefaultReader);
makeEnumerable(ReadableStreamDefaultReader, ["closed", "read", "releaseLock", "cancel"]);

export class ReadableStreamBYOBReader {
  #reader;

  constructor(stream) {
    const rs = streamStateOf(stream, "ReadableStreamBYOBReader");
    if (!rs.isBytes) throw new TypeError("ReadableStreamBYOBReader needs a byte stream");
    this.#reader = acquireReader(rs, "byob");
  }

  get closed() {
    return this.#reader.closed.promise;
  }

  // TODO(compat): the `min` option of newer specs is not supported; a read resolves as soon as
  // at least one element is available.
  read(view) {
    if (!ArrayBuffer.isView(view)) {
      return rejected(new TypeError("ReadableStreamBYOBReader.read: view must be an ArrayBufferView"));
    }
    if (view.byteLength === 0) {
      return rejected(new TypeError("ReadableStreamBYOBReader.read: view must not be empty"));
    }
    if (this.#reader.stream === null) return rejected(releasedError());
    return byobRead(this.#reader, view);
  }

  releaseLock() {
    if (this.#reader.stream !== null) releaseReader(this.#reader);
  }

  cancel(reason = undefined) {
    if (this.#reader.stream === null) return rejected(releasedError());
    return cancelStream(this.#reader.stream, reason);
  }
}
defineToStringTag(ReadableStreamBYOBReader);
makeEnumerable(ReadableStreamBYOBReader, ["closed", "read", "releaseLock", "cancel"]);

// ---------------------------------------------------------------------------------------------
// Async iteration

const AsyncIteratorPrototype = Object.getPrototypeOf(
  Object.getPrototypeOf(async function* () {}).prototype,
);

class ReadableStreamAsyncIterator {
  #reader;
  #preventCancel;
  #ongoing = null;
  #finished = false;

  constructor(token, reader, preventCancel) {
    if (token !== kCreate) illegalConstructor();
    this.#reader = reader;
    this.#preventCancel = preventCancel;
  }

  #chain(step) {
    const run = () => step();
    this.#ongoing = this.#ongoing === null ? run() : this.#ongoing.then(run, run);
    return this.#ongoing;
  }

  next() {
    return this.#chain(() => {
      if (this.#finished) return { value: undefined, done: true };
      const reader = this.#reader;
      if (reader.stream === null) return rejected(releasedError());
      const { promise, resolve, reject } = deferred();
      readerRead(reader, {
        chunk: (value) => resolve({ value, done: false }),
        close: () => {
          this.#finished = true;
          releaseReader(reader);
          resolve({ value: undefined, done: true });
        },
        error: (error) => {
          this.#finished = true;
          releaseReader(reader);
          reject(error);
        },
      });
      return promise;
    });
  }

  return(value = undefined) {
    return this.#chain(() => {
      if (this.#finished) return { value, done: true };
      this.#finished = true;
      const reader = this.#reader;
      if (reader.stream === null) return rejected(releasedError());
      if (!this.#preventCancel) {
        const result = cancelStream(reader.stream, value);
        releaseReader(reader);
        return result.then(() => ({ value, done: true }));
      }
      releaseReader(reader);
      return { value, done: true };
    });
  }
}
Object.setPrototypeOf(ReadableStreamAsyncIterator.prototype, AsyncIteratorPrototype);
defineToStringTag(ReadableStreamAsyncIterator, "ReadableStream AsyncIterator");

// The reader handle stream_pipe.js works with: raw read requests, so that a chunk's write is
// issued before the close that follows it is observed.
function pipeSource(rs) {
  const reader = acquireReader(rs, "default");
  rs.disturbed = true;
  return {
    read: (request) => {
      if (reader.stream !== null) readerRead(reader, request);
    },
    release: () => {
      if (reader.stream !== null) releaseReader(reader);
    },
    closed: reader.closed.promise,
    state: () => rs.state,
    storedError: () => rs.storedError,
    cancel: (reason) => cancelStream(rs, reason),
  };
}

// ---------------------------------------------------------------------------------------------
// ReadableStream

export class ReadableStream {
  #rs;

  constructor(underlyingSource = undefined, strategy = {}) {
    this.#rs = newState(this);
    if (underlyingSource === kCreate) return;
    const source = underlyingSource ?? {};
    if (typeof source !== "object" && typeof source !== "function") {
      throw new TypeError("ReadableStream: underlyingSource must be an object");
    }
    strategy ??= {};
    const where = "ReadableStream";
    const start = getMethod(source, "start", where);
    const pull = getMethod(source, "pull", where);
    const cancel = getMethod(source, "cancel", where);
    const type = source.type === undefined ? undefined : String(source.type);
    const rs = this.#rs;
    let controller;
    let highWaterMark;
    let sizeAlgorithm;
    if (type === "bytes") {
      if (strategy.size !== undefined) {
        throw new RangeError("ReadableStream: a byte stream cannot have a strategy size");
      }
      rs.isBytes = true;
      controller = new ReadableByteStreamController(kCreate, rs);
      highWaterMark = extractHighWaterMark(strategy, 0);
      sizeAlgorithm = (chunk) => chunk.byteLength;
    } else if (type === undefined) {
      controller = new ReadableStreamDefaultController(kCreate, rs);
      highWaterMark = extractHighWaterMark(strategy, 1);
      sizeAlgorithm = extractSizeAlgorithm(strategy);
    } else {
      throw new TypeError(`ReadableStream: unknown type "${type}"`);
    }
    setUpController(
      rs,
      controller,
      () => start?.call(source, controller),
      () => promiseCall(pull, source, controller),
      (reason) => promiseCall(cancel, source, reason),
      highWaterMark,
      sizeAlgorithm,
    );
  }

  get locked() {
    return this.#rs.reader !== null;
  }

  cancel(reason = undefined) {
    if (this.#rs.reader !== null) return rejected(new TypeError("The stream is locked"));
    return cancelStream(this.#rs, reason);
  }

  getReader(options = {}) {
    const mode = options?.mode;
    if (mode === undefined) return new ReadableStreamDefaultReader(this);
    if (String(mode) === "byob") return new ReadableStreamBYOBReader(this);
    throw new TypeError(`ReadableStream.getReader: unknown mode "${mode}"`);
  }

  pipeThrough(transform, options = {}) {
    const { readable, writable } = transform ?? {};
    if (!isReadableStream(readable) || !isWritableStream(writable)) {
      throw new TypeError("pipeThrough: transform must have a readable and a writable stream");
    }
    if (this.locked) throw new TypeError("pipeThrough: the source stream is locked");
    if (writable.locked) throw new TypeError("pipeThrough: the destination stream is locked");
    markHandled(pipeStreams(pipeSource(this.#rs), writable, options ?? {}));
    return readable;
  }

  pipeTo(destination, options = {}) {
    if (!isWritableStream(destination)) {
      return rejected(new TypeError("pipeTo: destination must be a WritableStream"));
    }
    if (this.locked) return rejected(new TypeError("pipeTo: the source stream is locked"));
    if (destination.locked) return rejected(new TypeError("pipeTo: the destination stream is locked"));
    return pipeStreams(pipeSource(this.#rs), destination, options ?? {});
  }

  tee() {
    return teeStream(this);
  }

  values(options = {}) {
    const reader = acquireReader(this.#rs, "default");
    return new ReadableStreamAsyncIterator(kCreate, reader, Boolean(options?.preventCancel));
  }

  static from(asyncIterable) {
    let iterator;
    const asyncMethod = asyncIterable?.[Symbol.asyncIterator];
    if (asyncMethod != null) {
      iterator = asyncMethod.call(asyncIterable);
    } else {
      const syncMethod = asyncIterable?.[Symbol.iterator];
      if (syncMethod == null) throw new TypeError("ReadableStream.from: argument is not iterable");
      const sync = syncMethod.call(asyncIterable);
      iterator = {
        next: () => Promise.resolve(sync.next()).then(async (r) => ({ ...r, value: await r.value })),
        return: (v) => Promise.resolve(sync.return?.(v) ?? { done: true }),
      };
    }
    if (iterator === null || typeof iterator !== "object") {
      throw new TypeError("ReadableStream.from: the iterator is not an object");
    }
    return createReadableStream(
      () => undefined,
      (stream) =>
        Promise.resolve(iterator.next()).then((result) => {
          if (result === null || typeof result !== "object") {
            throw new TypeError("ReadableStream.from: iterator result is not an object");
          }
          if (result.done) readableClose(stream);
          else readableEnqueue(stream, result.value);
        }),
      (reason) => {
        const method = iterator.return;
        if (method === undefined) return Promise.resolve();
        return Promise.resolve(method.call(iterator, reason)).then((result) => {
          if (result === null || typeof result !== "object") {
            throw new TypeError("ReadableStream.from: iterator return result is not an object");
          }
        });
      },
      0,
    );
  }

  [inspectSymbol]() {
    return `ReadableStream { locked: ${this.locked}, state: '${this.#rs.state}' }`;
  }

  static {
    stateOf = (stream) => stream.#rs;
  }
}
defineToStringTag(ReadableStream);
makeEnumerable(ReadableStream, [
  "locked", "cancel", "getReader", "pipeThrough", "pipeTo", "tee", "values",
]);
Object.defineProperty(ReadableStream.prototype, Symbol.asyncIterator, {
  value: ReadableStream.prototype.values,
  writable: true,
  configurable: true,
});

// ---------------------------------------------------------------------------------------------
// Internal constructors and helpers for other web modules (bodies, TransformStream, tee)

export function isReadableStream(value) {
  if (value === null || typeof value !== "object") return false;
  try {
    stateOf(value);
    return true;
  } catch {
    return false;
  }
}

// Creates a default stream driven by algorithms. `pull(stream)` must return a promise; it and
// `start(stream)` receive the public stream, which the readable* helpers below operate on.
export function createReadableStream(start, pull, cancel, highWaterMark = 1, sizeAlgorithm = () => 1) {
  const stream = new ReadableStream(kCreate);
  const rs = stateOf(stream);
  const controller = new ReadableStreamDefaultController(kCreate, rs);
  setUpController(
    rs,
    controller,
    () => start(stream),
    () => pull(stream),
    (reason) => cancel(reason),
    highWaterMark,
    sizeAlgorithm,
  );
  return stream;
}

export function createByteStream(start, pull, cancel) {
  const stream = new ReadableStream(kCreate);
  const rs = stateOf(stream);
  rs.isBytes = true;
  const controller = new ReadableByteStreamController(kCreate, rs);
  setUpController(
    rs,
    controller,
    () => start(stream),
    () => pull(stream),
    (reason) => cancel(reason),
    0,
    (chunk) => chunk.byteLength,
  );
  return stream;
}

// A byte stream that yields `bytes` (a Uint8Array, not copied) once and closes.
export function byteStreamFromBytes(bytes) {
  return createByteStream(
    () => undefined,
    (stream) => {
      if (bytes.byteLength > 0) readableEnqueue(stream, bytes);
      readableClose(stream);
      return Promise.resolve();
    },
    () => Promise.resolve(),
  );
}

// Reads every chunk of `stream` (Uint8Arrays only) and resolves with their concatenation.
export async function readAllBytes(stream) {
  const reader = stream.getReader();
  const chunks = [];
  let total = 0;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (!isUint8Array(value)) {
        throw new TypeError("The body stream must produce Uint8Array chunks");
      }
      chunks.push(value);
      total += value.byteLength;
    }
  } catch (error) {
    reader.releaseLock();
    if (stream.locked === false) stream.cancel(error).catch(() => {});
    throw error;
  }
  reader.releaseLock();
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

export const isDisturbed = (stream) => stateOf(stream).disturbed;
export const isLocked = (stream) => stateOf(stream).reader !== null;
export const readableState = (stream) => stateOf(stream).state;
export const readableStoredError = (stream) => stateOf(stream).storedError;
export const readableCanCloseOrEnqueue = (stream) => canCloseOrEnqueue(stateOf(stream));
export const readableDesiredSize = (stream) => desiredSize(stateOf(stream));
export const readableHasBackpressure = (stream) => !shouldCallPull(stateOf(stream));
export const readableEnqueue = (stream, chunk) => controllerEnqueue(stateOf(stream), chunk);
export const readableClose = (stream) => controllerClose(stateOf(stream));
export const readableError = (stream, error) => controllerError(stateOf(stream), error);
export const readableCancel = (stream, reason) => cancelStream(stateOf(stream), reason);

// ---------------------------------------------------------------------------------------------
// tee()

export function teeStream(stream) {
  const rs = stateOf(stream);
  const reader = acquireReader(rs, "default");
  const cloneForBranch2 = rs.isBytes;
  let reading = false;
  let readAgain = false;
  let canceled1 = false;
  let canceled2 = false;
  let reason1;
  let reason2;
  const cancelPromise = deferred();

  const make = rs.isBytes ? createByteStream : createReadableStream;
  const pull = () => {
    if (reading) {
      readAgain = true;
      return Promise.resolve();
    }
    reading = true;
    readerRead(reader, {
      chunk: (value) => {
        // Deliver on a later microtask so a synchronous error in the source is seen first.
        Promise.resolve().then(() => {
          readAgain = false;
          if (!canceled1) readableEnqueue(branch1, value);
          if (!canceled2) readableEnqueue(branch2, cloneForBranch2 ? value.slice() : value);
          reading = false;
          if (readAgain) pull();
        });
      },
      close: () => {
        reading = false;
        if (!canceled1) readableClose(branch1);
        if (!canceled2) readableClose(branch2);
        if (!canceled1 || !canceled2) cancelPromise.resolve(undefined);
      },
      error: () => {
        reading = false;
      },
    });
    return Promise.resolve();
  };
  const cancelBoth = () => {
    cancelPromise.resolve(cancelStream(rs, [reason1, reason2]));
  };
  const branch1 = make(
    () => undefined,
    pull,
    (reason) => {
      canceled1 = true;
      reason1 = reason;
      if (canceled2) cancelBoth();
      return cancelPromise.promise;
    },
  );
  const branch2 = make(
    () => undefined,
    pull,
    (reason) => {
      canceled2 = true;
      reason2 = reason;
      if (canceled1) cancelBoth();
      return cancelPromise.promise;
    },
  );
  reader.closed.promise.catch((error) => {
    readableError(branch1, error);
    readableError(branch2, error);
    if (!canceled1 || !canceled2) cancelPromise.resolve(undefined);
  });
  return [branch1, branch2];
}
