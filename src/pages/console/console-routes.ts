import type { Context, Hono, MiddlewareHandler } from "hono";
import { csrf } from "hono/csrf";
import { secureHeaders } from "hono/secure-headers";
import type { StreamAccess } from "../../core/aggregates/aggregate-router.js";
import { response } from "../../core/messaging/response.js";
import type { ServiceRegistry } from "../../core/messaging/service-registry.js";
import { EVERY_OWNER, type SchedulerClient } from "../../core/scheduling/scheduler.js";
import type { ConsoleSessions } from "./console-session-object.js";
import { readKey } from "../../core/shared/keys.js";
import { jsonLogger, type Logger } from "../../core/shared/logger.js";
import { withTimeout } from "../../core/shared/timeout.js";
import { BROWSER_STYLE } from "../browser-style.js";
import { clientAddress, retryAfterSeconds, type AdminThrottle } from "../../worker/gateway/admin-throttle.js";
import { limitBody, noStore, wellEncodedUrl, type GatewayEnv } from "../../worker/gateway/gateway-middleware.js";
import { answerWith } from "../../worker/gateway/replies.js";
import { remoteNodesOf, type NodeBindings } from "../../worker/nodes/service-binding-node.js";
import {
  loginPage,
  readSidePage,
  schedulesPage,
  servicesPage,
  streamsPage,
  type NodeListing,
  type Page,
  type SchedulesView,
  type ServiceRow,
  type StreamsView,
} from "./console-pages.js";
import { readCursor, recentFollowUps, recentStreams, streamsByPrefix } from "./console-streams.js";
import { pastView, type PastDryRun } from "./console-past.js";
import type { LookBackCallers } from "../../worker/gateway/state-routes.js";
import { costsPage, costsView } from "./console-costs.js";
import { problemText, readSideView, replay, sweepNow, type ConsoleReadSide, type ReplayAction } from "./console-read-side.js";
import { NOTICE_PARAM, openNotice, sealNotice } from "./console-notices.js";
import { endSession, hasSession, isAdminToken, startSession } from "./console-session.js";
import { eraseAsAdmin, eraseNote, type AdminErasure } from "../../worker/gateway/erase-routes.js";
import { erasePage, eraseSection, erasuresPage, receiptPage, type EraseView } from "./console-erase.js";

export type { ConsoleReadSide } from "./console-read-side.js";

/** What the console needs from the gateway. */
export type ConsoleOptions<Env> = {
  /** The admin token; while it is undefined or empty the console does not exist (404). */
  token: ((env: Env) => string | undefined) | undefined;
  /** Where the session generation is kept: logging out ends every session. */
  sessions: ConsoleSessions<Env>;
  /** The gateway's count of failed admin-token checks: a wrong token at login is one. */
  throttle: AdminThrottle<Env>;
  /** The aggregates whose streams can be read. */
  aggregates: readonly StreamAccess<Env>[];
  /** The scheduler, when the gateway has one. */
  scheduler: SchedulerClient<Env> | undefined;
  /** This Worker's services. */
  registry: ServiceRegistry<Env>;
  /** This Worker's node name. */
  node: string;
  /** Other nodes, by name. */
  nodes: NodeBindings<Env> | undefined;
  /** How the gateway identifies callers: the console's dry runs run as the caller their credentials identify. */
  callers?: LookBackCallers<Env>;
  /** The read side, when this Worker has one: its checkpoints and dead letters, projection rebuilds. */
  readSide?: ConsoleReadSide<Env> | undefined;
  /** Where the console logs what failed (a rebuild); default: JSON lines on the console. */
  logger?: Logger | undefined;
  /** How the gateway erases aggregates on request (its `admin.erasure`): the stream page's Erase. */
  erasure?: AdminErasure<Env> | undefined;
};

