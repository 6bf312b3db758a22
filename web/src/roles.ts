// What each role may do, from the interface's side: the same matrix the API enforces
// (shared/core's roles; seed 001), so a page offers only what will not be refused.

export type Role = 'owner' | 'admin' | 'member' | 'viewer';

export type Capability =
  /** Upload, send, void, remind; edit and delete documents. */
  | 'documents:write'
  /** Members, API keys, webhooks, certificates, audit, settings. */
  | 'organization:manage'
  /** Place or release a legal hold. */
  | 'documents:hold'
  /** Subscribe, upgrade, open the billing portal. */
  | 'billing:manage';

const MATRIX: Record<Capability, Role[]> = {
  'documents:write': ['owner', 'admin', 'member'],
  'organization:manage': ['owner', 'admin'],
  'documents:hold': ['owner', 'admin'],
  'billing:manage': ['owner', 'admin'],
};

/** Whether `role` may use `capability`. */
export function may(role: string, capability: Capability): boolean {
  return (MATRIX[capability] as string[]).includes(role);
}

/** The roles a member with `role` may give others (never above their own). */
export function assignable(role: string): Role[] {
  const order: Role[] = ['owner', 'admin', 'member', 'viewer'];
  const at = order.indexOf(role as Role);
  return at < 0 ? [] : order.slice(at);
}
