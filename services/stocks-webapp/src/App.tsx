import { AuthProvider, useAuth } from "./hooks/auth";
import { DashboardPage } from "./pages/DashboardPage";
import { SignInPage } from "./pages/SignInPage";

function Screens() {
  const { session } = useAuth();
  return session ? <DashboardPage /> : <SignInPage />;
}

export function App() {
  return (
    <AuthProvider>
      <Screens />
    </AuthProvider>
  );
}
