/** The risk engine: trading state, limits in force, usage, and the kill switch (HALT / RESUME, confirmed). */
import { useState, type FormEvent } from "react";
import { describeError } from "../api/errors";
import type { RiskLimits, RiskStatus, TradingState } from "../api/types";
import { useHalt, useResume, useRisk } from "../hooks/queries";
import { formatFixed, formatMoney, formatPercent, formatRatioPercent, MISSING } from "../lib/format";
import { Panel, Pnl, QueryState } from "./ui";
import { Time } from "./Time";

type LimitKey = keyof RiskLimits;

const LIMITS: readonly { key: LimitKey; label: string; format: (v: unknown) => string }[] = [
  { key: "max_order_qty", label: "Max order quantity", format: (v) => formatFixed(v as string, 0) },
  { key: "max_order_value", label: "Max order value", format: (v) => formatMoney(v as string) },
  { key: "max_position_value", label: "Max position value", format: (v) => formatMoney(v as string) },
  { key: "max_gross_exposure", label: "Max gross exposure", format: (v) => formatMoney(v as string) },
  { key: "max_leverage", label: "Max leverage", format: (v) => formatFixed(v as string, 2) },
  { key: "daily_loss_limit", label: "Daily loss limit", format: (v) => formatMoney(v as string) },
  { key: "max_orders_per_second", label: "Orders per second", format: (v) => String(v) },
  { key: "max_orders_per_minute", label: "Orders per minute", format: (v) => String(v) },
  { key: "price_band_percent", label: "Price band", format: (v) => formatPercent(v as string, 2) },
  { key: "max_consecutive_rejections", label: "Rejections before halt", format: (v) => String(v) },
  {
    key: "allowed_symbols",
    label: "Allowed symbols",
    format: (v) => ((v as string[]).length ? (v as string[]).join(", ") : "all"),
  },
  {
    key: "denied_symbols",
    label: "Denied symbols",
    format: (v) => ((v as string[]).length ? (v as string[]).join(", ") : "none"),
  },
];

function LimitValue({ value, format }: { value: unknown; format: (v: unknown) => string }) {
  if (value === null || value === undefined) return <span className="muted">off</span>;
  return <>{format(value)}</>;
}

function Usage({ risk }: { risk: RiskStatus }) {
  const u = risk.usage;
  return (
    <dl className="kv">
      <dt>Day P&L</dt>
      <dd className="num">{u.daily_pnl === null ? MISSING : <Pnl value={u.daily_pnl} />}</dd>
      <dt>Loss limit used</dt>
      <dd className="num">{formatRatioPercent(u.daily_loss_limit_used)}</dd>
      <dt>Gross exposure</dt>
      <dd className="num">{formatMoney(u.gross_exposure)}</dd>
      <dt>… with open orders</dt>
      <dd className="num">{formatMoney(u.gross_exposure_with_open_orders)}</dd>
      <dt>Leverage</dt>
      <dd className="num">{formatFixed(u.leverage, 2)}</dd>
      <dt>Orders last s / min</dt>
      <dd className="num">
        {u.orders_last_second} / {u.orders_last_minute}
      </dd>
      <dt>Broker rejections in a row</dt>
      <dd className="num">{u.consecutive_broker_rejections}</dd>
    </dl>
  );
}

function HaltForm({ onDone }: { onDone: () => void }) {
  const halt = useHalt();
  const [reason, setReason] = useState("");
  const [cancelOpen, setCancelOpen] = useState(true);
  const [flatten, setFlatten] = useState(false);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    halt.mutate(
      {
        reason: reason.trim() || "halted from the dashboard",
        cancel_open_orders: cancelOpen || flatten,
        flatten_positions: flatten,
      },
      { onSuccess: onDone },
    );
  };
  return (
    <form
      className="confirm"
      onSubmit={submit}
      aria-labelledby="halt-title"
      data-testid="halt-confirm"
      onKeyDown={(e) => e.key === "Escape" && onDone()}
    >
      <h3 id="halt-title">Halt trading?</h3>
      <p>Every new order is refused until someone resumes. Cancels still work.</p>
      <div className="field">
        <label htmlFor="halt-reason">Reason</label>
        <input id="halt-reason" value={reason} onChange={(e) => setReason(e.target.value)} maxLength={500} autoFocus />
      </div>
      <div className="field field-check">
        <input
          id="halt-cancel"
          type="checkbox"
          checked={cancelOpen || flatten}
          disabled={flatten}
          onChange={(e) => setCancelOpen(e.target.checked)}
        />
        <label htmlFor="halt-cancel">Also cancel every open order</label>
      </div>
      <div className="field field-check">
        <input id="halt-flatten" type="checkbox" checked={flatten} onChange={(e) => setFlatten(e.target.checked)} />
        <label htmlFor="halt-flatten">Also close every position at the market</label>
      </div>
      {halt.isError ? (
        <p className="field-error" role="alert">
          {describeError(halt.error)}
        </p>
      ) : null}
      <div className="button-row">
        <button type="submit" className="button-danger" disabled={halt.isPending}>
          Confirm HALT
        </button>
        <button type="button" className="button-secondary" onClick={onDone}>
          Back
        </button>
      </div>
    </form>
  );
}

