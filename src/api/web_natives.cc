// TextDecoder's legacy and UTF-16 encodings, and UTS #46 domain to ASCII, on ICU.
//
// Decoders come in two kinds. The single-byte encodings decode through a 256-entry table, built
// once per process from ICU's converter for that encoding (ASCII bytes forced to themselves, and
// the few bytes where ICU's mapping table differs from the WHATWG index patched); ISO-8859-16,
// which Debian's ICU data lacks, and x-user-defined come from their WHATWG definitions. The
// multi-byte encodings and UTF-16 decode through an ICU converter owned by the decoder handle,
// which keeps an incomplete sequence between stream calls. Errors become U+FFFD (a callback of our
// own, since ICU's substitute callback writes U+001A for some converters) or, with fatal, a
// TypeError.
#include "api/web_natives.h"

#include <unicode/ucnv.h>
#include <unicode/ucnv_cb.h>
#include <unicode/uidna.h>

#include <array>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "js/engine.h"
#include "js/native_handle.h"

namespace partyd::api {

using js::str;
using v8::FunctionCallbackInfo;
using v8::Isolate;
using v8::Local;
using v8::Value;

namespace {

constexpr const char* kDecoderBrand = "partyd.TextDecoder";
constexpr char16_t kReplacement = 0xFFFD;

void throwType(Isolate* iso, std::string_view msg) {
  iso->ThrowException(v8::Exception::TypeError(str(iso, msg)));
}

void throwRange(Isolate* iso, std::string_view msg) {
  iso->ThrowException(v8::Exception::RangeError(str(iso, msg)));
}

// ---- single-byte tables ---------------------------------------------------------------------

using ByteTable = std::array<char16_t, 256>;  // U+FFFD marks a byte that is an error

struct Patch {
  unsigned char byte;
  char16_t to;
};

struct SingleByteEncoding {
  const char* name;  // WHATWG name, lower case (TextDecoder.encoding)
  const char* icu;   // ICU converter, or null for a table built here
  std::vector<Patch> patches;
};

// Where the WHATWG index differs from ICU 72's table for the same encoding.
const std::vector<SingleByteEncoding>& singleByteEncodings() {
  static const std::vector<SingleByteEncoding> list = {
      {"ibm866", "ibm-866_P100-1995", {}},
      {"iso-8859-2", "ibm-912_P100-1995", {}},
      {"iso-8859-3", "ibm-913_P100-2000", {}},
      {"iso-8859-4", "ibm-914_P100-1995", {}},
      {"iso-8859-5", "ibm-915_P100-1995", {}},
      {"iso-8859-6", "ibm-1089_P100-1995", {}},
      {"iso-8859-7", "ibm-9005_X110-2007", {}},
      {"iso-8859-8", "ibm-5012_P100-1999", {}},
      {"iso-8859-8-i", "ibm-5012_P100-1999", {}},
      {"iso-8859-10", "iso-8859_10-1998", {}},
      {"iso-8859-13", "ibm-921_P100-1995", {}},
      {"iso-8859-14", "iso-8859_14-1998", {}},
      {"iso-8859-15", "ibm-923_P100-1998", {}},
      {"iso-8859-16", nullptr, {}},
      {"koi8-r", "ibm-878_P100-1996", {}},
      {"koi8-u", "ibm-1168_P100-2002", {{0xAE, 0x045E}, {0xBE, 0x040E}}},
      {"macintosh", "macos-0_2-10.2", {}},
      {"windows-874",
       "windows-874-2000",
       {{0xDB, kReplacement},
        {0xDC, kReplacement},
        {0xDD, kReplacement},
        {0xDE, kReplacement},
        {0xFC, kReplacement},
        {0xFD, kReplacement},
        {0xFE, kReplacement},
        {0xFF, kReplacement}}},
      {"windows-1250", "ibm-5346_P100-1998", {}},
      {"windows-1251", "ibm-5347_P100-1998", {}},
      {"windows-1252", "ibm-5348_P100-1997", {}},
      {"windows-1253", "ibm-5349_P100-1998", {{0xAA, kReplacement}}},
      {"windows-1254", "ibm-5350_P100-1998", {}},
      {"windows-1255", "ibm-9447_P100-2002", {{0xCA, 0x05BA}}},
      {"windows-1256", "ibm-9448_X100-2005", {}},
      {"windows-1257", "ibm-9449_P100-2002", {}},
      {"windows-1258", "ibm-5354_P100-1998", {}},
      {"x-mac-cyrillic", "macos-7_3-10.2", {}},
      {"x-user-defined", nullptr, {}},
  };
  return list;
}

// ISO-8859-16's bytes 0xA0..0xFF (the WHATWG index; 0x80..0x9F are the C1 controls).
constexpr std::array<char16_t, 96> kIso8859_16High = {
    0x00A0, 0x0104, 0x0105, 0x0141, 0x20AC, 0x201E, 0x0160, 0x00A7, 0x0161, 0x00A9, 0x0218, 0x00AB,
    0x0179, 0x00AD, 0x017A, 0x017B, 0x00B0, 0x00B1, 0x010C, 0x0142, 0x017D, 0x201D, 0x00B6, 0x00B7,
    0x017E, 0x010D, 0x0219, 0x00BB, 0x0152, 0x0153, 0x0178, 0x017C, 0x00C0, 0x00C1, 0x00C2, 0x0102,
    0x00C4, 0x0106, 0x00C6, 0x00C7, 0x00C8, 0x00C9, 0x00CA, 0x00CB, 0x00CC, 0x00CD, 0x00CE, 0x00CF,
    0x0110, 0x0143, 0x00D2, 0x00D3, 0x00D4, 0x0150, 0x00D6, 0x015A, 0x0170, 0x00D9, 0x00DA, 0x00DB,
    0x00DC, 0x0118, 0x021A, 0x00DF, 0x00E0, 0x00E1, 0x00E2, 0x0103, 0x00E4, 0x0107, 0x00E6, 0x00E7,
    0x00E8, 0x00E9, 0x00EA, 0x00EB, 0x00EC, 0x00ED, 0x00EE, 0x00EF, 0x0111, 0x0144, 0x00F2, 0x00F3,
    0x00F4, 0x0151, 0x00F6, 0x015B, 0x0171, 0x00F9, 0x00FA, 0x00FB, 0x00FC, 0x0119, 0x021B, 0x00FF,
};

// Each byte ≥ 0x80 decoded on its own by ICU's converter; a byte ICU cannot map is an error.
// Returns false when ICU lacks the converter.
bool tableFromIcu(const char* icuName, ByteTable* table) {
  UErrorCode err = U_ZERO_ERROR;
  UConverter* conv = ucnv_open(icuName, &err);
  if (U_FAILURE(err)) return false;
  ucnv_setToUCallBack(conv, UCNV_TO_U_CALLBACK_STOP, nullptr, nullptr, nullptr, &err);
  for (int b = 0x80; b < 0x100; b++) {
    const char in = static_cast<char>(b);
    const char* source = &in;
    UChar out[4];
    UChar* target = out;
    err = U_ZERO_ERROR;
    ucnv_reset(conv);
    ucnv_toUnicode(conv, &target, out + 4, &source, &in + 1, nullptr, true, &err);
    (*table)[b] = U_SUCCESS(err) && target - out == 1 ? out[0] : kReplacement;
  }
  ucnv_close(conv);
  return true;
}

struct BuiltTable {
  const char* name;
  bool ok;
  ByteTable table;
};

// Every single-byte table, built once per process (shards share them read-only).
const std::vector<BuiltTable>& builtTables() {
  static const std::vector<BuiltTable> tables = [] {
    std::vector<BuiltTable> out;
    for (const SingleByteEncoding& e : singleByteEncodings()) {
      BuiltTable t{e.name, true, {}};
      for (int b = 0; b < 0x80; b++) t.table[b] = static_cast<char16_t>(b);
      std::string_view name = e.name;
      if (name == "iso-8859-16") {
        for (int b = 0x80; b < 0xA0; b++) t.table[b] = static_cast<char16_t>(b);
        for (int b = 0xA0; b < 0x100; b++) t.table[b] = kIso8859_16High[b - 0xA0];
      } else if (name == "x-user-defined") {
        for (int b = 0x80; b < 0x100; b++) t.table[b] = static_cast<char16_t>(0xF780 + b - 0x80);
      } else {
        t.ok = tableFromIcu(e.icu, &t.table);
      }
      for (const Patch& p : e.patches) t.table[p.byte] = p.to;
      out.push_back(t);
    }
    return out;
  }();
  return tables;
}

const ByteTable* singleByteTable(std::string_view name) {
  for (const BuiltTable& t : builtTables()) {
    if (name == t.name) return t.ok ? &t.table : nullptr;
  }
  return nullptr;
}

// ---- multi-byte and UTF-16: ICU converters ----------------------------------------------------

struct ConverterEncoding {
  const char* name;
  const char* icu;
};

// The closest converter in ICU 72's data to each WHATWG decoder (see docs/compatibility.md for
// where they still differ: mostly which invalid sequences become U+FFFD).
constexpr std::array<ConverterEncoding, 9> kConverterEncodings = {{
    {"gbk", "gb18030"},
    {"gb18030", "gb18030"},
    {"big5", "ibm-1375_P100-2008"},
    {"euc-jp", "euc-jp-2007"},
    {"iso-2022-jp", "ISO_2022,locale=ja,version=0"},
    {"shift_jis", "ibm-943_P15A-2003"},
    {"euc-kr", "windows-949-2000"},
    {"utf-16be", "UTF-16BE"},
    {"utf-16le", "UTF-16LE"},
}};

// Writes U+FFFD for an illegal, unassigned or truncated sequence, whatever the converter's own
// substitution character is.
void replaceCallback(const void*, UConverterToUnicodeArgs* args, const char*, int32_t,
                     UConverterCallbackReason reason, UErrorCode* err) {
  if (reason > UCNV_IRREGULAR) return;  // reset, close, clone: nothing to write
  *err = U_ZERO_ERROR;
  const UChar replacement = kReplacement;
  ucnv_cbToUWriteUChars(args, &replacement, 1, 0, err);
}

struct Decoder {
  unsigned char window = 0;
  static constexpr std::uint64_t kMagic = 0x7465787464656330ULL;  // "textdec0"
  std::uint64_t magic = kMagic;
  std::string name;
  bool fatal = false;
  const ByteTable* table = nullptr;  // single-byte encodings
  UConverter* converter = nullptr;   // the others

