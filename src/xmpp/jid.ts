// XMPP addresses, RFC 7622, with the PRECIS profiles of RFC 8264/8265.
//
//   localpart    UsernameCaseMapped (RFC 8265 3.3) + RFC 7622 3.3.1's exclusions
//   domainpart   RFC 7622 3.2: lower case, NFC, A-labels to U-labels, IP literals
//   resourcepart OpaqueString (RFC 8265 4.2)
//
// Pure ASCII input (almost every stanza's to/from) takes a fast path with no
// normalisation, no regular expressions over properties and no allocation
// beyond the lowercased copy.

import { domainToASCII, domainToUnicode } from "node:url";
import { isIPv4, isIPv6 } from "node:net";

export class JidError extends Error {
  readonly condition = "jid-malformed";
  constructor(message: string) {
    super(message);
    this.name = "JidError";
  }
}

const MAX_PART_BYTES = 1023;

function byteLength(s: string): number {
  return Buffer.byteLength(s, "utf8");
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

// ---------------------------------------------------------------------------
// PRECIS derived property (RFC 8264 section 8), computed from the Unicode
// data V8 carries (property escapes in regular expressions, String#normalize).

type Derived = "PVALID" | "FREE_PVAL" | "CONTEXTJ" | "CONTEXTO" | "DISALLOWED";

// RFC 5892 2.6 exceptions.
const EXC_PVALID = new Set([0x00df, 0x03c2, 0x06fd, 0x06fe, 0x0f0b, 0x3007]);
const EXC_DISALLOWED = new Set([
  0x0640, 0x07fa, 0x302e, 0x302f, 0x3031, 0x3032, 0x3033, 0x3034, 0x3035, 0x303b,
]);
function isContextO(cp: number): boolean {
  return (
    cp === 0x00b7 ||
    cp === 0x0375 ||
    cp === 0x05f3 ||
    cp === 0x05f4 ||
    cp === 0x30fb ||
    (cp >= 0x0660 && cp <= 0x0669) ||
    (cp >= 0x06f0 && cp <= 0x06f9)
  );
}
// Hangul_Syllable_Type L, V, T (conjoining jamo), RFC 8264 9.9.
function isOldHangulJamo(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x11ff) ||
    (cp >= 0xa960 && cp <= 0xa97c) ||
    (cp >= 0xd7b0 && cp <= 0xd7c6) ||
    (cp >= 0xd7cb && cp <= 0xd7fb)
  );
}

const RE_UNASSIGNED = /^\p{Cn}$/u; // includes noncharacters, disallowed either way
const RE_IGNORABLE = /^[\p{Default_Ignorable_Code_Point}\p{Noncharacter_Code_Point}]$/u;
const RE_CONTROL = /^\p{Cc}$/u;
const RE_LETTER_DIGIT = /^[\p{Ll}\p{Lu}\p{Lo}\p{Nd}\p{Lm}\p{Mn}\p{Mc}]$/u;
const RE_OTHER_LETTER_DIGIT = /^[\p{Lt}\p{Nl}\p{No}\p{Me}]$/u;
const RE_SPACE = /^\p{Zs}$/u;
const RE_SYMBOL = /^\p{S}$/u;
const RE_PUNCT = /^\p{P}$/u;

function derivedProperty(ch: string, cp: number): Derived {
  if (EXC_PVALID.has(cp)) return "PVALID";
  if (EXC_DISALLOWED.has(cp)) return "DISALLOWED";
  if (isContextO(cp)) return "CONTEXTO";
  if (RE_UNASSIGNED.test(ch)) return "DISALLOWED";
  if (cp >= 0x21 && cp <= 0x7e) return "PVALID";
  if (cp === 0x200c || cp === 0x200d) return "CONTEXTJ";
  if (isOldHangulJamo(cp)) return "DISALLOWED";
  if (RE_IGNORABLE.test(ch)) return "DISALLOWED";
  if (RE_CONTROL.test(ch)) return "DISALLOWED";
  if (ch.normalize("NFKC") !== ch) return "FREE_PVAL"; // HasCompat
  if (RE_LETTER_DIGIT.test(ch)) return "PVALID";
  if (
    RE_OTHER_LETTER_DIGIT.test(ch) ||
    RE_SPACE.test(ch) ||
    RE_SYMBOL.test(ch) ||
    RE_PUNCT.test(ch)
  )
    return "FREE_PVAL";
  return "DISALLOWED";
}

