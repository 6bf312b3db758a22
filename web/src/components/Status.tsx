// A message about what just happened: errors are announced at once (role="alert"), the rest
// politely (role="status").

import type { ReactNode } from 'react';

export function Status({
  kind,
  id,
  children,
}: {
  kind: 'success' | 'error' | 'info';
  id?: string;
  children: ReactNode;
}) {
  return (
    <p id={id} role={kind === 'error' ? 'alert' : 'status'} className={`notice ${kind}`}>
      {children}
    </p>
  );
}
