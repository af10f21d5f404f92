import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseStack } from '../src/stack'

test('V8 stacks', () => {
  const stack = [
    'TypeError: x is undefined',
    '    at onClick (https://app.example.com/app.js:10:5)',
    '    at https://app.example.com/vendor.js:1:200',
    '    at async Promise.all (index 0)',
    '    at async load (https://app.example.com/app.js:20:3)',
    '    at new Cart (https://app.example.com/cart.js:3:9)',
  ].join('\n')
  assert.deepEqual(parseStack(stack), [
    { file: 'https://app.example.com/app.js', function: 'onClick', line: 10, column: 5 },
    { file: 'https://app.example.com/vendor.js', function: '', line: 1, column: 200 },
    { file: 'https://app.example.com/app.js', function: 'load', line: 20, column: 3 },
    { file: 'https://app.example.com/cart.js', function: 'new Cart', line: 3, column: 9 },
  ])
})

test('Gecko and WebKit stacks', () => {
  const stack = 'onClick@https://app.example.com/app.js:10:5\n@https://app.example.com/app.js:2:1\n'
  assert.deepEqual(parseStack(stack), [
    { file: 'https://app.example.com/app.js', function: 'onClick', line: 10, column: 5 },
    { file: 'https://app.example.com/app.js', function: '', line: 2, column: 1 },
  ])
})

test('empty, odd and long stacks', () => {
  assert.deepEqual(parseStack(undefined), [])
  assert.deepEqual(parseStack('no frames here'), [])
  const long = Array.from({ length: 80 }, (_, i) => `    at f${i} (a.js:${i + 1}:1)`).join('\n')
  assert.equal(parseStack(long).length, 50)
})
