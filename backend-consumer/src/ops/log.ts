/**
 * Structured logs: pino, JSON lines on stdout with a level, a time and a message; secrets redacted by
 * configuration (any field named like a token, secret, password, key or authorization header, at any depth), so a
 * careless `log(..., { token })` prints "[redacted]". Components receive a `Log` function; `level` in its fields
 * picks the level (default info).
 */
import pino, { type Logger } from "pino";

export type Log = (msg: string, fields?: Record<string, unknown> & { level?: "debug" | "info" | "warn" | "error" }) => void;

const SECRET_KEYS = ["token", "secret", "password", "authorization", "apiToken", "accessToken", "refreshToken", "sharedSecret", "key", "cookie"];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: [...SECRET_KEYS, ...SECRET_KEYS.map((k) => `*.${k}`), "headers.authorization", "req.headers.authorization"], censor: "[redacted]" },
    },
    destination,
  );
}

/** The `Log` function components take, writing through `logger`. */
export function logWith(logger: Logger): Log {
  return (msg, fields = {}) => {
    const { level = "info", ...rest } = fields;
    logger[level](rest, msg);
  };
}
