// The pack form from the clauses' JSON Schemas: merged, flattened into fields with the API's
// pointers, and every problem of the values found at once.
import { describe, expect, it } from 'vitest';
import { fieldsOf, getAt, mergeSchemas, parseInput, problemsOf, setAt, type JsonSchema } from '../src/schema-form';

const parties: JsonSchema = {
  type: 'object',
  required: ['contract_no', 'seller', 'buyer'],
  properties: {
    contract_no: { type: 'string', minLength: 3 },
    seller: {
      type: 'object',
      required: ['name', 'register'],
      properties: { name: { type: 'string', minLength: 2 }, register: { type: 'string', pattern: '^[А-ЯӨҮЁ]{2}[0-9]{8}$' } },
    },
    buyer: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } },
  },
};
const price: JsonSchema = {
  type: 'object',
  required: ['quantity'],
  properties: {
    quantity: { type: 'integer', minimum: 1 },
    buyer: { type: 'object', properties: { phone: { type: 'string' } } },
  },
};

describe('the pack form', () => {
  const fields = fieldsOf(mergeSchemas([parties, price]));

  it('merges the clauses’ schemas, nested objects too', () => {
    expect(fields.map((f) => [f.pointer, f.type, f.required])).toEqual([
      ['/contract_no', 'string', true],
      ['/seller/name', 'string', true],
      ['/seller/register', 'string', true],
      ['/buyer/name', 'string', true],
      ['/buyer/phone', 'string', false],
      ['/quantity', 'integer', true],
    ]);
  });

  it('finds every problem at once', () => {
    let values = setAt({}, ['contract_no'], 'S1');
    values = setAt(values, ['seller', 'register'], 'AB123');
    values = setAt(values, ['quantity'], parseInput(fields[5]!, '0'));
    expect(problemsOf(fields, values).map(({ pointer, detail }) => ({ pointer, detail }))).toEqual([
      { pointer: '/contract_no', detail: 'must be at least 3 characters' },
      { pointer: '/seller/name', detail: 'is required' },
      { pointer: '/seller/register', detail: 'does not have the expected form' },
      { pointer: '/buyer/name', detail: 'is required' },
      { pointer: '/quantity', detail: 'must be at least 1' },
    ]);
  });

  it('says what kind each problem is, so the page can word it in the reader\'s language', () => {
    const kinds = problemsOf(fields, setAt({}, ['quantity'], 0)).map((p) => [p.pointer, p.kind, p.limit]);
    expect(kinds).toContainEqual(['/quantity', 'minimum', 1]);
    expect(kinds).toContainEqual(['/contract_no', 'required', undefined]);
  });

  it('accepts good values, and a blank input removes its value', () => {
    let values: Record<string, unknown> = {};
    for (const [path, value] of [
      [['contract_no'], 'S-2027-014'],
      [['seller', 'name'], 'Гэрэл ХХК'],
      [['seller', 'register'], 'УБ12345678'],
      [['buyer', 'name'], 'Бат'],
      [['quantity'], 3],
    ] as const) {
      values = setAt(values, [...path], value);
    }
    expect(problemsOf(fields, values).map(({ pointer, detail }) => ({ pointer, detail }))).toEqual([]);
    expect(getAt(values, ['seller', 'name'])).toBe('Гэрэл ХХК');
    values = setAt(values, ['seller', 'name'], parseInput(fields[1]!, '  '));
    expect(getAt(values, ['seller', 'name'])).toBeUndefined();
  });
});
