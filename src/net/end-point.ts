// tls-server-end-point channel binding data (RFC 5929 4.1): the hash of the
// server's certificate, with the hash function of the certificate's own
// signature algorithm, except that MD5 and SHA-1 are replaced by SHA-256.
// A certificate signed with SHA-384 (common for ECDSA P-384 and some CAs)
// binds with SHA-384: hashing it with SHA-256 made every -PLUS login with
// tls-server-end-point fail against such a certificate.

import { createHash } from "node:crypto";
import forge from "node-forge";

/** Signature algorithm OIDs, and the hash RFC 5929 4.1 binds with for each. */
const HASH_OF_SIGNATURE: Readonly<Record<string, string>> = {
  "1.2.840.113549.1.1.4": "sha256", // md5WithRSAEncryption
  "1.2.840.113549.1.1.5": "sha256", // sha1WithRSAEncryption
  "1.2.840.113549.1.1.14": "sha224", // sha224WithRSAEncryption
  "1.2.840.113549.1.1.11": "sha256", // sha256WithRSAEncryption
  "1.2.840.113549.1.1.12": "sha384", // sha384WithRSAEncryption
  "1.2.840.113549.1.1.13": "sha512", // sha512WithRSAEncryption
  "1.2.840.10045.4.1": "sha256", // ecdsa-with-SHA1
  "1.2.840.10045.4.3.1": "sha224", // ecdsa-with-SHA224
  "1.2.840.10045.4.3.2": "sha256", // ecdsa-with-SHA256
  "1.2.840.10045.4.3.3": "sha384", // ecdsa-with-SHA384
  "1.2.840.10045.4.3.4": "sha512", // ecdsa-with-SHA512
  "1.2.840.10040.4.3": "sha256", // dsa-with-sha1
  "2.16.840.1.101.3.4.3.1": "sha224", // dsa-with-sha224
  "2.16.840.1.101.3.4.3.2": "sha256", // dsa-with-sha256
  "1.2.840.113549.1.1.15": "sha512-224", // sha512-224WithRSAEncryption
  "1.2.840.113549.1.1.16": "sha512-256", // sha512-256WithRSAEncryption
  "2.16.840.1.101.3.4.3.9": "sha3-224", // id-ecdsa-with-sha3-224
  "2.16.840.1.101.3.4.3.10": "sha3-256",
  "2.16.840.1.101.3.4.3.11": "sha3-384",
  "2.16.840.1.101.3.4.3.12": "sha3-512",
  "2.16.840.1.101.3.4.3.13": "sha3-224", // id-rsassa-pkcs1-v1_5-with-sha3-224
  "2.16.840.1.101.3.4.3.14": "sha3-256",
  "2.16.840.1.101.3.4.3.15": "sha3-384",
  "2.16.840.1.101.3.4.3.16": "sha3-512",
};

/** Hash algorithm OIDs (RSASSA-PSS names its hash in its parameters). */
const HASH_OIDS: Readonly<Record<string, string>> = {
  "1.3.14.3.2.26": "sha256", // sha1, replaced
  "2.16.840.1.101.3.4.2.4": "sha224",
  "2.16.840.1.101.3.4.2.1": "sha256",
  "2.16.840.1.101.3.4.2.2": "sha384",
  "2.16.840.1.101.3.4.2.3": "sha512",
  "2.16.840.1.101.3.4.2.5": "sha512-224",
  "2.16.840.1.101.3.4.2.6": "sha512-256",
  "2.16.840.1.101.3.4.2.7": "sha3-224",
  "2.16.840.1.101.3.4.2.8": "sha3-256",
  "2.16.840.1.101.3.4.2.9": "sha3-384",
  "2.16.840.1.101.3.4.2.10": "sha3-512",
};

const RSASSA_PSS = "1.2.840.113549.1.1.10";

type Asn1 = forge.asn1.Asn1;
const children = (node: Asn1 | undefined): Asn1[] => (node && Array.isArray(node.value) ? (node.value as Asn1[]) : []);
const oidOf = (node: Asn1 | undefined): string | null =>
  node && node.tagClass === forge.asn1.Class.UNIVERSAL && node.type === forge.asn1.Type.OID && typeof node.value === "string"
    ? forge.asn1.derToOid(node.value)
    : null;

/**
 * The hash function RFC 5929 4.1 binds a certificate (DER) with, or null where
 * it defines none (EdDSA, unknown algorithms): the binding is then not offered.
 */
export function endPointHashName(der: Buffer): string | null {
  // Any surprise in the DER (forge throws on an OID arc past 53 bits, among others) means no binding.
  try {
    const certificate = forge.asn1.fromDer(forge.util.createBuffer(der.toString("binary")));
    // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm AlgorithmIdentifier, signature }
    const [algorithm, parameters] = children(children(certificate)[1]);
    const oid = oidOf(algorithm);
    if (oid === null) return null;
    if (oid !== RSASSA_PSS) return HASH_OF_SIGNATURE[oid] ?? null;
    // RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] AlgorithmIdentifier DEFAULT sha1, ... }
    const hashField = children(parameters).find((p) => p.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC && p.type === 0);
    if (!hashField) return "sha256"; // the default, SHA-1, is replaced
    return HASH_OIDS[oidOf(children(children(hashField)[0])[0]) ?? ""] ?? null;
  } catch {
    return null;
  }
}

/** The last certificate bound to: on direct TLS the transport knows no context to cache by, and a server has few certificates. */
let last: { der: Buffer; binding: Buffer | null } | null = null;

/** The tls-server-end-point binding data for a certificate (DER), or null when RFC 5929 defines none. */
export function tlsServerEndPoint(der: Buffer): Buffer | null {
  if (last?.der.equals(der)) return last.binding;
  const hash = endPointHashName(der);
  const binding = hash === null ? null : createHash(hash).update(der).digest();
  last = { der: Buffer.from(der), binding };
  return binding;
}
