import { consoleLogger, logFormatOf, type LogFormat, type Logger } from "../shared/logger.js";
import type { ServiceRouter } from "./contracts.js";
import { ServiceRegistry } from "./service-registry.js";
import { Telemetry, type TelemetryHandler } from "./telemetry.js";

/** What every runtime piece (gateway, node entrypoint, Durable Objects) is configured with. */
export type WiringOptions<Env> = {
  /** The services: routers, or a registry built from them (none for pieces that call nothing). */
  services?: ServiceRegistry<Env> | readonly ServiceRouter<Env>[];
  /**
   * Structured logger. Default: a console logger whose format is `logFormat`, else the Worker's
   * `LOG_FORMAT` variable (`pretty` or `json`; `npm run dev` sets pretty), else JSON lines.
   */
  logger?: Logger;
  /** The default logger's format, whatever `LOG_FORMAT` says (ignored when `logger` is given). */
  logFormat?: LogFormat;
  /** Telemetry subscribers. */
  telemetry?: readonly TelemetryHandler[];
};

/** The registry, logger and telemetry hub that a runtime piece keeps for its isolate's life. */
export type Wiring<Env> = {
  registry: ServiceRegistry<Env>;
  logger: Logger;
  telemetry: Telemetry;
  /**
   * Tells the default logger the Worker's env, once it is known (a request, an object's
   * constructor): its `LOG_FORMAT` chooses the format. Env vars are the same for every request
   * of a deployment, so the last env seen is the one.
   */
  useEnv(env: unknown): void;
};

/**
 * Builds what a runtime piece needs from its options, with the library's defaults: the registry
 * (a service declared twice throws here, at startup), the logger, and a telemetry hub whose failing
 * subscribers are logged.
 */
export function wiring<Env>(options: WiringOptions<Env>): Wiring<Env> {
  const services = options.services ?? [];
  const registry = services instanceof ServiceRegistry ? services : new ServiceRegistry(services);
  let envFormat: LogFormat | undefined;
  let seen: unknown;
  const logger = options.logger ?? consoleLogger({ format: () => options.logFormat ?? envFormat });
  // Nothing to learn when the app chose the logger or its format; and the env of a deployment is
  // one object per isolate, read once (this runs on every request).
  const fixed = options.logger !== undefined || options.logFormat !== undefined;
  const useEnv = (env: unknown): void => {
    if (fixed || env === seen) return;
    seen = env;
    envFormat = logFormatOf(env);
  };
  return { registry, logger, telemetry: new Telemetry(options.telemetry ?? [], logger), useEnv };
}
