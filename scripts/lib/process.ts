/** Small process helpers for the local services: wait for a TCP port, track pid files, stop what we started. */
import { spawn, type ChildProcess } from "node:child_process";
import { openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

export function portOpen(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/**
 * Polls `ready` every 100 ms until it holds; fails after `timeoutMs`, or at once if `child` exits first.
 * `what` names the wait in errors (include where to look, e.g. a log file).
 */
export async function waitUntil(ready: () => Promise<boolean>, timeoutMs: number, what: string, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child && child.exitCode !== null) throw new Error(`exited with code ${child.exitCode} while waiting for ${what}`);
    if (await ready()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** True when `url` answers 2xx; false while nothing listens. */
export const answersOk = (url: string): Promise<boolean> => fetch(url).then((r) => r.ok, () => false);

export function waitForPort(port: number, timeoutMs: number, what: string, child?: ChildProcess): Promise<void> {
  return waitUntil(() => portOpen(port), timeoutMs, `${what} to listen on port ${port}`, child);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function readPid(file: string): number | null {
  try {
    const pid = Number(readFileSync(file, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : null;
  } catch {
    return null;
  }
}

/** Starts a long-running service detached from our terminal (so Ctrl-C reaches only us), logging to a file. */
export function spawnService(cmd: string, args: string[], opts: { logFile: string; pidFile: string; cwd?: string }): ChildProcess {
  const log = openSync(opts.logFile, "a");
  const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ["ignore", log, log], detached: true });
  writeFileSync(opts.pidFile, String(child.pid));
  child.unref();
  return child;
}

/** SIGTERM, then SIGKILL after a grace period; removes the pid file. */
export async function stopPid(pid: number, pidFile: string | null, graceMs = 10_000): Promise<void> {
  if (isAlive(pid)) {
    process.kill(pid, "SIGTERM");
    const deadline = Date.now() + graceMs;
    while (isAlive(pid) && Date.now() < deadline) await sleep(50);
    if (isAlive(pid)) process.kill(pid, "SIGKILL");
  }
  if (pidFile) rmSync(pidFile, { force: true });
}

/** A running service: its connection string, and how to stop it if we started it. */
export interface ServiceHandle {
  url: string;
  startedHere: boolean;
  stop(): Promise<void>;
}
