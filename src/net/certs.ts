// Certificates per hosted domain: find them (explicit paths, then the usual
// layouts in tls.cert_dir), check them, make a self-signed one when allowed,
// and build the SNI contexts the TLS listeners use.

import { createPrivateKey, generateKeyPair, X509Certificate } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { chmod, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { createSecureContext } from "node:tls";
import type { SecureContext } from "node:tls";
import { domainToASCII } from "node:url";
import { promisify } from "node:util";
import forge from "node-forge";
import type { Config } from "../config/types.js";

export interface DomainCertificate {
  domain: string;
  certPath: string;
  keyPath: string;
  /** Every CERTIFICATE block of the file: the leaf first, then the chain. */
  certPem: string;
  /** The private key block only. */
  keyPem: string;
  notAfter: Date;
  selfSigned: boolean;
}

/** One clear line naming the file and what is wrong. */
export class CertificateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CertificateError";
  }
}

const generateKeyPairAsync = promisify(generateKeyPair);
const DAY = 24 * 60 * 60 * 1000;
const EXPIRY_WARNING_DAYS = 14;

/** The name used in file names and certificates; refuses anything that could escape a directory. */
function checkedDomain(domain: string): string {
  const d = domain.toLowerCase();
  if (!d || d === "." || d.includes("..") || /[/\\\0\s]/.test(d) || d.startsWith(".")) {
    throw new CertificateError(`${JSON.stringify(domain)} is not a domain name`);
  }
  return d;
}

