// Certificates for tests: what generateSelfSigned never makes (chosen names,
// validity, signature hash).

import forge from "node-forge";
import { newRsaKey } from "../../src/net/certs.js";

export type SignatureDigest = "md5" | "sha1" | "sha256" | "sha384" | "sha512";

/** A certificate signed by its own key, with chosen names and validity (for cases generateSelfSigned never makes). */
export async function makeCert(
  cn: string,
  dns: string[],
  notBefore: Date,
  notAfter: Date,
  digest: SignatureDigest = "sha256",
): Promise<{ cert: string; key: string }> {
  const { pem: privateKey, key } = await newRsaKey();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  cert.serialNumber = "01";
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = notAfter;
  cert.setSubject([{ name: "commonName", value: cn }]);
  cert.setIssuer([{ name: "commonName", value: cn }]);
  if (dns.length) {
    cert.setExtensions([
      { name: "subjectAltName", altNames: dns.map((value) => ({ type: 2, value })) },
    ]);
  }
  cert.sign(key, forge.md[digest].create());
  return { cert: forge.pki.certificateToPem(cert), key: privateKey };
}
