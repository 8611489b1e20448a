/**
 * Kubernetes API errors as classes, so callers catch a meaning (`NotFoundError`) rather than
 * compare status codes. Each carries the API server's `Status` message and reason.
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
export class TooManyRequestsError extends ApiError {
  override name = "TooManyRequestsError";
  /** Seconds the server asked us to wait, from Retry-After or Status details. */
  get retryAfterSeconds(): number | undefined {
    return this.status.details?.retryAfterSeconds;
  }
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
      return code >= 500 ? new ServerError(code, status, options) : new ApiError(code, status, options);
  }
}

/** Decodes an error response body into a `Status`, tolerating non-JSON bodies from proxies. */
export async function apiErrorFromResponse(response: Response): Promise<ApiError> {
  const text = await response.text().catch(() => "");
  let status: ApiStatus;
  try {
    const parsed = JSON.parse(text);
    status = parsed && typeof parsed === "object" && parsed.kind === "Status"
      ? parsed
      : { message: text.slice(0, 500) };
  } catch {
    status = { message: text.slice(0, 500) || response.statusText };
  }
  const retryAfter = Number(response.headers.get("retry-after"));
  if (Number.isFinite(retryAfter) && retryAfter > 0 && !status.details?.retryAfterSeconds) {
    status = { ...status, details: { ...status.details, retryAfterSeconds: retryAfter } };
  }
  return apiErrorFor(response.status, status);
}

/** True for errors worth retrying as they are (server trouble, throttling, network). */
export function isTransient(error: unknown): boolean {
  if (error instanceof ApiError) {
    return error instanceof TooManyRequestsError || error instanceof ServerError;
  }
  return error instanceof TypeError || (error instanceof Error && error.name === "TimeoutError");
}
