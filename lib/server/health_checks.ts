/**
 * Named health checks and their text report in the format Kubernetes and controller-runtime
 * use for `/healthz` and `/readyz`:
 *
 * ```text
 * [+]informer-releases ok
 * [-]provider-capv failed: not reachable
 * readyz check failed
 * ```
 *
 * Unlike controller-runtime, a failed check shows its short reason instead of "reason
 * withheld": our reasons name components, never secrets, and they make `kubectl describe pod`
 * probe failures self-explanatory.
 */
import { redactUrlsIn } from "../redact.ts";

/** What one check reports. */
export interface CheckResult {
  ok: boolean;
  /** Short reason shown after `failed:`; keep it free of secrets. */
  reason?: string;
  /**
   * For a passing check: something worth showing (e.g. a provider that is down but must not
   * fail readiness). Shown as `[+]name ok: <warning>`, and it makes the body list every check
   * even without `?verbose` (the probe still passes).
   */
  warning?: string;
}

/** A check is cheap and synchronous by preference; a promise is awaited. */
export type HealthCheck = () => CheckResult | Promise<CheckResult>;

/** One evaluated check. */
export interface CheckStatus {
  name: string;
  ok: boolean;
  excluded: boolean;
  reason?: string;
  /** See `CheckResult.warning`. */
  warning?: string;
}

/** The evaluated checks of one probe request. */
export interface HealthReport {
  ok: boolean;
  checks: CheckStatus[];
  /** Names in `exclude` that match no check. */
  unknownExcludes: string[];
}

/**
 * A registry of named checks: everything must pass for the probe to pass. The server uses one
 * for `/readyz` (caches synced, providers reachable) and may use another for `/healthz`.
 */
export class Readiness {
  readonly #checks = new Map<string, HealthCheck>();

  /**
   * Registers `check` under `name`.
   * @throws {Error} when `name` is already registered (two components claiming one name is a bug).
   */
  addCheck(name: string, check: HealthCheck): void {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
      throw new TypeError(
        `Cannot add health check "${name}": use letters, digits, ".", "_" and "-"`,
      );
    }
    if (this.#checks.has(name)) {
      throw new Error(`Cannot add health check "${name}": a check with that name exists`);
    }
    this.#checks.set(name, check);
  }

  /** Registered check names, sorted. */
  get names(): string[] {
    return [...this.#checks.keys()].sort();
  }

  /** Evaluates one check; `undefined` when no check has that name. */
  async runOne(name: string): Promise<CheckStatus | undefined> {
    const check = this.#checks.get(name);
    return check ? await evaluate(name, check) : undefined;
  }

  /**
   * Evaluates every check not in `exclude`. A check that throws counts as failed with the
   * error's message as reason. With no checks registered the report holds a passing `ping`.
   */
  async run(exclude: Iterable<string> = []): Promise<HealthReport> {
    const excluded = new Set(exclude);
    const checks = await Promise.all(
      this.names.map((name): CheckStatus | Promise<CheckStatus> =>
        excluded.delete(name)
          ? { name, ok: true, excluded: true }
          : evaluate(name, this.#checks.get(name)!)
      ),
    );
    if (checks.length === 0) checks.push({ name: "ping", ok: true, excluded: false });
    return { ok: checks.every((c) => c.ok), checks, unknownExcludes: [...excluded] };
  }
}

async function evaluate(name: string, check: HealthCheck): Promise<CheckStatus> {
  try {
    const result = await check();
    const ok = result.ok === true;
    return {
      name,
      ok,
      excluded: false,
      reason: result.reason,
      ...(ok && result.warning ? { warning: result.warning } : {}),
    };
  } catch (error) {
    return {
      name,
      ok: false,
      excluded: false,
      reason: error instanceof Error ? error.message : String(error),
    };
  }
}

/**
 * Renders a report like Kubernetes: `ok` for a quiet success, the per-check list when
 * verbose, failing, or when a passing check carries a warning. `probe` names the endpoint in the closing line (`readyz check failed`).
 */
export function renderReport(report: HealthReport, probe: string, verbose: boolean): string {
  const warned = report.checks.some((c) => c.ok && !c.excluded && c.warning);
  if (report.ok && !verbose && !warned) return "ok";
  const lines = report.checks.map((c) => {
    if (c.excluded) return `[+]${c.name} excluded: ok`;
    if (c.ok && c.warning) return `[+]${c.name} ok: ${oneLine(c.warning)}`;
    if (c.ok) return `[+]${c.name} ok`;
    return `[-]${c.name} failed: ${oneLine(c.reason) || "no reason given"}`;
  });
  if (report.unknownExcludes.length > 0) {
    const quoted = report.unknownExcludes.map((n) => JSON.stringify(n)).join(", ");
    lines.push(`warn: some health checks cannot be excluded: no matches for ${quoted}`);
  }
  lines.push(`${probe} check ${report.ok ? "passed" : "failed"}`);
  return lines.join("\n") + "\n";
}

/** Keeps the one-line-per-check format intact whatever a reason contains. */
function oneLine(reason: string | undefined): string {
  return redactUrlsIn(reason ?? "").replace(/\s+/g, " ").trim().slice(0, 200);
}