// Code points with Canonical_Combining_Class Virama (9), for the CONTEXTJ rule.
const VIRAMAS = new Set([
  0x094d, 0x09cd, 0x0a4d, 0x0acd, 0x0b4d, 0x0bcd, 0x0c4d, 0x0ccd, 0x0d3b, 0x0d3c, 0x0d4d, 0x0dca,
  0x0e3a, 0x0eba, 0x0f84, 0x1039, 0x103a, 0x1714, 0x1715, 0x1734, 0x17d2, 0x1a60, 0x1b44, 0x1baa,
  0x1bab, 0x1bf2, 0x1bf3, 0x2d7f, 0xa806, 0xa82c, 0xa8c4, 0xa953, 0xa9c0, 0xaaf6, 0xabed, 0x10a3f,
  0x11046, 0x11070, 0x1107f, 0x110b9, 0x11133, 0x11134, 0x111c0, 0x11235, 0x112ea, 0x1134d, 0x11442,
  0x114c2, 0x115bf, 0x1163f, 0x116b6, 0x1172b, 0x11839, 0x1193d, 0x1193e, 0x119e0, 0x11a34, 0x11a47,
  0x11a99, 0x11c3f, 0x11d44, 0x11d45, 0x11d97, 0x11f41, 0x11f42,
]);
const RE_GREEK = /^\p{Script=Greek}$/u;
const RE_HEBREW = /^\p{Script=Hebrew}$/u;
const RE_KANA_HAN = /^[\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Han}]$/u;

// Joining_Type (Unicode ArabicShaping.txt), which ECMAScript regexes cannot query:
// the right-joining (R) and non-joining (U) letters of the Arabic blocks are listed,
// every other Arabic, Syriac or N'Ko letter is dual-joining (D), and combining marks
// and format characters are transparent (T). That covers the scripts that write
// ZWNJ between letters (Persian, Urdu, Kurdish, Pashto).
const RIGHT_JOINING: readonly (readonly [number, number])[] = [
  [0x0622, 0x0625], [0x0627, 0x0627], [0x0629, 0x0629], [0x062f, 0x0632], [0x0648, 0x0648],
  [0x0671, 0x0673], [0x0675, 0x0677], [0x0688, 0x0699], [0x06c0, 0x06c0], [0x06c3, 0x06cb],
  [0x06cd, 0x06cd], [0x06cf, 0x06cf], [0x06d2, 0x06d3], [0x06d5, 0x06d5], [0x06ee, 0x06ef],
  [0x0759, 0x075b], [0x076b, 0x076c], [0x0771, 0x0771], [0x0773, 0x0774], [0x0778, 0x0779],
  [0x08aa, 0x08ac], [0x08ae, 0x08ae], [0x08b1, 0x08b2], [0x08b9, 0x08b9],
];
const NON_JOINING_ARABIC = new Set([0x0621, 0x0674, 0x06dd]);
const RE_TRANSPARENT = /^[\p{Mn}\p{Me}\p{Cf}]$/u;
const RE_JOINING_SCRIPT_LETTER = /^[\p{Script=Arabic}\p{Script=Syriac}\p{Script=Nko}]$/u;
const RE_LETTER = /^\p{L}$/u;

function joiningType(cp: number): "R" | "D" | "T" | "U" {
  if (cp === 0x200c || cp === 0x200d) return "U";
  const ch = String.fromCodePoint(cp);
  if (RE_TRANSPARENT.test(ch)) return "T";
  if (RIGHT_JOINING.some(([lo, hi]) => cp >= lo && cp <= hi)) return "R";
  if (NON_JOINING_ARABIC.has(cp)) return "U";
  return RE_JOINING_SCRIPT_LETTER.test(ch) && RE_LETTER.test(ch) ? "D" : "U";
}

