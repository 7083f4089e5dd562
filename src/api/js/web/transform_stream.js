// TransformStream (WHATWG Streams): a writable side whose chunks go through transformer.transform
// into a readable side, with backpressure from the readable holding back writes.
import {
  createReadableStream,
  readableCanCloseOrEnqueue,
  readableClose,
  readableDesiredSize,
  readableEnqueue,
  readableError,
  readableHasBackpressure,
  readableState,
  readableStoredError,
} from "./readable_stream.js";
import { createWritableStream, writableErrorIfNeeded, writableState, writableStoredError } from "./writable_stream.js";
import {
  deferred,
  extractHighWaterMark,
  extractSizeAlgorithm,
  getMethod,
  promiseCall,
} from "./stream_common.js";
import { defineToStringTag, illegalConstructor, makeEnumerable } from "./util.js";

const kCreate = Symbol("create");

// The shared state of one TransformStream.
function newState() {
  return {
    readable: null,
    writable: null,
    backpressure: undefined,
    backpressureChange: null,
    transform: null,
    flush: null,
    cancel: null,
  };
}

function setBackpressure(ts, backpressure) {
  ts.backpressureChange?.resolve(undefined);
  ts.backpressureChange = deferred();
  ts.backpressure = backpressure;
}

function clearAlgorithms(ts) {
  ts.transform = null;
  ts.flush = null;
  ts.cancel = null;
}

function errorWritableAndUnblockWrite(ts, error) {
  clearAlgorithms(ts);
  writableErrorIfNeeded(ts.writable, error);
  if (ts.backpressure) setBackpressure(ts, false);
}

function errorStream(ts, error) {
  readableError(ts.readable, error);
  errorWritableAndUnblockWrite(ts, error);
}

function enqueue(ts, chunk) {
  if (!readableCanCloseOrEnqueue(ts.readable)) {
    throw new TypeError("The readable side is not in a state that permits enqueue");
  }
  try {
    readableEnqueue(ts.readable, chunk);
  } catch (error) {
    errorWritableAndUnblockWrite(ts, error);
    throw readableStoredError(ts.readable);
  }
  const backpressure = readableHasBackpressure(ts.readable);
  if (backpressure !== ts.backpressure && backpressure) setBackpressure(ts, true);
}

function terminate(ts) {
  readableClose(ts.readable);
  errorWritableAndUnblockWrite(ts, new TypeError("The transform stream has been terminated"));
}

function performTransform(ts, chunk) {
  return ts.transform(chunk).catch((error) => {
    errorStream(ts, error);
    throw error;
  });
}

export class TransformStreamDefaultController {
  #ts;

  constructor(token, ts) {
    if (token !== kCreate) illegalConstructor();
    this.#ts = ts;
  }

  get desiredSize() {
    return readableDesiredSize(this.#ts.readable);
  }

  enqueue(chunk = undefined) {
    enqueue(this.#ts, chunk);
  }

  error(reason = undefined) {
    errorStream(this.#ts, reason);
  }

  terminate() {
    terminate(this.#ts);
  }
}
defineToStringTag(TransformStreamDefaultController);
makeEnumerable(TransformStreamDefaultController, ["desiredSize", "enqueue", "error", "terminate"]);

export class TransformStream {
  #ts = newState();

  constructor(transformer = undefined, writableStrategy = {}, readableStrategy = {}) {
    const source = transformer ?? {};
    if (source.readableType !== undefined) throw new RangeError("TransformStream: invalid readableType");
    if (source.writableType !== undefined) throw new RangeError("TransformStream: invalid writableType");
    const where = "TransformStream";
    const start = getMethod(source, "start", where);
    const transform = getMethod(source, "transform", where);
    const flush = getMethod(source, "flush", where);
    const cancel = getMethod(source, "cancel", where);
    const readableHWM = extractHighWaterMark(readableStrategy, 0);
    const readableSize = extractSizeAlgorithm(readableStrategy);
    const writableHWM = extractHighWaterMark(writableStrategy, 1);
    const writableSize = extractSizeAlgorithm(writableStrategy);

    const ts = this.#ts;
    const controller = new TransformStreamDefaultController(kCreate, ts);
    const started = deferred();
    ts.transform = transform
      ? (chunk) => promiseCall(transform, source, chunk, controller)
      : (chunk) => {
          try {
            enqueue(ts, chunk);
            return Promise.resolve();
          } catch (error) {
            return Promise.reject(error);
          }
        };
    ts.flush = () => promiseCall(flush, source, controller);
    ts.cancel = (reason) => promiseCall(cancel, source, reason);

    ts.writable = createWritableStream(
      () => started.promise,
      (chunk) => {
        if (ts.backpressure) {
          return ts.backpressureChange.promise.then(() => {
            if (writableState(ts.writable) === "erroring") throw writableStoredError(ts.writable);
            return performTransform(ts, chunk);
          });
        }
        return performTransform(ts, chunk);
      },
      () => {
        const flushAlgorithm = ts.flush ?? (() => Promise.resolve());
        clearAlgorithms(ts);
        return flushAlgorithm().then(
          () => {
            if (readableState(ts.readable) === "errored") throw readableStoredError(ts.readable);
            readableClose(ts.readable);
          },
          (error) => {
            errorStream(ts, error);
            throw readableStoredError(ts.readable);
          },
        );
      },
      (reason) => {
        const cancelAlgorithm = ts.cancel ?? (() => Promise.resolve());
        clearAlgorithms(ts);
        return cancelAlgorithm(reason).then(() => readableError(ts.readable, reason));
      },
      writableHWM,
      writableSize,
    );
    ts.readable = createReadableStream(
      () => started.promise,
      () => {
        setBackpressure(ts, false);
        return ts.backpressureChange.promise;
      },
      (reason) => {
        const cancelAlgorithm = ts.cancel ?? (() => Promise.resolve());
        clearAlgorithms(ts);
        return cancelAlgorithm(reason).then(() => errorWritableAndUnblockWrite(ts, reason));
      },
      readableHWM,
      readableSize,
    );
    setBackpressure(ts, true);
    try {
      started.resolve(start?.call(source, controller));
    } catch (error) {
      started.reject(error);
      throw error;
    }
  }

  get readable() {
    return this.#ts.readable;
  }

  get writable() {
    return this.#ts.writable;
  }
}
defineToStringTag(TransformStream);
makeEnumerable(TransformStream, ["readable", "writable"]);
