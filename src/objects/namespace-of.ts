/**
 * How the objects' clients are told where a Durable Object namespace is: a function of the
 * request's `env` — `(env) => env.ACCOUNTS` — since bindings exist only in a request's `env`, not
 * when the module loads. Passing the namespace itself (`env.ACCOUNTS`, in a handler) is a common
 * first mistake: the clients' parameter types add a member that is never a value, whose one key
 * is the hint TypeScript's error then shows, and this function refuses it at run time.
 */
type NamespaceOf<Env> = ((env: Env) => DurableObjectNamespace) | { readonly [hint: string]: never };

/** `binding` as a function, or a TypeError that says what to pass (for JavaScript callers). */
export function namespaceOf<Env>(binding: NamespaceOf<Env>, who: string): (env: Env) => DurableObjectNamespace {
  if (typeof binding !== "function") {
    throw new TypeError(`${who} takes a function of env, e.g. (env) => env.ACCOUNTS, not the namespace itself`);
  }
  return binding;
}
