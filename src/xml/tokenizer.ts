// A resumable XML tokenizer for one XMPP stream: a state machine over the decoded text that
// stops at the first thing RFC 6120 forbids. Every decision depends only on the characters seen,
// never on where the input was split, so any chunking gives the same events.
//
// Size accounting: the input is cut into "units" (the stream header, each run of whitespace
// between stanzas, each first-level element from its '<' to its final '>'), and a unit may not
// pass maxBytes input bytes; the check is made per character, so nothing unbounded is buffered.
//
// Here: the main loop, with stream-level whitespace, character data, references, the size
// budget and the hand-over of finished tags. tag.ts scans the inside of tags, markup.ts CDATA
// sections and the rarer markup, chars.ts decodes the written chunks. The scanners are called
// once per tag or section (again where a string ends inside one), never per character, so the
// character loops stay free of calls; they get the budget as the index where it runs out.

import {
  ASCII,
  C_NAME,
  charNotAllowed,
  ChunkDecoder,
  decodeReference,
  MAX_REF_LENGTH,
  REF_MALFORMED,
  REF_RESTRICTED,
  show,
  utf8Extra,
} from "./chars.js";
import { MarkupScanner } from "./markup.js";
import { TAG_EMPTY, TAG_END, TAG_INCOMPLETE, TAG_REF, TagScanner } from "./tag.js";

export type XmlErrorCondition =
  "not-well-formed" | "restricted-xml" | "policy-violation" | "unsupported-encoding" | "bad-format";

/** Prolog, stream level and epilog: only whitespace between tags, and none of it is kept. */
export const MODE_WS = 0;
/** Inside a first-level element: character data is collected. */
export const MODE_CONTENT = 1;

// States.
const TEXT = 0;
const LT = 1; // after '<'
const TAG = 2; // in a start or end tag: this.tag scans it
const REF = 3; // after '&'
const MARKUP = 4; // after '<!', or '<?' at the very start of the stream: this.markup scans it

export abstract class XmlTokenizer {
  protected readonly maxBytes: number;
  /** MODE_WS or MODE_CONTENT, kept by the tree builder. */
  protected mode = MODE_WS;
  /** Set once an error was reported; input is then ignored until reset(). */
  protected failed = false;

