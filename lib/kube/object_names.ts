/**
 * Kubernetes object name rules the operator checks before the API server would, so a bad flag
 * fails at start with one clear message instead of turning into a stream of rejected requests.
 * The rules and their wording follow apimachinery's `IsDNS1123Label`.
 */

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_LABEL_MAX = 63;

/**
 * Why `value` is not a DNS-1123 label (the rule for namespace names), or undefined when it is.
 *
 * @example
 * ```ts
 * dns1123LabelProblem("giantswarm"); // undefined
 * dns1123LabelProblem("Giant_Swarm"); // "must consist of lower-case letters, digits or …"
 * ```
 */
export function dns1123LabelProblem(value: string): string | undefined {
  if (value.length === 0) return "must not be empty";
  if (value.length > DNS1123_LABEL_MAX) {
    return `must be no more than ${DNS1123_LABEL_MAX} characters, not ${value.length}`;
  }
  if (!DNS1123_LABEL.test(value)) {
    return `must consist of lower-case letters, digits or "-", and start and end with a ` +
      `letter or digit (e.g. "giantswarm" or "node-images")`;
  }
  return undefined;
}
