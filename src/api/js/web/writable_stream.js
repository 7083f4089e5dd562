// WritableStream (WHATWG Streams) with its default writer and controller, following the spec's
// algorithms: one write in flight at a time, backpressure through writer.ready, and the
// erroring -> errored transition that lets an in-flight write finish before abort runs.
import { AbortController } from "./abort.js";
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
import { defineToStringTag, illegalConstructor, inspectSymbol, makeEnumerable } from "./util.js";

const kCreate = Symbol("create");
const kCloseSentinel = Symbol("close");
let stateOf;

// ---------------------------------------------------------------------------------------------
// Stream-level algorithms (on the state record `ws`)

function newState(stream) {
  return {
    stream,
    state: "writable",
    storedError: undefined,
    writer: null, // { stream, ready, closed }
    writeRequests: [],
    inFlightWriteRequest: null,
    closeRequest: null,
    inFlightCloseRequest: null,
    pendingAbortRequest: null,
    backpressure: false,
    // controller slots
    controller: null,
    abortController: null,
    queue: [],
    queueTotalSize: 0,
    started: false,
    highWaterMark: 1,
    sizeAlgorithm: () => 1,
    writeAlgorithm: null,
    closeAlgorithm: null,
    abortAlgorithm: null,
  };
}

function abortStream(ws, reason) {
  if (ws.state === "closed" || ws.state === "errored") return Promise.resolve(undefined);
  ws.abortController.abort(reason);
  if (ws.state === "closed" || ws.state === "errored") return Promise.resolve(undefined);
  if (ws.pendingAbortRequest !== null) return ws.pendingAbortRequest.promise;
  const wasAlreadyErroring = ws.state === "erroring";
  if (wasAlreadyErroring) reason = undefined;
  ws.pendingAbortRequest = { ...deferred(), reason, wasAlreadyErroring };
  const { promise } = ws.pendingAbortRequest;
  if (!wasAlreadyErroring) startErroring(ws, reason);
  return promise;
}

function closeWritable(ws) {
  if (ws.state === "closed" || ws.state === "errored") {
    return rejected(new TypeError("The stream is closed or errored"));
  }
  ws.closeRequest = deferred();
  const { promise } = ws.closeRequest;
  if (ws.writer !== null && ws.backpressure && ws.state === "writable") {
    ws.writer.ready.resolve(undefined);
  }
  enqueueValueWithSize(ws, kCloseSentinel, 0);
  advanceQueueIfNeeded(ws);
  return promise;
}

function dealWithRejection(ws, error) {
  if (ws.state === "writable") startErroring(ws, error);
  else finishErroring(ws);
}

function startErroring(ws, reason) {
  ws.state = "erroring";
  ws.storedError = reason;
  if (ws.writer !== null) ensureReadyRejected(ws.writer, reason);
  if (!hasOperationInFlight(ws) && ws.started) finishErroring(ws);
}

function finishErroring(ws) {
  ws.state = "errored";
  resetQueue(ws);
  const error = ws.storedError;
  for (const request of ws.writeRequests.splice(0)) request.reject(error);
  const abortRequest = ws.pendingAbortRequest;
  if (abortRequest === null) {
    rejectCloseAndClosedIfNeeded(ws);
    return;
  }
  ws.pendingAbortRequest = null;
  if (abortRequest.wasAlreadyErroring) {
    abortRequest.reject(error);
    rejectCloseAndClosedIfNeeded(ws);
    return;
  }
  const abort = ws.abortAlgorithm;
  clearAlgorithms(ws);
  abort(abortRequest.reason).then(
    () => {
      abortRequest.resolve(undefined);
      rejectCloseAndClosedIfNeeded(ws);
    },
    (reason) => {
      abortRequest.reject(reason);
      rejectCloseAndClosedIfNeeded(ws);
    },
  );
}

function finishInFlightWrite(ws, error, failed) {
  const request = ws.inFlightWriteRequest;
  ws.inFlightWriteRequest = null;
  if (!failed) {
    request.resolve(undefined);
    return;
  }
  request.reject(error);
  dealWithRejection(ws, error);
}