function ResumeForm({ onDone }: { onDone: () => void }) {
  const resume = useResume();
  const [state, setState] = useState<Exclude<TradingState, "halted">>("active");
  const [reason, setReason] = useState("");
  const submit = (event: FormEvent) => {
    event.preventDefault();
    resume.mutate({ state, reason: reason.trim() || "resumed from the dashboard" }, { onSuccess: onDone });
  };
  return (
    <form
      className="confirm"
      onSubmit={submit}
      aria-labelledby="resume-title"
      data-testid="resume-confirm"
      onKeyDown={(e) => e.key === "Escape" && onDone()}
    >
      <h3 id="resume-title">Resume trading?</h3>
      <div className="field">
        <label htmlFor="resume-state">Resume to</label>
        <select id="resume-state" value={state} onChange={(e) => setState(e.target.value as typeof state)} autoFocus>
          <option value="active">Active: every order is checked normally</option>
          <option value="reducing">Reducing: only orders that shrink a position</option>
        </select>
      </div>
      <div className="field">
        <label htmlFor="resume-reason">Reason</label>
        <input id="resume-reason" value={reason} onChange={(e) => setReason(e.target.value)} maxLength={500} />
      </div>
      {resume.isError ? (
        <p className="field-error" role="alert">
          {describeError(resume.error)}
        </p>
      ) : null}
      <div className="button-row">
        <button type="submit" className="button-primary" disabled={resume.isPending}>
          Confirm RESUME
        </button>
        <button type="button" className="button-secondary" onClick={onDone}>
          Back
        </button>
      </div>
    </form>
  );
}

export function RiskPanel({ readOnly }: { readOnly: boolean }) {
  const risk = useRisk();
  const [step, setStep] = useState<"halt" | "resume" | null>(null);
  const r = risk.data;
  return (
    <Panel
      title="Risk"
      className="risk"
      actions={
        r && step === null ? (
          <div className="button-row">
            {r.state !== "halted" ? (
              <button type="button" className="button-danger" disabled={readOnly} onClick={() => setStep("halt")}>
                HALT
              </button>
            ) : null}
            {r.state !== "active" ? (
              <button type="button" className="button-primary" disabled={readOnly} onClick={() => setStep("resume")}>
                RESUME
              </button>
            ) : null}
          </div>
        ) : null
      }
    >
      <QueryState query={risk} what="the risk state" hasData={Boolean(r)}>
        {r ? (
          <>
            <p className="risk-state" data-testid="risk-state">
              <span className={`badge badge-state-${r.state}`}>{r.state.toUpperCase()}</span>{" "}
              {r.reason ? <span>{r.reason}</span> : null}
              {r.changed_by ? (
                <span className="muted small">
                  {" "}
                  by {r.changed_by}, <Time iso={r.changed_at} />
                </span>
              ) : null}
            </p>
            {step === "halt" ? <HaltForm onDone={() => setStep(null)} /> : null}
            {step === "resume" ? <ResumeForm onDone={() => setStep(null)} /> : null}
            <h3 className="subheading">Usage</h3>
            <Usage risk={r} />
            <h3 className="subheading">Limits</h3>
            <table className="limits" data-testid="risk-limits">
              <tbody>
                {LIMITS.map((l) => (
                  <tr key={l.key}>
                    <th scope="row">{l.label}</th>
                    <td className="num">
                      <LimitValue value={r.limits[l.key]} format={l.format} />
                    </td>
                    <td
                      className="muted small"
                      title={
                        r.limit_sources[l.key] === "runtime"
                          ? "changed at run time (PUT /api/v1/risk/limits)"
                          : "from the RISK_* settings"
                      }
                    >
                      {r.limit_sources[l.key] === "runtime" ? "runtime" : ""}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        ) : null}
      </QueryState>
    </Panel>
  );
}
