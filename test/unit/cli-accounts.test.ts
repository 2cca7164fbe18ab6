import { expect } from "chai";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runParley } from "../harness/cli.js";

describe("CLI: parley adduser | passwd | deluser | listusers", function () {
  let tmp: string;
  beforeEach(async () => {
    tmp = await mkdtemp(join(tmpdir(), "parley-accounts-"));
    // Few iterations keep the test fast; the minimum the schema allows.
    await writeFile(join(tmp, "p.toml"), `[server]\ndomains = ["example.com", "Other.Example"]\n[auth]\nscram_iterations = 4096\n`);
  });
  afterEach(() => rm(tmp, { recursive: true, force: true }));

  const parley = (args: string[], input?: string) => runParley(["--config", "p.toml", ...args], tmp, { input });

  it("adduser --password-stdin creates the account and listusers shows it", async () => {
    const add = await parley(["adduser", "alice@example.com", "--password-stdin"], "s3cret\n");
    expect(add.stderr).to.equal("");
    expect(add.stdout).to.equal("created alice@example.com\n");
    expect(add.code).to.equal(0);
    const list = await parley(["listusers"]);
    expect(list.stdout).to.equal("alice@example.com\n");
  });

  it("RFC 7622: ALICE@Example.COM is the same account as alice@example.com", async () => {
    await parley(["adduser", "alice@example.com", "--password-stdin"], "s3cret");
    const again = await parley(["adduser", "ALICE@Example.COM", "--password-stdin"], "other");
    expect(again.code).to.equal(1);
    expect(again.stderr).to.equal("parley: alice@example.com already exists (use 'parley passwd' to change its password)\n");
  });

  it("an unknown domain, a malformed address and an empty password are refused with one line and exit 1", async () => {
    const unknown = await parley(["adduser", "bob@nowhere.test", "--password-stdin"], "x");
    expect(unknown.code).to.equal(1);
    expect(unknown.stderr).to.equal("parley: nowhere.test is not a hosted domain (server.domains: example.com, other.example)\n");
    const malformed = await parley(["adduser", "bob@@example.com", "--password-stdin"], "x");
    expect(malformed.code).to.equal(1);
    expect(malformed.stderr).to.match(/^parley: "bob@@example.com" is not an account address/);
    const empty = await parley(["adduser", "bob@example.com", "--password-stdin"], "\n");
    expect(empty.code).to.equal(1);
    expect(empty.stderr).to.equal("parley: the password is empty\n");
    expect((await parley(["listusers"])).stdout).to.equal("");
  });

  it("without a terminal and without --password-stdin, adduser says how to pass the password", async () => {
    const r = await parley(["adduser", "bob@example.com"]);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.equal("parley: no terminal to ask for the password on: use --password-stdin\n");
  });

  it("passwd changes the stored credentials; deluser removes the account; both refuse unknown accounts", async () => {
    await parley(["adduser", "carol@example.com", "--password-stdin"], "one");
    const db = () => readFile(join(tmp, "data", "parley.db"));
    const pw = await parley(["passwd", "carol@example.com", "--password-stdin"], "two");
    expect(pw.stdout).to.equal("password changed for carol@example.com\n");
    expect((await parley(["passwd", "nobody@example.com", "--password-stdin"], "x")).stderr).to.equal(
      "parley: nobody@example.com does not exist\n",
    );
    const del = await parley(["deluser", "carol@example.com"]);
    expect(del.stdout).to.equal("deleted carol@example.com\n");
    expect((await parley(["deluser", "carol@example.com"])).code).to.equal(1);
    expect((await db()).length).to.be.greaterThan(0);
  });

  it("the password is never stored: neither the database nor its journal contains it", async () => {
    await parley(["adduser", "dave@example.com", "--password-stdin"], "correct-horse-battery");
    for (const f of await readdir(join(tmp, "data"))) {
      const bytes = await readFile(join(tmp, "data", f));
      expect(bytes.includes("correct-horse-battery"), f).to.equal(false);
    }
  });

  it("listusers of one domain lists only that domain", async () => {
    await parley(["adduser", "x@example.com", "--password-stdin"], "p");
    await parley(["adduser", "y@other.example", "--password-stdin"], "p");
    expect((await parley(["listusers", "other.example"])).stdout).to.equal("y@other.example\n");
    expect((await parley(["listusers"])).stdout).to.equal("x@example.com\ny@other.example\n");
  });
});

describe("CLI: parley start refuses to run on a bad setup", function () {
  let tmp: string;
  let blocker: Server;
  beforeEach(async () => {
    tmp = await mkdtemp(join(tmpdir(), "parley-start-"));
  });
  afterEach(async () => {
    blocker?.close();
    await rm(tmp, { recursive: true, force: true });
  });

  it("a port in use gives one line naming the port and exit 1", async () => {
    blocker = createServer();
    const port = await new Promise<number>((ok) => blocker.listen(0, "127.0.0.1", () => ok((blocker.address() as { port: number }).port)));
    await writeFile(join(tmp, "p.toml"), `[listen]\nc2s_ports = [${port}]\nc2s_direct_tls_ports = []\n`);
    const r = await runParley(["--config", "p.toml", "start"], tmp);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.equal(`parley: cannot listen on 127.0.0.1 port ${port}: is already in use\n`);
  });

  it("an unknown key gives one line naming it and exit 1, before anything starts", async () => {
    await writeFile(join(tmp, "p.toml"), `[limits]\nmax_stanza_size = 5\n`);
    const r = await runParley(["--config", "p.toml", "start"], tmp);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(/^parley: .*p\.toml: limits: unknown key "max_stanza_size", did you mean "max_stanza_bytes"\?\n$/);
    expect(r.stdout).to.equal("");
  });
});
