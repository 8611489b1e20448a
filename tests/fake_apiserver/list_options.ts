/**
 * Query-parameter rules kube-apiserver checks before a list or watch (ValidateListOptions):
 * `resourceVersionMatch` needs a `resourceVersion` and no `continue`; `sendInitialEvents` is for
 * watches only and needs `resourceVersionMatch=NotOlderThan`; a watch takes
 * `resourceVersionMatch` only together with `sendInitialEvents`. Violations are a 422 about a
 * `ListOptions.meta.k8s.io ""`, as on the real server.
 */
import { type FieldError, invalid } from "./status.ts";

const NOT_OLDER_THAN = "NotOlderThan";
const EXACT = "Exact";

/** Throws the 422 `ApiFailure` when the query breaks a rule. */
export function validateListOptions(q: URLSearchParams, watch: boolean): void {
  const match = q.get("resourceVersionMatch") ?? "";
  const resourceVersion = q.get("resourceVersion") ?? "";
  const continued = (q.get("continue") ?? "") !== "";
  const sendInitialEvents = q.has("sendInitialEvents");
  const errors: FieldError[] = [];
  const forbidden = (field: string, detail: string) =>
    errors.push({ type: "FieldValueForbidden", field, detail });
  if (watch) {
    if (sendInitialEvents && match !== NOT_OLDER_THAN) {
      forbidden(
        "resourceVersionMatch",
        `sendInitialEvents requires setting resourceVersionMatch to ${NOT_OLDER_THAN}`,
      );
    }
    if (match) {
      if (!sendInitialEvents) {
        forbidden(
          "resourceVersionMatch",
          "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
        );
      }
      if (match !== NOT_OLDER_THAN) {
        errors.push({
          type: "FieldValueNotSupported",
          field: "resourceVersionMatch",
          value: match,
          detail: `supported values: "${NOT_OLDER_THAN}"`,
        });
      }
      if (continued) {
        forbidden(
          "resourceVersionMatch",
          "resourceVersionMatch is forbidden when continue is provided",
        );
      }
    }
  } else {
    if (match) {
      if (!resourceVersion) {
        forbidden(
          "resourceVersionMatch",
          "resourceVersionMatch is forbidden unless resourceVersion is provided",
        );
      }
      if (continued) {
        forbidden(
          "resourceVersionMatch",
          "resourceVersionMatch is forbidden when continue is provided",
        );
      }
      if (match !== EXACT && match !== NOT_OLDER_THAN) {
        errors.push({
          type: "FieldValueNotSupported",
          field: "resourceVersionMatch",
          value: match,
          detail: `supported values: "${EXACT}", "${NOT_OLDER_THAN}", ""`,
        });
      }
      if (match === EXACT && resourceVersion === "0") {
        forbidden(
          "resourceVersionMatch",
          `resourceVersionMatch "exact" is forbidden for resourceVersion "0"`,
        );
      }
    }
    if (sendInitialEvents) {
      forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list");
    }
  }
  if (errors.length) throw invalid("ListOptions", "meta.k8s.io", "", errors);
}