function finishInFlightClose(ws, error, failed) {
  const request = ws.inFlightCloseRequest;
  ws.inFlightCloseRequest = null;
  if (failed) {
    request.reject(error);
    if (ws.pendingAbortRequest !== null) {
      ws.pendingAbortRequest.reject(error);
      ws.pendingAbortRequest = null;
    }
    dealWithRejection(ws, error);
    return;
  }
  request.resolve(undefined);
  if (ws.state === "erroring") {
    ws.storedError = undefined;
    if (ws.pendingAbortRequest !== null) {
      ws.pendingAbortRequest.resolve(undefined);
      ws.pendingAbortRequest = null;
    }
  }
  ws.state = "closed";
  if (ws.writer !== null) ws.writer.closed.resolve(undefined);
}

function closeQueuedOrInFlight(ws) {
  return ws.closeRequest !== null || ws.inFlightCloseRequest !== null;
}

function hasOperationInFlight(ws) {
  return ws.inFlightWriteRequest !== null || ws.inFlightCloseRequest !== null;
}

function rejectCloseAndClosedIfNeeded(ws) {
  if (ws.closeRequest !== null) {
    ws.closeRequest.reject(ws.storedError);
    ws.closeRequest = null;
  }
  if (ws.writer !== null) {
    ws.writer.closed.reject(ws.storedError);
    markHandled(ws.writer.closed.promise);
  }
}

function updateBackpressure(ws, backpressure) {
  const writer = ws.writer;
  if (writer !== null && backpressure !== ws.backpressure) {
    if (backpressure) writer.ready = deferred();
    else writer.ready.resolve(undefined);
  }
  ws.backpressure = backpressure;
}

// ---------------------------------------------------------------------------------------------
// Controller algorithms

function clearAlgorithms(ws) {
  ws.writeAlgorithm = null;
  ws.closeAlgorithm = null;
  ws.abortAlgorithm = null;
  ws.sizeAlgorithm = () => 1;
}

function desiredSize(ws) {
  return ws.highWaterMark - ws.queueTotalSize;
}

function getBackpressure(ws) {
  return desiredSize(ws) <= 0;
}

function controllerError(ws, error) {
  clearAlgorithms(ws);
  startErroring(ws, error);
}

function controllerErrorIfNeeded(ws, error) {
  if (ws.state === "writable") controllerError(ws, error);
}

function getChunkSize(ws, chunk) {
  try {
    return ws.sizeAlgorithm(chunk);
  } catch (error) {
    controllerErrorIfNeeded(ws, error);
    return 1;
  }
}

function controllerWrite(ws, chunk, size) {
  try {
    enqueueValueWithSize(ws, chunk, size);
  } catch (error) {
    controllerErrorIfNeeded(ws, error);
    return;
  }
  if (!closeQueuedOrInFlight(ws) && ws.state === "writable") {
    updateBackpressure(ws, getBackpressure(ws));
  }
  advanceQueueIfNeeded(ws);
}

function advanceQueueIfNeeded(ws) {
  if (!ws.started || ws.inFlightWriteRequest !== null) return;
  if (ws.state === "erroring") {
    finishErroring(ws);
    return;
  }
  if (ws.state !== "writable" || ws.queue.length === 0) return;
  const value = ws.queue[0].value;
  if (value === kCloseSentinel) processClose(ws);
  else processWrite(ws, value);
}

function processClose(ws) {
  ws.inFlightCloseRequest = ws.closeRequest;
  ws.closeRequest = null;
  dequeueValue(ws);
  const close = ws.closeAlgorithm;
  clearAlgorithms(ws);
  close().then(
    () => finishInFlightClose(ws, undefined, false),
    (error) => finishInFlightClose(ws, error, true),
  );
}

function processWrite(ws, chunk) {
  ws.inFlightWriteRequest = ws.writeRequests.shift();
  ws.writeAlgorithm(chunk).then(
    () => {
      finishInFlightWrite(ws, undefined, false);
      dequeueValue(ws);
      if (!closeQueuedOrInFlight(ws) && ws.state === "writable") {
        updateBackpressure(ws, getBackpressure(ws));
      }
      advanceQueueIfNeeded(ws);
    },
    (error) => {
      if (ws.state === "writable") clearAlgorithms(ws);
      finishInFlightWrite(ws, error, true);
    },
  );
}

