// The language the configuration schema is written in: field specs, their
// builders, and the wording of their errors ("did you mean"). Nothing here
// knows the server's sections: schema.ts declares them, load.ts walks TOML against them.

import { resolve } from "node:path";

// ---------------------------------------------------------------------------
// Spec types

/** A leaf value. `parse` gets the raw TOML value and returns it checked and normalised. */
export interface Field<T> {
  readonly kind: "field";
  readonly doc: string;
  /** Undefined means the key is required. Paths stay relative here; they are resolved when parsed. */
  readonly default: T | undefined;
  parse(raw: unknown): T;
}

export interface Section<F extends Fields> {
  readonly kind: "section";
  readonly doc: string;
  readonly fields: F;
  /** Checks across fields; returns a problem or undefined. */
  check?(value: Infer<F>): Problem | undefined;
}

/** A table of sections keyed by a name, like [tls.certificates."example.com"]. Default: empty. */
export interface MapOf<F extends Fields> {
  readonly kind: "map";
  readonly doc: string;
  readonly entry: F;
  readonly lowercaseKeys: boolean;
}

export type Spec = Field<unknown> | Section<Fields> | MapOf<Fields>;
export interface Fields {
  readonly [key: string]: Spec;
}

/** The value a set of fields produces. */
export type Infer<F extends Fields> = {
  [K in keyof F]: F[K] extends Field<infer T>
    ? T
    : F[K] extends Section<infer S>
      ? Infer<S>
      : F[K] extends MapOf<infer S>
        ? Record<string, Infer<S>>
        : never;
};

/** What a field's `parse` or a section's `check` throws or returns: a message, optionally for a sub-key. */
export class Problem extends Error {
  constructor(
    message: string,
    readonly key?: string,
  ) {
    super(message);
    this.name = "Problem";
  }
}

// ---------------------------------------------------------------------------
// Field builders

interface Opts<T> {
  /** One line: what the option does. Shown in conf/parley.toml. */
  doc: string;
  /** Omit to make the key required. */
  default?: T;
  /** Extra check on the parsed value; return a message to reject it. */
  check?: (value: T) => string | undefined;
}

function field<T>(o: Opts<T>, parse: (raw: unknown) => T): Field<T> {
  return {
    kind: "field",
    doc: o.doc,
    default: o.default,
    parse(raw) {
      const value = parse(raw);
      const problem = o.check?.(value);
      if (problem) throw new Problem(problem);
      return value;
    },
  };
}

export function describeValue(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return String(v);
  if (Array.isArray(v)) {
    const s = JSON.stringify(v) ?? "a list";
    return s.length > 60 ? "a list" : s;
  }
  if (v instanceof Date) return `a date (${String(v)})`;
  if (v !== null && typeof v === "object") return "a table";
  return String(v);
}

function rangeText(min?: number, max?: number): string {
  if (min !== undefined && max !== undefined) return `${min}-${max}`;
  if (min !== undefined) return `at least ${min}`;
  if (max !== undefined) return `at most ${max}`;
  return "";
}

function checkInt(v: unknown, expected: string, min?: number, max?: number): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v)) {
    throw new Problem(`expected ${expected}, got ${describeValue(v)}`);
  }
  if ((min !== undefined && v < min) || (max !== undefined && v > max)) {
    throw new Problem(`${v} is out of range (${rangeText(min, max)})`);
  }
  return v;
}

export function str(o: Opts<string>): Field<string> {
  return field(o, (v) => {
    if (typeof v !== "string") throw new Problem(`expected a string, got ${describeValue(v)}`);
    return v;
  });
}

export function bool(o: Opts<boolean>): Field<boolean> {
  return field(o, (v) => {
    if (typeof v !== "boolean")
      throw new Problem(`expected true or false, got ${describeValue(v)}`);
    return v;
  });
}

export function int(o: Opts<number> & { min?: number; max?: number }): Field<number> {
  const range = rangeText(o.min, o.max);
  const expected = range ? `an integer (${range})` : "an integer";
  return field(o, (v) => checkInt(v, expected, o.min, o.max));
}

/** A path; relative ones are resolved against the process working directory. */
export function path(o: Opts<string>): Field<string> {
  return field(o, (v) => {
    if (typeof v !== "string" || v === "") {
      throw new Problem(`expected a file system path, got ${describeValue(v)}`);
    }
    return resolve(process.cwd(), v);
  });
}

function choice(values: readonly string[], v: string): string {
  const hint = suggest(v, values);
  return `${describeValue(v)} is not one of ${values.map((x) => JSON.stringify(x)).join(", ")}${
    hint ? ` (did you mean ${JSON.stringify(hint)}?)` : ""
  }`;
}

export function oneOf<const T extends string>(values: readonly T[], o: Opts<T>): Field<T> {
  return field(o, (v) => {
    if (typeof v !== "string") throw new Problem(`expected a string, got ${describeValue(v)}`);
    if (!(values as readonly string[]).includes(v)) throw new Problem(choice(values, v));
    return v as T;
  });
}

export function strList(
  o: Opts<string[]> & {
    /** Plural noun for messages: "a list of <noun>". */
    noun?: string;
    minItems?: number;
    lowercase?: boolean;
    /** Every item must be one of these. */
    allowed?: readonly string[];
  },
): Field<string[]> {
  const noun = o.noun ?? "strings";
  const expected = o.minItems ? `a non-empty list of ${noun}` : `a list of ${noun}`;
  return field(o, (v) => {
    if (!Array.isArray(v)) throw new Problem(`expected ${expected}, got ${describeValue(v)}`);
    if (v.length < (o.minItems ?? 0)) {
      throw new Problem(`expected ${expected}, got ${describeValue(v)}`);
    }
    return v.map((item: unknown) => {
      if (typeof item !== "string" || item === "") {
        throw new Problem(`expected ${expected}, got ${describeValue(item)}`);
      }
      if (o.allowed && !o.allowed.includes(item)) throw new Problem(choice(o.allowed, item));
      return o.lowercase ? item.toLowerCase() : item;
    });
  });
}

export function intList(
  o: Opts<number[]> & { noun?: string; min?: number; max?: number },
): Field<number[]> {
  const range = rangeText(o.min, o.max);
  const expected = `a list of ${o.noun ?? "integers"}${range ? ` (${range})` : ""}`;
  return field(o, (v) => {
    if (!Array.isArray(v)) throw new Problem(`expected ${expected}, got ${describeValue(v)}`);
    return v.map((item: unknown) => checkInt(item, expected, o.min, o.max));
  });
}

export function portList(o: Opts<number[]>): Field<number[]> {
  return intList({ ...o, noun: "port numbers", min: 0, max: 65535 });
}

export function section<const F extends Fields>(
  doc: string,
  fields: F,
  check?: (value: Infer<F>) => Problem | undefined,
): Section<F> {
  return check ? { kind: "section", doc, fields, check } : { kind: "section", doc, fields };
}

export function mapOf<const F extends Fields>(
  doc: string,
  entry: F,
  opts: { lowercaseKeys?: boolean } = {},
): MapOf<F> {
  return { kind: "map", doc, entry, lowercaseKeys: opts.lowercaseKeys ?? false };
}

// ---------------------------------------------------------------------------
// "Did you mean"

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** The closest candidate, if it is close enough to be a plausible typo. */
export function suggest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  const w = word.toLowerCase();
  for (const c of candidates) {
    const d = editDistance(w, c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  if (best === undefined) return undefined;
  return bestDistance <= Math.max(2, Math.floor(Math.max(word.length, best.length) * 0.4))
    ? best
    : undefined;
}
