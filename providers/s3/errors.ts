/**
 * Failures talking to S3 other than "the object is missing" (`SourceMissingError`) and "the bytes
 * are wrong" (`IntegrityError`): network errors, timeouts, 5xx, refused credentials.
 *
 * Guarantees: messages name the operation, the object (`s3://bucket/key`) and the endpoint;
 * they never contain credentials, and the SDK error (whose `$response` holds request details)
 * is not kept as `cause`.
 */

/** An S3 request failed; `status` is the HTTP status when one was received. */
export class S3AccessError extends Error {
  override name = "S3AccessError";
  constructor(message: string, readonly status?: number, readonly code?: string) {
    super(message);
  }
}

/** The fields of an SDK or fetch error we look at. */
interface ErrorShape {
  name?: string;
  message?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}

/** HTTP status of an SDK service error, if it has one. */
export function statusOf(error: unknown): number | undefined {
  return (error as ErrorShape | undefined)?.$metadata?.httpStatusCode;
}

/** A short, credential-free description of an SDK or fetch failure: "503 SlowDown: Please reduce…". */
export function describeSdkError(error: unknown): { text: string; status?: number; code?: string } {
  const shape = (error ?? {}) as ErrorShape;
  const status = statusOf(error);
  // HEAD responses have no body, so the SDK names them "NotFound"/"Unknown" with message
  // "UnknownError"; the status is the informative part then.
  const code = shape.Code ?? (shape.name && shape.name !== "Unknown" ? shape.name : undefined);
  const message = shape.message && shape.message !== "UnknownError" ? shape.message : undefined;
  const text = [status, code].filter((p) => p !== undefined).join(" ") +
    (message && message !== code ? `${status || code ? ": " : ""}${message}` : "");
  return { text: text || String(error), status, code };
}