function setUpController(ws, controller, start, write, close, abort, highWaterMark, sizeAlgorithm) {
  ws.controller = controller;
  ws.abortController = new AbortController();
  ws.highWaterMark = highWaterMark;
  ws.sizeAlgorithm = sizeAlgorithm;
  ws.writeAlgorithm = write;
  ws.closeAlgorithm = close;
  ws.abortAlgorithm = abort;
  updateBackpressure(ws, getBackpressure(ws));
  const startResult = start();
  Promise.resolve(startResult).then(
    () => {
      ws.started = true;
      advanceQueueIfNeeded(ws);
    },
    (error) => {
      ws.started = true;
      dealWithRejection(ws, error);
    },
  );
}

export class WritableStreamDefaultController {
  #ws;

  constructor(token, ws) {
    if (token !== kCreate) illegalConstructor();
    this.#ws = ws;
  }

  get signal() {
    return this.#ws.abortController.signal;
  }

  error(error = undefined) {
    if (this.#ws.state !== "writable") return;
    controllerError(this.#ws, error);
  }
}
defineToStringTag(WritableStreamDefaultController);
makeEnumerable(WritableStreamDefaultController, ["signal", "error"]);

// ---------------------------------------------------------------------------------------------
// Writer

function ensureReadyRejected(writer, error) {
  if (writer.ready.settled) writer.ready = deferred();
  writer.ready.reject(error);
  markHandled(writer.ready.promise);
}

function acquireWriter(ws) {
  if (ws.writer !== null) throw new TypeError("The stream is locked to a writer");
  const writer = { stream: ws, ready: deferred(), closed: deferred() };
  ws.writer = writer;
  const state = ws.state;
  if (state === "writable") {
    if (closeQueuedOrInFlight(ws) || !ws.backpressure) writer.ready.resolve(undefined);
  } else if (state === "erroring") {
    writer.ready.reject(ws.storedError);
    markHandled(writer.ready.promise);
  } else if (state === "closed") {
    writer.ready.resolve(undefined);
    writer.closed.resolve(undefined);
  } else {
    writer.ready.reject(ws.storedError);
    markHandled(writer.ready.promise);
    writer.closed.reject(ws.storedError);
    markHandled(writer.closed.promise);
  }
  return writer;
}

function releaseWriter(writer) {
  const ws = writer.stream;
  const error = new TypeError("The writer's lock was released");
  ensureReadyRejected(writer, error);
  if (writer.closed.settled) writer.closed = deferred();
  writer.closed.reject(error);
  markHandled(writer.closed.promise);
  ws.writer = null;
  writer.stream = null;
}

function releasedError() {
  return new TypeError("The writer has been released");
}

export class WritableStreamDefaultWriter {
  #writer;

  constructor(stream) {
    if (!isWritableStream(stream)) {
      throw new TypeError("WritableStreamDefaultWriter: argument is not a WritableStream");
    }
    this.#writer = acquireWriter(stateOf(stream));
  }

  get closed() {
    return this.#writer.closed.promise;
  }

  get ready() {
    return this.#writer.ready.promise;
  }

  get desiredSize() {
    const ws = this.#writer.stream;
    if (ws === null) throw releasedError();
    if (ws.state === "errored" || ws.state === "erroring") return null;
    if (ws.state === "closed") return 0;
    return desiredSize(ws);
  }

  abort(reason = undefined) {
    const ws = this.#writer.stream;
    if (ws === null) return rejected(releasedError());
    return abortStream(ws, reason);
  }

  close() {
    const ws = this.#writer.stream;
    if (ws === null) return rejected(releasedError());
    if (closeQueuedOrInFlight(ws)) return rejected(new TypeError("The stream is already closing"));
    return closeWritable(ws);
  }

  releaseLock() {
    if (this.#writer.stream !== null) releaseWriter(this.#writer);
  }

  write(chunk = undefined) {
    const writer = this.#writer;
    const ws = writer.stream;
    if (ws === null) return rejected(releasedError());
    const size = getChunkSize(ws, chunk);
    if (ws !== writer.stream) return rejected(releasedError());
    if (ws.state === "errored") return rejected(ws.storedError);
    if (closeQueuedOrInFlight(ws) || ws.state === "closed") {
      return rejected(new TypeError("The stream is closing or closed"));
    }
    if (ws.state === "erroring") return rejected(ws.storedError);
    const request = deferred();
    ws.writeRequests.push(request);
    controllerWrite(ws, chunk, size);
    return request.promise;
  }
}
defineToStringTag(WritableStreamDefaultWriter);
makeEnumerable(WritableStreamDefaultWriter, [
  "closed", "ready", "desiredSize", "abort", "close", "releaseLock", "write",
]);

// ---------------------------------------------------------------------------------------------
// WritableStream

export class WritableStream {
  #ws;

  constructor(underlyingSink = undefined, strategy = {}) {
    this.#ws = newState(this);
    if (underlyingSink === kCreate) return;
    const sink = underlyingSink ?? {};
    if (typeof sink !== "object" && typeof sink !== "function") {
      throw new TypeError("WritableStream: underlyingSink must be an object");
    }
    if (sink.type !== undefined) throw new RangeError("WritableStream: type must be undefined");
    strategy ??= {};
    const where = "WritableStream";
    const start = getMethod(sink, "start", where);
    const write = getMethod(sink, "write", where);
    const close = getMethod(sink, "close", where);
    const abort = getMethod(sink, "abort", where);
    const sizeAlgorithm = extractSizeAlgorithm(strategy);
    const highWaterMark = extractHighWaterMark(strategy, 1);
    const controller = new WritableStreamDefaultController(kCreate, this.#ws);
    setUpController(
      this.#ws,
      controller,
      () => start?.call(sink, controller),
      (chunk) => promiseCall(write, sink, chunk, controller),
      () => promiseCall(close, sink),
      (reason) => promiseCall(abort, sink, reason),
      highWaterMark,
      sizeAlgorithm,
    );
  }

  get locked() {
    return this.#ws.writer !== null;
  }

  abort(reason = undefined) {
    if (this.locked) return rejected(new TypeError("The stream is locked"));
    return abortStream(this.#ws, reason);
  }

  close() {
    if (this.locked) return rejected(new TypeError("The stream is locked"));
    if (closeQueuedOrInFlight(this.#ws)) {
      return rejected(new TypeError("The stream is already closing"));
    }
    return closeWritable(this.#ws);
  }

  getWriter() {
    return new WritableStreamDefaultWriter(this);
  }

  [inspectSymbol]() {
    return `WritableStream { locked: ${this.locked}, state: '${this.#ws.state}' }`;
  }

  static {
    stateOf = (stream) => stream.#ws;
  }
}
defineToStringTag(WritableStream);
makeEnumerable(WritableStream, ["locked", "abort", "close", "getWriter"]);

export function isWritableStream(value) {
  if (value === null || typeof value !== "object") return false;
  try {
    stateOf(value);
    return true;
  } catch {
    return false;
  }
}

// Creates a stream driven by algorithms (used by TransformStream); each returns a promise.
export function createWritableStream(start, write, close, abort, highWaterMark, sizeAlgorithm) {
  const stream = new WritableStream(kCreate);
  const ws = stateOf(stream);
  const controller = new WritableStreamDefaultController(kCreate, ws);
  setUpController(ws, controller, start, write, close, abort, highWaterMark, sizeAlgorithm);
  return stream;
}

export const writableState = (stream) => stateOf(stream).state;
export const writableStoredError = (stream) => stateOf(stream).storedError;
export const writableErrorIfNeeded = (stream, error) =>
  controllerErrorIfNeeded(stateOf(stream), error);
export const writableCloseQueuedOrInFlight = (stream) => closeQueuedOrInFlight(stateOf(stream));
