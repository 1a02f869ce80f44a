/**
 * The API's one error shape, as a JS error: {"error": {"code", "message", "details",
 * "request_id"}}. (The OpenAPI schema does not declare it, so it is typed here.)
 */

/** A detail of VALIDATION_ERROR and friends: where (`loc`) and what (`msg`). */
export interface FieldDetail {
  loc: string[];
  msg: string;
  type?: string;
}

/** A detail of RISK_REJECTED: one failed check. */
export interface RiskDetail {
  check: string;
  message: string;
  limit: string | null;
  value: string | null;
  order_id?: number;
}

export interface ErrorEnvelope {
  error: { code: string; message: string; details?: unknown[]; request_id?: string };
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown[];
  readonly requestId: string | undefined;

  constructor(status: number, code: string, message: string, details: unknown[] = [], requestId?: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
    this.requestId = requestId;
  }

  /** Build from a response and its parsed body (the envelope, or anything else). */
  static fromResponse(response: Response, body: unknown): ApiError {
    if (isEnvelope(body)) {
      const { code, message, details, request_id } = body.error;
      return new ApiError(response.status, code, message, details ?? [], request_id);
    }
    const requestId = response.headers.get("x-request-id") ?? undefined;
    const text = typeof body === "string" && body ? body : response.statusText || "request failed";
    return new ApiError(response.status, `HTTP_${response.status}`, text, [], requestId);
  }

  /** A request that never got an answer (server down, network gone). */
  static network(cause: unknown): ApiError {
    const reason = cause instanceof Error ? cause.message : String(cause);
    return new ApiError(0, "NETWORK_ERROR", `cannot reach the API (${reason})`);
  }

  get fieldDetails(): FieldDetail[] {
    return this.details.filter(isFieldDetail);
  }

  get riskDetails(): RiskDetail[] {
    return this.details.filter(isRiskDetail);
  }
}

function isEnvelope(body: unknown): body is ErrorEnvelope {
  if (typeof body !== "object" || body === null || !("error" in body)) return false;
  const error = (body as { error: unknown }).error;
  return typeof error === "object" && error !== null && "code" in error && "message" in error;
}

export function isFieldDetail(detail: unknown): detail is FieldDetail {
  return (
    typeof detail === "object" &&
    detail !== null &&
    Array.isArray((detail as FieldDetail).loc) &&
    typeof (detail as FieldDetail).msg === "string"
  );
}

export function isRiskDetail(detail: unknown): detail is RiskDetail {
  return (
    typeof detail === "object" &&
    detail !== null &&
    typeof (detail as RiskDetail).check === "string" &&
    typeof (detail as RiskDetail).message === "string"
  );
}

/** One line for a person: the message, with each detail's own message when there are some. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    const parts = error.details
      .map((d) => (isRiskDetail(d) ? d.message : isFieldDetail(d) ? d.msg : null))
      .filter((m): m is string => Boolean(m));
    return parts.length > 0 ? `${error.message}: ${parts.join("; ")}` : error.message;
  }
  return error instanceof Error ? error.message : String(error);
}
