/**
 * Candles from GET /api/v1/marketdata/bars/{symbol}, kept moving by the live quotes. The
 * chart plots numbers (a canvas needs them); every figure shown as text stays a decimal string.
 */
import {
  CandlestickSeries,
  ColorType,
  createChart,
  type CandlestickData,
  type IChartApi,
  type ISeriesApi,
  type UTCTimestamp,
} from "lightweight-charts";
import { useEffect, useRef, useState } from "react";
import type { BarInterval, BarRead, QuoteRead } from "../api/types";
import { useBars } from "../hooks/queries";
import { formatPrice } from "../lib/format";
import { Empty, Panel, QueryState } from "./ui";

const INTERVALS: readonly { value: BarInterval; label: string; seconds: number | null }[] = [
  { value: "1m", label: "1 min", seconds: 60 },
  { value: "5m", label: "5 min", seconds: 300 },
  { value: "1h", label: "1 hour", seconds: 3600 },
  // Daily bars follow the session's trading date, which a quote alone cannot tell.
  { value: "1d", label: "1 day", seconds: null },
];

function toCandle(bar: BarRead): CandlestickData<UTCTimestamp> {
  return {
    time: Math.floor(Date.parse(bar.start) / 1000) as UTCTimestamp,
    open: Number(bar.open),
    high: Number(bar.high),
    low: Number(bar.low),
    close: Number(bar.close),
  };
}

function chartColors() {
  const css = getComputedStyle(document.documentElement);
  const read = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback;
  return {
    text: read("--text-muted", "#667"),
    grid: read("--grid", "#eee"),
    up: read("--up", "#1a7f37"),
    down: read("--down", "#cf222e"),
    background: read("--panel", "#fff"),
  };
}

export function PriceChart({ symbol, quote }: { symbol: string | null; quote: QuoteRead | undefined }) {
  const [interval, setBarInterval] = useState<BarInterval>("1m");
  const bars = useBars(symbol, interval);
  const container = useRef<HTMLDivElement | null>(null);
  const chart = useRef<IChartApi | null>(null);
  const series = useRef<ISeriesApi<"Candlestick"> | null>(null);
  const last = useRef<CandlestickData<UTCTimestamp> | null>(null);
  const hasBars = (bars.data?.bars.length ?? 0) > 0;

  // One chart for the panel's lifetime; data changes go through the series.
  useEffect(() => {
    if (!container.current || !hasBars) return;
    const colors = chartColors();
    const created = createChart(container.current, {
      autoSize: true,
      layout: {
        background: { type: ColorType.Solid, color: colors.background },
        textColor: colors.text,
        attributionLogo: false,
      },
      grid: { vertLines: { color: colors.grid }, horzLines: { color: colors.grid } },
      timeScale: { timeVisible: true, secondsVisible: false },
      localization: { priceFormatter: (p: number) => p.toFixed(2) },
    });
    series.current = created.addSeries(CandlestickSeries, {
      upColor: colors.up,
      downColor: colors.down,
      borderVisible: false,
      wickUpColor: colors.up,
      wickDownColor: colors.down,
    });
    chart.current = created;
    return () => {
      created.remove();
      chart.current = null;
      series.current = null;
      last.current = null;
    };
  }, [hasBars]);

  useEffect(() => {
    if (!series.current || !bars.data) return;
    const candles = bars.data.bars.map(toCandle);
    series.current.setData(candles);
    last.current = candles[candles.length - 1] ?? null;
    chart.current?.timeScale().fitContent();
  }, [bars.data, hasBars]);

  // Each quote moves the current candle, or opens the next one.
  useEffect(() => {
    const seconds = INTERVALS.find((i) => i.value === interval)?.seconds;
    const candle = last.current;
    if (!quote || !series.current || !candle || !seconds || quote.symbol !== symbol) return;
    const price = Number(quote.last);
    const start = (Math.floor(Date.parse(quote.ts) / 1000 / seconds) * seconds) as UTCTimestamp;
    if (!Number.isFinite(price) || start < candle.time) return;
    const next =
      start === candle.time
        ? { ...candle, high: Math.max(candle.high, price), low: Math.min(candle.low, price), close: price }
        : { time: start, open: price, high: price, low: price, close: price };
    series.current.update(next);
    last.current = next;
  }, [quote, interval, symbol]);

  return (
    <Panel
      title={symbol ? `${symbol} chart` : "Chart"}
      className="chart"
      actions={
        <div role="radiogroup" aria-label="Bar interval" className="segmented">
          {INTERVALS.map((i) => (
            <label key={i.value} className={interval === i.value ? "checked" : undefined}>
              <input
                type="radio"
                name="bar-interval"
                value={i.value}
                checked={interval === i.value}
                onChange={() => setBarInterval(i.value)}
              />
              {i.label}
            </label>
          ))}
        </div>
      }
    >
      {!symbol ? (
        <Empty>Pick a symbol on the watchlist to see its chart.</Empty>
      ) : (
        <QueryState query={bars} what={`${symbol} bars`} hasData={Boolean(bars.data)}>
          {hasBars ? null : <Empty>No bars for {symbol} yet.</Empty>}
          <div
            ref={container}
            className="chart-canvas"
            hidden={!hasBars}
            role="img"
            aria-label={`${symbol} price chart, ${interval} bars${quote ? `, last ${formatPrice(quote.last)}` : ""}`}
          />
        </QueryState>
      )}
    </Panel>
  );
}