/** The console's options in `browserPages`: what it needs beyond the gateway's own options. */
export type ConsoleSettings<Env> = {
  /**
   * Where the console keeps its session generation, which logging out moves on (ending every
   * session, a kept copy of a cookie included): `durableObjectConsoleSessions((env) =>
   * env.CONSOLE_SESSIONS)` over a `ConsoleSessionObject` binding (x3m-system/pages).
   */
  sessions: ConsoleSessions<Env>;
  /**
   * The Worker's read side (what `readSide()` returns), for the Read side page: each subscriber's
   * checkpoints, the dead letters, catch-ups, rebuilds and sweeps. Without it the page says so.
   */
  readSide?: ConsoleReadSide<Env>;
};

/** How long the services page waits for another node's list. */
const NODE_LIST_TIMEOUT_MS = 2000;
/** Events per page unless asked otherwise, and the most a page shows. */
const DEFAULT_EVENTS = 20;
const MAX_EVENTS = 100;

/** The path the gateway is mounted under ("" at the root), from a console request's path. */
function baseOf(c: Context): string {
  const path = c.req.path;
  return path.slice(0, path.lastIndexOf("/console"));
}

/** Where to go after logging in: a console path of this gateway only, never another site. */
function safeNext(base: string, next: unknown): string {
  const home = `${base}/console`;
  if (typeof next !== "string" || !(next === home || next.startsWith(`${home}/`) || next.startsWith(`${home}?`))) return home;
  return /[\\\s]|\/\//.test(next) ? home : next;
}

/** A query parameter as an integer within [min, max], `fallback` when absent or not one. */
function intParam(value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined || !/^\d{1,9}$/.test(value)) return fallback;
  return Math.min(max, Math.max(min, Number(value)));
}

/** The problem a cancel reported back through its notice, if any. */
function outcomeProblem(missing: string | undefined, failed: string | undefined): string | null {
  if (missing !== undefined) return `${missing} was no longer pending.`;
  if (failed !== undefined) return `Could not cancel ${failed}: the scheduler did not answer. Try again.`;
  return null;
}

/** Erasures the Erasures page lists, newest first. */
const ERASURES_SHOWN = 50;

/** What the read side page reads from its own URL: where to look. Anything it reports comes from its notice. */
const READ_SIDE_PLACE = ["stream", "from"] as const;


/**
 * The operations console under `/console`: services and the node offering each, aggregate
 * streams (by id, by the start of an id, or the most recently written: console-streams.ts) with
 * their events and follow-ups, pending schedules with cancel, and the read side's checkpoints and
 * dead letters with projection rebuilds. Off (404) unless an admin token is configured; the browser logs in with that token once and then holds
 * a signed HttpOnly session cookie of the current session generation, which logging out ends (see
 * console-session.ts). Pages are plain HTML with no script.
 */
