/** Small building blocks shared by the panels: panels, states, numbers, badges, tabs. */
import { useId, useRef, type KeyboardEvent, type ReactNode } from "react";
import { describeError } from "../api/errors";
import { formatSigned, signOf } from "../lib/format";

export function Panel({
  title,
  actions,
  children,
  className,
  id,
}: {
  title: string;
  actions?: ReactNode;
  children: ReactNode;
  className?: string;
  id?: string;
}) {
  const headingId = useId();
  return (
    <section className={`panel ${className ?? ""}`} aria-labelledby={headingId} id={id}>
      <header className="panel-header">
        <h2 id={headingId}>{title}</h2>
        {actions ? <div className="panel-actions">{actions}</div> : null}
      </header>
      <div className="panel-body">{children}</div>
    </section>
  );
}

interface QueryLike {
  isPending: boolean;
  isError: boolean;
  error: unknown;
  refetch: () => unknown;
}

/**
 * Loading and error states for a query; renders `children` once there is data. A failed
 * refetch over data already shown keeps the data and says it may be stale.
 */
export function QueryState({
  query,
  what,
  hasData,
  children,
}: {
  query: QueryLike;
  what: string;
  hasData: boolean;
  children: ReactNode;
}) {
  if (query.isPending && !hasData) {
    return (
      <p className="state state-loading" role="status">
        Loading {what}…
      </p>
    );
  }
  if (query.isError && !hasData) {
    return (
      <div className="state state-error" role="alert">
        <span>
          Could not load {what}: {describeError(query.error)}
        </span>{" "}
        <button type="button" className="link" onClick={() => query.refetch()}>
          Retry
        </button>
      </div>
    );
  }
  return (
    <>
      {query.isError ? (
        <p className="state state-stale" role="status">
          Showing {what} as last received; refreshing failed: {describeError(query.error)}
        </p>
      ) : null}
      {children}
    </>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="state state-empty">{children}</p>;
}

/** A signed amount, coloured and with its sign spelled out (colour is never the only cue). */
export function Pnl({ value, places = 2 }: { value: string | null | undefined; places?: number }) {
  const s = signOf(value);
  return <span className={s > 0 ? "pnl-up" : s < 0 ? "pnl-down" : undefined}>{formatSigned(value, places)}</span>;
}

export function ErrorText({ id, children }: { id: string; children: ReactNode }) {
  return (
    <p className="field-error" id={id}>
      {children}
    </p>
  );
}

export interface TabSpec {
  id: string;
  label: ReactNode;
}

/** WAI-ARIA tabs: arrow keys move between tabs, Tab moves into the panel. */
export function Tabs({
  tabs,
  selected,
  onSelect,
  label,
  idPrefix,
}: {
  tabs: readonly TabSpec[];
  selected: string;
  onSelect: (id: string) => void;
  label: string;
  idPrefix: string;
}) {
  const refs = useRef<Record<string, HTMLButtonElement | null>>({});
  const onKeyDown = (event: KeyboardEvent) => {
    const index = tabs.findIndex((t) => t.id === selected);
    const moves: Record<string, number> = {
      ArrowRight: (index + 1) % tabs.length,
      ArrowLeft: (index - 1 + tabs.length) % tabs.length,
      Home: 0,
      End: tabs.length - 1,
    };
    const next = moves[event.key];
    if (next === undefined) return;
    event.preventDefault();
    const tab = tabs[next]!;
    onSelect(tab.id);
    refs.current[tab.id]?.focus();
  };
  return (
    <div role="tablist" aria-label={label} className="tabs" onKeyDown={onKeyDown}>
      {tabs.map((tab) => (
        <button
          key={tab.id}
          ref={(el) => {
            refs.current[tab.id] = el;
          }}
          type="button"
          role="tab"
          id={`${idPrefix}-tab-${tab.id}`}
          aria-selected={tab.id === selected}
          aria-controls={`${idPrefix}-panel-${tab.id}`}
          tabIndex={tab.id === selected ? 0 : -1}
          onClick={() => onSelect(tab.id)}
        >
          {tab.label}
        </button>
      ))}
    </div>
  );
}

export function TabPanel({ idPrefix, id, children }: { idPrefix: string; id: string; children: ReactNode }) {
  return (
    <div role="tabpanel" id={`${idPrefix}-panel-${id}`} aria-labelledby={`${idPrefix}-tab-${id}`}>
      {children}
    </div>
  );
}

const STATUS_TONES: Record<string, string> = {
  filled: "good",
  partially_filled: "info",
  submitted: "info",
  unsent: "bad",
  pending_submit: "muted",
  pending_cancel: "muted",
  cancelled: "muted",
  expired: "muted",
  rejected: "bad",
};

export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge badge-${STATUS_TONES[status] ?? "muted"}`}>{status.replace(/_/g, " ")}</span>;
}
