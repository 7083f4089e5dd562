// node:string_decoder: the npm `string_decoder` package (Node's, ported), taking any view as
// Node does rather than only Buffers.
import { toBuffer } from "./buffer.js";
import { withStandIns } from "./common.js";

let cached = null;

export function stringDecoderModule() {
  if (cached !== null) return cached;
  const npm = require("string_decoder").StringDecoder;
  const asBuffer = (buf) => (ArrayBuffer.isView(buf) ? toBuffer(buf) : buf);
  class StringDecoder extends npm {
    write(buf) {
      return super.write(asBuffer(buf));
    }
    end(buf) {
      return super.end(buf === undefined ? buf : asBuffer(buf));
    }
  }
  cached = withStandIns("string_decoder", { StringDecoder }, ["StringDecoder"]);
  return cached;
}
