/** Lead rules (pure) and server-side redaction. */
export * from "./redact.ts";
export * from "./rules.ts";
