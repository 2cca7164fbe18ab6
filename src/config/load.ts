// Loading: find the file, parse the TOML, walk it against the schema, freeze.
// Every failure is a ConfigError whose message is one line naming the file and
// the key path; `parley config check`, start and SIGHUP reload all use this.

import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { parse, TomlError } from "smol-toml";
import { currentSchema } from "./schema.js";
import { describeValue, Problem, suggest } from "./spec.js";
import type { Fields, Infer, Spec } from "./spec.js";
import type { Config } from "./types.js";

/** The default location, relative to the working directory. */
export const DEFAULT_CONFIG_PATH = "conf/parley.toml";

export class ConfigError extends Error {
  constructor(
    message: string,
    /** The file as named to the user, or null for a configuration without a file. */
    readonly file: string | null,
    /** Dotted key path of the offending key or section, or "" for the whole file. */
    readonly keyPath = "",
  ) {
    super(message);
    this.name = "ConfigError";
  }
}

// ---------------------------------------------------------------------------
// The walk

class Violation {
  constructor(
    readonly keyPath: string,
    readonly detail: string,
  ) {}
}

/** TOML-style key: bare when possible, quoted otherwise. */
function keyName(k: string): string {
  return /^[A-Za-z0-9_-]+$/.test(k) ? k : JSON.stringify(k);
}

function join(prefix: string, key: string): string {
  return prefix ? `${prefix}.${keyName(key)}` : keyName(key);
}

function isTable(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Date);
}

/** Every key of a schema with its dotted path; for finding misplaced keys. */
function* allKeys(fields: Fields, prefix = ""): Generator<[string, string]> {
  for (const [k, spec] of Object.entries(fields)) {
    yield [k, join(prefix, k)];
    if (spec.kind === "section") yield* allKeys(spec.fields, join(prefix, k));
  }
}

function unknownKey(root: Fields, fields: Fields, at: string, key: string, value: unknown) {
  let hint = suggest(key, Object.keys(fields));
  if (hint === undefined) {
    // The right name in the wrong section: say where it belongs.
    for (const [name, full] of allKeys(root)) {
      if (name === key && full !== join(at, key)) {
        hint = full;
        break;
      }
    }
  }
  const what = isTable(value) ? "section" : "key";
  const mean = hint ? `, did you mean ${JSON.stringify(hint)}?` : "";
  return new Violation(at, `unknown ${what} ${JSON.stringify(key)}${mean}`);
}

function walkSpec(root: Fields, spec: Spec, raw: unknown, at: string): unknown {
  if (spec.kind === "field") {
    try {
      return spec.parse(raw === undefined ? spec.default : raw);
    } catch (e) {
      if (e instanceof Problem) throw new Violation(at, e.message);
      throw e;
    }
  }
  if (raw !== undefined && !isTable(raw)) {
    throw new Violation(at, `expected a table (section), got ${describeValue(raw)}`);
  }
  const table = raw ?? {};
  if (spec.kind === "section") {
    const value = walkFields(root, spec.fields, table, at);
    const problem = spec.check?.(value as Infer<Fields>);
    if (problem) throw new Violation(problem.key ? join(at, problem.key) : at, problem.message);
    return value;
  }
  const out: Record<string, unknown> = {};
  for (const [k0, entry] of Object.entries(table)) {
    const k = spec.lowercaseKeys ? k0.toLowerCase() : k0;
    if (Object.hasOwn(out, k)) throw new Violation(join(at, k0), "duplicate entry");
    if (!isTable(entry)) {
      throw new Violation(join(at, k0), `expected a table, got ${describeValue(entry)}`);
    }
    out[k] = walkFields(root, spec.entry, entry, join(at, k0));
  }
  return out;
}

function walkFields(
  root: Fields,
  fields: Fields,
  table: Record<string, unknown>,
  at: string,
): Record<string, unknown> {
  for (const [k, v] of Object.entries(table)) {
    if (!Object.hasOwn(fields, k)) throw unknownKey(root, fields, at, k, v);
  }
  const out: Record<string, unknown> = {};
  for (const [k, spec] of Object.entries(fields)) {
    const raw = Object.hasOwn(table, k) ? table[k] : undefined;
    if (raw === undefined && spec.kind === "field" && spec.default === undefined) {
      throw new Violation(at, `missing required key ${JSON.stringify(k)}`);
    }
    out[k] = walkSpec(root, spec, raw, join(at, k));
  }
  return out;
}

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === "object" && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const child of Object.values(v)) deepFreeze(child);
  }
  return v;
}

function validate(raw: unknown, source: string | null, shown: string): Config {
  const file = source === null ? null : shown;
  if (!isTable(raw)) {
    throw new ConfigError(`${shown}: expected a table, got ${describeValue(raw)}`, file);
  }
  try {
    const root = currentSchema();
    const value = walkFields(root, root, raw, "");
    return deepFreeze({ source, ...value } as unknown as Config);
  } catch (e) {
    if (e instanceof Violation) {
      const where = e.keyPath ? `${e.keyPath}: ` : "";
      throw new ConfigError(`${shown}: ${where}${e.detail}`, file, e.keyPath);
    }
    throw e;
  }
}

// ---------------------------------------------------------------------------
// Entry points

/**
 * Checks a parsed configuration table (as smol-toml returns it) and returns the
 * frozen Config. `source` is recorded in the result and names the file in errors.
 */
export function validateConfig(raw: unknown, source: string | null): Config {
  return validate(raw, source, source ?? "configuration");
}

/** The embedded defaults (paths resolved against the current working directory), frozen. */
export function defaultConfig(): Config {
  return validateConfig({}, null);
}

function readProblem(e: unknown): string {
  switch ((e as NodeJS.ErrnoException).code) {
    case "ENOENT":
      return "file not found";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EISDIR":
      return "is a directory, not a file";
    default:
      return (e as Error).message;
  }
}

/**
 * Loads the configuration: `path`, else $PARLEY_CONFIG, else conf/parley.toml in
 * the working directory. Only the default file may be missing (then the result
 * is the embedded defaults with `source: null`). `source` is the absolute path;
 * messages name the file as it was given.
 */
export async function loadConfig(
  path?: string,
  opts: { env?: NodeJS.ProcessEnv } = {},
): Promise<Config> {
  const env = opts.env ?? process.env;
  const explicit = path ?? (env.PARLEY_CONFIG || undefined);
  const shown = explicit ?? DEFAULT_CONFIG_PATH;
  const file = resolve(process.cwd(), shown);

  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    if (explicit === undefined && (e as NodeJS.ErrnoException).code === "ENOENT") {
      return defaultConfig();
    }
    throw new ConfigError(`${shown}: cannot read configuration: ${readProblem(e)}`, shown);
  }

  let raw: unknown;
  try {
    raw = parse(text);
  } catch (e) {
    if (e instanceof TomlError) {
      const what = e.message.split("\n")[0].replace(/^Invalid TOML document:\s*/, "");
      throw new ConfigError(`${shown}:${e.line}:${e.column}: TOML syntax error: ${what}`, shown);
    }
    throw new ConfigError(`${shown}: TOML syntax error: ${(e as Error).message}`, shown);
  }
  return validate(raw, file, shown);
}
