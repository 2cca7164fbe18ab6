// Slows down repeated authentication failures from one address: each recent
// failure doubles the delay before the next <failure/> is sent, up to a cap.
// Forgotten after a quiet period so a typo today costs nothing tomorrow.

const FORGET_AFTER_MS = 15 * 60_000;
const MAX_TRACKED = 100_000;

export class AuthThrottle {
  private readonly failures = new Map<string, { count: number; last: number }>();

  constructor(
    private baseMs: number,
    private maxMs: number,
  ) {}

  configure(baseMs: number, maxMs: number): void {
    this.baseMs = baseMs;
    this.maxMs = maxMs;
  }

  /** Records a failure and returns how long to wait before answering it. */
  fail(address: string, now = Date.now()): number {
    let entry = this.failures.get(address);
    if (!entry || now - entry.last > FORGET_AFTER_MS) entry = { count: 0, last: now };
    entry.count++;
    entry.last = now;
    this.failures.delete(address);
    this.failures.set(address, entry); // re-insert: Map order is then least recently failed first
    if (this.failures.size > MAX_TRACKED) this.failures.delete(this.failures.keys().next().value as string);
    if (this.baseMs <= 0) return 0;
    return Math.min(this.maxMs, this.baseMs * 2 ** (entry.count - 1));
  }

  succeed(address: string): void {
    this.failures.delete(address);
  }
}
