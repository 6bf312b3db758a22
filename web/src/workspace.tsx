// The signed-in workspace's pages, loaded as their own chunk: a recipient opening a signing
// link downloads none of the sender's pages (see web/bench/builder.mjs for the sizes).

import { Workspace } from './components/Workspace';
import { HomePage, NotFoundPage } from './pages/Account';
import { DocumentsPage } from './pages/Documents';
import { EnvelopePage } from './pages/Envelope';
import { EnvelopesPage } from './pages/Envelopes';
import { LibraryPage } from './pages/Library';
import { OrganizationPage } from './pages/Organization';
import { AccountSettingsPage } from './pages/Profile';

/** An envelope's page. */
const ENVELOPE_PATH = /^\/envelopes\/([0-9a-f-]{36})$/i;

function page(path: string) {
  switch (path) {
    case '/':
    case '/home':
      return <HomePage />;
    case '/documents':
      return <DocumentsPage />;
    case '/envelopes':
      return <EnvelopesPage />;
    case '/library':
      return <LibraryPage />;
    case '/organization':
      return <OrganizationPage />;
    case '/account':
      return <AccountSettingsPage />;
    default: {
      const envelope = ENVELOPE_PATH.exec(path)?.[1];
      return envelope ? <EnvelopePage key={envelope} id={envelope} /> : <NotFoundPage />;
    }
  }
}

/** The workspace page for `path`, in the workspace's frame. */
export default function WorkspacePage({ path }: { path: string }) {
  return <Workspace path={path}>{page(path)}</Workspace>;
}
