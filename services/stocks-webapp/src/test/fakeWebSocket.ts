/** A WebSocket double for unit tests: the test plays the server, frame by frame. */
import type { WebSocketLike } from "../live/connection";

export class FakeWebSocket implements WebSocketLike {
  static instances: FakeWebSocket[] = [];

  static reset(): void {
    FakeWebSocket.instances = [];
  }

  static latest(): FakeWebSocket {
    const socket = FakeWebSocket.instances[FakeWebSocket.instances.length - 1];
    if (!socket) throw new Error("no WebSocket was opened");
    return socket;
  }

  static create = (url: string): FakeWebSocket => new FakeWebSocket(url);

  readonly url: string;
  readyState = 0;
  /** What the client sent, parsed. */
  readonly sent: Record<string, unknown>[] = [];
  closedWith: { code: number | undefined; reason: string | undefined } | null = null;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  private seq = 0;

  constructor(url: string) {
    this.url = url;
    FakeWebSocket.instances.push(this);
  }

  send(data: string): void {
    this.sent.push(JSON.parse(data) as Record<string, unknown>);
  }

  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason };
    this.readyState = 2;
  }

  // -- the server's side ----------------------------------------------------------------

  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }

  /** Send a frame with the next `seq` (or skip some, to make a gap). */
  push(type: string, data: unknown = {}, { skip = 0 }: { skip?: number } = {}): number {
    this.seq += 1 + skip;
    this.onmessage?.({ data: JSON.stringify({ type, seq: this.seq, ts: new Date().toISOString(), data }) });
    return this.seq;
  }

  /** Send a frame with an explicit seq (duplicates, out of order). */
  pushRaw(frame: unknown): void {
    this.onmessage?.({ data: typeof frame === "string" ? frame : JSON.stringify(frame) });
  }

  /** open -> auth -> welcome -> subscribed, as the API answers a good client. */
  handshake(heartbeatSeconds = 15): void {
    this.open();
    this.push("welcome", { principal: "user:admin", heartbeat_seconds: heartbeatSeconds, queue_size: 1000 });
    this.push("subscribed", { channels: ["orders"] });
  }

  drop(code = 1006, reason = ""): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}
