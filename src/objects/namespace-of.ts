/**
 * How the objects' clients are told where a Durable Object namespace is: a function of the
 * request's `env` — `(env) => env.ACCOUNTS` — since bindings exist only in a request's `env`, not
 * when the module loads. Passing the namespace itself (`env.ACCOUNTS`, in a handler) is a common
 * first mistake: the clients' parameter types add a member that is never a value, whose one key
 * is the hint TypeScript's error then shows, and this function refuses it at run time.
 */
type NamespaceOf<Env> = ((env: Env) => DurableObjectNamespace) | { readonly [hint: string]: never };

/**
 * `binding` as a function, or a TypeError that says what to pass (for JavaScript callers). The
 * function it answers throws, naming the binding function, when an env has no such namespace (a
 * binding missing from wrangler.toml, or from a test's Miniflare options): not a TypeError about
 * `get` of undefined, deep in a call.
 */
export function namespaceOf<Env>(binding: NamespaceOf<Env>, who: string): (env: Env) => DurableObjectNamespace {
  if (typeof binding !== "function") {
    throw new TypeError(`${who} takes a function of env, e.g. (env) => env.ACCOUNTS, not the namespace itself`);
  }
  return (env) => {
    const namespace: DurableObjectNamespace | undefined = binding(env);
    if (typeof namespace?.idFromName !== "function") {
      throw new Error(`${who}: ${String(binding).slice(0, 120)} gave no Durable Object namespace — is its binding declared (wrangler.toml's durable_objects, or the test's miniflare options)?`);
    }
    return namespace;
  };
}
