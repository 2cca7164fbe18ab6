import { expect } from "chai";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "smol-toml";
import {
  ConfigError,
  coreSchema,
  defaultConfig,
  extendSchema,
  int,
  loadConfig,
  str,
  validateConfig,
} from "../../src/config/index.js";
import type { Fields } from "../../src/config/index.js";
// Every section the server's components add to the schema (modules, audit), as at start.
import "../../src/main.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const REFERENCE = join(ROOT, "conf/parley.toml");

let tmp: string;
/** A fresh temporary directory per test, in `tmp`. */
function useTmp(): void {
  beforeEach(async () => {
    tmp = await mkdtemp(join(tmpdir(), "parley-config-"));
  });
  afterEach(async () => {
    await rm(tmp, { recursive: true, force: true });
  });
}

/** Runs `fn` with the working directory set to `dir`. */
async function inDir<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const before = process.cwd();
  process.chdir(dir);
  try {
    return await fn();
  } finally {
    process.chdir(before);
  }
}

/** Loads `toml` as the default conf/parley.toml of a fresh working directory. */
async function loadText(toml: string): Promise<ReturnType<typeof defaultConfig>> {
  await mkdir(join(tmp, "conf"), { recursive: true });
  await writeFile(join(tmp, "conf/parley.toml"), toml);
  return inDir(tmp, () => loadConfig(undefined, { env: {} }));
}

