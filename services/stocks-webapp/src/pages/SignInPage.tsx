/** Sign in with the local user's password (POST /api/v1/auth/token, OAuth2 password form). */
import { useState, type FormEvent } from "react";
import { signInErrorMessage, useAuth } from "../hooks/auth";

export function SignInPage() {
  const { signIn, notice } = useAuth();
  const [username, setUsername] = useState("admin");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [pending, setPending] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!password) {
      setError("Enter the password.");
      return;
    }
    setPending(true);
    setError(null);
    try {
      await signIn(username.trim(), password);
    } catch (e) {
      setError(signInErrorMessage(e));
      setPending(false);
    }
  };

  return (
    <main className="signin">
      <form className="panel signin-form" onSubmit={submit} noValidate aria-labelledby="signin-title">
        <h1 id="signin-title">stocks</h1>
        <p className="muted">Sign in to the trading dashboard.</p>
        {notice ? (
          <p className="state state-stale" role="status">
            {notice}
          </p>
        ) : null}
        <div className="field">
          <label htmlFor="signin-username">Username</label>
          <input
            id="signin-username"
            name="username"
            autoComplete="username"
            value={username}
            onChange={(e) => setUsername(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="signin-password">Password</label>
          <input
            id="signin-password"
            name="password"
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            autoFocus
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? "signin-error" : undefined}
          />
        </div>
        {error ? (
          <p className="field-error" id="signin-error" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit" className="button-primary" disabled={pending}>
          {pending ? "Signing in…" : "Sign in"}
        </button>
        <p className="muted small">
          Set the password in the project folder with <code>.venv/bin/stocks-api set-password</code> (in the full stack:{" "}
          <code>docker compose exec stocks-api stocks-api set-password</code>). The session lives in this tab only:
          reloading signs out.
        </p>
      </form>
    </main>
  );
}
