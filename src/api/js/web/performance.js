// performance.now() and performance.timeOrigin. native.now() counts from process start, so the
// origin is fixed when the context installs its globals.
import { native } from "./native.js";
import { defineToStringTag, makeEnumerable } from "./util.js";

export class Performance {
  #origin = Date.now() - native.now();

  get timeOrigin() {
    return this.#origin;
  }

  now() {
    return native.now();
  }

  toJSON() {
    return { timeOrigin: this.#origin };
  }
}
defineToStringTag(Performance);
makeEnumerable(Performance, ["timeOrigin", "now", "toJSON"]);
