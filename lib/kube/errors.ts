/**
 * Kubernetes API errors as classes, so callers catch a meaning (`NotFoundError`) rather than
 * compare status codes. Each carries the API server's `Status` message and reason.
 *
 * Failures before an answer arrives are classes too: `ConnectionError` (the server could not be
 * reached; names its URL) and `CredentialsError` (auth material could not be produced).
 *
 * Guarantees: messages never carry bearer tokens or private keys; text that may hold them
 * (plugin output, proxy bodies, low-level causes) goes through `redactSecrets` first.
 */

/** The `Status` object the API server returns with every error. */
export interface ApiStatus {
  kind?: "Status";
  apiVersion?: "v1";
  status?: "Failure" | "Success";
  message?: string;
  reason?: string;
  code?: number;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    causes?: { reason?: string; message?: string; field?: string }[];
    retryAfterSeconds?: number;
  };
}

/** Any non-2xx answer from the API server. */
export class ApiError extends Error {
  override name = "ApiError";
  readonly code: number;
  readonly reason: string;
  readonly status: ApiStatus;

  constructor(code: number, status: ApiStatus, options?: ErrorOptions) {
    super(status.message || `API request failed with HTTP ${code}`, options);
    this.code = code;
    this.reason = status.reason ?? "";
    this.status = status;
  }

  /** Seconds the server asked us to wait (Retry-After header or Status details), if any. */
  get retryAfterSeconds(): number | undefined {
    return this.status.details?.retryAfterSeconds;
  }
}

export class BadRequestError extends ApiError {
  override name = "BadRequestError";
}
export class UnauthorizedError extends ApiError {
  override name = "UnauthorizedError";
}
export class ForbiddenError extends ApiError {
  override name = "ForbiddenError";
}
export class NotFoundError extends ApiError {
  override name = "NotFoundError";
}
export class MethodNotAllowedError extends ApiError {
  override name = "MethodNotAllowedError";
}
/** 409 with reason Conflict: the resourceVersion precondition failed; re-read and retry. */
export class ConflictError extends ApiError {
  override name = "ConflictError";
}
/** 409 with reason AlreadyExists. */
export class AlreadyExistsError extends ApiError {
  override name = "AlreadyExistsError";
}
/** 410: the requested resourceVersion is too old (compacted); relist. */
export class GoneError extends ApiError {
  override name = "GoneError";
}
export class UnsupportedMediaTypeError extends ApiError {
  override name = "UnsupportedMediaTypeError";
}
/** 422: the object failed validation; not worth retrying unchanged. */
export class InvalidError extends ApiError {
  override name = "InvalidError";
}
/** 429: throttled (API priority and fairness); `retryAfterSeconds` says when to come back. */
export class TooManyRequestsError extends ApiError {
  override name = "TooManyRequestsError";
}
export class ServerError extends ApiError {
  override name = "ServerError";
}

/** Builds the right error class for an HTTP status and its decoded `Status` body. */
export function apiErrorFor(code: number, status: ApiStatus, options?: ErrorOptions): ApiError {
  switch (code) {
    case 400:
      return new BadRequestError(code, status, options);
    case 401:
      return new UnauthorizedError(code, status, options);
    case 403:
      return new ForbiddenError(code, status, options);
    case 404:
      return new NotFoundError(code, status, options);
    case 405:
      return new MethodNotAllowedError(code, status, options);
    case 409:
      return status.reason === "AlreadyExists"
        ? new AlreadyExistsError(code, status, options)
        : new ConflictError(code, status, options);
    case 410:
      return new GoneError(code, status, options);
    case 415:
      return new UnsupportedMediaTypeError(code, status, options);
    case 422:
      return new InvalidError(code, status, options);
    case 429:
      return new TooManyRequestsError(code, status, options);
    default:
      return code >= 500
        ? new ServerError(code, status, options)
        : new ApiError(code, status, options);
  }
}

/** How much of a non-Status body (an HTML page from a proxy, say) a message quotes. */
const BODY_EXCERPT_CHARS = 300;

/**
 * Turns a non-2xx response into the matching `ApiError`, consuming its body.
 * A `Status` body is used as is; anything else (HTML or text from a proxy or load balancer,
 * an empty body) becomes a message quoting the HTTP status and the start of the body.
 * A Retry-After header (seconds or HTTP date) fills `retryAfterSeconds` when the Status has none.
 */
export async function apiErrorFromResponse(response: Response): Promise<ApiError> {
  const text = await response.text().catch(() => "");
  let status = parseStatus(text) ?? {
    message: nonStatusMessage(response, text),
  };
  const retryAfter = retryAfterSeconds(response.headers.get("retry-after"));
  if (retryAfter !== undefined && status.details?.retryAfterSeconds === undefined) {
    status = { ...status, details: { ...status.details, retryAfterSeconds: retryAfter } };
  }
  return apiErrorFor(response.status, status);
}

