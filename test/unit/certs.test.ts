import { expect } from "chai";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer as createNetServer } from "node:net";
import { connect, createServer, TLSSocket } from "node:tls";
import { validateConfig } from "../../src/config/index.js";
import type { Config } from "../../src/config/index.js";
import {
  CertificateError,
  tlsContexts,
  generateSelfSigned,
  loadCertificates,
} from "../../src/net/certs.js";
import { makeCert } from "../harness/certs.js";

function configFor(domains: string[], certDir: string, tls: Record<string, unknown> = {}): Config {
  return validateConfig(
    { server: { domains }, tls: { cert_dir: certDir, generate_self_signed: false, ...tls } },
    null,
  );
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a rejection");
}

describe("certificates", () => {
  let tmp: string;
  // One generated pair, reused by the layout tests (RSA generation is the slow part).
  let source: { certPath: string; keyPath: string };

  before(async () => {
    const dir = await mkdtemp(join(tmpdir(), "parley-certs-src-"));
    source = await generateSelfSigned("example.com", dir);
  });
  after(async () => {
    await rm(join(source.certPath, ".."), { recursive: true, force: true });
  });
  beforeEach(async () => {
    tmp = await mkdtemp(join(tmpdir(), "parley-certs-"));
  });
  afterEach(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  describe("generateSelfSigned", () => {
    it("covers its domain and its subdomains, one level deep", async () => {
      const x = new X509Certificate(await readFile(source.certPath));
      expect(x.checkHost("example.com")).to.equal("example.com");
      expect(x.checkHost("conference.example.com")).to.equal("*.example.com");
      expect(x.checkHost("a.b.example.com")).to.equal(undefined);
      expect(x.checkHost("example.org")).to.equal(undefined);
    });

    it("its key matches the certificate; key file 0600, certificate 0644", async () => {
      const x = new X509Certificate(await readFile(source.certPath));
      const { certificates } = await loadCertificates(
        configFor(["example.com"], tmp, {
          certificates: { "example.com": { cert: source.certPath, key: source.keyPath } },
        }),
      );
      expect(x.checkPrivateKey(createPrivateKey(certificates.get("example.com")!.keyPem))).to.equal(
        true,
      );
      expect((await stat(source.keyPath)).mode & 0o777).to.equal(0o600);
      expect((await stat(source.certPath)).mode & 0o777).to.equal(0o644);
      expect(certificates.get("example.com")!.selfSigned).to.equal(true);
    });

    it("is valid for a year, backdated a few minutes", async () => {
      const x = new X509Certificate(await readFile(source.certPath));
      const from = new Date(x.validFrom).getTime();
      const to = new Date(x.validTo).getTime();
      expect(from).to.be.below(Date.now() - 60_000);
      expect(from).to.be.above(Date.now() - 60 * 60_000);
      expect(Math.round((to - Date.now()) / 86_400_000)).to.equal(365);
    });

    it("for localhost also covers 127.0.0.1 and ::1; creates the directory", async () => {
      const dir = join(tmp, "new/certs");
      const { certPath, keyPath } = await generateSelfSigned("localhost", dir);
      expect(certPath).to.equal(join(dir, "localhost.crt"));
      expect(keyPath).to.equal(join(dir, "localhost.key"));
      const x = new X509Certificate(await readFile(certPath));
      expect(x.checkHost("localhost")).to.equal("localhost");
      expect(x.checkIP("127.0.0.1")).to.equal("127.0.0.1");
      expect(x.checkIP("::1")).to.equal("::1");
    });

    it("refuses to overwrite existing files unless forced", async () => {
      await writeFile(join(tmp, "example.org.key"), "old");
      const e = await rejection(generateSelfSigned("example.org", tmp));
      expect(e).to.be.instanceOf(CertificateError);
      expect(e.message).to.equal(
        `${join(tmp, "example.org.key")}: already exists; not overwriting it`,
      );
      expect(await readFile(join(tmp, "example.org.key"), "utf8")).to.equal("old");
      const { keyPath } = await generateSelfSigned("example.org", tmp, { force: true });
      expect(await readFile(keyPath, "utf8")).to.match(/^-----BEGIN PRIVATE KEY-----/);
      expect((await stat(keyPath)).mode & 0o777).to.equal(0o600);
    });

    it("refuses a domain that would escape the directory", async () => {
      const e = await rejection(generateSelfSigned("../evil", tmp));
      expect(e).to.be.instanceOf(CertificateError);
    });
  });

  describe("loadCertificates: where certificates are found", () => {
    const layouts: Array<[string, string, string]> = [
      ["<domain>.crt + <domain>.key", "example.com.crt", "example.com.key"],
      [
        "<domain>/fullchain.pem + privkey.pem",
        "example.com/fullchain.pem",
        "example.com/privkey.pem",
      ],
      [
        "live/<domain>/ (Let's Encrypt)",
        "live/example.com/fullchain.pem",
        "live/example.com/privkey.pem",
      ],
    ];
    for (const [name, cert, key] of layouts) {
      it(`finds ${name} in cert_dir`, async () => {
        await mkdir(join(tmp, cert, ".."), { recursive: true });
        await copyFile(source.certPath, join(tmp, cert));
        await copyFile(source.keyPath, join(tmp, key));
        const { certificates, warnings } = await loadCertificates(configFor(["example.com"], tmp));
        const c = certificates.get("example.com")!;
        expect(c.certPath).to.equal(join(tmp, cert));
        expect(c.keyPath).to.equal(join(tmp, key));
        expect(warnings).to.deep.equal([]);
      });
    }

    it("finds <domain>.pem holding certificate and key in one file", async () => {
      const both =
        (await readFile(source.keyPath, "utf8")) + (await readFile(source.certPath, "utf8"));
      await writeFile(join(tmp, "example.com.pem"), both);
      const { certificates } = await loadCertificates(configFor(["example.com"], tmp));
      const c = certificates.get("example.com")!;
      expect(c.certPath).to.equal(join(tmp, "example.com.pem"));
      expect(c.keyPath).to.equal(join(tmp, "example.com.pem"));
      expect(c.certPem).to.match(/^-----BEGIN CERTIFICATE-----[^]*-----END CERTIFICATE-----\n$/);
      expect(c.keyPem).to.match(/^-----BEGIN PRIVATE KEY-----[^]*-----END PRIVATE KEY-----\n$/);
    });

    it("explicit tls.certificates paths win over cert_dir", async () => {
      await copyFile(source.certPath, join(tmp, "example.com.crt"));
      await copyFile(source.keyPath, join(tmp, "example.com.key"));
      const cfg = configFor(["example.com"], tmp, {
        certificates: { "example.com": { cert: source.certPath, key: source.keyPath } },
      });
      const { certificates } = await loadCertificates(cfg);
      expect(certificates.get("example.com")!.certPath).to.equal(source.certPath);
    });

    it("a certificate without its key is an error naming the missing file", async () => {
      await copyFile(source.certPath, join(tmp, "example.com.crt"));
      const e = await rejection(loadCertificates(configFor(["example.com"], tmp)));
      expect(e).to.be.instanceOf(CertificateError);
      expect(e.message).to.match(new RegExp(`^${join(tmp, "example.com.key")}: file not found`));
    });

    it("generates a self-signed certificate when none is found and generation is on, and says so", async () => {
      const cfg = configFor(["localhost"], tmp, { generate_self_signed: true });
      const { certificates, warnings } = await loadCertificates(cfg);
      expect(certificates.get("localhost")!.certPath).to.equal(join(tmp, "localhost.crt"));
      expect(warnings).to.have.length(1);
      expect(warnings[0]).to.match(
        /^no certificate for localhost: generated a self-signed one at /,
      );
    });

    it("with generate: false, only reports what would be generated", async () => {
      const cfg = configFor(["localhost"], join(tmp, "certs"), { generate_self_signed: true });
      const { certificates, warnings } = await loadCertificates(cfg, { generate: false });
      expect(certificates.size).to.equal(0);
      expect(warnings[0]).to.match(/would be generated at start/);
      const e = await rejection(stat(join(tmp, "certs")));
      expect((e as NodeJS.ErrnoException).code).to.equal("ENOENT");
    });

    it("no certificate and generation off is an error", async () => {
      const e = await rejection(loadCertificates(configFor(["example.net"], tmp)));
      expect(e).to.be.instanceOf(CertificateError);
      expect(e.message).to.match(/^no certificate for example.net: /);
    });
  });

  describe("loadCertificates: checks", () => {
    it("a key that does not match the certificate is an error", async () => {
      const other = await makeCert(
        "example.com",
        ["example.com"],
        new Date(Date.now() - 60_000),
        new Date(Date.now() + 86_400_000 * 30),
      );
      await copyFile(source.certPath, join(tmp, "example.com.crt"));
      await writeFile(join(tmp, "example.com.key"), other.key);
      const e = await rejection(loadCertificates(configFor(["example.com"], tmp)));
      expect(e).to.be.instanceOf(CertificateError);
      expect(e.message).to.equal(
        `${join(tmp, "example.com.key")}: the private key does not match the certificate ${join(tmp, "example.com.crt")}`,
      );
    });

    it("a file that is not PEM is an error naming it", async () => {
      await writeFile(join(tmp, "example.com.crt"), "hello");
      await copyFile(source.keyPath, join(tmp, "example.com.key"));
      const e = await rejection(loadCertificates(configFor(["example.com"], tmp)));
      expect(e).to.be.instanceOf(CertificateError);
      expect(e.message).to.equal(
        `${join(tmp, "example.com.crt")}: not a PEM certificate (no CERTIFICATE block)`,
      );
    });

    it("a missing explicit file is an error naming it", async () => {
      const cfg = configFor(["example.com"], tmp, {
        certificates: { "example.com": { cert: join(tmp, "nope.crt"), key: source.keyPath } },
      });
      const e = await rejection(loadCertificates(cfg));
      expect(e.message).to.equal(
        `${join(tmp, "nope.crt")}: cannot read certificate: file not found`,
      );
    });

    it("an expired certificate is a warning, not an error", async () => {
      const old = await makeCert(
        "example.com",
        ["example.com"],
        new Date("2020-01-01"),
        new Date("2021-01-01"),
      );
      await writeFile(join(tmp, "example.com.crt"), old.cert);
      await writeFile(join(tmp, "example.com.key"), old.key);
      const { certificates, warnings } = await loadCertificates(configFor(["example.com"], tmp));
      expect(certificates.has("example.com")).to.equal(true);
      expect(warnings).to.deep.equal([
        `${join(tmp, "example.com.crt")}: the certificate for example.com expired on 2021-01-01T00:00:00.000Z`,
      ]);
    });

    it("a certificate that does not cover the domain is a warning; CN counts only without SAN", async () => {
      const wrong = await makeCert(
        "example.com",
        ["other.example"],
        new Date(Date.now() - 60_000),
        new Date(Date.now() + 86_400_000 * 30),
      );
      await writeFile(join(tmp, "example.com.crt"), wrong.cert);
      await writeFile(join(tmp, "example.com.key"), wrong.key);
      const { warnings } = await loadCertificates(configFor(["example.com"], tmp));
      expect(warnings).to.deep.equal([
        `${join(tmp, "example.com.crt")}: the certificate does not cover example.com (it names DNS:other.example)`,
      ]);

      const cnOnly = await makeCert(
        "example.com",
        [],
        new Date(Date.now() - 60_000),
        new Date(Date.now() + 86_400_000 * 30),
      );
      await writeFile(join(tmp, "example.com.crt"), cnOnly.cert);
      await writeFile(join(tmp, "example.com.key"), cnOnly.key);
      expect((await loadCertificates(configFor(["example.com"], tmp))).warnings).to.deep.equal([]);
    });
  });

  describe("tlsContexts (the listeners' certificates)", () => {
    for (const mode of ["TLSSocket (STARTTLS)", "tls.createServer (direct TLS)"]) {
      it(`SNI picks the context of the requested domain, a covering wildcard, or the default domain's: ${mode}`, async () => {
        await generateSelfSigned("a.test", tmp);
        await generateSelfSigned("b.test", tmp);
        const { certificates } = await loadCertificates(configFor(["a.test", "b.test"], tmp));
        // The default domain is the second one: the fallback follows it, not the map's order.
        const tls = tlsContexts(certificates, "b.test");
        const server = mode.startsWith("TLSSocket")
          ? createNetServer((sock) => {
              const s = new TLSSocket(sock, {
                isServer: true,
                secureContext: tls.contextFor("b.test"),
                SNICallback: tls.sniCallback,
              });
              s.on("secure", () => s.end());
              s.on("error", () => sock.destroy());
            })
          : createServer({ ...tls.defaultPems, SNICallback: tls.sniCallback }, (s) => s.end());
        await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
        const port = (server.address() as AddressInfo).port;
        const peerCn = (servername?: string) =>
          new Promise<string>((ok, fail) => {
            const s = connect(
              { host: "127.0.0.1", port, servername, rejectUnauthorized: false },
              () => {
                ok(String(s.getPeerCertificate().subject.CN));
                s.destroy();
              },
            );
            s.on("error", fail);
          });
        try {
          expect(await peerCn("A.TEST")).to.equal("a.test");
          expect(await peerCn("b.test.")).to.equal("b.test");
          expect(await peerCn("conference.a.test")).to.equal("a.test");
          expect(await peerCn("unknown.example")).to.equal("b.test");
          expect(await peerCn(undefined)).to.equal("b.test");
        } finally {
          server.close();
        }
      });
    }

    it("no certificates at all is an error", () => {
      expect(() => tlsContexts(new Map(), "a.test")).to.throw(CertificateError);
    });
  });
});
