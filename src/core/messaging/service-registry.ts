import type { ServiceDescription, ServiceRouter, Visibility } from "./contracts.js";

/** Where a local service lives: its router and its visibility. */
export type LocalService<Env> = { router: ServiceRouter<Env>; visibility: Visibility };

/**
 * The services this Worker offers, merged from all its routers (public services of every router
 * are announced). Built once per Worker; a service name declared by two routers is a
 * configuration error and throws here, at startup, not on some later request.
 */
export class ServiceRegistry<Env = unknown> {
  readonly #services = new Map<string, LocalService<Env>>();
  readonly #routers: readonly ServiceRouter<Env>[];

  /** The merged services of `routers`. */
  constructor(routers: readonly ServiceRouter<Env>[]) {
    this.#routers = [...routers];
    for (const router of routers) {
      for (const name of router.registeredServices("all")) {
        if (this.#services.has(name)) throw new Error(`service ${name} is declared by two routers`);
        const visibility = router.visibilityOf(name);
        if (visibility !== undefined) this.#services.set(name, { router, visibility });
      }
    }
  }

  /** The local service of that name; with `publicOnly`, private services are not found. */
  find(service: string, publicOnly = false): LocalService<Env> | undefined {
    const found = this.#services.get(service);
    if (found === undefined || (publicOnly && found.visibility !== "public")) return undefined;
    return found;
  }

  /** The services of one visibility (or all), each with its visibility and request schema, in declaration order. */
  describe(visibility: Visibility | "all" = "all"): ServiceDescription[] {
    const all = this.#routers.flatMap((router) => router.describe());
    return visibility === "all" ? all : all.filter((service) => service.visibility === visibility);
  }

  /** Service names of one visibility, or all of them (private first, then public). */
  services(visibility: Visibility | "all" = "all"): string[] {
    if (visibility === "all") return [...this.services("private"), ...this.services("public")];
    return this.#routers.flatMap((router) => router.registeredServices(visibility));
  }
}