/**
 * RFC 5892 A.1, second clause: ZWNJ between a left-joining letter and a
 * right-joining one, transparent marks aside:
 * (Joining_Type:{L,D})(Joining_Type:T)*\u200C(Joining_Type:T)*(Joining_Type:{R,D}).
 */
function zwnjBetweenJoiningLetters(cps: number[], i: number): boolean {
  let b = i - 1;
  while (b >= 0 && joiningType(cps[b]!) === "T") b--;
  let a = i + 1;
  while (a < cps.length && joiningType(cps[a]!) === "T") a++;
  if (b < 0 || a >= cps.length) return false;
  const left = joiningType(cps[b]!);
  const right = joiningType(cps[a]!);
  return left === "D" && (right === "R" || right === "D");
}

/** RFC 5892 appendix A: the contextual rules for CONTEXTJ and CONTEXTO code points. */
function contextAllows(cps: number[], i: number): boolean {
  const cp = cps[i]!;
  const before = i > 0 ? cps[i - 1]! : -1;
  const after = i + 1 < cps.length ? cps[i + 1]! : -1;
  if (cp === 0x200c) return VIRAMAS.has(before) || zwnjBetweenJoiningLetters(cps, i);
  if (cp === 0x200d) return VIRAMAS.has(before);
  if (cp === 0x00b7) return before === 0x6c && after === 0x6c;
  if (cp === 0x0375) return after >= 0 && RE_GREEK.test(String.fromCodePoint(after));
  if (cp === 0x05f3 || cp === 0x05f4)
    return before >= 0 && RE_HEBREW.test(String.fromCodePoint(before));
  if (cp === 0x30fb)
    return cps.some((c) => c !== 0x30fb && RE_KANA_HAN.test(String.fromCodePoint(c)));
  if (cp >= 0x0660 && cp <= 0x0669) return !cps.some((c) => c >= 0x06f0 && c <= 0x06f9);
  if (cp >= 0x06f0 && cp <= 0x06f9) return !cps.some((c) => c >= 0x0660 && c <= 0x0669);
  return false;
}

function enforceClass(s: string, freeform: boolean, what: string): void {
  const cps = Array.from(s, (c) => c.codePointAt(0)!);
  for (let i = 0; i < cps.length; i++) {
    const cp = cps[i]!;
    const p = derivedProperty(String.fromCodePoint(cp), cp);
    if (p === "PVALID" || (freeform && p === "FREE_PVAL")) continue;
    if ((p === "CONTEXTJ" || p === "CONTEXTO") && contextAllows(cps, i)) continue;
    throw new JidError(
      `${what} contains disallowed character U+${cp.toString(16).toUpperCase().padStart(4, "0")}`,
    );
  }
}

// Width mapping (RFC 8265 3.3.1 rule 1): <wide> and <narrow> decompositions.
function widthMap(s: string): string {
  let out = "";
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    out += cp === 0x3000 || (cp >= 0xff01 && cp <= 0xffee) ? ch.normalize("NFKC") : ch;
  }
  return out;
}

// The Bidi Rule (RFC 5893 section 2), approximated from scripts and general
// categories because ECMAScript exposes no Bidi_Class property.
const RE_RTL_LETTER =
  /^[\p{Script=Hebrew}\p{Script=Arabic}\p{Script=Syriac}\p{Script=Thaana}\p{Script=Nko}\p{Script=Samaritan}\p{Script=Mandaic}\p{Script=Adlam}\p{Script=Hanifi_Rohingya}\p{Script=Yezidi}\p{Script=Mende_Kikakui}\p{Script=Imperial_Aramaic}\p{Script=Phoenician}\p{Script=Kharoshthi}]$/u;
