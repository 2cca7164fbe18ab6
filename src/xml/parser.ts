// The XML stream parser: builds each first-level child of the stream as an ltx Element, resolves
// namespaces (Namespaces in XML 1.0) and enforces the depth limit. Tokenizing, character checks
// and the size limit live in tokenizer.ts (with tag.ts, markup.ts and chars.ts).

import { Element } from "ltx";
import { show } from "./chars.js";
import { MODE_CONTENT, MODE_WS, XmlTokenizer, type XmlErrorCondition } from "./tokenizer.js";

export type { XmlErrorCondition } from "./tokenizer.js";

export interface StreamParserLimits {
  /** Largest first-level element, stream header or whitespace run, in input bytes. */
  maxStanzaBytes: number;
  /** Deepest element nesting: the stream element is depth 0, a stanza depth 1. */
  maxDepth: number;
}

export interface StreamHeader {
  /** As written, e.g. "stream:stream". */
  name: string;
  /** "stream". */
  localName: string;
  /** Resolved namespace URI of the header element, undefined if its prefix is unbound. */
  ns: string | undefined;
  /** The default namespace declared on it (xmlns="jabber:client"). */
  defaultNs: string | undefined;
  /** All attributes as written, including xmlns declarations. */
  attrs: Record<string, string>;
}

export interface StreamParserHandlers {
  streamStart(header: StreamHeader): void;
  /**
   * A complete first-level child of the stream. `ns` is its resolved namespace URI (inherited
   * default namespace for unprefixed elements). Its `parent` is an element standing for the stream
   * header, so `el.getNS()` resolves as `ns` does; serialising it adds no xmlns of the stream.
   */
  element(el: Element, ns: string | undefined): void;
  /** The stream's closing tag. */
  streamEnd(): void;
  /** After an error the parser ignores all further input until reset(). */
  error(condition: XmlErrorCondition, text: string): void;
}

const XML_NS = "http://www.w3.org/XML/1998/namespace";
const XMLNS_NS = "http://www.w3.org/2000/xmlns/";

/** prefix ("" for the default namespace) -> URI; the prototype chain holds the enclosing scopes. */
type Scope = Record<string, string>;

const ROOT_SCOPE: Scope = Object.create(null) as Scope;
ROOT_SCOPE.xml = XML_NS;
Object.freeze(ROOT_SCOPE);

/** Whether a name with a colon at `colon` is a valid QName (one colon, not first or last). */
function isQName(name: string, colon: number): boolean {
  return colon > 0 && colon < name.length - 1 && name.indexOf(":", colon + 1) < 0;
}

export class StreamParser extends XmlTokenizer {
  private readonly maxDepth: number;
  private readonly handlers: StreamParserHandlers;
  private header: StreamHeader | null = null;
  private headerEl: Element | null = null;
  private headerScope: Scope = Object.create(ROOT_SCOPE) as Scope;
  private ended = false;
  private readonly stack: Element[] = []; // open elements, stack[0] the stanza
  private readonly scopes: Scope[] = [];
  private stanzaNs: string | undefined = undefined;
  /** Prefixes declared on the stream header that the current stanza uses. */
  private readonly used: string[] = [];
  // Results of collect().
  private tmpAttrs: Record<string, string> = {};
  private tmpScope: Scope = ROOT_SCOPE;
  private tmpPrefixed = 0;

  constructor(limits: StreamParserLimits, handlers: StreamParserHandlers) {
    const { maxStanzaBytes, maxDepth } = limits;
    if (!(maxStanzaBytes >= 1) || !(maxDepth >= 1)) {
      throw new RangeError("StreamParser: maxStanzaBytes and maxDepth must be at least 1");
    }
    super(maxStanzaBytes);
    this.maxDepth = maxDepth;
    this.handlers = handlers;
  }

  override reset(): void {
    super.reset();
    this.header = null;
    this.headerEl = null;
    this.headerScope = Object.create(ROOT_SCOPE) as Scope;
    this.ended = false;
    this.stack.length = 0;
    this.scopes.length = 0;
    this.stanzaNs = undefined;
    this.used.length = 0;
  }

