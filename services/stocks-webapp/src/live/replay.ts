/**
 * Events and REST reads race: a read sent before an event may be answered after it, and
 * its (older) answer would overwrite what the event put in the cache. So every event is
 * logged, each read of a live resource notes where the log stood when it started, and when
 * its answer lands the events that arrived meanwhile are applied again, newest state per
 * entity, in `replay` mode (only what is strictly newer than the answer wins).
 */
import type { QueryClient } from "@tanstack/react-query";
import { applyLiveEvent } from "./applyEvent";
import type { LiveEvent } from "./messages";

/** Which event type keeps which cache root current. Quotes are left out: the next one is 250 ms away. */
const ROOT_EVENTS: Readonly<Record<string, LiveEvent["type"]>> = {
  orders: "order.updated",
  fills: "fill.created",
  positions: "position.updated",
  accounts: "account.updated",
  risk: "risk.state",
};

export function replayedRoot(root: string): boolean {
  return root in ROOT_EVENTS;
}

function entityKey(event: LiveEvent): string {
  switch (event.type) {
    case "order.updated":
      return `order:${event.data.id}`;
    case "fill.created":
      return `fill:${event.data.id}`;
    case "position.updated":
      return `position:${event.data.account_id}:${event.data.symbol}`;
    case "account.updated":
      return `account:${event.data.account_id}`;
    case "risk.state":
      return "risk";
    case "quote":
      return `quote:${event.data.symbol}`;
    case "broker.status":
      return "broker";
  }
}

/** Each entity's last event only, in the order they came. */
export function latestPerEntity(events: readonly LiveEvent[]): LiveEvent[] {
  const latest = new Map<string, LiveEvent>();
  for (const event of events) {
    const key = entityKey(event);
    latest.delete(key);
    latest.set(key, event);
  }
  return [...latest.values()];
}

export class EventLog {
  private entries: { n: number; event: LiveEvent }[] = [];
  private counter = 0;
  private readonly capacity: number;

  constructor(capacity = 2000) {
    this.capacity = capacity;
  }

  /** Where the log stands now: a read starting now has seen every event up to here. */
  get mark(): number {
    return this.counter;
  }

  record(event: LiveEvent): void {
    if (event.type === "quote") return;
    this.entries.push({ n: ++this.counter, event });
    if (this.entries.length > this.capacity) this.entries.splice(0, this.entries.length - this.capacity);
  }

  /** The events after `mark`, or null when some of them were already dropped from the log. */
  since(mark: number): LiveEvent[] | null {
    const oldest = this.entries[0]?.n ?? this.counter + 1;
    if (oldest > mark + 1) return null;
    return this.entries.filter((e) => e.n > mark).map((e) => e.event);
  }
}

/**
 * Re-apply what arrived while a read of `root` was in flight. Returns false when the log no
 * longer holds all of it (the caller then reads again).
 */
export function replaySince(client: QueryClient, log: EventLog, mark: number, root: string): boolean {
  const type = ROOT_EVENTS[root];
  if (!type) return true;
  const events = log.since(mark);
  if (events === null) return false;
  for (const event of latestPerEntity(events.filter((e) => e.type === type))) applyLiveEvent(client, event, "replay");
  return true;
}
