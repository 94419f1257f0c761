import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyBindings } from '../src/keybind.js';

const memory = () => {
  const m = new Map();
  return { getItem: (k) => m.get(k) ?? null, setItem: (k, v) => m.set(k, v) };
};

test('a bound key sends its action\'s default code; others pass through', () => {
  const k = new KeyBindings(memory());
  assert.equal(k.translate('KeyK'), 'KeyK');
  k.bind('A', 'KeyK');
  assert.equal(k.translate('KeyK'), 'KeyX');
  assert.equal(k.keyFor('A'), 'KeyK');
  assert.equal(k.keyFor('B'), 'KeyZ');
  assert.equal(k.translate('KeyZ'), 'KeyZ');
});

test('a key drives one action, and bindings persist', () => {
  const store = memory();
  const k = new KeyBindings(store);
  k.bind('A', 'KeyK');
  k.bind('B', 'KeyK');
  assert.equal(k.translate('KeyK'), 'KeyZ');
  assert.equal(k.keyFor('A'), 'KeyX');
  const again = new KeyBindings(store);
  assert.equal(again.translate('KeyK'), 'KeyZ');
  again.reset();
  assert.equal(new KeyBindings(store).translate('KeyK'), 'KeyK');
});

test('a damaged stored entry falls back to the defaults', () => {
  const store = memory();
  store.setItem('glint.keys', '{not json');
  assert.equal(new KeyBindings(store).translate('KeyK'), 'KeyK');
});