/** The ASCII (A-label) form for certificates and host checks. */
function asciiDomain(domain: string): string {
  return domainToASCII(domain) || domain;
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------
// Generation

/** A fresh RSA-2048 key: its PKCS#8 PEM, and the same key as node-forge signs with. */
export async function newRsaKey(): Promise<{ pem: string; key: forge.pki.rsa.PrivateKey }> {
  const { privateKey } = await generateKeyPairAsync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
  return { pem: privateKey, key: forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey };
}

/**
 * Writes a self-signed certificate (RSA 2048, one year) for `domain` as
 * <dir>/<domain>.crt (0644) and <dir>/<domain>.key (0600). Refuses to replace
 * existing files unless `force` is set.
 */
export async function generateSelfSigned(
  domain: string,
  dir: string,
  opts: { force?: boolean } = {},
): Promise<{ certPath: string; keyPath: string }> {
  const d = checkedDomain(domain);
  const base = resolve(dir);
  const certPath = join(base, `${d}.crt`);
  const keyPath = join(base, `${d}.key`);
  if (!opts.force) {
    for (const p of [certPath, keyPath]) {
      if (await isFile(p)) throw new CertificateError(`${p}: already exists; not overwriting it`);
    }
  }

  const { pem: privateKey, key } = await newRsaKey();

  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  const serial = forge.random.getBytesSync(16);
  cert.serialNumber = forge.util.bytesToHex(
    String.fromCharCode((serial.charCodeAt(0) & 0x7f) | 0x01) + serial.slice(1),
  );
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 5 * 60 * 1000);
  cert.validity.notAfter = new Date(now + 365 * DAY);
  const name = asciiDomain(d);
  const attrs = [
    { name: "commonName", value: name },
    { name: "organizationName", value: "Parley self-signed" },
  ];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  const altNames: Array<{ type: number; value?: string; ip?: string }> = [
    { type: 2, value: name },
    { type: 2, value: `*.${name}` },
  ];
  if (d === "localhost") altNames.push({ type: 7, ip: "127.0.0.1" }, { type: 7, ip: "::1" });
  cert.setExtensions([
    { name: "basicConstraints", cA: false },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
    { name: "extKeyUsage", serverAuth: true, clientAuth: true },
    { name: "subjectAltName", altNames },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(key, forge.md.sha256.create());
  const certPem = forge.pki.certificateToPem(cert);

  await mkdir(base, { recursive: true });
  const flag = opts.force ? "w" : "wx";
  try {
    await writeFile(keyPath, privateKey, { mode: 0o600, flag });
    await chmod(keyPath, 0o600);
    await writeFile(certPath, certPem, { mode: 0o644, flag });
    await chmod(certPath, 0o644);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new CertificateError(`${err.path ?? base}: cannot write: ${err.code ?? err.message}`);
  }
  return { certPath, keyPath };
}

// ---------------------------------------------------------------------------
// Loading and checking

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const KEY_BLOCK = /-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----[\s\S]+?-----END \1-----/;

async function readPem(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT"
        ? "file not found"
        : code === "EACCES" || code === "EPERM"
          ? "permission denied"
          : code === "EISDIR"
            ? "is a directory"
            : (e as Error).message;
    throw new CertificateError(`${file}: cannot read ${what}: ${why}`);
  }
}

/** Loads and checks one certificate and key; problems that still allow serving go to `warnings`. */
async function loadPair(
  domain: string,
  certPath: string,
  keyPath: string,
  warnings: string[],
): Promise<DomainCertificate> {
  const certText = await readPem(certPath, "certificate");
  const keyText = certPath === keyPath ? certText : await readPem(keyPath, "private key");

  const blocks = certText.match(CERT_BLOCK);
  if (!blocks)
    throw new CertificateError(`${certPath}: not a PEM certificate (no CERTIFICATE block)`);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(blocks[0]);
  } catch (e) {
    throw new CertificateError(
      `${certPath}: cannot parse the certificate: ${(e as Error).message}`,
    );
  }

  const keyMatch = KEY_BLOCK.exec(keyText);
  if (!keyMatch)
    throw new CertificateError(`${keyPath}: not a PEM private key (no PRIVATE KEY block)`);
  if (keyMatch[1].startsWith("ENCRYPTED")) {
    throw new CertificateError(
      `${keyPath}: the private key is encrypted; Parley needs it unencrypted`,
    );
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyMatch[0]);
  } catch (e) {
    throw new CertificateError(`${keyPath}: cannot parse the private key: ${(e as Error).message}`);
  }
  if (!x509.checkPrivateKey(key)) {
    throw new CertificateError(
      `${keyPath}: the private key does not match the certificate ${certPath}`,
    );
  }

  const now = Date.now();
  const notBefore = new Date(x509.validFrom);
  const notAfter = new Date(x509.validTo);
  if (notAfter.getTime() < now) {
    warnings.push(
      `${certPath}: the certificate for ${domain} expired on ${notAfter.toISOString()}`,
    );
  } else if (notBefore.getTime() > now) {
    warnings.push(
      `${certPath}: the certificate for ${domain} is not valid before ${notBefore.toISOString()}`,
    );
  } else if (notAfter.getTime() - now < EXPIRY_WARNING_DAYS * DAY) {
    warnings.push(
      `${certPath}: the certificate for ${domain} expires on ${notAfter.toISOString()}`,
    );
  }
  if (x509.checkHost(asciiDomain(domain)) === undefined) {
    const names = x509.subjectAltName ?? x509.subject.replace(/\n/g, ", ");
    warnings.push(`${certPath}: the certificate does not cover ${domain} (it names ${names})`);
  }

  let selfSigned = false;
  try {
    // checkIssued would also demand keyCertSign, which a leaf certificate need not have.
    selfSigned = x509.issuer === x509.subject && x509.verify(x509.publicKey);
  } catch {
    // an unusual key type: treat as not self-signed
  }
  return {
    domain,
    certPath,
    keyPath,
    certPem: blocks.join("\n") + "\n",
    keyPem: keyMatch[0] + "\n",
    notAfter,
    selfSigned,
  };
}

/** The layouts scanned in cert_dir, in order: certificate file and key file. */
function layouts(d: string): Array<[string, string]> {
  return [
    [`${d}.crt`, `${d}.key`],
    [`${d}.pem`, `${d}.pem`],
    [join(d, "fullchain.pem"), join(d, "privkey.pem")],
    [join("live", d, "fullchain.pem"), join("live", d, "privkey.pem")],
  ];
}

