/**
 * Which write failures a retry can fix. Transient: the database is unreachable, busy or changing primaries; the
 * batch is retried as it is. Deterministic: this input can never be stored (the BSON serializer refused it, the
 * server refused the document); the message is dead-lettered alone, at once. Unknown: anything else; the batch is
 * split until the failure is pinned on one message, so every other message is stored.
 */
import {
  BSON,
  MongoBulkWriteError,
  MongoClientClosedError,
  MongoError,
  MongoInvalidArgumentError,
  MongoNetworkError,
  MongoNotConnectedError,
  MongoOperationTimeoutError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
} from "mongodb";

export type ErrorKind = "transient" | "deterministic" | "unknown";

/** MongoDB server codes that mean "not now" (network, elections, shutdown, load). */
const TRANSIENT_CODES = new Set([
  6, // HostUnreachable
  7, // HostNotFound
  24, // LockTimeout
  46, // LockBusy
  50, // MaxTimeMSExpired
  89, // NetworkTimeout
  91, // ShutdownInProgress
  112, // WriteConflict
  189, // PrimarySteppedDown
  262, // ExceededTimeLimit
  9001, // SocketException
  10107, // NotWritablePrimary
  11600, // InterruptedAtShutdown
  11602, // InterruptedDueToReplStateChange
  13435, // NotPrimaryNoSecondaryOk
  13436, // NotPrimaryOrSecondary
]);

/** MongoDB server codes that mean "never, for this document". */
const DETERMINISTIC_CODES = new Set([
  2, // BadValue
  9, // FailedToParse
  14, // TypeMismatch
  15, // Overflow
  22, // InvalidBSON
  40, // ConflictingUpdateOperators
  52, // DollarPrefixedFieldName
  53, // InvalidIdField
  55, // InvalidDBRef
  56, // EmptyFieldName
  57, // DottedFieldName
  66, // ImmutableField
  121, // DocumentValidationFailure
  10334, // BSONObjectTooLarge
  17280, // KeyTooLong
  17419, // document grew past 16 MB in an update
]);

const TRANSIENT_LABELS = ["RetryableWriteError", "ResetPool", "TransientTransactionError", "InterruptInUseConnections"];

/** Classifies an error thrown (or reported per document) by a MongoDB write. */
export function classifyWriteError(err: unknown): ErrorKind {
  // A bulk write wraps whatever the driver threw before the server answered (a BSON refusal, a lost connection).
  const inner = (err as { errorResponse?: unknown } | null)?.errorResponse;
  if (err instanceof MongoBulkWriteError && inner instanceof Error && inner !== err) return classifyWriteError(inner);
  if (err instanceof BSON.BSONError) return "deterministic"; // thrown by the serializer before anything is sent
  if (err instanceof RangeError) return "deterministic"; // a value too deep for whatever walked it
  if (err instanceof MongoInvalidArgumentError) return "deterministic"; // e.g. a document over the size limit
  if (DRIVER_TRANSIENT.some((type) => err instanceof type)) return "transient";
  if (err instanceof MongoError) {
    if (TRANSIENT_LABELS.some((label) => err.hasErrorLabel(label))) return "transient";
    return classifyWriteCode(typeof err.code === "number" ? err.code : undefined);
  }
  return "unknown";
}

/** The driver's own errors for "the server cannot be reached right now". */
const DRIVER_TRANSIENT = [
  MongoNetworkError,
  MongoServerSelectionError,
  MongoNotConnectedError,
  MongoTopologyClosedError,
  MongoClientClosedError,
  MongoOperationTimeoutError,
];

/**
 * The messages whose documents the server refused one by one, with the kind of each refusal: one deterministic
 * refusal decides the message, otherwise the first is kept. `ownerOf`: the message of the document at an index.
 */
export function refusalsOf(failed: { index: number; code?: number; error: Error }[], ownerOf: (index: number) => string): Map<string, { kind: ErrorKind; error: string }> {
  const refused = new Map<string, { kind: ErrorKind; error: string }>();
  for (const f of failed) {
    const id = ownerOf(f.index);
    const kind = classifyWriteCode(f.code);
    if (!refused.has(id) || kind === "deterministic") refused.set(id, { kind, error: f.error.message });
  }
  return refused;
}

/** Classifies a per-document write error by its server code alone. */
export function classifyWriteCode(code: number | undefined): ErrorKind {
  if (code !== undefined && TRANSIENT_CODES.has(code)) return "transient";
  if (code !== undefined && DETERMINISTIC_CODES.has(code)) return "deterministic";
  return "unknown";
}

export const errorMessage = (err: unknown): string => (err instanceof Error ? `${err.name}: ${err.message}` : String(err));
