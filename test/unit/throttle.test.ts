import { expect } from "chai";
import { AuthThrottle } from "../../src/c2s/throttle.js";

describe("AuthThrottle: repeated authentication failures from one address are slowed down", () => {
  it("doubles the delay per recent failure from the same address, up to the cap", () => {
    const t = new AuthThrottle(500, 3000);
    const now = 1_000_000;
    expect([1, 2, 3, 4, 5].map((i) => t.fail("10.0.0.1", now + i))).to.deep.equal([500, 1000, 2000, 3000, 3000]);
  });

  it("counts each address on its own", () => {
    const t = new AuthThrottle(100, 10_000);
    t.fail("10.0.0.1", 0);
    t.fail("10.0.0.1", 1);
    expect(t.fail("10.0.0.2", 2)).to.equal(100);
  });

  it("forgets an address after a successful login, and after 15 quiet minutes", () => {
    const t = new AuthThrottle(100, 10_000);
    t.fail("a", 0);
    t.fail("a", 1);
    t.succeed("a");
    expect(t.fail("a", 2)).to.equal(100);
    expect(t.fail("a", 3)).to.equal(200);
    expect(t.fail("a", 3 + 15 * 60_000 + 1)).to.equal(100);
  });

  it("a delay of 0 turns throttling off", () => {
    const t = new AuthThrottle(0, 0);
    expect(t.fail("a")).to.equal(0);
    expect(t.fail("a")).to.equal(0);
  });
});
