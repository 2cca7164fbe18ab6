// What the RFC 6121 integration tests need on top of xmpp.js: one server per
// describe block; every stanza a client receives, kept in order, waited for by
// predicate; and a barrier that proves something did NOT arrive without any
// timing assumption.

import { xml, type XmlElement } from "@xmpp/client";
import { type Client, connectClient } from "./clients.js";
import { type ConfigOverrides, type TestServer, startTestServer } from "./server.js";

export type Match = (s: XmlElement) => boolean;

let barrierCounter = 0;

export class Inbox {
  readonly all: XmlElement[] = [];
  private readonly consumed = new Set<XmlElement>();
  private waiters: (() => void)[] = [];

  constructor(readonly client: Client) {
    client.on("stanza", (s: XmlElement) => {
      this.all.push(s);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  get jid(): string {
    return this.client.jid!.toString();
  }

  get bare(): string {
    return this.client.jid!.bare().toString();
  }

  /** The first stanza not yet taken that matches; waits for it (and fails after timeoutMs). */
  async next(match: Match, what = "a matching stanza", timeoutMs = 5000): Promise<XmlElement> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.all.find((s) => !this.consumed.has(s) && match(s));
      if (found) {
        this.consumed.add(found);
        return found;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.jid} timed out waiting for ${what}; got:\n${this.all.map(String).join("\n")}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Whether any stanza received so far matches (taken or not). */
  some(match: Match): boolean {
    return this.all.some(match);
  }

  send(el: XmlElement): Promise<void> {
    return this.client.send(el);
  }

  iq(el: XmlElement): Promise<XmlElement> {
    return this.client.iqCaller.request(el);
  }
}

/** Connects, answers roster pushes (RFC 6121 2.1.6 requires a result) and records what arrives. */
export async function connect(port: number, username: string, password: string, resource?: string): Promise<Inbox> {
  const client = await connectClient({ port, username, password, resource });
  client.iqCallee.set("jabber:iq:roster", "query", () => ({}));
  return new Inbox(client);
}

export interface SuiteServer {
  /** The server, once the describe block's before hook has started it. */
  readonly ts: TestServer;
  /** Logs in an account added with password "pw"; the client is stopped after the test. */
  login(user: string, resource?: string): Promise<Inbox>;
}

/**
 * Registers hooks in the calling describe block: one server started before its
 * tests and stopped after them, and every client from login() stopped after
 * each test, so no session outlives the test that opened it.
 */
export function suiteServer(overrides?: ConfigOverrides): SuiteServer {
  let started: TestServer | null = null;
  const open: Inbox[] = [];
  before(async () => {
    started = await startTestServer(overrides);
  });
  after(async () => {
    await started?.stop();
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.client.stop().catch(() => undefined)));
  });
  const server = (): TestServer => {
    if (!started) throw new Error("the server starts in the describe block's before hook");
    return started;
  };
  return {
    get ts() {
      return server();
    },
    async login(user, resource) {
      const c = await connect(server().starttlsPort, user, "pw", resource);
      open.push(c);
      return c;
    },
  };
}

/**
 * Everything `from` sent before this call has been processed by the server
 * once `to` receives the barrier message: the server handles one session's
 * stanzas in order (RFC 6120 10.1) and delivery is awaited.
 */
export async function barrier(from: Inbox, to: Inbox): Promise<void> {
  const body = `barrier-${++barrierCounter}`;
  await from.send(xml("message", { to: to.jid, type: "chat" }, xml("body", {}, body)));
  await to.next((s) => s.name === "message" && s.getChildText("body") === body, body);
}

export const isPresence = (type: string | undefined, from?: string): Match => (s) =>
  s.name === "presence" && s.attrs.type === type && (from === undefined || s.attrs.from === from);

export const isRosterPush = (jid: string): Match => (s) =>
  s.name === "iq" &&
  s.attrs.type === "set" &&
  s.getChild("query", "jabber:iq:roster")?.getChild("item")?.attrs.jid === jid;

export function pushedItem(s: XmlElement): XmlElement {
  return s.getChild("query", "jabber:iq:roster")!.getChild("item")!;
}

export async function rosterGet(c: Inbox, ver?: string): Promise<XmlElement> {
  const reply = await c.iq(xml("iq", { type: "get" }, xml("query", { xmlns: "jabber:iq:roster", ver })));
  return reply;
}

export async function rosterSet(c: Inbox, item: Record<string, string>, ...groups: string[]): Promise<XmlElement> {
  return c.iq(xml("iq", { type: "set" }, xml("query", { xmlns: "jabber:iq:roster" }, xml("item", item, ...groups.map((g) => xml("group", {}, g))))));
}

/**
 * Subscribes a to b and b to a (both), the way two clients do it by hand;
 * works whether or not they sent initial presence (barriers, not deliveries).
 */
export async function subscribeBoth(a: Inbox, b: Inbox): Promise<void> {
  await a.send(xml("presence", { to: b.bare, type: "subscribe" }));
  await barrier(a, b);
  await b.send(xml("presence", { to: a.bare, type: "subscribed" }));
  await b.send(xml("presence", { to: a.bare, type: "subscribe" }));
  await barrier(b, a);
  await a.send(xml("presence", { to: b.bare, type: "subscribed" }));
  await barrier(a, b);
}

export async function errorCondition(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as { condition?: string }).condition ?? String(err);
  }
  return "no error";
}

/** Drops the TCP connection without a closing handshake (the socket may be wrapped after STARTTLS). */
export function dropConnection(c: Inbox): void {
  let s = (c.client as unknown as { socket: unknown }).socket as { destroy?: () => void; socket?: unknown } | null;
  while (s && typeof s.destroy !== "function") s = s.socket as typeof s;
  if (!s?.destroy) throw new Error("no socket to destroy");
  s.destroy();
}
