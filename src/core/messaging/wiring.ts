import { jsonLogger, type Logger } from "../shared/logger.js";
import type { ServiceRouter } from "./contracts.js";
import { ServiceRegistry } from "./service-registry.js";
import { Telemetry, type TelemetryHandler } from "./telemetry.js";

/** What every runtime piece (gateway, node entrypoint, Durable Objects) is configured with. */
export type WiringOptions<Env> = {
  /** The services: routers, or a registry built from them (none for pieces that call nothing). */
  services?: ServiceRegistry<Env> | readonly ServiceRouter<Env>[];
  /** Structured logger (default: JSON lines at info level). */
  logger?: Logger;
  /** Telemetry subscribers. */
  telemetry?: readonly TelemetryHandler[];
};

/** The registry, logger and telemetry hub that a runtime piece keeps for its isolate's life. */
export type Wiring<Env> = { registry: ServiceRegistry<Env>; logger: Logger; telemetry: Telemetry };

/**
 * Builds what a runtime piece needs from its options, with the library's defaults: the registry
 * (a service declared twice throws here, at startup), the logger, and a telemetry hub whose failing
 * subscribers are logged.
 */
export function wiring<Env>(options: WiringOptions<Env>): Wiring<Env> {
  const services = options.services ?? [];
  const registry = services instanceof ServiceRegistry ? services : new ServiceRegistry(services);
  const logger = options.logger ?? jsonLogger();
  return { registry, logger, telemetry: new Telemetry(options.telemetry ?? [], logger) };
}
