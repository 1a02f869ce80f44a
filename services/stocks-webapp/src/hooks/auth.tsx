/**
 * The signed-in session: a bearer token from POST /api/v1/auth/token, kept in memory only
 * (never localStorage: a reload signs out, and no script can read a stored token), and the
 * typed API client that sends it.
 */
import { useQueryClient } from "@tanstack/react-query";
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { createApiClient, unwrap, type ApiClient } from "../api/client";
import { ApiError } from "../api/errors";

export interface Session {
  token: string;
  username: string;
  expiresAt: number; // ms since the epoch
}

export interface AuthValue {
  session: Session | null;
  api: ApiClient;
  /** Why the last session ended, when it was not the user's choice. */
  notice: string | null;
  signIn: (username: string, password: string) => Promise<void>;
  signOut: (notice?: string) => void;
}

const AuthContext = createContext<AuthValue | null>(null);

export const SESSION_EXPIRED = "Your session expired. Sign in again.";

/**
 * The API client and the token it sends, outside React state: a request made right after
 * signing in already carries the token, and a 401 reaches whoever listens.
 */
class AuthClient {
  private token: string | null = null;
  private unauthorized: (() => void) | null = null;
  readonly api: ApiClient;

  constructor(baseUrl?: string) {
    this.api = createApiClient({
      baseUrl,
      getToken: () => this.token,
      onUnauthorized: () => {
        if (this.token) this.unauthorized?.();
      },
    });
  }

  setToken(token: string | null): void {
    this.token = token;
  }

  onUnauthorized(listener: () => void): () => void {
    this.unauthorized = listener;
    return () => {
      if (this.unauthorized === listener) this.unauthorized = null;
    };
  }
}

/** `baseUrl` only for tests outside a browser; the app always calls its own origin. */
export function AuthProvider({ children, baseUrl }: { children: ReactNode; baseUrl?: string }) {
  const queryClient = useQueryClient();
  const [session, setSession] = useState<Session | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [auth] = useState(() => new AuthClient(baseUrl));
  const { api } = auth;

  const signOut = useCallback(
    (why?: string) => {
      auth.setToken(null);
      setSession(null);
      setNotice(why ?? null);
      // Account data must not outlive the session in memory.
      queryClient.clear();
    },
    [auth, queryClient],
  );

  useEffect(() => auth.onUnauthorized(() => signOut(SESSION_EXPIRED)), [auth, signOut]);

  const signIn = useCallback(
    async (username: string, password: string) => {
      const token = await unwrap(
        api.POST("/api/v1/auth/token", {
          body: { username, password, scope: "" },
          bodySerializer: (body) => new URLSearchParams(body as unknown as Record<string, string>),
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
        }),
      );
      auth.setToken(token.access_token);
      setNotice(null);
      setSession({ token: token.access_token, username, expiresAt: Date.now() + token.expires_in * 1000 });
    },
    [api, auth],
  );

  // Sign out when the token runs out, rather than letting every request fail with 401.
  useEffect(() => {
    if (!session) return;
    const timer = setTimeout(() => signOut(SESSION_EXPIRED), Math.max(0, session.expiresAt - Date.now()));
    return () => clearTimeout(timer);
  }, [session, signOut]);

  const value = useMemo(() => ({ session, api, notice, signIn, signOut }), [session, api, notice, signIn, signOut]);
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthValue {
  const value = useContext(AuthContext);
  if (!value) throw new Error("useAuth outside <AuthProvider>");
  return value;
}

export function useApi(): ApiClient {
  return useAuth().api;
}

/** A person-readable reason a sign-in failed. */
export function signInErrorMessage(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 401) return "Wrong username or password.";
    if (error.status === 429) return "Too many sign-in attempts. Wait a minute and try again.";
    if (error.code === "NETWORK_ERROR") return "Cannot reach the API. Is it running?";
    return error.message;
  }
  return String(error);
}
