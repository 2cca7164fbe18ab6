// IQ dispatch (RFC 6120 8.2.3, 10.3.3): handlers return values and the core
// sends exactly one reply; a crash becomes internal-server-error and a log
// line, nobody handling it becomes service-unavailable, in this one place.

import { type Element, cloneElement, xml } from "../xml/index.js";
import { StanzaError } from "../xmpp/errors.js";
import type { Jid } from "../xmpp/jid.js";
import type { Logger } from "./log.js";
import type { ClientSession } from "./session.js";

/** Who the request is for: the server itself (to = domain) or an account (to = bare JID or absent). */
export type IqTarget = "server" | "account";

export interface IqRequest {
  readonly el: Element;
  readonly type: "get" | "set";
  /** The one child element (RFC 6120 8.2.3). */
  readonly payload: Element;
  readonly from: Jid;
  /** The bare account JID or the domain JID the request is addressed to. */
  readonly to: Jid;
  /** The client session that sent it, when it came from a local client. */
  readonly session: ClientSession | null;
  /** The sender is the account the request is addressed to (RFC 6120 10.3.3). */
  readonly self: boolean;
}

/** An element becomes the result's payload; nothing means an empty result. */
export type IqResult = Element | null | undefined | void | StanzaError;
export type IqHandler = (req: IqRequest) => IqResult | Promise<IqResult>;

const HANDLER_TIMEOUT_MS = 10_000;

export class IqDispatcher {
  private readonly handlers = new Map<string, IqHandler>();

  constructor(private readonly log: Logger) {}

  private static key(target: IqTarget, type: string, ns: string, name: string): string {
    return `${target} ${type} ${name} ${ns}`;
  }

  /** Returns a function that removes the registration again. */
  register(targets: readonly IqTarget[], type: "get" | "set", ns: string, name: string, handler: IqHandler): () => void {
    const keys = targets.map((t) => IqDispatcher.key(t, type, ns, name));
    for (const key of keys) {
      if (this.handlers.has(key)) throw new Error(`iq handler already registered: ${key}`);
      this.handlers.set(key, handler);
    }
    return () => keys.forEach((k) => this.handlers.delete(k));
  }

  handles(target: IqTarget, type: "get" | "set", ns: string, name: string): boolean {
    return this.handlers.has(IqDispatcher.key(target, type, ns, name));
  }

  /** The reply to send back (result or error), addressed from req.el's 'to'. */
  async dispatch(target: IqTarget, req: IqRequest): Promise<Element> {
    const { el, payload } = req;
    const handler = this.handlers.get(IqDispatcher.key(target, req.type, payload.attrs.xmlns ?? "", payload.name));
    let outcome: IqResult;
    if (!handler) outcome = new StanzaError("service-unavailable");
    else {
      try {
        outcome = await withTimeout(Promise.resolve(handler(req)), HANDLER_TIMEOUT_MS);
      } catch (err) {
        if (err instanceof StanzaError) outcome = err;
        else {
          this.log.error("iq handler failed", {
            ns: payload.attrs.xmlns,
            name: payload.name,
            error: err instanceof Error ? err.message : String(err),
          });
          outcome = new StanzaError("internal-server-error");
        }
      }
    }
    const attrs = { type: "result", id: el.attrs.id, from: el.attrs.to, to: el.attrs.from };
    if (outcome instanceof StanzaError) {
      return xml("iq", { ...attrs, type: "error" }, cloneElement(payload), outcome.toElement());
    }
    return xml("iq", attrs, outcome ?? null);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`handler took longer than ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
