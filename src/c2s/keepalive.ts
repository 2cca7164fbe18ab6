// The timer of one c2s stream: the authentication deadline before bind; after
// it, a ping when the client has been idle, and connection-timeout when the
// ping goes unanswered. One timer per stream, rescheduled rather than polled.

import { xml } from "../xml/index.js";
import { NS } from "../xmpp/ns.js";
import type { C2sStream } from "./stream.js";

export class Keepalive {
  private lastInput = Date.now();
  private pingSent = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly stream: C2sStream) {}

  /** Called for each chunk read: any input counts as the answer to a ping. */
  input(): void {
    this.lastInput = Date.now();
    this.pingSent = 0;
  }

  /** (Re)starts the timer: the authentication deadline before bind, the idle check after. */
  schedule(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.onTimer(), ms);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
  }

  private onTimer(): void {
    const { stream } = this;
    if (stream.isClosed) return;
    const limits = stream.ctx.core.config.limits;
    if (!stream.isBound) return void stream.close("connection-timeout", "authentication took too long");
    const idle = Date.now() - this.lastInput;
    const idleMs = limits.idle_timeout_seconds * 1000;
    if (this.pingSent && Date.now() - this.pingSent >= limits.ping_timeout_seconds * 1000) {
      return void stream.close("connection-timeout", "no answer to ping");
    }
    if (!this.pingSent && idle >= idleMs) {
      // XEP-0199 4.3: a server-to-client ping; any input counts as the answer.
      this.pingSent = Date.now();
      stream.send(xml("iq", { type: "get", id: `ping-${this.pingSent}`, from: stream.domain, to: stream.jid.toString() }, xml("ping", { xmlns: NS.PING }))).catch(
        () => undefined, // send() has closed the stream already
      );
      return this.schedule(limits.ping_timeout_seconds * 1000);
    }
    this.schedule(this.pingSent ? limits.ping_timeout_seconds * 1000 : Math.max(1000, idleMs - idle));
  }
}
