/**
 * The typed REST client (openapi-fetch over the generated schema), same origin: every call
 * goes to /api/v1/... of the page's own host, as when the API or nginx serves the UI and
 * through the dev server's proxy.
 */
import createClient, { type Client } from "openapi-fetch";
import { ApiError } from "./errors";
import type { paths } from "./schema";

export type ApiClient = Client<paths>;

export interface ClientOptions {
  /** The bearer token to send, read on every request (kept in memory only). */
  getToken: () => string | null;
  /** Called when the API answers 401 to an authenticated request (token expired). */
  onUnauthorized: () => void;
  baseUrl?: string;
  fetch?: typeof globalThis.fetch;
}

export function createApiClient({ getToken, onUnauthorized, baseUrl, fetch }: ClientOptions): ApiClient {
  const client = createClient<paths>({
    baseUrl: baseUrl ?? "",
    ...(fetch ? { fetch } : {}),
  });
  client.use({
    onRequest({ request }) {
      const token = getToken();
      if (token) request.headers.set("Authorization", `Bearer ${token}`);
      return request;
    },
    onResponse({ request, response }) {
      if (response.status === 401 && request.headers.has("Authorization")) onUnauthorized();
      return response;
    },
  });
  return client;
}

interface FetchResult<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/**
 * Await an openapi-fetch call and return its data, or throw an ApiError built from the
 * error envelope (or a NETWORK_ERROR when there was no answer at all).
 */
export async function unwrap<T>(call: Promise<FetchResult<T>>): Promise<T> {
  let result: FetchResult<T>;
  try {
    result = await call;
  } catch (cause) {
    if (cause instanceof DOMException && cause.name === "AbortError") throw cause;
    throw ApiError.network(cause);
  }
  if (!result.response.ok) throw ApiError.fromResponse(result.response, result.error);
  return result.data as T;
}