export function mountConsole<Env extends object>(app: Hono<GatewayEnv<Env>>, options: ConsoleOptions<Env>): void {
  const tokenOf = (c: Context<GatewayEnv<Env>>) => options.token?.(c.env) ?? "";
  // Pages answer 200 even to say "log in" or "not found": the page itself says so (role=alert),
  // and browsers report any 4xx document as an error in their console.
  const html = (c: Context<GatewayEnv<Env>>, page: Page) => c.html(page);

  const exists: MiddlewareHandler<GatewayEnv<Env>> = async (c, next) => {
    if (tokenOf(c) === "") return answerWith(c, response.error("not_found"));
    await next();
  };
  const headers = secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'none'"],
      styleSrc: ["'self'"],
      imgSrc: ["data:"],
      formAction: ["'self'"],
      baseUri: ["'none'"],
      frameAncestors: ["'none'"],
    },
    xFrameOptions: "DENY",
    // HSTS is the site's decision for all its paths and subdomains, not a page's.
    strictTransportSecurity: false,
    referrerPolicy: "no-referrer",
  });
  // Forms only, from this origin only: a page on another site cannot post here (with SameSite=Strict
  // the session cookie would not come along either).
  const sameOrigin: MiddlewareHandler<GatewayEnv<Env>> = csrf();
  const formsOnly: MiddlewareHandler<GatewayEnv<Env>> = async (c, next) => {
    if (!/^application\/x-www-form-urlencoded\b/i.test(c.req.header("Content-Type") ?? "")) {
      return c.text("the console accepts form posts only", 415);
    }
    await next();
  };
  const limit: MiddlewareHandler<GatewayEnv<Env>> = limitBody(8 * 1024, (c) => c.text("form too large", 413));
  const loggedIn: MiddlewareHandler<GatewayEnv<Env>> = async (c, next) => {
    if (await hasSession(c, tokenOf(c), options.sessions, c.env)) return next();
    const base = baseOf(c);
    const wanted = c.req.method === "GET" ? c.req.path + (new URL(c.req.url).search || "") : `${base}/console`;
    return html(c, loginPage(base, safeNext(base, wanted), null));
  };
  // Every change the console makes (cancel, rebuild…) passes these: a small form, posted from this
  // origin, by a logged-in browser.
  const change = [sameOrigin, formsOnly, limit, loggedIn] as const;
  const logger = options.logger ?? jsonLogger();

  // `/console/*` matches `/console` too. Each page shows operational data: never kept by a
  // browser or a shared cache (noStore); keys and ids come in its URLs as in the API's.
  app.use("/console/*", exists, noStore, wellEncodedUrl, headers);
  app.get("/console/console.css", (c) => {
    c.header("Content-Type", "text/css; charset=utf-8");
    return c.body(BROWSER_STYLE);
  });

  app.post("/console/login", sameOrigin, formsOnly, limit, async (c: Context<GatewayEnv<Env>>) => {
    const base = baseOf(c);
    const form = await c.req.parseBody();
    const next = safeNext(base, form["next"]);
    const given = typeof form["token"] === "string" ? form["token"] : "";
    // Past the limit of wrong tokens the token is not even looked at: the right one is refused too.
    const address = clientAddress(c.req.raw.headers);
    let refusedFor = options.throttle.refusedFor(address);
    if (refusedFor === 0 && !(await isAdminToken(given, tokenOf(c)))) {
      refusedFor = await options.throttle.failed(c.env, address);
      if (refusedFor === 0) return html(c, loginPage(base, next, "That is not the admin token."));
    }
    if (refusedFor > 0) {
      const seconds = retryAfterSeconds(refusedFor);
      c.header("Retry-After", String(seconds));
      return c.html(loginPage(base, next, `Too many wrong tokens from your address: try again in ${seconds} s.`), 429);
    }
    await startSession(c, tokenOf(c), base, options.sessions, c.env);
    return c.redirect(next, 303);
  });
  app.post("/console/logout", sameOrigin, formsOnly, limit, async (c: Context<GatewayEnv<Env>>) => {
    await endSession(c, tokenOf(c), baseOf(c), options.sessions, c.env);
    return c.redirect(`${baseOf(c)}/console`, 303);
  });

  // The address typed with a trailing slash is the same page (a relative link or a habit).
  app.get("/console/", (c) => c.redirect(`${baseOf(c)}/console`, 301));
  app.get("/console", loggedIn, async (c: Context<GatewayEnv<Env>>) => {
    const rows: ServiceRow[] = [...options.registry.describe("public"), ...options.registry.describe("private")].map(({ name, visibility, schema }) => ({
      name,
      visibility,
      node: options.node,
      remote: false,
      schema: schema === undefined ? null : schema["~standard"].vendor,
    }));
    const listings: NodeListing[] = await Promise.all(
      remoteNodesOf(options.nodes, c.env).map((node) =>
        withTimeout(
          node.services().then(
            (services): NodeListing => ({ node: node.name, services }),
            (error: unknown): NodeListing => ({ node: node.name, problem: problemText(error) }),
          ),
          NODE_LIST_TIMEOUT_MS,
          (): NodeListing => ({ node: node.name, problem: `no answer within ${NODE_LIST_TIMEOUT_MS / 1000} s` }),
        ),
      ),
    );
    for (const listing of listings) {
      if (!("services" in listing)) continue;
      for (const name of listing.services) rows.push({ name, visibility: "public", node: listing.node, remote: true, schema: null });
    }
    return html(c, servicesPage(baseOf(c), rows, listings));
  });

  /**
   * The streams page, from its query (a GET's URL, or the fields of a dry run's form): a stream's
   * events and, when asked, its state at a version or time with a dry run there (console-past.ts).
   */
  const streamsRoute = async (c: Context<GatewayEnv<Env>>, query: (name: string) => string | undefined, dryRun: PastDryRun | null) => {
    const streams = options.aggregates.map((access) => access.stream);
    const stream = query("stream") ?? streams[0] ?? "";
    const rawId = query("id") ?? "";
    const rawPrefix = query("prefix") ?? "";
    const from = intParam(query("from"), 0, 0, Number.MAX_SAFE_INTEGER);
    const limit = intParam(query("limit"), DEFAULT_EVENTS, 1, MAX_EVENTS);
    const view: StreamsView = { streams, stream, id: rawId !== "" ? rawId : rawPrefix, from, limit, open: query("open") === "1", page: null, problem: null, listing: null };
    const access = options.aggregates.find((candidate) => candidate.stream === stream);
    const byPrefix = (prefix: string) => streamsByPrefix(options.readSide, options.aggregates, c.env, stream, prefix, query("start"));
    // The page's notices are its own sentences: what came in the URL is never one of them.
    if (streams.length === 0) view.problem = "No aggregates are configured for the admin routes.";
    else if (rawId !== "" || rawPrefix !== "") {
      const id = readKey(rawId !== "" ? rawId : rawPrefix);
      if (access === undefined) view.problem = "There is no such aggregate type.";
      else if (!id.ok) view.problem = `The id ${id.problem}.`;
      else if (rawId === "") view.listing = await byPrefix(id.key);
      else {
        try {
          const page = await access.readStream(c.env, id.key, { from, limit });
          if (page.status === "missing") {
            view.problem = `Nothing is stored for ${access.stream} with this id.`;
            // What was typed may be the start of an id.
            view.listing = await byPrefix(id.key);
          } else view.page = page;
        } catch (error) {
          view.problem = `Could not read the stream: ${problemText(error)}`;
        }
        if (view.page !== null) {
          view.past = await pastView(access, c.env, id.key, { version: query("version") ?? "", at: query("at") ?? "" }, dryRun, options.callers ?? {});
          view.erase = eraseSection(baseOf(c), access.stream, id.key, options.erasure !== undefined);
        }
      }
    } else view.listing = await recentStreams(options.readSide, options.aggregates, c.env, readCursor(query("before")));
    return html(c, streamsPage(baseOf(c), view));
  };
  app.get("/console/streams", loggedIn, (c: Context<GatewayEnv<Env>>) => streamsRoute(c, (name) => c.req.query(name), null));
  // A dry run is posted: it carries the credentials of the caller it runs as. It stores nothing,
  // so its answer is the page itself, not a redirect.
  app.post("/console/streams/dry-run", ...change, async (c: Context<GatewayEnv<Env>>) => {
    const form = await c.req.parseBody();
    const field = (name: string) => (typeof form[name] === "string" ? form[name] : undefined);
    const dryRun = { command: field("command") ?? "", request: field("request") ?? "", credentials: field("credentials") ?? "" };
    return streamsRoute(c, (name) => (name === "stream" || name === "id" || name === "version" ? field(name) : undefined), dryRun);
  });

  /** The confirmation page of an erasure, for the aggregate a query or form names (or why it cannot be erased). */
  const eraseRoute = async (c: Context<GatewayEnv<Env>>, asked: Pick<EraseView, "stream" | "id" | "operator" | "reason">, problem: string | null) => {
    const view: EraseView = { ...asked, known: true, enabled: options.erasure !== undefined, version: null, followers: [], problem };
    const access = options.aggregates.find((candidate) => candidate.stream === asked.stream);
    const id = readKey(asked.id);
    if (access === undefined || !id.ok) return html(c, erasePage(baseOf(c), { ...view, known: false, enabled: false, problem: "There is no such aggregate to erase." }));
    try {
      const page = await access.readStream(c.env, id.key, { from: 0, limit: 1 });
      if (page.status !== "missing") view.version = page.version;
    } catch (error) {
      view.problem ??= `Could not read the stream: ${problemText(error)}`;
    }
    const subscribers = options.readSide?.runner(c.env).subscribers ?? [];
    view.followers = subscribers.filter((s) => s.streams.includes(access.stream)).map((s) => ({ name: s.name, handles: s.erase !== undefined }));
    return html(c, erasePage(baseOf(c), view));
  };
  app.get("/console/streams/erase", loggedIn, (c: Context<GatewayEnv<Env>>) =>
    eraseRoute(c, { stream: c.req.query("stream") ?? "", id: c.req.query("id") ?? "", operator: "", reason: "" }, null),
  );
  // Erasing cannot be undone: the form must carry the aggregate's id typed again.
  app.post("/console/streams/erase", ...change, async (c: Context<GatewayEnv<Env>>) => {
    const form = await c.req.parseBody();
    const field = (name: string) => (typeof form[name] === "string" ? form[name] : "");
    const asked = { stream: field("stream"), id: field("id"), operator: field("operator"), reason: field("reason") };
    const access = options.aggregates.find((candidate) => candidate.stream === asked.stream);
    const id = readKey(asked.id);
    const confirm = readKey(field("confirm"));
    if (options.erasure === undefined || access === undefined || !id.ok) return eraseRoute(c, asked, null);
    if (!confirm.ok || confirm.key !== id.key) return eraseRoute(c, asked, "The id typed is not this aggregate's: nothing was erased.");
    // The API's rule for who asks and why: the same words refuse them here.
    const note = eraseNote({ operator: asked.operator, reason: asked.reason });
    if (typeof note === "string") return eraseRoute(c, asked, `${note}: nothing was erased.`);
    let answer: Awaited<ReturnType<typeof eraseAsAdmin>>;
    try {
      answer = await eraseAsAdmin(options.erasure, options.scheduler, c.env, { access, id: id.key }, { via: "console", ...note });
    } catch (error) {
      logger.error("console: erasing failed", { error });
      return eraseRoute(c, asked, `Could not erase: ${problemText(error)}`);
    }
    if ("status" in answer) {
      const problem = answer.reason === "not_found" ? "Nothing is stored for this aggregate, and no erasure of it is recorded." : `Could not erase: ${answer.reason}. Try again.`;
      return eraseRoute(c, asked, problem);
    }
    return c.redirect(`${baseOf(c)}/console/erasures/${encodeURIComponent(answer.erasureId)}`, 303);
  });

  app.get("/console/erasures", loggedIn, async (c: Context<GatewayEnv<Env>>) => {
    if (options.erasure === undefined) return html(c, erasuresPage(baseOf(c), null, "Erasure is not configured on this gateway (its admin options have no erasure)."));
    try {
      return html(c, erasuresPage(baseOf(c), await options.erasure.readSide.erasures(c.env, { limit: ERASURES_SHOWN }), null));
    } catch (error) {
      return html(c, erasuresPage(baseOf(c), null, `Could not read the audit log: ${problemText(error)}`));
    }
  });
  app.get("/console/erasures/:erasureId", loggedIn, async (c: Context<GatewayEnv<Env>>) => {
    const erasureId = c.req.param("erasureId") ?? "";
    if (options.erasure === undefined || !/^[0-9a-f-]{1,64}$/.test(erasureId)) return html(c, receiptPage(baseOf(c), null, null));
    try {
      const [receipt] = await options.erasure.readSide.erasures(c.env, { erasureId, limit: 1 });
      return html(c, receiptPage(baseOf(c), receipt ?? null, null));
    } catch (error) {
      return html(c, receiptPage(baseOf(c), null, `Could not read the audit log: ${problemText(error)}`));
    }
  });

  app.get("/console/schedules", loggedIn, async (c: Context<GatewayEnv<Env>>) => {
    const { scheduler } = options;
    const rawKey = c.req.query("key") ?? "";
    const notice = await openNotice(tokenOf(c), "schedules", c.req.query(NOTICE_PARAM));
    const view: SchedulesView = {
      enabled: scheduler !== undefined,
      key: rawKey,
      schedules: null,
      cancelled: notice?.["cancelled"] ?? null,
      problem: outcomeProblem(notice?.["missing"], notice?.["failed"]),
      now: Date.now(),
      // Without a key: the aggregates' own schedules, which can be found.
      followUps: rawKey === "" ? await recentFollowUps(options.readSide, options.aggregates, c.env) : null,
    };
    if (scheduler !== undefined && rawKey !== "") {
      const key = readKey(rawKey);
      if (!key.ok) view.problem = `The key ${key.problem}.`;
      else {
        try {
          view.schedules = await scheduler.list(c.env, key.key, EVERY_OWNER);
        } catch (error) {
          view.problem = `Could not read the schedules: ${problemText(error)}`;
        }
      }
    }
    return html(c, schedulesPage(baseOf(c), view));
  });

  app.post("/console/schedules/cancel", ...change, async (c: Context<GatewayEnv<Env>>) => {
    const base = baseOf(c);
    const form = await c.req.parseBody();
    const key = readKey(form["key"]);
    const read = readKey(form["messageId"]);
    if (options.scheduler === undefined || !key.ok || !read.ok) return c.redirect(`${base}/console/schedules`, 303);
    const messageId = read.key;
    const back = `${base}/console/schedules?key=${encodeURIComponent(key.key)}`;
    const outcome = await options.scheduler.cancel(c.env, key.key, messageId, EVERY_OWNER).then(
      (answer) => (answer.status === "ok" ? "cancelled" : "missing"),
      () => "failed",
    );
    return c.redirect(`${back}&${NOTICE_PARAM}=${await sealNotice(tokenOf(c), "schedules", { [outcome]: messageId })}`, 303);
  });

  app.get("/console/costs", loggedIn, async (c: Context<GatewayEnv<Env>>) => html(c, costsPage(baseOf(c), await costsView(options.readSide, c.env))));

  app.get("/console/read-side", loggedIn, async (c: Context<GatewayEnv<Env>>) => {
    const query = c.req.query();
    const place = Object.fromEntries(READ_SIDE_PLACE.filter((name) => name in query).map((name) => [name, query[name] ?? ""]));
    const notice = (await openNotice(tokenOf(c), "read-side", c.req.query(NOTICE_PARAM))) ?? {};
    return html(c, readSidePage(baseOf(c), await readSideView(options.readSide, c.env, { ...notice, ...place })));
  });

  const replayRoute = (action: ReplayAction) => async (c: Context<GatewayEnv<Env>>) => {
    const back = `${baseOf(c)}/console/read-side`;
    const form = await c.req.parseBody();
    const name = typeof form["subscriber"] === "string" ? form["subscriber"] : "";
    if (options.readSide === undefined || name === "") return c.redirect(back, 303);
    const report = Object.fromEntries(new URLSearchParams(await replay(options.readSide, c.env, action, name, logger)));
    return c.redirect(`${back}?${NOTICE_PARAM}=${await sealNotice(tokenOf(c), "read-side", report)}`, 303);
  };
  app.post("/console/read-side/rebuild", ...change, replayRoute("rebuild"));
  app.post("/console/read-side/catch-up", ...change, replayRoute("catch_up"));
  app.post("/console/read-side/sweep", ...change, async (c: Context<GatewayEnv<Env>>) => {
    const back = `${baseOf(c)}/console/read-side`;
    if (options.readSide === undefined) return c.redirect(back, 303);
    const report = Object.fromEntries(new URLSearchParams(await sweepNow(options.readSide, c.env, logger)));
    return c.redirect(`${back}?${NOTICE_PARAM}=${await sealNotice(tokenOf(c), "read-side", report)}`, 303);
  });
}
