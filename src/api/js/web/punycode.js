// Punycode (RFC 3492) and the URL Standard's "domain to ASCII" for non-ASCII hostnames. The
// UTS #46 mapping is approximated by NFKC normalisation plus lowercasing, which covers case,
// width and compatibility forms; the full IDNA mapping and validity tables are not carried.
const kBase = 36;
const kTMin = 1;
const kTMax = 26;
const kSkew = 38;
const kDamp = 700;
const kInitialBias = 72;
const kInitialN = 128;
const kMaxInt = 0x7fffffff;

function adapt(delta, numPoints, firstTime) {
  delta = firstTime ? Math.floor(delta / kDamp) : delta >> 1;
  delta += Math.floor(delta / numPoints);
  let k = 0;
  while (delta > ((kBase - kTMin) * kTMax) >> 1) {
    delta = Math.floor(delta / (kBase - kTMin));
    k += kBase;
  }
  return k + Math.floor(((kBase - kTMin + 1) * delta) / (delta + kSkew));
}

function threshold(k, bias) {
  if (k <= bias) return kTMin;
  if (k >= bias + kTMax) return kTMax;
  return k - bias;
}

function digitChar(d) {
  return String.fromCharCode(d < 26 ? 0x61 + d : 0x30 + d - 26);
}

function digitValue(unit) {
  if (unit >= 0x30 && unit <= 0x39) return unit - 0x30 + 26;
  if (unit >= 0x41 && unit <= 0x5a) return unit - 0x41;
  if (unit >= 0x61 && unit <= 0x7a) return unit - 0x61;
  return kBase;
}

// Encodes a label (a string of code points) to its Punycode form, without the "xn--" prefix.
export function punycodeEncode(label) {
  const input = Array.from(label, (ch) => ch.codePointAt(0));
  let output = "";
  for (const cp of input) if (cp < 0x80) output += String.fromCharCode(cp);
  const basicCount = output.length;
  let handled = basicCount;
  if (basicCount > 0) output += "-";
  let n = kInitialN;
  let delta = 0;
  let bias = kInitialBias;
  while (handled < input.length) {
    let m = kMaxInt;
    for (const cp of input) if (cp >= n && cp < m) m = cp;
    delta += (m - n) * (handled + 1);
    n = m;
    for (const cp of input) {
      if (cp < n) delta++;
      if (cp !== n) continue;
      let q = delta;
      for (let k = kBase; ; k += kBase) {
        const t = threshold(k, bias);
        if (q < t) break;
        output += digitChar(t + ((q - t) % (kBase - t)));
        q = Math.floor((q - t) / (kBase - t));
      }
      output += digitChar(q);
      bias = adapt(delta, handled + 1, handled === basicCount);
      delta = 0;
      handled++;
    }
    delta++;
    n++;
  }
  return output;
}

// Decodes a Punycode label (without "xn--"); returns null if it is malformed.
export function punycodeDecode(input) {
  const output = [];
  const dash = input.lastIndexOf("-");
  for (let j = 0; j < Math.max(dash, 0); j++) {
    const unit = input.charCodeAt(j);
    if (unit >= 0x80) return null;
    output.push(unit);
  }
  let i = 0;
  let n = kInitialN;
  let bias = kInitialBias;
  for (let pos = dash > 0 ? dash + 1 : 0; pos < input.length; ) {
    const oldI = i;
    let w = 1;
    for (let k = kBase; ; k += kBase) {
      if (pos >= input.length) return null;
      const digit = digitValue(input.charCodeAt(pos++));
      if (digit >= kBase || digit > Math.floor((kMaxInt - i) / w)) return null;
      i += digit * w;
      const t = threshold(k, bias);
      if (digit < t) break;
      if (w > Math.floor(kMaxInt / (kBase - t))) return null;
      w *= kBase - t;
    }
    const length = output.length + 1;
    bias = adapt(i - oldI, length, oldI === 0);
    if (Math.floor(i / length) > kMaxInt - n) return null;
    n += Math.floor(i / length);
    i %= length;
    if (n > 0x10ffff || (n >= 0xd800 && n <= 0xdfff)) return null;
    output.splice(i, 0, n);
    i++;
  }
  return String.fromCodePoint(...output);
}

// The URL Standard's domain to ASCII (with beStrict false); returns null on failure.
export function domainToASCII(domain) {
  let mapped;
  if (/^[\x00-\x7f]*$/.test(domain)) {
    mapped = domain.toLowerCase();
  } else {
    mapped = domain
      .normalize("NFKC")
      .toLowerCase()
      .replace(/[\u3002\uff0e\uff61]/g, ".")
      .replace(/[\u00ad\u200b\u2060\ufeff]/g, ""); // mapped to nothing by UTS #46
  }
  const labels = mapped.split(".");
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i];
    if (label.startsWith("xn--")) {
      const decoded = punycodeDecode(label.slice(4));
      if (decoded === null || /^[\x00-\x7f]*$/.test(decoded)) return null;
      // A decoded label must already be in mapped form and free of control characters.
      if (/[\x00-\x1f\x7f-\x9f]/.test(decoded)) return null;
      if (decoded.normalize("NFKC").toLowerCase() !== decoded) return null;
      continue;
    }
    if (!/^[\x00-\x7f]*$/.test(label)) {
      if (label.includes("\ufffd")) return null;
      labels[i] = "xn--" + punycodeEncode(label);
    }
  }
  const result = labels.join(".");
  return result === "" ? null : result;
}