const RE_NSM = /^[\p{Mn}\p{Me}]$/u;
const RE_STRONG = /^[\p{L}\p{Mc}\p{Nd}]$/u;
type Bidi = "R" | "L" | "EN" | "AN" | "NSM" | "ON";
function bidiClass(ch: string, cp: number): Bidi {
  if ((cp >= 0x30 && cp <= 0x39) || (cp >= 0x06f0 && cp <= 0x06f9)) return "EN";
  if ((cp >= 0x0660 && cp <= 0x0669) || cp === 0x066b || cp === 0x066c) return "AN";
  if (RE_NSM.test(ch)) return "NSM";
  if (RE_STRONG.test(ch)) return RE_RTL_LETTER.test(ch) ? "R" : "L";
  return "ON";
}
function checkBidi(s: string, what: string): void {
  const classes = Array.from(s, (c) => bidiClass(c, c.codePointAt(0)!));
  if (!classes.some((c) => c === "R" || c === "AN")) return; // only RTL strings are constrained
  const fail = (): never => {
    throw new JidError(`${what} violates the Bidi Rule (RFC 5893)`);
  };
  if (classes[0] !== "R") fail(); // rule 1 (an L first would make it LTR, which may not hold R/AN)
  if (classes.includes("L")) fail(); // rule 2
  let last = classes.length - 1;
  while (last > 0 && classes[last] === "NSM") last--;
  if (!["R", "EN", "AN"].includes(classes[last]!)) fail(); // rule 3
  if (classes.includes("EN") && classes.includes("AN")) fail(); // rule 4
}

function checkLength(s: string, what: string): void {
  if (s.length === 0) throw new JidError(`${what} is empty`);
  if (s.length > MAX_PART_BYTES / 3 && byteLength(s) > MAX_PART_BYTES)
    throw new JidError(`${what} is longer than ${MAX_PART_BYTES} bytes`);
}

// ---------------------------------------------------------------------------
// Localpart

// RFC 7622 3.3.1: " & ' / : < > @ are not allowed in a localpart.
function isExcludedLocal(c: number): boolean {
  return (
    c === 0x22 ||
    c === 0x26 ||
    c === 0x27 ||
    c === 0x2f ||
    c === 0x3a ||
    c === 0x3c ||
    c === 0x3e ||
    c === 0x40
  );
}

export function prepLocal(s: string): string {
  let out: string;
  if (isAscii(s)) {
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x21 || c > 0x7e)
        throw new JidError("localpart contains a space or control character");
    }
    out = s.toLowerCase();
  } else {
    out = widthMap(s).toLowerCase().normalize("NFC");
    enforceClass(out, false, "localpart");
    checkBidi(out, "localpart");
  }
  for (let i = 0; i < out.length; i++) {
    if (isExcludedLocal(out.charCodeAt(i))) throw new JidError(`localpart contains "${out[i]}"`);
  }
  checkLength(out, "localpart");
  return out;
}

// ---------------------------------------------------------------------------
// Domainpart

function checkAsciiLabel(label: string): void {
  if (label.length === 0) throw new JidError("domainpart has an empty label");
  if (label.length > 63) throw new JidError("domainpart label is longer than 63 bytes");
  for (let i = 0; i < label.length; i++) {
    const c = label.charCodeAt(i);
    const ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f; // COMPAT: "_" appears in internal host names; IDNA2003 without STD3 allowed it too
    if (!ok) throw new JidError(`domainpart contains "${label[i]}"`);
  }
}

