// request.cf: what Cloudflare's edge knows about the client. `partykit dev` (miniflare, with
// --disable-request-cf-fetch) gives every request the same placeholder, a visitor from Austin,
// Texas; partyd gives the same by default, so that code reading request.cf.country runs the same
// way. With `--geoip FILE` the C++ side looks the client address up and passes the fields it
// found, which replace the placeholder's (geoCf).
function freeze(o) {
  for (const v of Object.values(o)) if (v && typeof v === "object") freeze(v);
  return Object.freeze(o);
}

const certFields = ["certIssuerDNRFC2253", "certSubjectDNRFC2253", "certIssuerDNLegacy",
  "certSubjectDNLegacy", "certSerial", "certIssuerSerial", "certSKI", "certIssuerSKI",
  "certFingerprintSHA1", "certFingerprintSHA256", "certNotBefore", "certNotAfter"];

function placeholder() {
  const tlsClientAuth = { certPresented: "0", certVerified: "NONE", certRevoked: "0",
                          certIssuerDN: "", certSubjectDN: "" };
  for (const f of certFields) tlsClientAuth[f] = "";
  return {
    asOrganization: "", asn: 395747, colo: "DFW", city: "Austin", region: "Texas",
    regionCode: "TX", metroCode: "635", postalCode: "78701", country: "US", continent: "NA",
    timezone: "America/Chicago", latitude: "30.27130", longitude: "-97.74260", clientTcpRtt: 0,
    httpProtocol: "HTTP/1.1", requestPriority: "weight=192;exclusive=0",
    tlsCipher: "AEAD-AES128-GCM-SHA256", tlsVersion: "TLSv1.3", tlsClientAuth,
    edgeRequestKeepAliveStatus: 0, hostMetadata: undefined, clientTrustScore: 99,
    botManagement: { corporateProxy: false, verifiedBot: false,
                     ja3Hash: "25b4882c2bcb50cd6b469ff28c596742", staticResource: false,
                     detectionIds: [], score: 99 },
  };
}

// One frozen object shared by every request: no cost per request.
export const DEFAULT_CF = freeze(placeholder());

// `geo` is a JSON string of the fields the geoip database had for the client ("" for none, or
// without --geoip: the shared placeholder). A null field is one the database's record lacks: left
// out, as Cloudflare leaves out what it cannot determine (every geographic field is optional in
// its IncomingRequestCfProperties). A group the database knew nothing of keeps the placeholder's
// values (net/geoip.h).
export function requestCf(geo) {
  if (!geo) return DEFAULT_CF;
  const cf = placeholder();
  for (const [k, v] of Object.entries(JSON.parse(geo))) {
    if (v === null) delete cf[k];
    else cf[k] = v;
  }
  return freeze(cf);
}