async function scan(dir: string, d: string): Promise<[string, string] | undefined> {
  for (const [c, k] of layouts(d)) {
    const certPath = join(dir, c);
    const keyPath = join(dir, k);
    const [hasCert, hasKey] = await Promise.all([isFile(certPath), isFile(keyPath)]);
    if (hasCert && hasKey) return [certPath, keyPath];
    if (hasCert)
      throw new CertificateError(
        `${keyPath}: file not found (the certificate ${certPath} needs it)`,
      );
    if (hasKey)
      throw new CertificateError(`${certPath}: file not found (the key ${keyPath} needs it)`);
  }
  return undefined;
}

/**
 * Finds, loads and checks a certificate for every hosted domain. With
 * `generate: false` (config check), a certificate that would be generated is
 * only reported in `warnings`, and that domain is left out of the map.
 */
export async function loadCertificates(
  config: Config,
  opts: { generate?: boolean } = {},
): Promise<{ certificates: Map<string, DomainCertificate>; warnings: string[] }> {
  const certificates = new Map<string, DomainCertificate>();
  const warnings: string[] = [];
  const dir = resolve(config.tls.cert_dir);
  for (const domain of config.server.domains) {
    const d = checkedDomain(domain);
    const explicit = config.tls.certificates[d];
    let pair: [string, string] | undefined = explicit
      ? [resolve(explicit.cert), resolve(explicit.key)]
      : await scan(dir, d);
    if (!pair) {
      if (!config.tls.generate_self_signed) {
        throw new CertificateError(
          `no certificate for ${d}: set [tls.certificates."${d}"] or put ${d}.crt and ${d}.key in ${dir}`,
        );
      }
      if (opts.generate === false) {
        warnings.push(
          `no certificate for ${d}: a self-signed one would be generated at start in ${dir}`,
        );
        continue;
      }
      const made = await generateSelfSigned(d, dir);
      pair = [made.certPath, made.keyPath];
      warnings.push(
        `no certificate for ${d}: generated a self-signed one at ${made.certPath} (clients will not trust it)`,
      );
    }
    certificates.set(d, await loadPair(d, pair[0], pair[1], warnings));
  }
  return { certificates, warnings };
}

// ---------------------------------------------------------------------------
// SNI

/** The secure contexts the listeners serve, one per hosted domain. */
export interface TlsContexts {
  /** PEMs for clients that send no SNI on direct TLS (tls.Server ignores a secureContext option). */
  defaultPems: { cert: string; key: string };
  /** The context for a server name: the stream's 'to' on STARTTLS, or the SNI. */
  contextFor(servername: string): SecureContext;
  sniCallback: (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void;
}

/**
 * One secure context per domain (TLS 1.2 at least). A name gets its domain's
 * context; a name that is not a hosted domain but is covered by one of the
 * certificates (a wildcard, e.g. a MUC subdomain) gets that certificate's;
 * anything else, or no SNI, the fallback domain's (the default domain).
 */
export function tlsContexts(certs: Map<string, DomainCertificate>, fallbackDomain: string): TlsContexts {
  const entries = [...certs.values()].map((c) => ({
    domain: c.domain.toLowerCase(),
    pems: { cert: c.certPem, key: c.keyPem },
    x509: new X509Certificate(c.certPem),
    context: createSecureContext({ cert: c.certPem, key: c.keyPem, minVersion: "TLSv1.2" }),
  }));
  const fallback = entries.find((e) => e.domain === fallbackDomain.toLowerCase()) ?? entries[0];
  if (!fallback) throw new CertificateError("no certificates to serve TLS with");
  const byDomain = new Map(entries.map((e) => [e.domain, e.context]));
  const contextFor = (servername: string): SecureContext => {
    const name = servername.toLowerCase().replace(/\.$/, "");
    const exact = byDomain.get(name);
    if (exact) return exact;
    const ascii = asciiDomain(name);
    return (entries.find((e) => e.x509.checkHost(ascii) !== undefined) ?? fallback).context;
  };
  return {
    defaultPems: fallback.pems,
    contextFor,
    sniCallback: (name, cb) => cb(null, contextFor(name)),
  };
}