/** A non-ASCII label must be a U-label in the form node's UTS 46 code gives back unchanged. */
function checkULabel(label: string): void {
  const alabel = domainToASCII(label);
  if (alabel === "" || alabel.includes(".") || domainToUnicode(alabel) !== label)
    throw new JidError("domainpart label is not a valid IDN label");
  if (alabel.length > 63) throw new JidError("domainpart label is longer than 63 bytes");
  for (let i = 0; i < label.length; i++) {
    const c = label.charCodeAt(i);
    if (
      c < 0x80 &&
      !((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f)
    )
      throw new JidError(`domainpart contains "${label[i]}"`);
  }
}

/** An A-label ("xn--...") becomes its U-label; anything that does not round-trip is rejected. */
function aLabelToU(label: string): string {
  const u = domainToUnicode(label);
  if (u === "" || u.includes(".") || domainToASCII(u) !== label)
    throw new JidError("domainpart contains an invalid A-label");
  if (isAscii(u)) checkAsciiLabel(u);
  else checkULabel(u);
  return u;
}

export function prepDomain(s: string): string {
  if (s.length === 0) throw new JidError("domainpart is empty");
  let d = isAscii(s)
    ? s.toLowerCase()
    : widthMap(s)
        .toLowerCase()
        .normalize("NFC")
        .replace(/[\u3002\uff0e\uff61]/g, ".");
  if (d.charCodeAt(0) === 0x5b /* [ */) {
    if (d.charCodeAt(d.length - 1) !== 0x5d || d.includes("%") || !isIPv6(d.slice(1, -1)))
      throw new JidError("domainpart is not a valid IPv6 literal");
    return d;
  }
  if (d.endsWith(".")) d = d.slice(0, -1);
  if (d.length === 0) throw new JidError("domainpart is empty");
  if (isIPv4(d)) return d;
  const labels = d.split(".");
  let changed = false;
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i]!;
    if (isAscii(label)) {
      if (label.startsWith("xn--")) {
        labels[i] = aLabelToU(label);
        changed = true;
      } else checkAsciiLabel(label);
    } else checkULabel(label);
  }
  if (changed) d = labels.join(".");
  checkLength(d, "domainpart");
  return d;
}

// ---------------------------------------------------------------------------
// Resourcepart

const RE_NON_ASCII_SPACE = /\p{Zs}/gu;

export function prepResource(s: string): string {
  let out = s;
  if (isAscii(s)) {
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c === 0x7f) throw new JidError("resourcepart contains a control character");
    }
  } else {
    out = s.replace(RE_NON_ASCII_SPACE, " ").normalize("NFC");
    enforceClass(out, true, "resourcepart");
  }
  checkLength(out, "resourcepart");
  return out;
}

// ---------------------------------------------------------------------------

export class Jid {
  readonly local: string;
  readonly domain: string;
  readonly resource: string;
  #full: string | undefined;
  #bare: string | undefined;

  private constructor(local: string, domain: string, resource: string) {
    this.local = local;
    this.domain = domain;
    this.resource = resource;
  }

  /** RFC 7622 3.1/3.2: split at the first "/", then at the first "@" before it. */
  static parse(s: string): Jid {
    const slash = s.indexOf("/");
    const head = slash < 0 ? s : s.slice(0, slash);
    if (slash >= 0 && slash === s.length - 1) throw new JidError("resourcepart is empty");
    const at = head.indexOf("@");
    if (at === 0) throw new JidError("localpart is empty");
    const local = at < 0 ? "" : prepLocal(head.slice(0, at));
    const domain = prepDomain(at < 0 ? head : head.slice(at + 1));
    const resource = slash < 0 ? "" : prepResource(s.slice(slash + 1));
    return new Jid(local, domain, resource);
  }

  static tryParse(s: string): Jid | null {
    try {
      return Jid.parse(s);
    } catch (e) {
      if (e instanceof JidError) return null;
      throw e;
    }
  }

  /** Empty local or resource means absent. */
  static of(local: string, domain: string, resource = ""): Jid {
    return new Jid(
      local === "" ? "" : prepLocal(local),
      prepDomain(domain),
      resource === "" ? "" : prepResource(resource),
    );
  }

  bare(): Jid {
    return this.resource === "" ? this : new Jid(this.local, this.domain, "");
  }

  isBare(): boolean {
    return this.resource === "";
  }

  /** Prepares the resource; an empty one throws (use bare() for that). */
  withResource(resource: string): Jid {
    return new Jid(this.local, this.domain, prepResource(resource));
  }

  bareString(): string {
    return (this.#bare ??= this.local === "" ? this.domain : `${this.local}@${this.domain}`);
  }

  toString(): string {
    return (this.#full ??=
      this.resource === "" ? this.bareString() : `${this.bareString()}/${this.resource}`);
  }

  equals(other: Jid): boolean {
    return (
      this === other ||
      (this.local === other.local &&
        this.domain === other.domain &&
        this.resource === other.resource)
    );
  }
}
