// A pack's variables as a form: the JSON Schemas of the clauses its templates use, merged
// into one, flattened into fields (a nested object becomes a group of fields), and checked
// before sending so every problem shows at once, with the same JSON Pointers the API uses
// (`/variables/seller/name`), so the server's answer lands on the same fields.

/** The part of JSON Schema the clause library uses. */
export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  format?: string;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  default?: unknown;
  examples?: unknown[];
}

/** One input of the form. */
export interface FormField {
  /** The property names from the root, e.g. `['seller', 'name']`. */
  path: string[];
  /** `/seller/name`: the pointer inside `variables`. */
  pointer: string;
  type: 'string' | 'number' | 'integer' | 'boolean';
  required: boolean;
  schema: JsonSchema;
}

/** A problem with one value: the API's words, or (found here) a kind the page words itself. */
export interface FieldProblem {
  pointer: string;
  detail: string;
  /** What kind of problem, for a message in the reader's language. */
  kind?: ProblemKind;
  /** The limit the value missed, for that message. */
  limit?: string | number;
}

export type ProblemKind =
  | 'required'
  | 'number'
  | 'integer'
  | 'minimum'
  | 'maximum'
  | 'minLength'
  | 'maxLength'
  | 'pattern'
  | 'enum';

function typeOf(schema: JsonSchema): string | undefined {
  return Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
}

/** One schema from several (properties merged deeply, `required` united). */
export function mergeSchemas(schemas: JsonSchema[]): JsonSchema {
  const merged: JsonSchema = { type: 'object', properties: {}, required: [] };
  for (const schema of schemas) {
    for (const [name, property] of Object.entries(schema.properties ?? {})) {
      const existing = merged.properties?.[name];
      (merged.properties as Record<string, JsonSchema>)[name] =
        existing && typeOf(existing) === 'object' && typeOf(property) === 'object'
          ? { ...existing, ...mergeSchemas([existing, property]) }
          : { ...existing, ...property };
    }
    for (const name of schema.required ?? []) {
      if (!merged.required?.includes(name)) merged.required?.push(name);
    }
  }
  return merged;
}

const escapePointer = (name: string) => name.replace(/~/g, '~0').replace(/\//g, '~1');

/** The form's fields, depth first, in the schema's order. */
export function fieldsOf(schema: JsonSchema, path: string[] = [], required = true): FormField[] {
  const fields: FormField[] = [];
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    const here = [...path, name];
    const isRequired = required && (schema.required ?? []).includes(name);
    const type = typeOf(property);
    if (type === 'object') {
      fields.push(...fieldsOf(property, here, isRequired));
    } else {
      fields.push({
        path: here,
        pointer: `/${here.map(escapePointer).join('/')}`,
        type: type === 'number' || type === 'integer' || type === 'boolean' ? type : 'string',
        required: isRequired,
        schema: property,
      });
    }
  }
  return fields;
}

/** `values` with `value` at `path` (a copy; objects on the way are created). */
export function setAt(values: Record<string, unknown>, path: string[], value: unknown): Record<string, unknown> {
  const [head, ...rest] = path;
  if (head === undefined) return values;
  const copy = { ...values };
  if (rest.length === 0) {
    if (value === undefined) delete copy[head];
    else copy[head] = value;
  } else {
    const inner = copy[head];
    copy[head] = setAt(inner && typeof inner === 'object' ? (inner as Record<string, unknown>) : {}, rest, value);
  }
  return copy;
}

/** The value at `path`, if any. */
export function getAt(values: Record<string, unknown>, path: string[]): unknown {
  let current: unknown = values;
  for (const name of path) {
    if (!current || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[name];
  }
  return current;
}

/** What the form holds for an input's text: a number for numeric fields, `undefined` when blank. */
export function parseInput(field: FormField, text: string): unknown {
  if (text.trim() === '') return undefined;
  if (field.type === 'number' || field.type === 'integer') {
    const n = Number(text);
    return Number.isFinite(n) ? n : text;
  }
  return text;
}

/** Every problem of `values` against the fields, at once (the API checks again). */
export function problemsOf(fields: FormField[], values: Record<string, unknown>): FieldProblem[] {
  const problems: FieldProblem[] = [];
  for (const field of fields) {
    const value = getAt(values, field.path);
    const { schema } = field;
    const add = (kind: ProblemKind, detail: string, limit?: string | number) =>
      problems.push({ pointer: field.pointer, detail, kind, ...(limit === undefined ? {} : { limit }) });
    if (value === undefined || value === '') {
      if (field.required) add('required', 'is required');
      continue;
    }
    if (field.type === 'number' || field.type === 'integer') {
      if (typeof value !== 'number') add('number', 'must be a number');
      else {
        if (field.type === 'integer' && !Number.isInteger(value)) add('integer', 'must be a whole number');
        if (schema.minimum !== undefined && value < schema.minimum) add('minimum', `must be at least ${schema.minimum}`, schema.minimum);
        if (schema.maximum !== undefined && value > schema.maximum) add('maximum', `must be at most ${schema.maximum}`, schema.maximum);
      }
    } else if (field.type === 'string' && typeof value === 'string') {
      const length = [...value].length;
      if (schema.minLength !== undefined && length < schema.minLength)
        add('minLength', `must be at least ${schema.minLength} characters`, schema.minLength);
      if (schema.maxLength !== undefined && length > schema.maxLength)
        add('maxLength', `must be at most ${schema.maxLength} characters`, schema.maxLength);
      if (schema.pattern !== undefined) {
        let pattern: RegExp | null = null;
        try {
          pattern = new RegExp(schema.pattern, 'u');
        } catch {
          // A pattern this browser cannot read: the API's check decides.
        }
        if (pattern && !pattern.test(value)) add('pattern', 'does not have the expected form');
      }
    }
    if (schema.enum && !schema.enum.includes(value)) add('enum', `must be one of ${schema.enum.join(', ')}`, schema.enum.join(', '));
  }
  return problems;
}
