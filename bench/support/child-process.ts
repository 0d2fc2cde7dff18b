/** A bench's child process (a relay, a consumer worker…): started with tsx, ready when it prints READY. */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "../..");
const nodeArgs = (process.env.BENCH_CHILD_NODE_ARGS ?? "").split(" ").filter(Boolean);

/**
 * Starts `script` (relative to the repository root) and resolves once it wrote READY on stdout.
 * BENCH_CHILD_NODE_ARGS adds node flags (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile them).
 */
export async function startBenchChild(script: string, env: NodeJS.ProcessEnv, name = script): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, [...nodeArgs, "--import", "tsx", path.join(ROOT, script)], { cwd: ROOT, env, stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (d) => {
      out += d;
      if (out.includes("READY")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`${name} exited with ${code} before it was ready`)));
  });
  return { child, output: () => out };
}

/** SIGTERM, and wait until it has exited. */
export async function stopBenchChild(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}
