// Adopting a signature once, for every signature and initials field: typed (the keyboard
// path, the default) or drawn (mouse, finger, pen), with a preview before it is used.

import { useRef, useState } from 'react';
import type { Signature } from '../api';
import { useI18n } from '../i18n';
import { Dialog } from './Dialog';
import { SignaturePad, type SignaturePadHandle } from './SignaturePad';

export interface Adopted {
  signature: Signature;
  /** What the fields show: the drawing or the typed name. */
  preview: { kind: 'image'; src: string } | { kind: 'text'; text: string };
}

export interface AdoptSignatureProps {
  open: boolean;
  defaultName: string;
  onAdopt: (adopted: Adopted) => void;
  onClose: () => void;
}

export function AdoptSignature({ open, defaultName, onAdopt, onClose }: AdoptSignatureProps) {
  const { t } = useI18n();
  const [mode, setMode] = useState<'type' | 'draw'>('type');
  const [name, setName] = useState(defaultName);
  const [inked, setInked] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const pad = useRef<SignaturePadHandle>(null);

  const adopt = () => {
    if (mode === 'type') {
      const text = name.trim();
      if (!text) {
        setError(t('adopt.emptyName'));
        return;
      }
      onAdopt({ signature: { type: 'typed', text }, preview: { kind: 'text', text } });
      return;
    }
    const png = pad.current?.toPng();
    if (!png) {
      setError(t('adopt.empty'));
      return;
    }
    onAdopt({ signature: { type: 'drawn', image_png: png }, preview: { kind: 'image', src: png } });
  };

  return (
    <Dialog open={open} title={t('adopt.title')} onClose={onClose}>
      <div className="tabs" role="radiogroup" aria-label={t('adopt.title')}>
        {(['type', 'draw'] as const).map((m) => (
          <label key={m} className={mode === m ? 'tab active' : 'tab'}>
            <input
              type="radio"
              name="adopt-mode"
              value={m}
              checked={mode === m}
              onChange={() => {
                setMode(m);
                setError(null);
              }}
            />
            {t(m === 'type' ? 'adopt.type' : 'adopt.draw')}
          </label>
        ))}
      </div>
      {mode === 'type' ? (
        <div className="stack">
          <label htmlFor="adopt-name">{t('adopt.nameLabel')}</label>
          <input
            id="adopt-name"
            autoComplete="name"
            value={name}
            maxLength={255}
            onChange={(event) => {
              setName(event.target.value);
              setError(null);
            }}
          />
          <p className="preview-label">{t('adopt.preview')}</p>
          <p className="typed-signature" aria-hidden="true">
            {name.trim() || '\u00a0'}
          </p>
        </div>
      ) : (
        <div className="stack">
          <p id="draw-hint">{t('adopt.drawHint')}</p>
          <SignaturePad
            ref={pad}
            label={t('adopt.padLabel')}
            onChange={(has) => {
              setInked(has);
              setError(null);
            }}
          />
          <button type="button" className="secondary" onClick={() => pad.current?.clear()} disabled={!inked}>
            {t('adopt.clear')}
          </button>
        </div>
      )}
      {error && (
        <p role="alert" className="notice error">
          {error}
        </p>
      )}
      <div className="actions">
        <button type="button" className="secondary" onClick={onClose}>
          {t('common.cancel')}
        </button>
        <button type="button" className="primary" onClick={adopt}>
          {t('adopt.submit')}
        </button>
      </div>
    </Dialog>
  );
}
