// conf/parley.service: a unit systemd accepts, running Parley unprivileged and
// sandboxed. The check runs `systemd-analyze verify` against a throwaway root
// holding the unit, the system's own units and a copy of bin/parley at the
// install location the README gives (/opt/parley).

import { expect } from "chai";
import { execFile } from "node:child_process";
import { chmod, copyFile, cp, mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { BIN, ROOT } from "../harness/cli.js";

const run = promisify(execFile);
const UNIT = join(ROOT, "conf/parley.service");

function directives(text: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m) map.set(m[1]!, [...(map.get(m[1]!) ?? []), m[2]!]);
  }
  return map;
}

describe("daemon: the systemd unit conf/parley.service", function () {
  this.timeout(30_000);

  it("passes systemd-analyze verify (ExecStart at /opt/parley/bin/parley)", async function () {
    const analyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].find((p) => existsSync(p));
    const systemUnits = "/usr/lib/systemd/system";
    if (!analyze || !existsSync(join(systemUnits, "sysinit.target"))) return this.skip();
    const root = await mkdtemp(join(tmpdir(), "parley-unit-"));
    try {
      await mkdir(join(root, "usr/lib/systemd"), { recursive: true });
      await cp(systemUnits, join(root, "usr/lib/systemd/system"), {
        recursive: true,
        verbatimSymlinks: true,
      });
      await mkdir(join(root, "etc/systemd/system"), { recursive: true });
      await copyFile(UNIT, join(root, "etc/systemd/system/parley.service"));
      await mkdir(join(root, "opt/parley/bin"), { recursive: true });
      await copyFile(BIN, join(root, "opt/parley/bin/parley"));
      await chmod(join(root, "opt/parley/bin/parley"), 0o755);
      await mkdir(join(root, "bin"), { recursive: true });
      await copyFile("/bin/kill", join(root, "bin/kill"));
      await chmod(join(root, "bin/kill"), 0o755);
      const { stdout, stderr } = await run(analyze, [
        "verify",
        `--root=${root}`,
        "parley.service",
      ]).catch((e: { stdout: string; stderr: string; code: number }) => {
        throw new Error(`systemd-analyze verify failed (${e.code}):\n${e.stdout}${e.stderr}`);
      });
      expect(`${stdout}${stderr}`.trim()).to.equal("");
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it("runs as the unprivileged parley user with sandboxing, the data, audit and certificate paths, and reload by SIGHUP", async () => {
    const d = directives(await readFile(UNIT, "utf8"));
    expect(d.get("User")).to.deep.equal(["parley"]);
    expect(d.get("ExecStart")).to.deep.equal([
      "/opt/parley/bin/parley --config /etc/parley/parley.toml start",
    ]);
    expect(d.get("ExecReload")).to.deep.equal(["/bin/kill -HUP $MAINPID"]);
    expect(d.get("KillSignal")).to.deep.equal(["SIGTERM"]);
    for (const [k, v] of Object.entries({
      NoNewPrivileges: "yes",
      ProtectSystem: "strict",
      ProtectHome: "yes",
      PrivateTmp: "yes",
      PrivateDevices: "yes",
      CapabilityBoundingSet: "",
    })) {
      expect(d.get(k), k).to.deep.equal([v]);
    }
    // data_dir (databases, audit trail, admin socket) is the only writable place; certificates sit beside the config.
    expect(d.get("StateDirectory")).to.deep.equal(["parley"]);
    expect(d.get("ReadWritePaths")).to.deep.equal(["/var/lib/parley"]);
    expect(d.get("ConfigurationDirectory")).to.deep.equal(["parley"]);
    // No privilege to bind ports below 1024 by default.
    expect(d.get("AmbientCapabilities")).to.deep.equal([""]);
    // Longer than the server's own bound, so systemd never has to kill it mid-shutdown.
    expect(Number(d.get("TimeoutStopSec")?.[0])).to.be.greaterThan(15);
  });
});
