/** The operator's health, readiness and metrics HTTP endpoints. */
export { type BindAddress, BindAddressError, parseBindAddress } from "./bind_address.ts";
export { EventLoopMonitor, type EventLoopMonitorOptions } from "./event_loop_monitor.ts";
export {
  type CheckResult,
  type CheckStatus,
  type HealthCheck,
  type HealthReport,
  Readiness,
  renderReport,
} from "./health_checks.ts";
export {
  OperatorServer,
  type OperatorServerOptions,
  type RunningOperatorServer,
} from "./operator_server.ts";
export {
  loadMetricsCertificate,
  type MetricsCertificate,
  MetricsCertificateError,
  type MetricsCertificateOptions,
} from "./metrics_certificate.ts";
export { MetricsAuth, type MetricsAuthOptions, type UserInfo } from "./metrics_auth.ts";
export { selfSignedCertificate } from "./self_signed_certificate.ts";
export type { CertificateAndKey } from "../tls/certificate.ts";
