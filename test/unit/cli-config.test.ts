import { expect } from "chai";
import { BIN, type Run, runParley } from "../harness/cli.js";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";

function run(_entry: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return runParley(args, cwd, { env });
}

describe("CLI: parley config check and parley cert generate", () => {
  let tmp: string;
  const entry = BIN;

  beforeEach(async () => {
    tmp = await mkdtemp(join(tmpdir(), "parley-cli-"));
  });
  afterEach(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  /** A failure is exactly one line on stderr, nothing on stdout, exit status 1, no stack trace. */
  function expectOneLineFailure(r: Run, message: string): void {
    expect(r.code).to.equal(1);
    expect(r.stdout).to.equal("");
    expect(r.stderr).to.equal(`parley: ${message}\n`);
  }

  it("config check without a file: OK with the embedded defaults; reports, but does not create, the certificate", async () => {
    const r = await run(entry, ["config", "check"], tmp);
    expect(r.stderr).to.equal("");
    expect(r.code).to.equal(0);
    expect(r.stdout).to.equal(
      "configuration OK (embedded defaults)\n" +
        `warning: no certificate for localhost: a self-signed one would be generated at start in ${join(tmp, "certs")}\n`,
    );
    const e = await stat(join(tmp, "certs")).catch((err: NodeJS.ErrnoException) => err);
    expect((e as NodeJS.ErrnoException).code).to.equal("ENOENT");
  });

  it("config check with --config names the file it checked", async () => {
    await writeFile(join(tmp, "p.toml"), `[tls]\ncert_dir = "c"\n`);
    const r = await run(entry, ["--config", "p.toml", "config", "check"], tmp);
    expect(r.code).to.equal(0);
    expect(r.stdout.split("\n")[0]).to.equal(`configuration OK (${join(tmp, "p.toml")})`);
  });

  it("config check reads PARLEY_CONFIG", async () => {
    await writeFile(join(tmp, "env.toml"), `[server]\nlog_level = "debug"\n`);
    const r = await run(entry, ["config", "check"], tmp, { PARLEY_CONFIG: join(tmp, "env.toml") });
    expect(r.code).to.equal(0);
    expect(r.stdout.split("\n")[0]).to.equal(`configuration OK (${join(tmp, "env.toml")})`);
  });

  it("config check on an unknown key: one line on stderr, exit 1", async () => {
    await writeFile(join(tmp, "bad.toml"), `[limits]\nmax_stanza_size = 100000\n`);
    const r = await run(entry, ["--config", "bad.toml", "config", "check"], tmp);
    expectOneLineFailure(
      r,
      `bad.toml: limits: unknown key "max_stanza_size", did you mean "max_stanza_bytes"?`,
    );
  });

  it("config check on a TOML syntax error: line and column, exit 1", async () => {
    await writeFile(join(tmp, "bad.toml"), `[server]\nlog_level = "info"\nlog_level = "x"\n`);
    const r = await run(entry, ["--config", "bad.toml", "config", "check"], tmp);
    expectOneLineFailure(
      r,
      "bad.toml:3:1: TOML syntax error: trying to redefine an already defined table or value",
    );
  });

  it("config check on a missing --config file: exit 1", async () => {
    const r = await run(entry, ["--config", "nope.toml", "config", "check"], tmp);
    expectOneLineFailure(r, "nope.toml: cannot read configuration: file not found");
  });

  it("config check on a certificate problem: exit 1 naming the file", async () => {
    await writeFile(join(tmp, "localhost.crt"), "not a certificate");
    await writeFile(join(tmp, "localhost.key"), "not a key");
    await writeFile(join(tmp, "p.toml"), `[tls]\ncert_dir = "."\n`);
    const r = await run(entry, ["--config", "p.toml", "config", "check"], tmp);
    expectOneLineFailure(
      r,
      `${join(tmp, "localhost.crt")}: not a PEM certificate (no CERTIFICATE block)`,
    );
  });

  it("cert generate writes the pair into --dir, prints both paths, and config check then accepts it", async () => {
    const r = await run(entry, ["cert", "generate", "Example.COM", "--dir", "keys"], tmp);
    expect(r.stderr).to.equal("");
    expect(r.code).to.equal(0);
    const certPath = join(tmp, "keys/example.com.crt");
    const keyPath = join(tmp, "keys/example.com.key");
    expect(r.stdout).to.equal(`certificate: ${certPath}\nkey:         ${keyPath}\n`);
    expect((await stat(keyPath)).mode & 0o777).to.equal(0o600);
    expect(new X509Certificate(await readFile(certPath)).checkHost("example.com")).to.equal(
      "example.com",
    );

    await writeFile(
      join(tmp, "p.toml"),
      `[server]\ndomains = ["example.com"]\n[tls]\ncert_dir = "keys"\n`,
    );
    const check = await run(entry, ["--config", "p.toml", "config", "check"], tmp);
    expect(check.code).to.equal(0);
    expect(check.stdout).to.equal(`configuration OK (${join(tmp, "p.toml")})\n`);
  });

  it("cert generate defaults to the configuration's tls.cert_dir", async () => {
    await writeFile(join(tmp, "p.toml"), `[tls]\ncert_dir = "from-config"\n`);
    const r = await run(entry, ["--config", "p.toml", "cert", "generate", "a.test"], tmp);
    expect(r.code).to.equal(0);
    expect(r.stdout.split("\n")[0]).to.equal(`certificate: ${join(tmp, "from-config/a.test.crt")}`);
  });

  it("cert generate refuses to overwrite without --force, and replaces with it", async () => {
    expect((await run(entry, ["cert", "generate", "a.test", "--dir", "."], tmp)).code).to.equal(0);
    const before = await readFile(join(tmp, "a.test.key"), "utf8");
    const again = await run(entry, ["cert", "generate", "a.test", "--dir", "."], tmp);
    expectOneLineFailure(
      again,
      `${join(tmp, "a.test.crt")}: already exists; not overwriting it (use --force to replace it)`,
    );
    expect(await readFile(join(tmp, "a.test.key"), "utf8")).to.equal(before);
    const forced = await run(entry, ["cert", "generate", "a.test", "--dir", ".", "--force"], tmp);
    expect(forced.code).to.equal(0);
    expect(await readFile(join(tmp, "a.test.key"), "utf8")).not.to.equal(before);
  });
});
