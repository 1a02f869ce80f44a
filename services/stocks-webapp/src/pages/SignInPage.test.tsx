import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { AuthProvider } from "../hooks/auth";
import { SignInPage } from "./SignInPage";

afterEach(cleanup);

describe("SignInPage", () => {
  it("names the set-password commands that run where the user is", () => {
    render(
      <QueryClientProvider client={new QueryClient()}>
        <AuthProvider baseUrl="http://api.test">
          <SignInPage />
        </AuthProvider>
      </QueryClientProvider>,
    );
    const commands = screen.getAllByText(/set-password$/, { selector: "code" }).map((code) => code.textContent);
    // `make run` puts no stocks-api on PATH; the compose stack runs it inside its container.
    expect(commands).toEqual([
      ".venv/bin/stocks-api set-password",
      "docker compose exec stocks-api stocks-api set-password",
    ]);
  });
});
