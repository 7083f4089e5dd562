// multipart/form-data: serialising a FormData into a body (HTML's encoding algorithm) and
// parsing a body back into a FormData (for Request/Response.formData()).
import { File, blobBytes } from "./blob.js";
import { utf8DecodeWithoutBOM, utf8Encode } from "./encoding.js";
import { FormData, formDataEntries } from "./form_data.js";
import { concatBytes } from "./util.js";

const normalizeNewlines = (s) => s.replace(/\r\n|\r|\n/g, "\r\n");
const escapeName = (s) => s.replace(/\n/g, "%0A").replace(/\r/g, "%0D").replace(/"/g, "%22");

export function serializeMultipart(formData) {
  let boundary = "----formdata-partyd-";
  for (let i = 0; i < 24; i++) boundary += Math.floor(Math.random() * 10);
  const chunks = [];
  for (const [name, value] of formDataEntries(formData)) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${escapeName(normalizeNewlines(name))}"`;
    if (typeof value === "string") {
      chunks.push(utf8Encode(`${head}\r\n\r\n${normalizeNewlines(value)}\r\n`));
    } else {
      head += `; filename="${escapeName(value.name)}"\r\n`;
      head += `Content-Type: ${value.type || "application/octet-stream"}\r\n\r\n`;
      chunks.push(utf8Encode(head), blobBytes(value), utf8Encode("\r\n"));
    }
  }
  chunks.push(utf8Encode(`--${boundary}--\r\n`));
  return { bytes: concatBytes(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

// ---------------------------------------------------------------------------------------------

function indexOfBytes(haystack, needle, from) {
  const first = needle[0];
  const last = haystack.length - needle.length;
  outer: for (let i = haystack.indexOf(first, from); i !== -1 && i <= last; i = haystack.indexOf(first, i + 1)) {
    for (let j = 1; j < needle.length; j++) {
      if (haystack[i + j] !== needle[j]) continue outer;
    }
    return i;
  }
  return -1;
}

function malformed() {
  return new TypeError("Failed to parse the body as multipart/form-data");
}

const unescapeName = (s) => s.replace(/%0A/gi, "\n").replace(/%0D/gi, "\r").replace(/%22/g, '"');

function parameter(header, name) {
  const re = new RegExp(`;\\s*${name}\\s*=\\s*(?:"((?:[^"\\\\]|\\\\.)*)"|([^;\\s]*))`, "i");
  const match = re.exec(header);
  if (match === null) return null;
  return match[1] !== undefined ? unescapeName(match[1].replace(/\\(.)/g, "$1")) : match[2];
}

export function parseMultipart(bytes, boundary) {
  const delimiter = utf8Encode(`--${boundary}`);
  const crlf2 = utf8Encode("\r\n\r\n");
  const formData = new FormData();
  let pos = indexOfBytes(bytes, delimiter, 0);
  if (pos < 0) throw malformed();
  const nextDelimiter = utf8Encode(`\r\n--${boundary}`);
  for (;;) {
    pos += delimiter.length;
    if (bytes[pos] === 0x2d && bytes[pos + 1] === 0x2d) break; // "--": the closing delimiter
    if (bytes[pos] !== 0x0d || bytes[pos + 1] !== 0x0a) throw malformed();
    pos += 2;
    const headerEnd = indexOfBytes(bytes, crlf2, pos);
    if (headerEnd < 0) throw malformed();
    const headers = utf8DecodeWithoutBOM(bytes.subarray(pos, headerEnd)).split("\r\n");
    const bodyStart = headerEnd + 4;
    const bodyEnd = indexOfBytes(bytes, nextDelimiter, bodyStart);
    if (bodyEnd < 0) throw malformed();
    let disposition = null;
    let contentType = "";
    for (const line of headers) {
      const colon = line.indexOf(":");
      if (colon < 0) continue;
      const key = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (key === "content-disposition") disposition = value;
      else if (key === "content-type") contentType = value;
    }
    if (disposition === null || !/^form-data\b/i.test(disposition)) throw malformed();
    const name = parameter(disposition, "name");
    if (name === null) throw malformed();
    const filename = parameter(disposition, "filename");
    const body = bytes.subarray(bodyStart, bodyEnd);
    if (filename !== null) {
      formData.append(name, new File([body], filename, { type: contentType }));
    } else {
      formData.append(name, utf8DecodeWithoutBOM(body));
    }
    pos = bodyEnd + 2;
  }
  return formData;
}
