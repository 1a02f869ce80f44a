/**
 * Whether the API can be reached: the page must not show its last values as if they were
 * current. The API counts as unreachable while the live stream is down and the REST
 * fallback's own poll of GET /api/v1/broker fails with a network error (or nginx's 502,
 * 503, 504 for an API behind it that is gone); a 4xx is an answer, not an outage. Both come
 * back by themselves: the stream reconnects and the poll goes on.
 */
import { ApiError } from "../api/errors";
import { useBroker } from "./queries";
import { useLive } from "./useLiveUpdates";

export interface Reachability {
  unreachable: boolean;
  /** When the API last answered (ms since the epoch), for "last known at". */
  lastAnswerAt: number | null;
}

export function isUnreachableError(error: unknown): boolean {
  if (!(error instanceof ApiError)) return error != null;
  // No answer at all (status 0, NETWORK_ERROR), or nginx's for an API that is gone.
  return error.status === 0 || error.status === 502 || error.status === 503 || error.status === 504;
}

export function useApiReachability(): Reachability {
  const broker = useBroker();
  const live = useLive();
  const unreachable = live.status !== "live" && broker.isError && isUnreachableError(broker.error);
  return { unreachable, lastAnswerAt: broker.dataUpdatedAt || null };
}
