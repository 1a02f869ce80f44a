/// <reference types="vite/client" />

interface ImportMetaEnv {
  readonly VITE_CONFIRM_ABOVE_DEFAULT?: string;
  readonly VITE_WATCHLIST_DEFAULT?: string;
}

interface ImportMeta {
  readonly env: ImportMetaEnv;
}
