// ReadableStream.prototype.pipeTo's algorithm: pumps chunks from a reader to a writer while
// respecting the writer's backpressure, and propagates close, errors and abort signals in both
// directions, as the Streams spec's ReadableStreamPipeTo describes.
import { addAbortAlgorithm, isAbortSignal } from "./abort.js";
import { deferred, markHandled, rejected } from "./stream_common.js";
import { writableCloseQueuedOrInFlight, writableState, writableStoredError } from "./writable_stream.js";

// `source` is the internal reader handle from readable_stream.js:
//   { read(request), release(), closed, state(), storedError(), cancel(reason) }
export function pipeStreams(source, dest, options) {
  const preventClose = Boolean(options.preventClose);
  const preventAbort = Boolean(options.preventAbort);
  const preventCancel = Boolean(options.preventCancel);
  const signal = options.signal;
  if (signal !== undefined && !isAbortSignal(signal)) {
    source.release();
    return rejected(new TypeError("pipeTo: options.signal must be an AbortSignal"));
  }
  const writer = dest.getWriter();
  const result = deferred();
  let shuttingDown = false;
  let currentWrite = Promise.resolve();
  let removeAbort = () => {};

  const destIsWritable = () => writableState(dest) === "writable" && !writableCloseQueuedOrInFlight(dest);

  const finalize = (isError, error) => {
    writer.releaseLock();
    source.release();
    removeAbort();
    if (isError) result.reject(error);
    else result.resolve(undefined);
  };

  // Lets every chunk already read reach the sink before the final action runs.
  const afterPendingWrites = (then) => {
    if (destIsWritable()) currentWrite.then(then, then);
    else then();
  };

  const shutdownWithAction = (action, isError, error) => {
    if (shuttingDown) return;
    shuttingDown = true;
    afterPendingWrites(() => {
      let promise;
      try {
        promise = Promise.resolve(action());
      } catch (e) {
        promise = Promise.reject(e);
      }
      promise.then(
        () => finalize(isError, error),
        (newError) => finalize(true, newError),
      );
    });
  };

  const shutdown = (isError, error) => {
    if (shuttingDown) return;
    shuttingDown = true;
    afterPendingWrites(() => finalize(isError, error));
  };

  if (signal !== undefined) {
    const abortAlgorithm = () => {
      const error = signal.reason;
      const actions = [];
      if (!preventAbort) {
        actions.push(() => (writableState(dest) === "writable" ? writer.abort(error) : undefined));
      }
      if (!preventCancel) {
        actions.push(() => (source.state() === "readable" ? source.cancel(error) : undefined));
      }
      shutdownWithAction(() => Promise.all(actions.map((action) => action())), true, error);
    };
    if (signal.aborted) {
      abortAlgorithm();
      return result.promise;
    }
    removeAbort = addAbortAlgorithm(signal, abortAlgorithm);
  }

  // Errors and closes, forward and backward.
  source.closed.then(
    () => {
      if (!preventClose) {
        shutdownWithAction(() => {
          const state = writableState(dest);
          if (writableCloseQueuedOrInFlight(dest) || state === "closed") return undefined;
          if (state === "errored") throw writableStoredError(dest);
          return writer.close();
        }, false);
      } else {
        shutdown(false);
      }
    },
    (error) => {
      if (!preventAbort) shutdownWithAction(() => writer.abort(error), true, error);
      else shutdown(true, error);
    },
  );
  writer.closed.then(undefined, (error) => {
    if (!preventCancel) shutdownWithAction(() => source.cancel(error), true, error);
    else shutdown(true, error);
  });
  if (writableCloseQueuedOrInFlight(dest) || writableState(dest) === "closed") {
    const error = new TypeError("pipeTo: the destination is closing or closed");
    if (!preventCancel) shutdownWithAction(() => source.cancel(error), true, error);
    else shutdown(true, error);
  }

  const pump = () => {
    if (shuttingDown) return;
    writer.ready.then(() => {
      if (shuttingDown) return;
      source.read({
        chunk: (chunk) => {
          // Written synchronously, so a close seen right after this read waits for it.
          currentWrite = markHandled(writer.write(chunk));
          pump();
        },
        close: () => {},
        error: () => {},
      });
    }, () => {});
  };
  pump();
  return result.promise;
}
