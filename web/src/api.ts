// The GSign API as the web app uses it: same origin (`/v1/*`), JSON in and out, and every
// refusal an RFC 9457 problem whose `type` ends in a stable slug the pages switch on.

/** A problem details object (RFC 9457) with GSign's extensions. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: { pointer: string; detail: string }[];
  attempts_left?: number;
  locked_until?: string;
  envelope_status?: string;
  [extension: string]: unknown;
}

/** A refusal from the API, or a network failure (status 0). */
export class ApiError extends Error {
  readonly problem: Problem;
  constructor(problem: Problem) {
    super(problem.detail ?? problem.title);
    this.problem = problem;
  }
  /** The last segment of the problem type, e.g. `signing-link-invalid`. */
  get slug(): string {
    return problemSlug(this.problem);
  }
}

/** The stable part of a problem's type URI. */
export function problemSlug(problem: Pick<Problem, 'type'>): string {
  const parts = problem.type.split('/');
  return parts[parts.length - 1] ?? '';
}

/** Performs one API call; resolves with the JSON answer (or `undefined` for 204). */
export async function api<T>(
  method: string,
  path: string,
  body?: unknown,
  bearer?: string,
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch {
    throw new ApiError({ type: 'about:blank/network', title: 'Network error', status: 0 });
  }
  const text = await response.text();
  const json: unknown = text ? safeParse(text) : undefined;
  if (!response.ok) {
    if (json && typeof json === 'object' && 'type' in json) throw new ApiError(json as Problem);
    throw new ApiError({
      type: `about:blank/http-${response.status}`,
      title: response.statusText || 'Error',
      status: response.status,
    });
  }
  return json as T;
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------- the signing ceremony

/** A short-lived link to a PDF in S3. */
export interface Presigned {
  method: string;
  url: string;
  expires_at: string;
}

export type FieldType = 'signature' | 'initial' | 'text' | 'date' | 'checkbox';

/** One of the recipient's fields: top-left points of the displayed page. */
export interface Field {
  id: string;
  recipient_id: string;
  type: FieldType;
  label: string | null;
  page: number;
  x: number;
  y: number;
  width: number;
  height: number;
  required: boolean;
  value: string | null;
  signed_at: string | null;
}

/** `GET /v1/signing/{token}`. */
export interface SigningView {
  envelope: {
    id: string;
    name: string | null;
    message: string | null;
    status: 'sent' | 'completed' | string;
    expires_at: string | null;
    sender: { name: string; organization: string };
    processing_error: string | null;
    /** The sender's choice of language for these pages. */
    language: 'en' | 'mn' | null;
  };
  recipient: {
    id: string;
    name: string;
    email: string;
    role: 'signer' | 'approver' | 'viewer' | 'cc' | string;
    status: string;
    access_code_required: boolean;
    /** While too many wrong codes lock the link: until when. */
    access_code_locked_until: string | null;
    consented: boolean;
    disclosure_version: string;
    may_act: boolean;
    applied: boolean;
    routing_order: number;
    waiting_for: string[];
  };
  fields: Field[];
  document: Presigned | null;
  certificate: Presigned | null;
}

/** The adopted signature. */
export type Signature = { type: 'typed'; text: string } | { type: 'drawn'; image_png: string };

/** What `sign` takes. */
export interface SignBody {
  values: Record<string, string | boolean>;
  signature?: Signature;
}

const link = (token: string) => `/v1/signing/${encodeURIComponent(token)}`;

/** The signing view asked for before the page started (see `signing.prefetchView`). */
let prefetched: { token: string; view: Promise<SigningView> } | null = null;

export const signing = {
  /**
   * Asks for the view as the app starts, before React has rendered anything; the page's first
   * `view` call takes this answer (once), later calls ask again.
   */
  prefetchView: (token: string) => {
    const view = api<SigningView>('GET', link(token));
    // The page handles a failure when it takes the answer; until then it is not unhandled.
    view.catch(() => undefined);
    prefetched = { token, view };
  },
  view: (token: string) => {
    if (prefetched?.token === token) {
      const { view } = prefetched;
      prefetched = null;
      return view;
    }
    return api<SigningView>('GET', link(token));
  },
  accessCode: (token: string, code: string) =>
    api<void>('POST', `${link(token)}/access-code`, { code }),
  consent: (token: string, disclosureVersion: string) =>
    api<void>('POST', `${link(token)}/consent`, {
      disclosure_version: disclosureVersion,
      accepted: true,
    }),
  sign: (token: string, body: SignBody) =>
    api<{ status: string; detail: string }>('POST', `${link(token)}/sign`, body),
  decline: (token: string, reason: string) =>
    api<void>('POST', `${link(token)}/decline`, { reason }),
  newLink: (token: string) => api<unknown>('POST', `${link(token)}/new-link`),
  /** Spends a single-use ticket (an embedded view URL's, or a handed-out signing link's) for the signing token this page alone holds. */
  openEmbedded: (ticket: string) =>
    api<{ token: string; envelope_id: string }>('POST', '/v1/signing/embedded', { ticket }),
};

// ---------------------------------------------------------------- accounts

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  expires_in: number;
}

export const accounts = {
  register: (body: { organization_name: string; email: string; password: string }) =>
    api<{ email: string; status: string }>('POST', '/v1/auth/register', body),
  login: (email: string, password: string) =>
    api<TokenPair>('POST', '/v1/auth/login', { email, password }),
  verifyEmail: (token: string) => api<void>('POST', '/v1/auth/verify-email', { token }),
  requestReset: (email: string) => api<unknown>('POST', '/v1/auth/password-reset', { email }),
  confirmReset: (token: string, password: string) =>
    api<void>('POST', '/v1/auth/password-reset/confirm', { token, password }),
  acceptInvitation: (body: {
    token: string;
    password: string;
    first_name?: string;
    last_name?: string;
  }) => api<unknown>('POST', '/v1/auth/accept-invitation', body),
  me: (bearer: string) =>
    api<{ email: string; first_name: string | null; organization?: { name: string } }>(
      'GET',
      '/v1/me',
      undefined,
      bearer,
    ),
  /** Envelopes waiting for the signed-in person to act. */
  waitingForMe: (bearer: string) =>
    api<{ data: EnvelopeListItem[] }>('GET', '/v1/envelopes?waiting_for=me', undefined, bearer),
  /** The organization's envelopes out for signature. */
  inProgress: (bearer: string) =>
    api<{ data: EnvelopeListItem[] }>('GET', '/v1/envelopes?status=sent', undefined, bearer),
  /** Ends this session, or with `everywhere` every session of the person. */
  logout: (bearer: string, everywhere = false) =>
    api<void>('POST', '/v1/auth/logout', everywhere ? { everywhere } : undefined, bearer),
};

export interface EnvelopeListItem {
  id: string;
  name: string | null;
  status: string;
  sent_at: string | null;
}
