import type { LogFields, Logger, LogLevel } from "../../src/core/shared/logger.js";
import { Telemetry, type TelemetryEvent } from "../../src/core/messaging/telemetry.js";

/** A telemetry hub that keeps every event it receives. */
export function recordingTelemetry(): { telemetry: Telemetry; events: TelemetryEvent[]; names: () => string[] } {
  const events: TelemetryEvent[] = [];
  const telemetry = new Telemetry([(event) => events.push(event)]);
  return { telemetry, events, names: () => events.map((event) => event.name) };
}

/** One line written to a {@link recordingLogger}. */
export type LogLine = { level: LogLevel; message: string; fields: LogFields };

/** A logger that keeps its lines instead of printing them. */
export function recordingLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = (level: LogLevel) => (message: string, fields: LogFields = {}) => {
    lines.push({ level, message, fields });
  };
  return { logger: { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") }, lines };
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