function parseStatus(text: string): ApiStatus | undefined {
  try {
    const parsed = JSON.parse(text);
    return parsed && typeof parsed === "object" && parsed.kind === "Status" ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function nonStatusMessage(response: Response, text: string): string {
  const statusLine = `HTTP ${response.status}${
    response.statusText ? ` ${response.statusText}` : ""
  }`;
  const excerpt = redactSecrets(text.replace(/\s+/g, " ").trim()).slice(0, BODY_EXCERPT_CHARS);
  return excerpt
    ? `API server answered ${statusLine} without a Status object: ${JSON.stringify(excerpt)}`
    : `API server answered ${statusLine} with an empty body`;
}

/** Parses Retry-After: delta-seconds or an HTTP date (relative to now, never negative). */
function retryAfterSeconds(header: string | null): number | undefined {
  if (!header) return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

/**
 * The API server could not be reached, or the connection failed before an answer
 * (DNS, refused, TLS verification, reset). Worth retrying with backoff.
 */
export class ConnectionError extends Error {
  override name = "ConnectionError";
  /** The API server URL, e.g. `https://10.0.0.1:6443`. */
  readonly server: string;

  constructor(server: string, action: string, cause: unknown) {
    super(
      `Cannot reach the Kubernetes API server at ${server} (${action}): ${describeCause(cause)}`,
      { cause: redactedCause(cause) },
    );
    this.server = server;
  }
}

/**
 * Credentials for a request could not be produced: an exec plugin failed or printed no
 * ExecCredential, a token, certificate or CA file is unreadable. Not worth retrying as is.
 */
export class CredentialsError extends Error {
  override name = "CredentialsError";
  readonly server: string;
  /** The kubeconfig user whose credentials failed. */
  readonly user: string;

  constructor(server: string, user: string, cause: unknown) {
    super(
      `Cannot get credentials of user "${user}" for the Kubernetes API server at ${server}: ${
        describeCause(cause)
      }`,
      { cause: redactedCause(cause) },
    );
    this.server = server;
    this.user = user;
  }
}

/**
 * Removes what looks like a secret from text meant for a message or a log: PEM private keys,
 * `Bearer …`/`Basic …` credentials, JSON `"token"` values (as printed by exec plugins), and any of
 * the `known` secret values.
 */
export function redactSecrets(text: string, known: readonly string[] = []): string {
  let out = text
    .replace(
      /-----BEGIN ([A-Z ]*)PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g,
      "[redacted private key]",
    )
    .replace(/\b(Bearer|Basic)\s+[^\s"',]+/gi, "$1 [redacted]")
    .replace(
      /("(?:token|password|clientKeyData|client-key-data)"\s*:\s*)"[^"]*"/gi,
      '$1"[redacted]"',
    );
  for (const secret of known) {
    // Very short values would redact ordinary words; tokens and keys are long.
    if (secret.length >= 8) out = out.split(secret).join("[redacted]");
  }
  return out;
}

/** One line from an error and its causes (`a: b: c`), redacted. */
function describeCause(cause: unknown): string {
  const parts: string[] = [];
  let current: unknown = cause;
  for (let depth = 0; current !== undefined && current !== null && depth < 4; depth++) {
    if (current instanceof SyntaxError) {
      // V8 quotes the unparsable input, which may be a credential printed by a plugin.
      parts.push("output is not valid JSON");
      break;
    }
    const message = current instanceof Error
      ? current.message || current.name
      : typeof current === "object" && current && "message" in current
      ? String((current as { message: unknown }).message)
      : String(current);
    const code = (current as { code?: unknown })?.code;
    const part = typeof code === "string" && !message.includes(code)
      ? `${message} (${code})`
      : message;
    if (part.trim() && !parts.includes(part.trim())) parts.push(part.trim());
    current = (current as { cause?: unknown })?.cause;
  }
  return redactSecrets(parts.join(": ") || "unknown error");
}

/** The cause to attach: kept when its text is clean, otherwise only its redacted description. */
function redactedCause(cause: unknown): unknown {
  const text = cause instanceof Error ? `${cause.message} ${String(cause.stack)}` : String(cause);
  if (cause instanceof SyntaxError || redactSecrets(text) !== text) {
    return new Error(describeCause(cause));
  }
  return cause;
}

/** True for errors worth retrying as they are (server trouble, throttling, network). */
export function isTransient(error: unknown): boolean {
  if (error instanceof ApiError) {
    return error instanceof TooManyRequestsError || error instanceof ServerError;
  }
  if (error instanceof ConnectionError) return true;
  return error instanceof TypeError || (error instanceof Error && error.name === "TimeoutError");
}

/**
 * What `work` resolves to, or `undefined` when it fails with NotFound: for writers and readers
 * to whom an object that is gone is an answer, not an error.
 */
export async function unlessNotFound<T>(work: Promise<T>): Promise<T | undefined> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
}