  Decoder() = default;
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;
  ~Decoder() {
    if (converter != nullptr) ucnv_close(converter);
    magic = 0;
  }
};

std::unique_ptr<Decoder> openDecoder(std::string_view name, bool fatal) {
  auto decoder = std::make_unique<Decoder>();
  decoder->name = std::string(name);
  decoder->fatal = fatal;
  if (const ByteTable* table = singleByteTable(name)) {
    decoder->table = table;
    return decoder;
  }
  for (const ConverterEncoding& e : kConverterEncodings) {
    if (name != e.name) continue;
    UErrorCode err = U_ZERO_ERROR;
    decoder->converter = ucnv_open(e.icu, &err);
    if (U_FAILURE(err)) return nullptr;
    if (fatal) {
      ucnv_setToUCallBack(decoder->converter, UCNV_TO_U_CALLBACK_STOP, nullptr, nullptr, nullptr,
                          &err);
    } else {
      ucnv_setToUCallBack(decoder->converter, replaceCallback, nullptr, nullptr, nullptr, &err);
    }
    if (U_FAILURE(err)) return nullptr;
    return decoder;
  }
  return nullptr;
}

// Decodes `bytes` into `out`; false on a fatal error (the decoder is then reset).
bool decodeBytes(Decoder* d, std::string_view bytes, bool flush, std::u16string* out) {
  if (d->table != nullptr) {
    out->resize(bytes.size());
    for (std::size_t i = 0; i < bytes.size(); i++) {
      char16_t unit = (*d->table)[static_cast<unsigned char>(bytes[i])];
      if (unit == kReplacement && d->fatal) return false;
      (*out)[i] = unit;
    }
    return true;
  }
  const char* source = bytes.data();
  const char* sourceEnd = source + bytes.size();
  out->resize(bytes.size() + 16);
  std::size_t written = 0;
  for (;;) {
    UChar* begin = reinterpret_cast<UChar*>(out->data());
    UChar* target = begin + written;
    UErrorCode err = U_ZERO_ERROR;
    ucnv_toUnicode(d->converter, &target, begin + out->size(), &source, sourceEnd, nullptr, flush,
                   &err);
    written = static_cast<std::size_t>(target - begin);
    if (err == U_BUFFER_OVERFLOW_ERROR) {
      out->resize(out->size() * 2);
      continue;
    }
    if (U_FAILURE(err)) {
      ucnv_resetToUnicode(d->converter);
      return false;
    }
    break;
  }
  out->resize(written);
  if (flush) ucnv_resetToUnicode(d->converter);
  return true;
}

// ---- the natives ------------------------------------------------------------------------------

// Stops C++ exceptions (allocation failure on a huge input) at the V8 boundary.
template <void (*F)(const FunctionCallbackInfo<Value>&)>
void guarded(const FunctionCallbackInfo<Value>& info) {
  try {
    F(info);
  } catch (const std::exception& e) {
    throwRange(info.GetIsolate(), e.what());
  }
}

void nTextDecoderOpen(const FunctionCallbackInfo<Value>& info) {
  Isolate* iso = info.GetIsolate();
  if (!info[0]->IsString()) return throwType(iso, "textDecoderOpen: the name must be a string");
  std::string name = js::toUtf8(iso, info[0]);
  std::unique_ptr<Decoder> decoder = openDecoder(name, info[1]->IsTrue());
  if (!decoder) return throwRange(iso, "The \"" + name + "\" encoding is not supported");
  info.GetReturnValue().Set(js::wrapHandle(iso, std::move(decoder), kDecoderBrand));
}

void nTextDecoderDecode(const FunctionCallbackInfo<Value>& info) {
  Isolate* iso = info.GetIsolate();
  Decoder* d = js::unwrapHandle<Decoder>(iso, info[0], kDecoderBrand);
  if (d == nullptr) return throwType(iso, "textDecoderDecode: not a decoder handle");
  std::string_view bytes;
  if (!info[1]->IsUndefined() && !js::bufferBytes(info[1], &bytes)) {
    return throwType(iso, "decode() needs a BufferSource");
  }
  std::u16string text;
  if (!decodeBytes(d, bytes, info[2]->IsTrue(), &text)) {
    return throwType(iso, "The encoded data was not valid for encoding " + d->name);
  }
  Local<v8::String> s;
  if (!v8::String::NewFromTwoByte(iso, reinterpret_cast<const std::uint16_t*>(text.data()),
                                  v8::NewStringType::kNormal, static_cast<int>(text.size()))
           .ToLocal(&s)) {
    return throwRange(iso, "decode(): the text is too long for a string");
  }
  info.GetReturnValue().Set(s);
}

// UTS #46 with the URL Standard's flags for beStrict false: CheckBidi, CheckJoiners,
// nontransitional; UseSTD3ASCIIRules off (the URL parser checks forbidden code points itself).
// ICU always checks hyphens and DNS lengths, so those errors are ignored (CheckHyphens and
// VerifyDnsLength are false).
const UIDNA* uts46() {
  static const UIDNA* idna = [] {
    UErrorCode err = U_ZERO_ERROR;
    UIDNA* p = uidna_openUTS46(UIDNA_CHECK_BIDI | UIDNA_CHECK_CONTEXTJ |
                                   UIDNA_NONTRANSITIONAL_TO_ASCII |
                                   UIDNA_NONTRANSITIONAL_TO_UNICODE,
                               &err);
    return U_SUCCESS(err) ? p : nullptr;
  }();
  return idna;
}

constexpr std::uint32_t kIgnoredIdnaErrors =
    UIDNA_ERROR_EMPTY_LABEL | UIDNA_ERROR_LABEL_TOO_LONG | UIDNA_ERROR_DOMAIN_NAME_TOO_LONG |
    UIDNA_ERROR_LEADING_HYPHEN | UIDNA_ERROR_TRAILING_HYPHEN | UIDNA_ERROR_HYPHEN_3_4;

void nDomainToASCII(const FunctionCallbackInfo<Value>& info) {
  Isolate* iso = info.GetIsolate();
  if (!info[0]->IsString()) return throwType(iso, "domainToASCII: the domain must be a string");
  const UIDNA* idna = uts46();
  if (idna == nullptr) return throwType(iso, "domainToASCII: ICU's UTS #46 data is missing");
  Local<v8::String> domain = info[0].As<v8::String>();
  std::u16string input(static_cast<std::size_t>(domain->Length()), u'\0');
  domain->Write(iso, reinterpret_cast<std::uint16_t*>(input.data()), 0, domain->Length(),
                v8::String::NO_NULL_TERMINATION);
  std::u16string output(input.size() * 4 + 64, u'\0');
  for (int attempt = 0; attempt < 2; attempt++) {
    UErrorCode err = U_ZERO_ERROR;
    UIDNAInfo result = UIDNA_INFO_INITIALIZER;
    int32_t length = uidna_nameToASCII(
        idna, reinterpret_cast<const UChar*>(input.data()), static_cast<int32_t>(input.size()),
        reinterpret_cast<UChar*>(output.data()), static_cast<int32_t>(output.size()), &result,
        &err);
    if (err == U_BUFFER_OVERFLOW_ERROR && attempt == 0) {
      output.assign(static_cast<std::size_t>(length), u'\0');
      continue;
    }
    if (U_FAILURE(err) || (result.errors & ~kIgnoredIdnaErrors) != 0 || length == 0) {
      info.GetReturnValue().SetNull();
      return;
    }
    Local<v8::String> s;
    if (v8::String::NewFromTwoByte(iso, reinterpret_cast<const std::uint16_t*>(output.data()),
                                   v8::NewStringType::kNormal, length)
            .ToLocal(&s)) {
      info.GetReturnValue().Set(s);
    }
    return;
  }
  info.GetReturnValue().SetNull();
}

}  // namespace

bool installWebNatives(Isolate* iso, Local<v8::Context> ctx, Local<v8::Object> native) {
  return js::addFunctions(ctx, native,
                         {
                             {"textDecoderOpen", guarded<nTextDecoderOpen>},
                             {"textDecoderDecode", guarded<nTextDecoderDecode>},
                             {"domainToASCII", guarded<nDomainToASCII>},
                         });
}

}  // namespace partyd::api
