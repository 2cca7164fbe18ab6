// The parts of xmpp.js the tests use (the package ships no types).
declare module "@xmpp/client" {
  import type { EventEmitter } from "node:events";

  export interface XmlElement {
    name: string;
    attrs: Record<string, string>;
    children: (XmlElement | string)[];
    getChild(name: string, xmlns?: string): XmlElement | undefined;
    getChildren(name: string, xmlns?: string): XmlElement[];
    getChildText(name: string, xmlns?: string): string | null;
    getChildElements(): XmlElement[];
    text(): string;
    is(name: string, xmlns?: string): boolean;
    toString(): string;
  }

  export interface Jid {
    local: string;
    domain: string;
    resource: string;
    bare(): Jid;
    toString(): string;
  }

  export interface Client extends EventEmitter {
    jid: Jid | null;
    status: string;
    start(): Promise<Jid>;
    stop(): Promise<void>;
    send(el: XmlElement): Promise<void>;
    reconnect: { stop(): void };
    iqCaller: { request(el: XmlElement, timeout?: number): Promise<XmlElement> };
    iqCallee: { get(ns: string, name: string, handler: (ctx: unknown) => unknown): void; set(ns: string, name: string, handler: (ctx: unknown) => unknown): void };
  }

  export function client(options: Record<string, unknown>): Client;
  export function xml(name: string, attrs?: Record<string, string | undefined> | null, ...children: (XmlElement | string | null | undefined)[]): XmlElement;
  export function jid(s: string): Jid;
}