async function loadError(toml: string): Promise<ConfigError> {
  try {
    await loadText(toml);
  } catch (e) {
    expect(e).to.be.instanceOf(ConfigError);
    expect((e as Error).message).not.to.include("\n");
    return e as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

describe("config: defaults", () => {
  useTmp();

  it("embedded defaults are the documented values, with paths resolved against the working directory", () => {
    const { source, server, listen, tls, auth, limits } = defaultConfig();
    expect({ source, server, listen, tls, auth, limits }).to.deep.equal({
      source: null,
      server: { domains: ["localhost"], data_dir: resolve("data"), log_level: "info" },
      listen: {
        interfaces: ["127.0.0.1"],
        c2s_ports: [5222],
        c2s_direct_tls_ports: [5223],
        require_encryption: true,
      },
      tls: { cert_dir: resolve("certs"), certificates: {}, generate_self_signed: true },
      auth: {
        mechanisms: [
          "SCRAM-SHA-256-PLUS",
          "SCRAM-SHA-1-PLUS",
          "SCRAM-SHA-256",
          "SCRAM-SHA-1",
          "PLAIN",
        ],
        scram_iterations: 10000,
        max_failures_per_stream: 3,
        failure_delay_ms: 500,
        failure_delay_max_ms: 8000,
      },
      limits: {
        max_stanza_bytes: 262144,
        max_xml_depth: 32,
        auth_timeout_seconds: 60,
        idle_timeout_seconds: 300,
        ping_timeout_seconds: 60,
        max_connections_per_address: 20,
      },
    });
  });

  it("the result is deep-frozen", async () => {
    const cfg = await loadText(`[server]\ndomains = ["a.example"]\n`);
    expect(Object.isFrozen(cfg)).to.equal(true);
    expect(Object.isFrozen(cfg.server)).to.equal(true);
    expect(Object.isFrozen(cfg.server.domains)).to.equal(true);
    expect(() => (cfg.server.domains as string[]).push("x")).to.throw(TypeError);
  });

  it("a missing default file gives the embedded defaults with source null", async () => {
    const cfg = await inDir(tmp, () => loadConfig(undefined, { env: {} }));
    expect(cfg.source).to.equal(null);
    expect(cfg.server.data_dir).to.equal(join(tmp, "data"));
  });

  it("an empty file gives the defaults, with the file as source", async () => {
    const cfg = await loadText("");
    expect(cfg.source).to.equal(join(tmp, "conf/parley.toml"));
    expect({ ...cfg, source: null }).to.deep.equal(await inDir(tmp, async () => defaultConfig()));
  });
});

describe("config: which file", () => {
  useTmp();

  it("PARLEY_CONFIG names the file when no path is given", async () => {
    const file = join(tmp, "other.toml");
    await writeFile(file, `[server]\nlog_level = "debug"\n`);
    const cfg = await loadConfig(undefined, { env: { PARLEY_CONFIG: file } });
    expect(cfg.source).to.equal(file);
    expect(cfg.server.log_level).to.equal("debug");
  });

  it("the path argument wins over PARLEY_CONFIG", async () => {
    const a = join(tmp, "a.toml");
    await writeFile(a, `[server]\nlog_level = "warn"\n`);
    const cfg = await loadConfig(a, { env: { PARLEY_CONFIG: join(tmp, "nope.toml") } });
    expect(cfg.server.log_level).to.equal("warn");
  });

  it("a missing file named by PARLEY_CONFIG is an error", async () => {
    const file = join(tmp, "missing.toml");
    await expectError(
      loadConfig(undefined, { env: { PARLEY_CONFIG: file } }),
      `${file}: cannot read configuration: file not found`,
    );
  });

  it("a missing file named by the path argument is an error", async () => {
    const file = join(tmp, "missing.toml");
    await expectError(
      loadConfig(file, { env: {} }),
      `${file}: cannot read configuration: file not found`,
    );
  });

  it("an unreadable file (a directory) is an error naming it", async () => {
    await expectError(
      loadConfig(tmp, { env: {} }),
      `${tmp}: cannot read configuration: is a directory, not a file`,
    );
  });
});

async function expectError(p: Promise<unknown>, message: string): Promise<void> {
  try {
    await p;
  } catch (e) {
    expect(e).to.be.instanceOf(ConfigError);
    expect((e as Error).message).to.equal(message);
    return;
  }
  throw new Error("expected a ConfigError");
}

describe("config: errors name the file and the key path", () => {
  useTmp();

  it("unknown key, with a did-you-mean suggestion", async () => {
    const e = await loadError(`[limits]\nmax_stanza_size = 100000\n`);
    expect(e.message).to.equal(
      `conf/parley.toml: limits: unknown key "max_stanza_size", did you mean "max_stanza_bytes"?`,
    );
    expect(e.file).to.equal("conf/parley.toml");
    expect(e.keyPath).to.equal("limits");
  });

  it("unknown key with nothing close: no suggestion", async () => {
    const e = await loadError(`[limits]\nzzz = 1\n`);
    expect(e.message).to.equal(`conf/parley.toml: limits: unknown key "zzz"`);
  });

  it("a key in the wrong section: suggests where it belongs", async () => {
    const e = await loadError(`domains = ["a.example"]\n`);
    expect(e.message).to.equal(
      `conf/parley.toml: unknown key "domains", did you mean "server.domains"?`,
    );
  });

  it("unknown section, with a suggestion", async () => {
    const e = await loadError(`[lmits]\nmax_xml_depth = 10\n`);
    expect(e.message).to.equal(`conf/parley.toml: unknown section "lmits", did you mean "limits"?`);
  });

  it("wrong type: a string for a port list", async () => {
    const e = await loadError(`[listen]\nc2s_ports = "abc"\n`);
    expect(e.message).to.equal(
      `conf/parley.toml: listen.c2s_ports: expected a list of port numbers (0-65535), got "abc"`,
    );
    expect(e.keyPath).to.equal("listen.c2s_ports");
  });

  it("wrong type: an item of a port list", async () => {
    const e = await loadError(`[listen]\nc2s_ports = [5222, "abc"]\n`);
    expect(e.message).to.equal(
      `conf/parley.toml: listen.c2s_ports: expected a list of port numbers (0-65535), got "abc"`,
    );
  });

  it("wrong type: a string for a boolean, a float for an integer, a value for a section", async () => {
    expect((await loadError(`[listen]\nrequire_encryption = "yes"\n`)).message).to.equal(
      `conf/parley.toml: listen.require_encryption: expected true or false, got "yes"`,
    );
    expect((await loadError(`[limits]\nmax_xml_depth = 10.5\n`)).message).to.equal(
      `conf/parley.toml: limits.max_xml_depth: expected an integer (4-1000), got 10.5`,
    );
    expect((await loadError(`server = 5\n`)).message).to.equal(
      `conf/parley.toml: server: expected a table (section), got 5`,
    );
  });

  it("out of range: a port above 65535", async () => {
    const e = await loadError(`[listen]\nc2s_direct_tls_ports = [70000]\n`);
    expect(e.message).to.equal(
      `conf/parley.toml: listen.c2s_direct_tls_ports: 70000 is out of range (0-65535)`,
    );
  });

  it("out of range: scram_iterations below 4096 and max_failures_per_stream above 10", async () => {
    expect((await loadError(`[auth]\nscram_iterations = 1000\n`)).message).to.equal(
      `conf/parley.toml: auth.scram_iterations: 1000 is out of range (at least 4096)`,
    );
    expect((await loadError(`[auth]\nmax_failures_per_stream = 11\n`)).message).to.equal(
      `conf/parley.toml: auth.max_failures_per_stream: 11 is out of range (1-10)`,
    );
    expect((await loadError(`[limits]\nmax_stanza_bytes = 9999\n`)).message).to.equal(
      `conf/parley.toml: limits.max_stanza_bytes: 9999 is out of range (at least 10000)`,
    );
  });

  it("a value outside a fixed set: log level and SASL mechanisms", async () => {
    expect((await loadError(`[server]\nlog_level = "verbose"\n`)).message).to.equal(
      `conf/parley.toml: server.log_level: "verbose" is not one of "error", "warn", "info", "debug", "trace"`,
    );
    expect((await loadError(`[auth]\nmechanisms = ["PLAIN", "PLAN"]\n`)).message).to.equal(
      `conf/parley.toml: auth.mechanisms: "PLAN" is not one of "SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN" (did you mean "PLAIN"?)`,
    );
  });

  it("an empty domain list is an error", async () => {
    const e = await loadError(`[server]\ndomains = []\n`);
    expect(e.message).to.equal(
      `conf/parley.toml: server.domains: expected a non-empty list of domain names, got []`,
    );
  });

  it("failure_delay_max_ms below failure_delay_ms is an error", async () => {
    const e = await loadError(`[auth]\nfailure_delay_ms = 9000\n`);
    expect(e.message).to.equal(
      `conf/parley.toml: auth.failure_delay_max_ms: 8000 is less than failure_delay_ms (9000)`,
    );
  });

  it("a certificate entry without its key file is an error", async () => {
    const e = await loadError(`[tls.certificates."example.com"]\ncert = "a.crt"\n`);
    expect(e.message).to.equal(
      `conf/parley.toml: tls.certificates."example.com": missing required key "key"`,
    );
  });

  it("TOML syntax error, with line and column", async () => {
    const e = await loadError(`[server]\nlog_level = "info"\nlog_level = "debug"\n`);
    expect(e.message).to.equal(
      "conf/parley.toml:3:1: TOML syntax error: trying to redefine an already defined table or value",
    );
  });

  it("validateConfig names the source it is given, or 'configuration'", () => {
    expect(() => validateConfig({ limits: { max_xml_depth: "x" } }, "reload.toml")).to.throw(
      ConfigError,
      `reload.toml: limits.max_xml_depth: expected an integer (4-1000), got "x"`,
    );
    expect(() => validateConfig({ nope: 1 }, null)).to.throw(
      ConfigError,
      `configuration: unknown key "nope"`,
    );
  });
});

describe("config: normalisation", () => {
  useTmp();

  it("domains are lower-cased", async () => {
    const cfg = await loadText(`[server]\ndomains = ["Example.COM", "muc.example.com"]\n`);
    expect(cfg.server.domains).to.deep.equal(["example.com", "muc.example.com"]);
  });

  it("paths are resolved against the working directory, not the file's folder", async () => {
    const cfg = await loadText(
      `[server]\ndata_dir = "var/db"\n[tls]\ncert_dir = "/etc/parley/certs"\n` +
        `[tls.certificates."Example.com"]\ncert = "c/x.crt"\nkey = "c/x.key"\n`,
    );
    expect(cfg.server.data_dir).to.equal(join(tmp, "var/db"));
    expect(cfg.tls.cert_dir).to.equal("/etc/parley/certs");
    expect(cfg.tls.certificates).to.deep.equal({
      "example.com": { cert: join(tmp, "c/x.crt"), key: join(tmp, "c/x.key") },
    });
  });

  it("port 0 and empty port lists are accepted", async () => {
    const cfg = await loadText(`[listen]\nc2s_ports = [0]\nc2s_direct_tls_ports = []\n`);
    expect(cfg.listen.c2s_ports).to.deep.equal([0]);
    expect(cfg.listen.c2s_direct_tls_ports).to.deep.equal([]);
  });
});

describe("config: extendSchema", () => {
  useTmp();

  it("a feature's section gets its defaults, its values, and the same error messages", async () => {
    const read = extendSchema("ext_test_a", {
      retention_days: int({ doc: "Days kept.", default: 365, min: 1 }),
      label: str({ doc: "A label.", default: "x" }),
    });
    expect(read(defaultConfig())).to.deep.equal({ retention_days: 365, label: "x" });
    expect(read(await loadText(`[ext_test_a]\nretention_days = 30\n`)).retention_days).to.equal(30);
    expect((await loadError(`[ext_test_a]\nretension_days = 30\n`)).message).to.equal(
      `conf/parley.toml: ext_test_a: unknown key "retension_days", did you mean "retention_days"?`,
    );
  });

  it("dotted names nest (modules.<name>), and a name can be taken only once", async () => {
    const read = extendSchema("ext_modules.mam", {
      retention: str({ doc: "How long.", default: "1y" }),
    });
    expect(read(await loadText(`[ext_modules.mam]\nretention = "30d"\n`))).to.deep.equal({
      retention: "30d",
    });
    expect(() => extendSchema("ext_modules.mam", {})).to.throw(/already defined/);
    expect(() => extendSchema("server", {})).to.throw(/already defined/);
    expect(() => extendSchema("Bad-Name", {})).to.throw(/lower_snake_case/);
  });
});

describe("config: conf/parley.toml is the reference", () => {
  useTmp();

  it("loading conf/parley.toml yields exactly the embedded defaults", async () => {
    const cfg = await loadConfig(REFERENCE, { env: {} });
    expect(cfg.source).to.equal(REFERENCE);
    expect({ ...cfg, source: null }).to.deep.equal(defaultConfig());
  });

  it("every core schema key is set explicitly in conf/parley.toml", async () => {
    const text = await readFile(REFERENCE, "utf8");
    const raw = parse(text) as Record<string, Record<string, unknown>>;
    const missing: string[] = [];
    const walk = (fields: Fields, table: Record<string, unknown> | undefined, at: string) => {
      for (const [k, spec] of Object.entries(fields)) {
        const here = at ? `${at}.${k}` : k;
        if (spec.kind === "field" && !(table && k in table)) missing.push(here);
        if (spec.kind === "section") walk(spec.fields, table?.[k] as Record<string, unknown>, here);
        if (spec.kind === "map") {
          // A map has no default entries: the reference shows a commented example.
          if (!text.includes(`# [${here}."`)) missing.push(`${here} (example)`);
          for (const e of Object.keys(spec.entry))
            if (!text.includes(`# ${e} = `)) missing.push(`${here}.*.${e}`);
        }
      }
    };
    walk(coreSchema, raw, "");
    expect(missing).to.deep.equal([]);
  });

  it("every option in conf/parley.toml has a comment line above it", async () => {
    const lines = (await readFile(REFERENCE, "utf8")).split("\n");
    const bare = lines
      .map((l, i) => [l, lines[i - 1] ?? ""] as const)
      .filter(([l, prev]) => /^[a-z_]+ = /.test(l) && !prev.startsWith("# "))
      .map(([l]) => l);
    expect(bare).to.deep.equal([]);
  });
});
