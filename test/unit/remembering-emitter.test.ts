// Aedes' emitter remembers which listeners a topic reaches (broker/remembering-emitter.ts): what
// listens changes with every subscription, and each message must reach exactly the listeners of now.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { rememberingEmitter } from '../../broker/remembering-emitter.ts'

type Listener = Parameters<ReturnType<typeof rememberingEmitter>['on']>[1]

function setUp() {
  const emitter = rememberingEmitter()
  const got: string[] = []
  const listener =
    (name: string): Listener =>
    (message, done) => {
      got.push(`${name} ${message.topic} ${String(message.n)}`)
      done()
    }
  const emit = (topic: string, n: number) => new Promise<void>((resolve) => emitter.emit({ topic, n }, () => resolve()))
  const on = (topic: string, l: Listener) => new Promise<void>((resolve) => emitter.on(topic, l, resolve))
  const off = (topic: string, l: Listener) => new Promise<void>((resolve) => emitter.removeListener(topic, l, resolve))
  return { emitter, got, listener, emit, on, off }
}

test('a listener added or removed after messages flowed on its topic counts from the next message on', async () => {
  const { got, listener, emit, on, off } = setUp()
  const exact = listener('exact')
  const wildcard = listener('wildcard')
  await emit('acme/pi-1/level', 1) // nobody listens yet
  await on('acme/pi-1/level', exact)
  await emit('acme/pi-1/level', 2)
  await on('acme/+/level', wildcard)
  await emit('acme/pi-1/level', 3)
  // a message in the same turn as the removal (mqemitter removes a turn later), then one after it
  const removed = off('acme/pi-1/level', exact)
  await emit('acme/pi-1/level', 4)
  await removed
  await emit('acme/pi-1/level', 5)
  assert.deepEqual(got.slice(0, 3), [
    'exact acme/pi-1/level 2',
    'exact acme/pi-1/level 3',
    'wildcard acme/pi-1/level 3',
  ])
  assert.ok(!got.includes('exact acme/pi-1/level 5'), `a removed listener still heard: ${got.join('; ')}`)
  assert.ok(got.includes('wildcard acme/pi-1/level 5'))
})

test('past the topics it remembers, every topic still reaches its listeners, "+" an empty level too', async () => {
  const { got, listener, emit, on } = setUp()
  await on('acme/+/level', listener('level'))
  await on('acme/#', listener('all'))
  for (let i = 0; i < 12_000; i++) await emit(`acme/pi-${i}/level`, i)
  await emit('acme//level', -1)
  assert.equal(got.filter((line) => line.startsWith('level ')).length, 12_001)
  assert.equal(got.filter((line) => line.startsWith('all ')).length, 12_001)
  assert.ok(got.includes('level acme//level -1'))
})