  protected onError(condition: XmlErrorCondition, text: string): void {
    this.handlers.error(condition, text);
  }

  protected limitMessage(inWhitespace: boolean): string {
    const max = this.maxBytes;
    if (this.header === null) return `stream header exceeds max_stanza_bytes (${max})`;
    if (inWhitespace) return `whitespace between stanzas exceeds max_stanza_bytes (${max})`;
    return `stanza exceeds max_stanza_bytes (${max})`;
  }

  protected onText(text: string): void {
    this.stack[this.stack.length - 1].children.push(text);
  }

  protected onStartTag(name: string, list: readonly string[], selfClosing: boolean): void {
    if (this.header === null) return this.openStream(name, list, selfClosing);
    if (this.ended) return this.fail("not-well-formed", "data after the end of the stream");
    const depth = this.stack.length + 1;
    if (depth > this.maxDepth) {
      return this.fail("policy-violation", `element nesting exceeds max_depth (${this.maxDepth})`);
    }
    if (!this.collect(list, depth === 1 ? this.headerScope : this.scopes[depth - 2])) return;
    const attrs = this.tmpAttrs;
    const scope = this.tmpScope;

    let ns: string | undefined;
    const colon = name.indexOf(":");
    if (colon < 0) {
      ns = scope[""] || undefined;
    } else {
      const prefix = name.slice(0, colon);
      if (!isQName(name, colon) || prefix === "xmlns") {
        return this.fail("not-well-formed", `invalid element name ${show(name)}`);
      }
      ns = scope[prefix];
      if (ns === undefined) return this.fail("not-well-formed", `unbound prefix ${show(prefix)}`);
      this.noteHeaderPrefix(prefix, ns);
    }
    if (this.tmpPrefixed > 0 && !this.checkAttrPrefixes(list, scope)) return;

    const el = new Element(name);
    el.attrs = attrs;
    if (depth === 1) {
      this.stanzaNs = ns;
    } else {
      const parent = this.stack[depth - 2];
      parent.children.push(el);
      el.parent = parent;
    }
    this.stack.push(el);
    this.scopes.push(scope);
    this.mode = MODE_CONTENT;
    if (selfClosing) this.close();
  }

  protected onEndTag(name: string): void {
    const header = this.header;
    if (header === null || this.ended) {
      return this.fail("not-well-formed", `unexpected end tag </${show(name)}>`);
    }
    const depth = this.stack.length;
    if (depth === 0) {
      if (name !== header.name) {
        return this.fail("not-well-formed", `end tag </${show(name)}> does not close the stream`);
      }
      this.ended = true;
      this.handlers.streamEnd();
      return;
    }
    const open = this.stack[depth - 1].name;
    if (name !== open) {
      return this.fail(
        "not-well-formed",
        `end tag </${show(name)}> does not match <${show(open)}>`,
      );
    }
    this.close();
  }

  private close(): void {
    const el = this.stack.pop() as Element;
    this.scopes.pop();
    if (this.stack.length > 0) return;
    this.mode = MODE_WS;
    for (const p of this.used) {
      const key = "xmlns:" + p;
      if (!Object.hasOwn(el.attrs, key)) el.attrs[key] = this.headerScope[p];
    }
    this.used.length = 0;
    el.parent = this.headerEl;
    this.handlers.element(el, this.stanzaNs);
  }

  private openStream(name: string, list: readonly string[], selfClosing: boolean): void {
    if (!this.collect(list, ROOT_SCOPE)) return;
    const scope =
      this.tmpScope === ROOT_SCOPE ? (Object.create(ROOT_SCOPE) as Scope) : this.tmpScope;
    const colon = name.indexOf(":");
    if (colon >= 0 && !isQName(name, colon)) {
      return this.fail("not-well-formed", `invalid element name ${show(name)}`);
    }
    const defaultNs = scope[""] || undefined;
    // An unbound prefix here is left to stream negotiation (invalid-namespace).
    const ns = colon < 0 ? defaultNs : scope[name.slice(0, colon)] || undefined;
    const header: StreamHeader = {
      name,
      localName: colon < 0 ? name : name.slice(colon + 1),
      ns,
      defaultNs,
      attrs: this.tmpAttrs,
    };
    this.header = header;
    this.headerScope = scope;
    const headerEl = new Element(name);
    headerEl.attrs = { ...this.tmpAttrs };
    this.headerEl = headerEl;
    if (selfClosing) this.ended = true;
    this.handlers.streamStart(header);
    if (selfClosing && this.header === header && !this.failed) this.handlers.streamEnd();
  }

