// Top functions by self time in V8 .cpuprofile files (node --cpu-prof).

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export function topFunctions(dir, n = 15) {
  let files = [];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"));
  } catch {
    return ["(no profile written)"];
  }
  const self = new Map();
  let total = 0;
  for (const f of files) {
    const p = JSON.parse(readFileSync(join(dir, f), "utf8"));
    const byId = new Map(p.nodes.map((node) => [node.id, node]));
    const dt = p.timeDeltas;
    for (let i = 0; i < p.samples.length; i++) {
      const node = byId.get(p.samples[i]);
      const d = dt[i] ?? 0;
      const cf = node.callFrame;
      if (cf.functionName === "(idle)") continue;
      const url = cf.url.replace(/^file:\/\//, "").replace(/^.*\/(dist|node_modules)\//, "$1/");
      const key = `${cf.functionName || "(anonymous)"} ${url ? `${url}:${cf.lineNumber + 1}` : ""}`.trim();
      self.set(key, (self.get(key) ?? 0) + d);
      total += d;
    }
  }
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `${((v / total) * 100).toFixed(1).padStart(5)} %  ${k}`);
}
