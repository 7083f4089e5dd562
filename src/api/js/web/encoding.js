// TextEncoder and TextDecoder (WHATWG Encoding). TextEncoder is UTF-8 only, as the standard
// says. TextDecoder knows every encoding of the standard: UTF-8 through the UTF-8 natives (this
// file buffers the incomplete sequences that `decode(..., { stream: true })` needs), the others
// through ICU-backed decoder handles (web_natives.cc), which keep their own state between stream
// calls. This file owns the labels, the BOM and the stream bookkeeping.
import { native } from "./native.js";
import { bufferSourceBytes, defineToStringTag, isUint8Array, makeEnumerable, toUSVString } from "./util.js";

// The WHATWG encodings and their labels (encodings.json of the standard): name -> labels.
const kEncodings = [
  ["utf-8", "unicode-1-1-utf-8 unicode11utf8 unicode20utf8 utf-8 utf8 x-unicode20utf8"],
  ["ibm866", "866 cp866 csibm866 ibm866"],
  ["iso-8859-2", "csisolatin2 iso-8859-2 iso-ir-101 iso8859-2 iso88592 iso_8859-2 iso_8859-2:1987 l2 latin2"],
  ["iso-8859-3", "csisolatin3 iso-8859-3 iso-ir-109 iso8859-3 iso88593 iso_8859-3 iso_8859-3:1988 l3 latin3"],
  ["iso-8859-4", "csisolatin4 iso-8859-4 iso-ir-110 iso8859-4 iso88594 iso_8859-4 iso_8859-4:1988 l4 latin4"],
  ["iso-8859-5", "csisolatincyrillic cyrillic iso-8859-5 iso-ir-144 iso8859-5 iso88595 iso_8859-5 iso_8859-5:1988"],
  ["iso-8859-6", "arabic asmo-708 csiso88596e csiso88596i csisolatinarabic ecma-114 iso-8859-6 iso-8859-6-e " +
    "iso-8859-6-i iso-ir-127 iso8859-6 iso88596 iso_8859-6 iso_8859-6:1987"],
  ["iso-8859-7", "csisolatingreek ecma-118 elot_928 greek greek8 iso-8859-7 iso-ir-126 iso8859-7 iso88597 " +
    "iso_8859-7 iso_8859-7:1987 sun_eu_greek"],
  ["iso-8859-8", "csiso88598e csisolatinhebrew hebrew iso-8859-8 iso-8859-8-e iso-ir-138 iso8859-8 iso88598 " +
    "iso_8859-8 iso_8859-8:1988 visual"],
  ["iso-8859-8-i", "csiso88598i iso-8859-8-i logical"],
  ["iso-8859-10", "csisolatin6 iso-8859-10 iso-ir-157 iso8859-10 iso885910 l6 latin6"],
  ["iso-8859-13", "iso-8859-13 iso8859-13 iso885913"],
  ["iso-8859-14", "iso-8859-14 iso8859-14 iso885914"],
  ["iso-8859-15", "csisolatin9 iso-8859-15 iso8859-15 iso885915 iso_8859-15 l9"],
  ["iso-8859-16", "iso-8859-16"],
  ["koi8-r", "cskoi8r koi koi8 koi8-r koi8_r"],
  ["koi8-u", "koi8-ru koi8-u"],
  ["macintosh", "csmacintosh mac macintosh x-mac-roman"],
  ["windows-874", "dos-874 iso-8859-11 iso8859-11 iso885911 tis-620 windows-874"],
  ["windows-1250", "cp1250 windows-1250 x-cp1250"],
  ["windows-1251", "cp1251 windows-1251 x-cp1251"],
  ["windows-1252", "ansi_x3.4-1968 ascii cp1252 cp819 csisolatin1 ibm819 iso-8859-1 iso-ir-100 iso8859-1 " +
    "iso88591 iso_8859-1 iso_8859-1:1987 l1 latin1 us-ascii windows-1252 x-cp1252"],
  ["windows-1253", "cp1253 windows-1253 x-cp1253"],
  ["windows-1254", "cp1254 csisolatin5 iso-8859-9 iso-ir-148 iso8859-9 iso88599 iso_8859-9 iso_8859-9:1989 " +
    "l5 latin5 windows-1254 x-cp1254"],
  ["windows-1255", "cp1255 windows-1255 x-cp1255"],
  ["windows-1256", "cp1256 windows-1256 x-cp1256"],
  ["windows-1257", "cp1257 windows-1257 x-cp1257"],
  ["windows-1258", "cp1258 windows-1258 x-cp1258"],
  ["x-mac-cyrillic", "x-mac-cyrillic x-mac-ukrainian"],
  ["gbk", "chinese csgb2312 csiso58gb231280 gb2312 gb_2312 gb_2312-80 gbk iso-ir-58 x-gbk"],
  ["gb18030", "gb18030"],
  ["big5", "big5 big5-hkscs cn-big5 csbig5 x-x-big5"],
  ["euc-jp", "cseucpkdfmtjapanese euc-jp x-euc-jp"],
  ["iso-2022-jp", "csiso2022jp iso-2022-jp"],
  ["shift_jis", "csshiftjis ms932 ms_kanji shift-jis shift_jis sjis windows-31j x-sjis"],
  ["euc-kr", "cseuckr csksc56011987 euc-kr iso-ir-149 korean ks_c_5601-1987 ks_c_5601-1989 ksc5601 " +
    "ksc_5601 windows-949"],
  ["replacement", "csiso2022kr hz-gb-2312 iso-2022-cn iso-2022-cn-ext iso-2022-kr replacement"],
  ["utf-16be", "unicodefffe utf-16be"],
  ["utf-16le", "csunicode iso-10646-ucs-2 ucs-2 unicode unicodefeff utf-16 utf-16le"],
  ["x-user-defined", "x-user-defined"],
];

