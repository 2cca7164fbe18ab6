// The Unicode rules behind the JID profiles, as pure checks on a string:
//
//   the PRECIS derived property (RFC 8264 section 8) with the contextual rules
//   of RFC 5892 appendix A, width mapping (RFC 8265 3.3.1), the Bidi Rule (RFC 5893)
//
// They report what they find and jid.ts words it as a JidError. It calls
// them for non-ASCII input only, so nothing here is on the per-stanza fast path.

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
// prettier-ignore
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

/**
 * The first code point of `s` outside the IdentifierClass (the FreeformClass if
 * `freeform`), or undefined when every one is allowed.
 */
export function firstDisallowed(s: string, freeform: boolean): number | undefined {
  const cps = Array.from(s, (c) => c.codePointAt(0)!);
  for (let i = 0; i < cps.length; i++) {
    const cp = cps[i]!;
    const p = derivedProperty(String.fromCodePoint(cp), cp);
    if (p === "PVALID" || (freeform && p === "FREE_PVAL")) continue;
    if ((p === "CONTEXTJ" || p === "CONTEXTO") && contextAllows(cps, i)) continue;
    return cp;
  }
  return undefined;
}

// Width mapping (RFC 8265 3.3.1 rule 1): <wide> and <narrow> decompositions.
export function widthMap(s: string): string {
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
export function violatesBidiRule(s: string): boolean {
  const classes = Array.from(s, (c) => bidiClass(c, c.codePointAt(0)!));
  if (!classes.some((c) => c === "R" || c === "AN")) return false; // only RTL strings are constrained
  if (classes[0] !== "R") return true; // rule 1 (an L first would make it LTR, which may not hold R/AN)
  if (classes.includes("L")) return true; // rule 2
  let last = classes.length - 1;
  while (last > 0 && classes[last] === "NSM") last--;
  if (!["R", "EN", "AN"].includes(classes[last]!)) return true; // rule 3
  return classes.includes("EN") && classes.includes("AN"); // rule 4
}
