// Bundled by src/api/crypto_natives_test.cc with esbuild (jose's browser build) and run in a bare
// V8 isolate whose crypto.subtle is partyd's: HS256, ES256 and RS256 JWTs signed and verified
// there, tokens made by Node's jose verified there, and tampered tokens rejected.
import {
  SignJWT, exportJWK, generateKeyPair, importJWK, importPKCS8, importSPKI, jwtVerify,
} from "jose";

const pem = (b64, label) =>
  `-----BEGIN ${label}-----\n${b64.match(/.{1,64}/g).join("\n")}\n-----END ${label}-----\n`;

async function roundTrip(alg, signKey, verifyKey) {
  const token = await new SignJWT({ room: "lobby", alg })
    .setProtectedHeader({ alg })
    .setIssuedAt()
    .setExpirationTime("2h")
    .sign(signKey);
  const { payload, protectedHeader } = await jwtVerify(token, verifyKey);
  return `${protectedHeader.alg}:${payload.room}`;
}

async function rejects(token, key) {
  try {
    await jwtVerify(token, key);
    return "accepted";
  } catch (e) {
    return e.code;
  }
}

function tamper(token) {
  const [h, p, s] = token.split(".");
  return [h, p, (s[0] === "A" ? "B" : "A") + s.slice(1)].join(".");
}

globalThis.runJose = async (fx) => {
  const out = [];
  const secret = new TextEncoder().encode("a-string-secret-at-least-256-bits-long");
  out.push(await roundTrip("HS256", secret, secret));
  out.push((await jwtVerify(fx.jwtHs256, secret)).payload.room);
  out.push(await rejects(tamper(fx.jwtHs256), secret));

  const ecPriv = await importPKCS8(pem(fx.ecPkcs8, "PRIVATE KEY"), "ES256");
  const ecPub = await importSPKI(pem(fx.ecSpki, "PUBLIC KEY"), "ES256");
  out.push(await roundTrip("ES256", ecPriv, ecPub));
  out.push((await jwtVerify(fx.jwtEs256, ecPub)).payload.room);
  out.push(await rejects(tamper(fx.jwtEs256), ecPub));
  const { publicKey, privateKey } = await generateKeyPair("ES256");
  const jwk = await exportJWK(publicKey);
  out.push(await roundTrip("ES256", privateKey, await importJWK(jwk, "ES256")));

  const { d, p, q, dp, dq, qi, ...rsaPublic } = fx.rsaJwk;
  const rsPriv = await importJWK(fx.rsaJwk, "RS256");
  const rsPub = await importJWK(rsaPublic, "RS256");
  out.push(await roundTrip("RS256", rsPriv, rsPub));
  out.push((await jwtVerify(fx.jwtRs256, rsPub)).payload.room);
  out.push(await rejects(tamper(fx.jwtRs256), rsPub));
  return out.join(" ");
};
