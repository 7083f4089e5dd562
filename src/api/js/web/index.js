// Entry point of the web platform layer: installWebApis(global, native) defines the globals that
// party code sees (Headers, Request, URL, TextEncoder, timers, console, ...) and binds the C++
// natives they call. Also re-exports the hooks the C++ glue needs: fireTimer, makeRequest,
// makeResponse, responseParts, responsePartsSync and bodyToBytes, plus helpers other runtime
// modules share (inspect, format, reportException, defineEventHandler, setSubtle).
import { setNative } from "./native.js";
import { defineValue } from "./util.js";
import { DOMException } from "./dom_exception.js";
import { TextDecoder, TextEncoder } from "./encoding.js";
import { atob, btoa } from "./base64.js";
import { createConsole } from "./console.js";
import { clearInterval, clearTimeout, queueMicrotask, setInterval, setTimeout } from "./timers.js";
import {
  CloseEvent,
  CustomEvent,
  ErrorEvent,
  Event,
  EventTarget,
  MessageEvent,
} from "./events.js";
import { AbortController, AbortSignal } from "./abort.js";
import { Crypto } from "./crypto.js";
import { Performance } from "./performance.js";
import { structuredClone } from "./structured_clone.js";
import { URL } from "./url.js";
import { URLSearchParams } from "./url_search_params.js";
import { Blob, File } from "./blob.js";
import { FormData } from "./form_data.js";
import { Headers } from "./headers.js";
import { Request } from "./request.js";
import { Response } from "./response.js";
import {
  ReadableByteStreamController,
  ReadableStream,
  ReadableStreamBYOBReader,
  ReadableStreamBYOBRequest,
  ReadableStreamDefaultController,
  ReadableStreamDefaultReader,
} from "./readable_stream.js";
import {
  WritableStream,
  WritableStreamDefaultController,
  WritableStreamDefaultWriter,
} from "./writable_stream.js";
import { TransformStream, TransformStreamDefaultController } from "./transform_stream.js";
import { ByteLengthQueuingStrategy, CountQueuingStrategy } from "./stream_common.js";
import { TextDecoderStream, TextEncoderStream } from "./encoding_streams.js";
import { CompressionStream, DecompressionStream } from "./compression.js";
import { DigestStream } from "./digest_stream.js";
import { Scheduler } from "./scheduler.js";
import { URLPattern } from "urlpattern-polyfill/urlpattern";

export { fireTimer } from "./timers.js";
export { makeRequest } from "./request.js";
export { isResponse, makeResponse, responseParts, responsePartsSync } from "./response.js";
export { bodyToBytes } from "./body.js";
export { defineEventHandler } from "./events.js";
export { setSubtle } from "./crypto.js";
export { inspect } from "./inspect.js";
export { format, reportException } from "./console.js";

// workerd's navigator: code that sniffs the user agent finds what it finds on Cloudflare.
class Navigator {
  get userAgent() {
    return "Cloudflare-Workers";
  }
}
Object.defineProperty(Navigator.prototype, Symbol.toStringTag, {
  value: "Navigator",
  configurable: true,
});

export function installWebApis(global, natives) {
  setNative(natives);
  const globals = {
    // Interfaces
    AbortController,
    AbortSignal,
    Blob,
    ByteLengthQueuingStrategy,
    CloseEvent,
    CompressionStream,
    CountQueuingStrategy,
    CustomEvent,
    DOMException,
    DecompressionStream,
    ErrorEvent,
    Event,
    EventTarget,
    File,
    FormData,
    Headers,
    MessageEvent,
    ReadableByteStreamController,
    ReadableStream,
    ReadableStreamBYOBReader,
    ReadableStreamDefaultController,
    ReadableStreamDefaultReader,
    Request,
    Response,
    TextDecoder,
    TextDecoderStream,
    TextEncoder,
    TextEncoderStream,
    TransformStream,
    TransformStreamDefaultController,
    URL,
    URLPattern,
    URLSearchParams,
    WritableStream,
    WritableStreamDefaultController,
    WritableStreamDefaultWriter,
    // Functions
    atob,
    btoa,
    clearInterval,
    clearTimeout,
    queueMicrotask,
    setInterval,
    setTimeout,
    structuredClone,
    // Namespaces and singletons
    console: createConsole(),
    crypto: new Crypto(),
    navigator: new Navigator(),
    performance: new Performance(),
    scheduler: new Scheduler(),
  };
  Object.defineProperty(Crypto.prototype, "DigestStream", {
    value: DigestStream,
    writable: true,
    configurable: true,
  });
  for (const [name, value] of Object.entries(globals)) {
    // The bundler may rename a class that shares its name with a global (DOMException2): the
    // global's constructor carries the name party code expects.
    if (typeof value === "function" && value.name !== name) {
      Object.defineProperty(value, "name", { value: name, configurable: true });
    }
    defineValue(global, name, value);
  }
  return global;
}
