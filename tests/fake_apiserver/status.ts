/**
 * `Status` failures exactly as k8s.io/apimachinery/pkg/api/errors builds them, so clients see
 * the same reasons, messages and details a real API server sends.
 *
 * Handlers throw `ApiFailure`; the router turns it into the JSON `Status` response.
 */

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export interface StatusBody {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Failure" | "Success";
  message?: string;
  reason?: string;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    uid?: string;
    causes?: StatusCause[];
    retryAfterSeconds?: number;
  };
  code: number;
}

/** A request that fails with a `Status`; thrown anywhere below the router. */
export class ApiFailure extends Error {
  override name = "ApiFailure";
  readonly status: StatusBody;
  readonly headers: Record<string, string>;

  constructor(
    status: Omit<StatusBody, "kind" | "apiVersion" | "metadata" | "status">,
    headers = {},
  ) {
    super(status.message ?? status.reason ?? `HTTP ${status.code}`);
    this.status = { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", ...status };
    this.headers = headers;
  }
}

/** Identifies a resource in messages: `plural.group` (or `plural` for the core group). */
export interface QualifiedResource {
  group: string;
  plural: string;
}

/** `nodeimages.example.com`, `namespaces`. */
export function qualified(resource: QualifiedResource): string {
  return resource.group ? `${resource.plural}.${resource.group}` : resource.plural;
}

/** `NodeImage.example.com`, `Namespace`: the GroupKind string used by Invalid errors. */
export function qualifiedKind(kind: string, group: string): string {
  return group ? `${kind}.${group}` : kind;
}

export function notFound(resource: QualifiedResource, name: string): ApiFailure {
  return new ApiFailure({
    message: `${qualified(resource)} "${name}" not found`,
    reason: "NotFound",
    details: { name, group: resource.group || undefined, kind: resource.plural },
    code: 404,
  });
}

export function alreadyExists(resource: QualifiedResource, name: string): ApiFailure {
  return new ApiFailure({
    message: `${qualified(resource)} "${name}" already exists`,
    reason: "AlreadyExists",
    details: { name, group: resource.group || undefined, kind: resource.plural },
    code: 409,
  });
}

/** NewConflict: `Operation cannot be fulfilled on <qualified> "<name>": <why>`. */
export function conflict(resource: QualifiedResource, name: string, why: string): ApiFailure {
  return new ApiFailure({
    message: `Operation cannot be fulfilled on ${qualified(resource)} "${name}": ${why}`,
    reason: "Conflict",
    details: { name, group: resource.group || undefined, kind: resource.plural },
    code: 409,
  });
}

export const OPTIMISTIC_LOCK_MESSAGE =
  "the object has been modified; please apply your changes to the latest version and try again";

export function badRequest(message: string): ApiFailure {
  return new ApiFailure({ message, reason: "BadRequest", code: 400 });
}

export function forbidden(message: string, resource?: QualifiedResource, name?: string) {
  return new ApiFailure({
    message,
    reason: "Forbidden",
    details: resource ? { name, group: resource.group || undefined, kind: resource.plural } : {},
    code: 403,
  });
}

export function methodNotAllowed(): ApiFailure {
  return new ApiFailure({
    message: "the server does not allow this method on the requested resource",
    reason: "MethodNotAllowed",
    details: {},
    code: 405,
  });
}

export function pathNotFound(): ApiFailure {
  return new ApiFailure({
    message: "the server could not find the requested resource",
    reason: "NotFound",
    details: {},
    code: 404,
  });
}

export function unsupportedMediaType(contentType: string, accepted: string[]): ApiFailure {
  return new ApiFailure({
    message: `the body of the request was in an unknown format - accepted media types include: ${
      accepted.join(", ")
    }`,
    reason: "UnsupportedMediaType",
    details: { causes: [{ reason: "UnexpectedServerResponse", message: contentType }] },
    code: 415,
  });
}

export function internalError(message: string): ApiFailure {
  return new ApiFailure({
    message: `Internal error occurred: ${message}`,
    reason: "InternalError",
    details: { causes: [{ message }] },
    code: 500,
  });
}

/** The Status of a watch ERROR event for a compacted resourceVersion (NewResourceExpired). */
export function expired(message: string): ApiFailure {
  return new ApiFailure({ message, reason: "Expired", code: 410 });
}

/**
 * A read that needs a resourceVersion the server has not reached: apiserver's
 * `storage.NewTooLargeResourceVersionError` (504 Timeout with a `ResourceVersionTooLarge` cause;
 * the watch cache asks to retry after 1 s), with `Retry-After` as its response writer sets it.
 */
export function tooLargeResourceVersion(requested: number, current: number): ApiFailure {
  return new ApiFailure({
    message: `Timeout: Too large resource version: ${requested}, current: ${current}`,
    reason: "Timeout",
    details: {
      causes: [{ reason: "ResourceVersionTooLarge", message: "Too large resource version" }],
      retryAfterSeconds: 1,
    },
    code: 504,
  }, { "retry-after": "1" });
}

/** One field error, as k8s.io/apimachinery/pkg/util/validation/field.Error. */
export interface FieldError {
  type:
    | "FieldValueRequired"
    | "FieldValueInvalid"
    | "FieldValueNotSupported"
    | "FieldValueTypeInvalid"
    | "FieldValueForbidden"
    | "FieldValueTooLong"
    | "FieldValueTooMany"
    | "FieldValueDuplicate";
  field: string;
  /** The offending value; omitted for Required/Forbidden. */
  value?: unknown;
  /** Go's rendering of the value when it differs from ours (e.g. `0x0` for an int64 zero). */
  display?: string;
  detail?: string;
}

const TYPE_TEXT: Record<FieldError["type"], string> = {
  FieldValueRequired: "Required value",
  FieldValueInvalid: "Invalid value",
  FieldValueNotSupported: "Unsupported value",
  FieldValueTypeInvalid: "Invalid value",
  FieldValueForbidden: "Forbidden",
  FieldValueTooLong: "Too long",
  FieldValueTooMany: "Too many",
  FieldValueDuplicate: "Duplicate value",
};

/** field.Error.ErrorBody(): `Invalid value: "x": detail`. */
export function errorBody(error: FieldError): string {
  let s = TYPE_TEXT[error.type];
  const withValue = error.type !== "FieldValueRequired" && error.type !== "FieldValueForbidden" &&
    error.type !== "FieldValueTooLong" && error.type !== "FieldValueTooMany" &&
    "value" in error;
  if (error.display !== undefined) s += `: ${error.display}`;
  else if (withValue) s += `: ${goValue(error.value)}`;
  if (error.detail) s += `: ${error.detail}`;
  return s;
}

/** Go's rendering of a bad value: %q for strings, %v for scalars, a struct-ish print otherwise. */
function goValue(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return `[]interface {}{${value.map(goValue).join(", ")}}`;
  return `map[string]interface {}{${
    Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `${JSON.stringify(k)}:${goValue(v)}`).join(", ")
  }}`;
}

/** NewInvalid: 422 with one cause per field error and the aggregated message. */
export function invalid(kind: string, group: string, name: string, errors: FieldError[]) {
  const lines = errors.map((e) => `${e.field}: ${errorBody(e)}`);
  const aggregate = lines.length === 1 ? lines[0] : `[${lines.join(", ")}]`;
  return new ApiFailure({
    message: `${qualifiedKind(kind, group)} "${name}" is invalid: ${aggregate}`,
    reason: "Invalid",
    details: {
      name: name || undefined,
      group: group || undefined,
      kind,
      causes: errors.map((e) => ({ reason: e.type, message: errorBody(e), field: e.field })),
    },
    code: 422,
  });
}

/** Default reason for a bare HTTP code, as the apiserver's error constructors use them. */
export function reasonForCode(code: number): string {
  switch (code) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 405:
      return "MethodNotAllowed";
    case 409:
      return "Conflict";
    case 410:
      return "Expired";
    case 415:
      return "UnsupportedMediaType";
    case 422:
      return "Invalid";
    case 429:
      return "TooManyRequests";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "Timeout";
    default:
      return code >= 500 ? "InternalError" : "Unknown";
  }
}
