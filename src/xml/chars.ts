// Character classes, references and UTF-8 checks for the stream tokenizer, and the decoding of
// the chunks written to it. XML 1.0 (Fifth Edition) productions: Char [2], NameStartChar [4],
// NameChar [4a], CharRef [66], EntityRef [68], XMLDecl [23]; RFC 3629 for UTF-8.

import { isUtf8 } from "node:buffer";

export const C_WS = 1;
export const C_NAME_START = 2;
export const C_NAME = 4;

/** Class bits of the ASCII code units. */
export const ASCII = new Uint8Array(128);
for (const c of [0x20, 0x09, 0x0a, 0x0d]) ASCII[c] = C_WS;
for (let c = 0x41; c <= 0x5a; c++) ASCII[c] = C_NAME_START | C_NAME;
for (let c = 0x61; c <= 0x7a; c++) ASCII[c] = C_NAME_START | C_NAME;
for (let c = 0x30; c <= 0x39; c++) ASCII[c] = C_NAME;
ASCII[0x5f] = ASCII[0x3a] = C_NAME_START | C_NAME; // _ :
ASCII[0x2d] = ASCII[0x2e] = C_NAME; // - .

export function isWs(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d;
}

/** NameStartChar for a non-ASCII BMP code unit (surrogates handled by the caller). */
function isNameStartBmp(c: number): boolean {
  return (
    (c >= 0xc0 && c <= 0xd6) ||
    (c >= 0xd8 && c <= 0xf6) ||
    (c >= 0xf8 && c <= 0x2ff) ||
    (c >= 0x370 && c <= 0x37d) ||
    (c >= 0x37f && c <= 0x1fff) ||
    c === 0x200c ||
    c === 0x200d ||
    (c >= 0x2070 && c <= 0x218f) ||
    (c >= 0x2c00 && c <= 0x2fef) ||
    (c >= 0x3001 && c <= 0xd7ff) ||
    (c >= 0xf900 && c <= 0xfdcf) ||
    (c >= 0xfdf0 && c <= 0xfffd)
  );
}

/**
 * Whether the code unit c (>= 0x80) may continue a name. Surrogates: a high surrogate up to
 * 0xDB7F starts a code point in [#x10000-#xEFFFF]; a low one is accepted here and its pairing is
 * checked by utf8Extra().
 */
export function isNameCharNonAscii(c: number): boolean {
  return (
    isNameStartBmp(c) ||
    c === 0xb7 ||
    (c >= 0x300 && c <= 0x36f) ||
    c === 0x203f ||
    c === 0x2040 ||
    (c >= 0xd800 && c <= 0xdb7f) ||
    (c >= 0xdc00 && c <= 0xdfff)
  );
}

/** Whether the code unit at s[i] can start a name. */
export function isNameStartAt(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  if (c < 0x80) return (ASCII[c] & C_NAME_START) !== 0;
  return isNameStartBmp(c) || (c >= 0xd800 && c <= 0xdb7f);
}

/**
 * For a code unit c = s[i] >= 0x80: how many UTF-8 bytes beyond one it adds (a surrogate pair is
 * 4 bytes, counted 2 + 2), or -1 if it is not an XML Char (lone surrogate, U+FFFE, U+FFFF).
 * Pairs are never split across the strings the tokenizer sees.
 */
export function utf8Extra(s: string, i: number, c: number): number {
  if (c < 0x800) return 1;
  if (c < 0xd800) return 2;
  if (c <= 0xdbff) {
    const d = s.charCodeAt(i + 1);
    return d >= 0xdc00 && d <= 0xdfff ? 1 : -1;
  }
  if (c <= 0xdfff) {
    const d = s.charCodeAt(i - 1);
    return d >= 0xd800 && d <= 0xdbff ? 1 : -1;
  }
  return c >= 0xfffe ? -1 : 2;
}

/** The error text for a code unit that is not an XML Char. */
export function charNotAllowed(c: number): string {
  return `character U+${c.toString(16).toUpperCase().padStart(4, "0")} is not allowed in XML`;
}

/** A name as quoted in an error text: at most 40 characters of it. */
export function show(name: string): string {
  return name.length > 40 ? name.slice(0, 40) + "..." : name;
}

/** XML 1.0 Char production for a code point. */
export function isXmlChar(cp: number): boolean {
  return (
    cp === 0x9 ||
    cp === 0xa ||
    cp === 0xd ||
    (cp >= 0x20 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) ||
    (cp >= 0x10000 && cp <= 0x10ffff)
  );
}

/** decodeReference() results that are not text. */
export const REF_MALFORMED = 1;
export const REF_RESTRICTED = 2;
/** Longest reference body accepted between '&' and ';' (leading zeros beyond this are refused). */
export const MAX_REF_LENGTH = 32;

const HEX = /^[0-9a-fA-F]+$/;
const DEC = /^[0-9]+$/;

/** The text of a reference body (between '&' and ';'), or REF_MALFORMED / REF_RESTRICTED. */
export function decodeReference(ref: string): string | number {
  switch (ref) {
    case "lt":
      return "<";
    case "gt":
      return ">";
    case "amp":
      return "&";
    case "quot":
      return '"';
    case "apos":
      return "'";
  }
  if (ref.charCodeAt(0) === 0x23) {
    let cp: number;
    if (ref.charCodeAt(1) === 0x78) {
      const digits = ref.slice(2);
      if (!HEX.test(digits)) return REF_MALFORMED;
      cp = parseInt(digits, 16);
    } else {
      const digits = ref.slice(1);
      if (!DEC.test(digits)) return REF_MALFORMED;
      cp = parseInt(digits, 10);
    }
    return isXmlChar(cp) ? String.fromCodePoint(cp) : REF_MALFORMED;
  }
  // A well-formed reference to an entity other than the five predefined ones (RFC 6120 11.1).
  if (ref !== "" && isNameStartAt(ref, 0) && ref.indexOf("#") < 0) return REF_RESTRICTED;
  return REF_MALFORMED;
}

