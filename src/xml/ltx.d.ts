// The parts of ltx 3 that Parley uses (ltx ships no types, and @types/ltx describes ltx 2).
// Only src/xml/ imports "ltx"; everything else takes Element from src/xml/index.js.
declare module "ltx" {
  export type Node = Element | string;

  export class Element {
    constructor(name: string, attrs?: Record<string, string> | string | null);
    /** As written, with its prefix. */
    name: string;
    parent: Element | null;
    children: Node[];
    attrs: Record<string, string>;

    /** Local name equals `name` and, if given, getNS() equals `xmlns`. */
    is(name: string, xmlns?: string): boolean;
    /** Local name (without prefix). */
    getName(): string;
    /** Namespace URI, looked up through the parents. */
    getNS(): string | undefined;
    findNS(prefix?: string): string | undefined;
    getXmlns(): Record<string, string>;
    setAttrs(attrs: Record<string, string> | string | null | undefined): void;
    getAttr(name: string, xmlns?: string): string | undefined;
    getChild(name: string, xmlns?: string): Element | undefined;
    getChildren(name: string, xmlns?: string): Element[];
    getChildByAttr(
      attr: string,
      val: string,
      xmlns?: string,
      recursive?: boolean,
    ): Element | undefined;
    getChildrenByAttr(attr: string, val: string, xmlns?: string, recursive?: boolean): Element[];
    getChildrenByFilter(filter: (child: Node) => boolean, recursive?: boolean): Node[];
    /** Concatenated direct text children. */
    getText(): string;
    getChildText(name: string, xmlns?: string): string | null;
    getChildElements(): Element[];
    root(): Element;
    up(): Element;
    /** Appends a new child element and returns the child. */
    c(name: string, attrs?: Record<string, string> | string | null): Element;
    cnode<T extends Node>(child: T): T;
    append(...nodes: Node[]): void;
    prepend(...nodes: Node[]): void;
    /** Appends a text child and returns this element. */
    t(text: string): this;
    remove(el: Element | string, xmlns?: string): this;
    text(): string;
    text(val: string): this;
    attr(name: string): string | undefined;
    attr(name: string, val: string | null): this;
    toString(): string;
    write(writer: (s: string) => void): void;
  }

  export function escapeXML(s: string): string;
  export function escapeXMLText(s: string): string;
}
