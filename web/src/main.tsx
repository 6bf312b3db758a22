// Where the signing page's time goes (the benchmark reads these marks): the app's code runs.
performance.mark('gsign:app-start');
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app';
import { startSigningPage } from './pages/Sign';
import './styles.css';

if (/^\/(embed\/)?sign\/?$/.test(window.location.pathname)) startSigningPage();
// Anywhere else the workspace's chunk is likely needed: ask for it while React starts.
else void import('./workspace').catch(() => undefined);

const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
}