let labelMap = null; // label -> name, built on first use

// The standard's "get an encoding": ASCII whitespace trimmed (not String.prototype.trim's wider
// set), ASCII case-insensitive. Returns the encoding's name or null.
export function encodingForLabel(label) {
  if (labelMap === null) {
    labelMap = new Map();
    for (const [name, labels] of kEncodings) {
      for (const l of labels.split(" ")) labelMap.set(l, name);
    }
  }
  const trimmed = label.replace(/^[\t\n\f\r ]+|[\t\n\f\r ]+$/g, "");
  return labelMap.get(trimmed.replace(/[A-Z]+/g, (c) => c.toLowerCase())) ?? null;
}

// The encodings whose decoder strips a leading byte order mark unless ignoreBOM.
const kBomEncodings = new Set(["utf-8", "utf-16le", "utf-16be"]);

// UTF-8 decode with BOM stripping and replacement characters; the body mixin and Blob use it.
export function utf8DecodeLossy(bytes) {
  const text = native.utf8Decode(bytes, false);
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

// UTF-8 decode that keeps a leading BOM, as the URL Standard's "UTF-8 decode without BOM" does.
export function utf8DecodeWithoutBOM(bytes) {
  return native.utf8Decode(bytes, false);
}

export function utf8Encode(text) {
  return native.utf8Encode(text);
}

export class TextEncoder {
  get encoding() {
    return "utf-8";
  }

  encode(input = "") {
    return native.utf8Encode(toUSVString(input));
  }

  encodeInto(source, destination) {
    if (!isUint8Array(destination)) {
      throw new TypeError("TextEncoder.encodeInto: destination must be a Uint8Array");
    }
    const [read, written] = native.utf8EncodeInto(toUSVString(source), destination);
    return { read, written };
  }
}
defineToStringTag(TextEncoder);
makeEnumerable(TextEncoder, ["encoding", "encode", "encodeInto"]);

// How many bytes at the end of `bytes` form a prefix of a valid multi-byte sequence that more
// input could still complete. Those bytes are held back while streaming.
function incompleteTailLength(bytes) {
  const end = bytes.length;
  for (let back = 1; back <= 3 && back <= end; back++) {
    const lead = bytes[end - back];
    if ((lead & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead
    let need;
    if (lead >= 0xc2 && lead <= 0xdf) need = 2;
    else if (lead >= 0xe0 && lead <= 0xef) need = 3;
    else if (lead >= 0xf0 && lead <= 0xf4) need = 4;
    else return 0;
    if (back >= need) return 0;
    if (back >= 2) {
      // The second byte has a narrower range after some lead bytes.
      const second = bytes[end - back + 1];
      let lo = 0x80;
      let hi = 0xbf;
      if (lead === 0xe0) lo = 0xa0;
      else if (lead === 0xed) hi = 0x9f;
      else if (lead === 0xf0) lo = 0x90;
      else if (lead === 0xf4) hi = 0x8f;
      if (second < lo || second > hi) return 0;
    }
    return back;
  }
  return 0;
}

export class TextDecoder {
  #encoding;
  #fatal;
  #ignoreBOM;
  #handle = null; // the ICU-backed decoder of a non-UTF-8 encoding
  #pending = null; // UTF-8: Uint8Array of held-back bytes while streaming
  #bomSeen = false;
  #streaming = false;

  constructor(label = "utf-8", options = {}) {
    const encoding = encodingForLabel(String(label));
    if (encoding === null || encoding === "replacement") {
      throw new RangeError(`The "${label}" encoding is not supported`);
    }
    options ??= {};
    this.#encoding = encoding;
    this.#fatal = Boolean(options.fatal);
    this.#ignoreBOM = Boolean(options.ignoreBOM);
    if (encoding !== "utf-8") this.#handle = native.textDecoderOpen(encoding, this.#fatal);
  }

  get encoding() {
    return this.#encoding;
  }

  get fatal() {
    return this.#fatal;
  }

  get ignoreBOM() {
    return this.#ignoreBOM;
  }

  decode(input = undefined, options = {}) {
    let bytes;
    if (input === undefined) {
      bytes = new Uint8Array(0);
    } else {
      bytes = bufferSourceBytes(input);
      if (bytes === null) {
        throw new TypeError(
          "TextDecoder.decode: input must be an ArrayBuffer, a TypedArray or a DataView",
        );
      }
    }
    const stream = Boolean(options?.stream);
    if (!this.#streaming) {
      // A new stream: forget the BOM state of the previous one.
      this.#bomSeen = false;
      this.#pending = null;
    }
    this.#streaming = stream;

    let text;
    try {
      text = this.#handle === null ? this.#decodeUtf8(bytes, stream)
        : native.textDecoderDecode(this.#handle, bytes, !stream);
    } catch (error) {
      this.#pending = null;
      this.#streaming = false;
      throw error;
    }
    if (!this.#bomSeen && text.length > 0) {
      this.#bomSeen = true;
      if (!this.#ignoreBOM && text.charCodeAt(0) === 0xfeff && kBomEncodings.has(this.#encoding)) {
        text = text.slice(1);
      }
    }
    return text;
  }

  #decodeUtf8(bytes, stream) {
    if (this.#pending !== null) {
      const joined = new Uint8Array(this.#pending.length + bytes.length);
      joined.set(this.#pending);
      joined.set(bytes, this.#pending.length);
      bytes = joined;
      this.#pending = null;
    }
    if (stream) {
      const tail = incompleteTailLength(bytes);
      if (tail > 0) {
        this.#pending = bytes.slice(bytes.length - tail);
        bytes = bytes.subarray(0, bytes.length - tail);
      }
    }
    return bytes.length === 0 ? "" : native.utf8Decode(bytes, this.#fatal);
  }
}
defineToStringTag(TextDecoder);
makeEnumerable(TextDecoder, ["encoding", "fatal", "ignoreBOM", "decode"]);