  /** Builds the attribute record and the element's namespace scope into tmpAttrs / tmpScope. */
  private collect(list: readonly string[], parent: Scope): boolean {
    const attrs: Record<string, string> = {};
    let scope = parent;
    let prefixed = 0;
    for (let k = 0; k < list.length; k += 2) {
      const an = list[k];
      const av = list[k + 1];
      if (Object.hasOwn(attrs, an)) {
        this.fail("not-well-formed", `duplicate attribute ${show(an)}`);
        return false;
      }
      if (an === "__proto__") {
        Object.defineProperty(attrs, an, {
          value: av,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      } else {
        attrs[an] = av;
      }
      if (an.startsWith("xmlns")) {
        let prefix: string;
        if (an.length === 5) {
          prefix = "";
          if (av === XML_NS || av === XMLNS_NS) {
            this.fail("not-well-formed", "reserved namespace cannot be the default namespace");
            return false;
          }
        } else if (an.charCodeAt(5) === 0x3a) {
          prefix = an.slice(6);
          if (prefix === "" || prefix.indexOf(":") >= 0 || av === "") {
            this.fail("not-well-formed", `invalid namespace declaration ${show(an)}`);
            return false;
          }
          if (prefix === "xmlns" || av === XMLNS_NS || (prefix === "xml") !== (av === XML_NS)) {
            this.fail("not-well-formed", `reserved prefix or namespace in ${show(an)}`);
            return false;
          }
        } else {
          if (an.indexOf(":") >= 0) prefixed++;
          continue;
        }
        // xmlns:xml may be declared, but only to its own URI (checked above), which ROOT_SCOPE
        // already binds; assigning it again would throw, as ROOT_SCOPE is frozen.
        if (prefix === "xml") continue;
        if (scope === parent) scope = Object.create(parent) as Scope;
        scope[prefix] = av;
        continue;
      }
      if (an.indexOf(":") >= 0) prefixed++;
    }
    this.tmpAttrs = attrs;
    this.tmpScope = scope;
    this.tmpPrefixed = prefixed;
    return true;
  }

  /** Resolves prefixed attribute names; rejects unbound prefixes and duplicate expanded names. */
  private checkAttrPrefixes(list: readonly string[], scope: Scope): boolean {
    let seen: Set<string> | undefined;
    for (let k = 0; k < list.length; k += 2) {
      const an = list[k];
      const colon = an.indexOf(":");
      if (colon < 0 || (colon === 5 && an.startsWith("xmlns"))) continue;
      const prefix = an.slice(0, colon);
      if (!isQName(an, colon) || prefix === "xmlns") {
        this.fail("not-well-formed", `invalid attribute name ${show(an)}`);
        return false;
      }
      const uri = scope[prefix];
      if (uri === undefined) {
        this.fail("not-well-formed", `unbound prefix ${show(prefix)}`);
        return false;
      }
      this.noteHeaderPrefix(prefix, uri);
      if (this.tmpPrefixed > 1) {
        seen ??= new Set();
        const key = uri + " " + an.slice(colon + 1);
        if (seen.has(key)) {
          this.fail("not-well-formed", `duplicate attribute ${show(an)}`);
          return false;
        }
        seen.add(key);
      }
    }
    return true;
  }

  /** Remembers a prefix the stanza takes from the stream header, to declare it on the stanza. */
  private noteHeaderPrefix(prefix: string, uri: string): void {
    const hs = this.headerScope;
    if (Object.hasOwn(hs, prefix) && hs[prefix] === uri && !this.used.includes(prefix)) {
      this.used.push(prefix);
    }
  }
}
