import type { ExecutionContext, Env as HonoEnv, Hono } from "hono";

/** Serves one service call: the request, the service its path names, the Worker's env and context. */
export type ServeServiceCall<Bindings> = (request: Request, service: string, env: Bindings, executionCtx: ExecutionContext | undefined) => Promise<Response>;

/**
 * `POST /v1/services/:service` with a plain service name: no `%` anywhere in the URL (a path or
 * query that needs decoding, or checking that it decodes, goes through the app's chain), no
 * trailing slash (the app answers 404 for it).
 */
const SERVICE_URL = /^[a-z][a-z\d+.-]*:\/\/[^/?#]*\/v1\/services\/([^/?#%]+)(?:\?[^#%]*)?$/;

/**
 * Makes `app.fetch` answer service calls — nearly every request an API serves — by `serve`,
 * without Hono's router, context and middleware chain, which cost about as much per call as the
 * library's own work on the way to the aggregate; every other request goes through the app.
 * `serve` must take the same steps as the app's route and its middleware (the gateway builds both
 * from the same functions). Once routes or an error handler are added to the app after this
 * (middleware that must see every request, an app's own error page), every request goes
 * through the app again.
 */
export function directServiceCalls<E extends HonoEnv>(app: Hono<E>, serve: ServeServiceCall<E["Bindings"]>): void {
  const routes = app.routes.length;
  let ownErrorHandler = true;
  const onError = app.onError.bind(app);
  app.onError = (handler) => {
    ownErrorHandler = false;
    return onError(handler);
  };
  const viaApp = app.fetch;
  app.fetch = (request, env, executionCtx) => {
    const service = request.method === "POST" && ownErrorHandler && app.routes.length === routes ? SERVICE_URL.exec(request.url)?.[1] : undefined;
    return service === undefined ? viaApp(request, env, executionCtx) : serve(request, service, env as E["Bindings"], executionCtx);
  };
}
