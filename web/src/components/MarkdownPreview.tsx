// A clause's Markdown as the reader will see it, live: markdown-it (raw HTML off, so the text
// cannot inject markup), then each `{{variable}}` shown as a marked sample value and each
// `{{signature:role}}` as the signature block the typesetter puts there. markdown-it loads
// with the library pages only.

import { useEffect, useState } from 'react';
import { useI18n } from '../i18n';

type Renderer = { render: (source: string) => string };
let loading: Promise<Renderer> | null = null;

function renderer(): Promise<Renderer> {
  loading ??= import('markdown-it').then(({ default: MarkdownIt }) => new MarkdownIt({ html: false, linkify: false }));
  return loading;
}

const escapeHtml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * The rendered HTML with placeholders marked. Names are limited to `[A-Za-z0-9_.]` and roles
 * to `[a-z0-9_-]`, so only the sample values need escaping.
 */
export function markPlaceholders(html: string, sample: (name: string) => string | null, signatureLabel: (role: string) => string): string {
  return html
    .replace(/\{\{\s*signature:([a-z][a-z0-9_-]{0,31})\s*\}\}/g, (_, role: string) => `<span class="signature-block">${escapeHtml(signatureLabel(role))}</span>`)
    .replace(/\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}/g, (_, name: string) => {
      const value = sample(name);
      return value === null ? `<mark class="variable missing">${name}</mark>` : `<mark class="variable" title="${name}">${escapeHtml(value)}</mark>`;
    });
}

export function MarkdownPreview({ source, sample }: { source: string; sample: (name: string) => string | null }) {
  const { t } = useI18n();
  const [html, setHtml] = useState<string | null>(null);
  useEffect(() => {
    let current = true;
    void renderer().then((md) => {
      if (current) setHtml(markPlaceholders(md.render(source), sample, (role) => t('library.signatureBlock', { role })));
    });
    return () => {
      current = false;
    };
  }, [source, sample, t]);
  return (
    <div className="markdown-preview" aria-live="polite">
      {html === null ? t('common.loading') : <div dangerouslySetInnerHTML={{ __html: html }} />}
    </div>
  );
}
