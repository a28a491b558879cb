// The demo's console as a browser reaches it: same-origin form posts, the session cookie, pages.
import { exports } from "cloudflare:workers";
import { expect } from "vitest";

/** The origin the tests' browser is on. */
export const ORIGIN = "http://demo";

/** A request to the demo Worker, redirects not followed (as a test wants to see them). */
export const demo = (path: string, init?: RequestInit) => exports.default.fetch(`${ORIGIN}${path}`, { redirect: "manual", ...init });

/** A form post as a browser on `origin` sends it. */
export function form(fields: Record<string, string>, cookie = "", origin = ORIGIN): RequestInit {
  return {
    method: "POST",
    body: new URLSearchParams(fields).toString(),
    headers: {
      "Content-Type": "application/x-www-form-urlencoded",
      Origin: origin,
      "Sec-Fetch-Site": origin === ORIGIN ? "same-origin" : "cross-site",
      ...(cookie === "" ? {} : { Cookie: cookie }),
    },
  };
}

/** Logs in to the demo's console and returns the session cookie to send back. */
export async function login(): Promise<string> {
  const answer = await demo("/console/login", form({ token: "dev-admin", next: "/console" }));
  expect(answer.status).toBe(303);
  return (answer.headers.get("Set-Cookie") ?? "").split(";")[0] ?? "";
}

/** A console page as the session `cookie` sees it. */
export async function page(path: string, cookie: string): Promise<{ status: number; text: string; headers: Headers }> {
  const answer = await demo(path, { headers: { Cookie: cookie } });
  return { status: answer.status, text: await answer.text(), headers: answer.headers };
}

/** The text of a page's first alert (`role="alert"`), if any. */
export const alertOf = (text: string) => /role="alert">(.*?)<\/p>/.exec(text)?.[1];
