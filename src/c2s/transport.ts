// What a c2s stream needs from its connection. The listeners in net/ provide
// it over TCP and TLS; tests can provide it over an in-memory pair.

import type { ChannelBindingType } from "./sasl/index.js";

export interface Transport {
  readonly remoteAddress: string;
  /** Encrypted now (direct TLS, or after STARTTLS). */
  readonly secure: boolean;
  /** STARTTLS is possible on this connection. */
  readonly canStartTls: boolean;
  /** Writes data; returns false when the peer is not keeping up (backpressure). */
  write(data: string): boolean;
  /** Calls back once buffered data has been flushed. */
  onDrain(cb: () => void): void;
  /** Half-closes after pending writes; destroys after graceMs if the peer does not close. */
  end(graceMs?: number): void;
  destroy(): void;
  pause(): void;
  resume(): void;
  onData(cb: (chunk: Buffer) => void): void;
  /** Every callback registered runs once when the connection is gone. */
  onClose(cb: (reason: string) => void): void;
  /** Upgrades in place; data before the handshake is discarded. Resolves once TLS is up. */
  startTls(servername: string): Promise<void>;
  /** Channel-binding data available on this connection (empty unless secure). */
  channelBindings(): Map<ChannelBindingType, Buffer>;
  /** Authenticated: nothing binds to the channel again (the restarted stream offers no SASL), so its data can go. */
  releaseChannelBindings(): void;
  /** TLS protocol and cipher, for logs and audit. */
  tlsInfo(): { protocol: string; cipher: string } | null;
}
