// A drawing surface for a signature: pointer events, so a mouse, a finger or a pen draw the
// same way; the strokes are kept as points, so a resize redraws them sharply. The result is
// a PNG with a transparent background (what the signing engine places).

import { forwardRef, useCallback, useEffect, useImperativeHandle, useRef } from 'react';

type Point = { x: number; y: number };

export interface SignaturePadHandle {
  /** The drawing as a `data:image/png;base64,…` URL, or null when nothing was drawn. */
  toPng: () => string | null;
  clear: () => void;
}

export interface SignaturePadProps {
  label: string;
  onChange?: (hasInk: boolean) => void;
}

export const SignaturePad = forwardRef<SignaturePadHandle, SignaturePadProps>(
  function SignaturePad({ label, onChange }, ref) {
    const canvas = useRef<HTMLCanvasElement>(null);
    const strokes = useRef<Point[][]>([]);
    const drawing = useRef(false);

    const redraw = useCallback(() => {
      const element = canvas.current;
      const context = element?.getContext('2d');
      if (!element || !context) return;
      const ratio = window.devicePixelRatio || 1;
      const { width, height } = element.getBoundingClientRect();
      if (element.width !== Math.round(width * ratio)) {
        element.width = Math.round(width * ratio);
        element.height = Math.round(height * ratio);
      }
      context.setTransform(ratio, 0, 0, ratio, 0, 0);
      context.clearRect(0, 0, width, height);
      context.lineWidth = 2.5;
      context.lineCap = 'round';
      context.lineJoin = 'round';
      context.strokeStyle = '#0b1f4d';
      for (const stroke of strokes.current) {
        const [start, ...rest] = stroke;
        if (!start) continue;
        context.beginPath();
        context.moveTo(start.x, start.y);
        if (rest.length === 0) context.lineTo(start.x + 0.1, start.y + 0.1);
        for (const p of rest) context.lineTo(p.x, p.y);
        context.stroke();
      }
    }, []);

    useEffect(() => {
      const element = canvas.current;
      if (!element) return;
      const observer = new ResizeObserver(redraw);
      observer.observe(element);
      return () => observer.disconnect();
    }, [redraw]);

    useImperativeHandle(
      ref,
      () => ({
        toPng: () => {
          const element = canvas.current;
          if (!element || strokes.current.length === 0) return null;
          return element.toDataURL('image/png');
        },
        clear: () => {
          strokes.current = [];
          redraw();
          onChange?.(false);
        },
      }),
      [redraw, onChange],
    );

    const point = (event: React.PointerEvent<HTMLCanvasElement>): Point => {
      const rect = event.currentTarget.getBoundingClientRect();
      return { x: event.clientX - rect.left, y: event.clientY - rect.top };
    };

    return (
      <canvas
        ref={canvas}
        className="signature-pad"
        role="img"
        aria-label={label}
        onPointerDown={(event) => {
          event.currentTarget.setPointerCapture(event.pointerId);
          drawing.current = true;
          strokes.current.push([point(event)]);
          redraw();
          onChange?.(true);
        }}
        onPointerMove={(event) => {
          if (!drawing.current) return;
          strokes.current[strokes.current.length - 1]?.push(point(event));
          redraw();
        }}
        onPointerUp={() => {
          drawing.current = false;
        }}
        onPointerCancel={() => {
          drawing.current = false;
        }}
      />
    );
  },
);
