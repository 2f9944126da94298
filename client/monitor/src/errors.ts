import { CairnError } from '@cairn/shared';

/** Operational failures of the monitor (exit code 1). Alerts are data, not errors. */
export type MonitorErrorCode =
  | 'INVALID_POLICY'
  | 'INVALID_LOG_KEY'
  | 'INVALID_STATE'
  | 'FETCH_FAILED'
  | 'RESPONSE_TOO_LARGE'
  | 'INVALID_RESPONSE'
  | 'UNVERIFIED_CHECKPOINT'
  | 'ALERT_DELIVERY_FAILED'
  | 'WITNESS_FAILED';

export class MonitorError extends CairnError<MonitorErrorCode> {
  constructor(code: MonitorErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, { status: 400, ...options });
  }
}
