/**
 * The Worker's log lines: one JSON object per line, which Workers Logs indexes field by field
 * (`[observability]` in wrangler.toml). `LOG_LEVEL` (debug, info, warn, error) drops the quieter ones.
 * Callers pass facts, never request bodies, keys or tokens.
 */
const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
export type LogLevel = keyof typeof LEVELS;

export interface WorkerLog {
  readonly level: LogLevel;
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

function levelOf(value: string | undefined): LogLevel {
  return value !== undefined && value in LEVELS ? (value as LogLevel) : "info";
}

/** A logger for one request; `reqId` is Cloudflare's ray id when there is one. */
export function workerLog(env: { LOG_LEVEL?: string }, base: Record<string, unknown> = {}, sink: (line: string) => void = console.log): WorkerLog {
  const level = levelOf(env.LOG_LEVEL);
  const write = (at: LogLevel) => (msg: string, fields?: Record<string, unknown>) => {
    if (LEVELS[at] < LEVELS[level]) return;
    sink(JSON.stringify({ level: at, time: new Date().toISOString(), msg, ...base, ...fields }));
  };
  return { level, debug: write("debug"), info: write("info"), warn: write("warn"), error: write("error") };
}

/** The message of a thrown value, without its stack's file paths. */
export function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