const S = "[ \\t\\r\\n]";
const XML_DECL = new RegExp(
  `^xml${S}+version${S}*=${S}*(?:"1\\.[0-9]+"|'1\\.[0-9]+')` +
    `(?:${S}+encoding${S}*=${S}*(?:"([A-Za-z][A-Za-z0-9._-]*)"|'([A-Za-z][A-Za-z0-9._-]*)'))?` +
    `(?:${S}+standalone${S}*=${S}*(?:"(?:yes|no)"|'(?:yes|no)'))?${S}*$`,
);
const XML_TARGET = new RegExp(`^xml(?:${S}|$)`);

export type DeclCheck = {
  condition: "not-well-formed" | "restricted-xml" | "unsupported-encoding";
  text: string;
} | null;

/** Checks the body of `<?...?>` seen at the very start of a stream (at most a few hundred chars). */
export function checkXmlDecl(body: string): DeclCheck {
  if (!XML_TARGET.test(body)) {
    return { condition: "restricted-xml", text: "processing instructions are not allowed" };
  }
  const m = XML_DECL.exec(body);
  if (!m) return { condition: "not-well-formed", text: "malformed XML declaration" };
  const enc = m[1] ?? m[2];
  if (enc !== undefined && enc.toUpperCase() !== "UTF-8") {
    return { condition: "unsupported-encoding", text: "only UTF-8 is supported" };
  }
  return null;
}

/**
 * Where a trailing incomplete (but so far valid) UTF-8 sequence starts, or buf.length when the
 * buffer ends on a character boundary or the tail is already invalid (left to the validator).
 */
function incompleteTail(buf: Uint8Array): number {
  const len = buf.length;
  let j = len - 1;
  let k = 0;
  while (j >= 0 && k < 3 && (buf[j] & 0xc0) === 0x80) {
    j--;
    k++;
  }
  if (j < 0) return len;
  const b = buf[j];
  if (b < 0xc2 || b > 0xf4) return len;
  const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
  if (len - j >= need) return len;
  if (len - j >= 2) {
    const b1 = buf[j + 1];
    if (
      (b === 0xe0 && b1 < 0xa0) ||
      (b === 0xed && b1 > 0x9f) ||
      (b === 0xf0 && b1 < 0x90) ||
      (b === 0xf4 && b1 > 0x8f)
    ) {
      return len;
    }
  }
  return j;
}

/** Index of the first byte of the first invalid UTF-8 sequence in buf (buf.length if none). */
function firstInvalidUtf8(buf: Uint8Array): number {
  const len = buf.length;
  let i = 0;
  while (i < len) {
    const b = buf[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0;
      else if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90;
      else if (b === 0xf4) hi = 0x8f;
    } else return i;
    if (i + need >= len) return i;
    const b1 = buf[i + 1];
    if (b1 < lo || b1 > hi) return i;
    for (let k = 2; k <= need; k++) if ((buf[i + k] & 0xc0) !== 0x80) return i;
    i += need + 1;
  }
  return len;
}

/**
 * Turns the chunks written to a stream into strings of whole characters: a UTF-8 sequence or a
 * surrogate pair split between chunks waits for the next one. An invalid UTF-8 sequence sets
 * `invalid`; decode() then returns only what precedes it.
 */
export class ChunkDecoder {
  /** Set by decode(): the chunk holds an invalid UTF-8 sequence. */
  invalid = false;
  private pendingBytes: Buffer | null = null; // incomplete UTF-8 sequence at the end of a chunk
  private pendingHigh = ""; // high surrogate at the end of a string chunk

  /** The text of the chunk that can be read now; "" if none. */
  decode(chunk: Buffer | string): string {
    this.invalid = false;
    if (typeof chunk === "string") {
      let s = chunk;
      if (this.pendingHigh !== "") {
        s = this.pendingHigh + s;
        this.pendingHigh = "";
      }
      const last = s.charCodeAt(s.length - 1);
      if (last >= 0xd800 && last <= 0xdbff) {
        this.pendingHigh = s.slice(-1);
        s = s.slice(0, -1);
      }
      return s;
    }
    let buf = chunk;
    if (this.pendingBytes !== null) {
      buf = Buffer.concat([this.pendingBytes, chunk]);
      this.pendingBytes = null;
    }
    const cut = incompleteTail(buf);
    if (isUtf8(buf.subarray(0, cut))) {
      if (cut < buf.length) this.pendingBytes = Buffer.from(buf.subarray(cut));
      return cut > 0 ? buf.toString("utf8", 0, cut) : "";
    }
    // Slow path, only on bad input.
    this.invalid = true;
    const bad = firstInvalidUtf8(buf);
    return bad > 0 ? buf.toString("utf8", 0, bad) : "";
  }

  /** Drops a partial character held from the last chunk. */
  clear(): void {
    this.pendingBytes = null;
    this.pendingHigh = "";
  }
}