  private state = TEXT;
  private ret = TEXT; // state a reference returns to: TEXT or TAG
  private budget: number; // bytes the current unit may still use, from the next input byte on
  private atStart = 2; // 2: nothing consumed since reset, 1: only a byte order mark, 0: more
  private text = ""; // pending character data
  private ref = ""; // partial reference body
  private brackets = 0; // consecutive ']' just before, in text
  private crPending = false; // the previous string ended with CR
  private readonly tag = new TagScanner();
  private readonly markup = new MarkupScanner();
  private readonly input = new ChunkDecoder();
  private inWrite = false;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
    this.budget = maxBytes;
  }

  protected abstract onStartTag(name: string, attrs: readonly string[], selfClosing: boolean): void;
  protected abstract onEndTag(name: string): void;
  protected abstract onText(text: string): void;
  protected abstract onError(condition: XmlErrorCondition, text: string): void;
  protected abstract limitMessage(inWhitespace: boolean): string;

  /** Feeds bytes (or text) of the stream, split anywhere. */
  write(chunk: Buffer | string): void {
    if (this.failed) return;
    if (this.inWrite) throw new Error("StreamParser.write() called from one of its handlers");
    this.inWrite = true;
    try {
      const s = this.input.decode(chunk);
      if (s !== "") this.feed(s);
      if (this.input.invalid && !this.failed) {
        this.fail("unsupported-encoding", "invalid UTF-8 byte sequence");
      }
    } catch (err) {
      this.failed = true;
      throw err;
    } finally {
      this.inWrite = false;
    }
  }

  /**
   * Starts a new stream (after STARTTLS or SASL). Called from a handler during write(), the rest of
   * that chunk is parsed as the new stream; otherwise bytes written before are dropped.
   */
  reset(): void {
    this.mode = MODE_WS;
    this.failed = false;
    this.state = TEXT;
    this.budget = this.maxBytes;
    this.atStart = 2;
    this.text = this.ref = "";
    this.tag.reset();
    this.markup.reset();
    this.brackets = 0;
    this.crPending = false;
    if (!this.inWrite) this.input.clear();
  }

  /**
   * Ignores all further input, the rest of the chunk being written included, until reset(); no
   * error is reported. For a handler after which nothing more may be read from the same bytes:
   * after <starttls/>, plaintext that came with it must be dropped (RFC 6120 5.4.3.3).
   */
  discardInput(): void {
    this.failed = true;
  }

  protected fail(condition: XmlErrorCondition, text: string): void {
    this.failed = true;
    this.onError(condition, text);
  }

  private feed(s: string): void {
    const n = s.length;
    const max = this.maxBytes;
    let i = 0;
    // The current unit may use s up to (not including) index `stop`: a code unit at index i is
    // over the limit when i >= stop. Each non-ASCII code unit lowers it by the UTF-8 bytes it
    // takes beyond one.
    let stop = this.budget;
    let end = stop < n ? stop : n;
    let c = 0;
    let d = 0;
    let emit = 0;

    outer: while (i < n) {
      if (i >= end && (this.state !== TEXT || this.mode !== MODE_WS)) {
        this.fail("policy-violation", this.limitMessage(false));
        return;
      }
      switch (this.state) {
        case TEXT: {
          if (this.mode === MODE_WS) {
            const st = i;
            for (; i < n; i++) {
              c = s.charCodeAt(i);
              if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
              if (i >= end) {
                this.fail("policy-violation", this.limitMessage(true));
                return;
              }
            }
            if (i > st) this.atStart = 0;
            if (i >= n) continue outer;
            if (c === 0x3c) {
              // A new unit starts at this '<'.
              stop = i + max;
              end = stop < n ? stop : n;
              i++;
              this.state = LT;
              continue outer;
            }
            if (c === 0xfeff && this.atStart === 2) {
              stop -= 2; // a byte order mark is 3 bytes in UTF-8
              end = stop < n ? stop : n;
              if (i >= end) {
                this.fail("policy-violation", this.limitMessage(true));
                return;
              }
              i++;
              this.atStart = 1;
              continue outer;
            }
            this.fail("not-well-formed", "character data is not allowed at stream level");
            return;
          }
          let st = i;
          let br = this.brackets;
          for (; i < end; i++) {
            c = s.charCodeAt(i);
            if (c < 0x80) {
              if (c >= 0x3f) {
                br = c === 0x5d ? br + 1 : 0;
                continue;
              }
              if (c >= 0x20) {
                if (c === 0x3c || c === 0x26) break;
                if (c === 0x3e && br >= 2) {
                  this.fail("not-well-formed", "']]>' is not allowed in character data");
                  return;
                }
                br = 0;
                continue;
              }
              br = 0;
              if (c === 0x0a) {
                if (i === 0 ? this.crPending : s.charCodeAt(i - 1) === 0x0d) {
                  this.text += s.slice(st, i);
                  st = i + 1;
                }
                continue;
              }
              if (c === 0x09) continue;
              if (c === 0x0d) {
                this.text += s.slice(st, i) + "\n";
                st = i + 1;
                continue;
              }
              this.fail("not-well-formed", charNotAllowed(c));
              return;
            }
            br = 0;
            d = utf8Extra(s, i, c);
            if (d < 0) {
              this.fail("not-well-formed", charNotAllowed(c));
              return;
            }
            stop -= d;
            end = stop < n ? stop : n;
            if (i >= end) break;
          }
          this.brackets = br;
          if (st < i) this.text += s.slice(st, i);
          if (i >= end) continue outer;
          i++;
          this.brackets = 0;
          if (c === 0x3c) {
            this.state = LT;
          } else {
            this.ret = TEXT;
            this.ref = "";
            this.state = REF;
          }
          continue outer;
        }

        case LT: {
          c = s.charCodeAt(i);
          const start = this.atStart;
          this.atStart = 0;
          if (c === 0x2f) {
            i++;
            this.tag.endTag();
            this.state = TAG;
          } else if (c === 0x21) {
            i++;
            this.markup.bang(this.mode === MODE_WS);
            this.state = MARKUP;
          } else if (c === 0x3f) {
            if (start === 0) {
              this.fail("restricted-xml", "processing instructions are not allowed");
              return;
            }
            i++;
            this.markup.xmlDecl();
            this.state = MARKUP;
          } else {
            this.tag.startTag();
            this.state = TAG;
          }
          continue outer;
        }

        case TAG: {
          const tag = this.tag;
          // "| 0" tells the optimiser that i stays a small integer; without it, i gets the
          // unknown type of a call's result and every character loop here runs slower.
          i = tag.scan(s, i, stop, this.crPending) | 0;
          if (i < 0) return this.fail("not-well-formed", tag.error);
          stop = tag.stop;
          end = stop < n ? stop : n;
          emit = tag.found;
          if (emit === TAG_INCOMPLETE) continue outer;
          if (emit === TAG_REF) {
            this.ret = TAG;
            this.ref = "";
            this.state = REF;
            continue outer;
          }
          break;
        }

        case REF: {
          const st = i;
          const room = MAX_REF_LENGTH - this.ref.length + i;
          for (; i < end; i++) {
            c = s.charCodeAt(i);
            if (c === 0x3b) break;
            if (c >= 0x80 || (c !== 0x23 && (ASCII[c] & C_NAME) === 0) || i >= room) {
              return this.fail("not-well-formed", "malformed entity or character reference");
            }
          }
          this.ref += s.slice(st, i);
          if (i >= end) continue outer;
          i++;
          const v = decodeReference(this.ref);
          if (v === REF_RESTRICTED) {
            return this.fail(
              "restricted-xml",
              `entity reference &${show(this.ref)}; is not allowed`,
            );
          }
          if (v === REF_MALFORMED) {
            return this.fail("not-well-formed", `malformed reference &${show(this.ref)};`);
          }
          if (this.ret === TEXT) this.text += v as string;
          else this.tag.addToValue(v as string);
          this.state = this.ret;
          continue outer;
        }

        case MARKUP: {
          const markup = this.markup;
          i = markup.scan(s, i, stop, this.crPending) | 0; // "| 0": as for tag.scan()
          if (i < 0) return this.fail(markup.condition, markup.error);
          if (markup.text !== "") {
            this.text += markup.text;
            markup.text = "";
          }
          stop = markup.stop;
          end = stop < n ? stop : n;
          if (markup.done) this.state = TEXT;
          continue outer;
        }
      }

      // A tag is complete and its '>' consumed: hand it over.
      this.state = TEXT;
      if (this.text !== "") {
        const t = this.text;
        this.text = "";
        this.onText(t);
      }
      if (emit === TAG_END) this.onEndTag(this.tag.name);
      else this.onStartTag(this.tag.name, this.tag.attrs, emit === TAG_EMPTY);
      if (this.failed) return;
      if (this.mode === MODE_WS) {
        // Back at stream level (or restarted by a handler): a new unit starts after the '>'.
        stop = i + max;
        end = stop < n ? stop : n;
      }
    }
    this.budget = stop - n;
    this.crPending = s.charCodeAt(n - 1) === 0x0d;
  }
}
