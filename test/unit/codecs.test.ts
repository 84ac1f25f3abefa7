import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { TendrilError } from '../../core/errors.ts'
import {
  MAX_CSV_RECORDS,
  MAX_MESSAGES_PER_PAYLOAD,
  MAX_MESSAGE_TYPE_LENGTH,
  MAX_UPDATE_VALUES,
  decodeFolderPayload,
  decodeFolderPayloadUnlessKept,
  decodeKept,
  decodeMessage,
  decodeSequencePayload,
  decodeWebSocketMessage,
  encodeDisplay,
  expandUpdate,
  formatTimestamp,
  parseTimestamp,
} from '../../core/messages/codecs.ts'
import { SERVER_HANDLED_TYPES } from '../../core/messages/inbound.ts'

const NOON = new Date('2024-05-01T12:00:00.123Z')

function assertInvalid(fn: () => unknown, reason: RegExp, label?: string) {
  assert.throws(
    fn,
    (err: unknown) => {
      assert.ok(err instanceof TendrilError, `${label ?? ''} threw ${String(err)}, not a TendrilError`)
      assert.equal(err.code, 'invalid', label)
      assert.match(err.message, reason, label)
      return true
    },
    label,
  )
}

describe('CSV lines on a folder topic', () => {
  test("rhizo's store line (isoformat() + ' Z') stores the named sequence at that instant", () => {
    // rhizo-client sequences.py: 's,%s,%s Z,%s' % (rel_name, timestamp.isoformat(), value)
    assert.deepEqual(decodeFolderPayload(Buffer.from('s,temperature,2024-05-01T12:00:00.123456 Z,21.5')), [
      { kind: 'store', sequence: 'temperature', timestamp: NOON, value: '21.5' },
    ])
  })

  test("rhizo's store line at a whole second (isoformat() drops the fraction) is accepted", () => {
    const [record] = decodeFolderPayload('s,temperature,2024-05-01T12:00:00 Z,21.5')
    assert.deepEqual(record, {
      kind: 'store',
      sequence: 'temperature',
      timestamp: new Date('2024-05-01T12:00:00Z'),
      value: '21.5',
    })
  })

  test('a comma in the value is kept: the value is everything after the third comma', () => {
    const [record] = decodeFolderPayload('s,log,2024-05-01T12:00:00 Z,INFO: read 3,4,5 from serial')
    assert.equal(record?.kind, 'store')
    assert.equal((record as { value: string }).value, 'INFO: read 3,4,5 from serial')
  })

  test("a multi-line log message (rhizo's log sequence sends tracebacks) stays one value", () => {
    const log = 'ERROR: boom\nTraceback (most recent call last):\n  File "x.py", line 1\n\nValueError: bad, value'
    assert.deepEqual(decodeFolderPayload(`s,log,2024-05-01T12:00:00 Z,${log}`), [
      { kind: 'store', sequence: 'log', timestamp: new Date('2024-05-01T12:00:00Z'), value: log },
    ])
  })

  test('several records, one per line, decode in order; CRLF and a final line end are not part of values', () => {
    const payload = 's,a,2024-05-01T12:00:00Z,1\r\nd,b,,two\r\ns,c,2024-05-01T12:00:01Z,3\r\n'
    assert.deepEqual(decodeFolderPayload(payload), [
      { kind: 'store', sequence: 'a', timestamp: new Date('2024-05-01T12:00:00Z'), value: '1' },
      { kind: 'display', sequence: 'b', value: 'two' },
      { kind: 'store', sequence: 'c', timestamp: new Date('2024-05-01T12:00:01Z'), value: '3' },
    ])
  })

  test('a display line is decoded as display-only, not a store', () => {
    assert.deepEqual(decodeFolderPayload('d,temperature,2024-05-01T12:00:00.123Z,21.5'), [
      { kind: 'display', sequence: 'temperature', timestamp: NOON, value: '21.5' },
    ])
  })

  test('an empty timestamp field means "now" (no timestamp in the result)', () => {
    const [record] = decodeFolderPayload('s,temperature,,21.5')
    assert.deepEqual(record, { kind: 'store', sequence: 'temperature', value: '21.5' })
  })

  test('an empty value is a value (text sequences may be cleared)', () => {
    assert.deepEqual(decodeFolderPayload('s,note,,'), [{ kind: 'store', sequence: 'note', value: '' }])
  })

  test('non-ASCII values survive UTF-8 decoding', () => {
    const [record] = decodeFolderPayload(Buffer.from('s,status,,température élevée ✓'))
    assert.equal((record as { value: string }).value, 'température élevée ✓')
  })

  test('an unknown prefix is refused and named in the error', () => {
    assertInvalid(() => decodeFolderPayload('x,temperature,,1'), /unknown payload form.*"x"/)
    assertInvalid(() => decodeFolderPayload('S,temperature,,1'), /unknown payload form.*"S"/)
    assertInvalid(() => decodeFolderPayload('21.5'), /unknown payload form/)
  })

  test('a record with missing fields is refused', () => {
    assertInvalid(
      () => decodeFolderPayload('s,temperature,2024-05-01T12:00:00Z'),
      /line 1: expected s,<sequence>,<timestamp>,<value>/,
    )
    assertInvalid(() => decodeFolderPayload('s,temperature'), /line 1: expected s,/)
    assertInvalid(() => decodeFolderPayload('d,'), /line 1: expected d,/)
  })

  test('an empty sequence name is refused', () => {
    assertInvalid(() => decodeFolderPayload('s,,2024-05-01T12:00:00Z,1'), /empty sequence name/)
  })

  test('a bad timestamp is refused with its line number', () => {
    assertInvalid(() => decodeFolderPayload('s,temperature,yesterday,1'), /line 1: invalid timestamp "yesterday"/)
    assertInvalid(() => decodeFolderPayload('s,temperature,1714564800,1'), /line 1: invalid timestamp/)
  })

  test('one bad record refuses the whole payload, never a partial result', () => {
    const payload = 's,a,2024-05-01T12:00:00Z,1\ns,b,2024-02-30T00:00:00Z,2\ns,c,,3'
    assertInvalid(() => decodeFolderPayload(payload), /line 2: invalid timestamp/)
    assertInvalid(() => decodeFolderPayload('s,a,,1\nd,b'), /line 2: expected d,/)
  })

  test(`at most ${MAX_CSV_RECORDS} records per payload`, () => {
    const lines = (n: number) => Array.from({ length: n }, (_, i) => `s,seq${i},,${i}`).join('\n')
    assert.equal(decodeFolderPayload(lines(MAX_CSV_RECORDS)).length, MAX_CSV_RECORDS)
    assertInvalid(
      () => decodeFolderPayload(lines(MAX_CSV_RECORDS + 1)),
      new RegExp(`at most ${MAX_CSV_RECORDS} records`),
    )
  })

  test('bytes that are not UTF-8 are refused', () => {
    assertInvalid(() => decodeFolderPayload(Buffer.from([0x73, 0x2c, 0x61, 0x2c, 0x2c, 0xff, 0xfe])), /not valid UTF-8/)
  })

  test('an empty payload is refused', () => {
    assertInvalid(() => decodeFolderPayload(Buffer.alloc(0)), /empty payload/)
    assertInvalid(() => decodeFolderPayload('\n'), /empty payload/)
  })
})

describe('JSON messages on a folder topic', () => {
  test('rhizo\'s MQTT form {"<type>": params} is a message of that type', () => {
    // rhizo-client messages.py send(): json.dumps({message_type: parameters})
    assert.deepEqual(decodeFolderPayload('{"watchdog": {}}'), [{ kind: 'message', type: 'watchdog', parameters: {} }])
    const email = { emailAddresses: 'a@example.com', subject: 'alert', body: 'too hot' }
    assert.deepEqual(decodeFolderPayload(Buffer.from(JSON.stringify({ send_email: email }))), [
      { kind: 'message', type: 'send_email', parameters: email },
    ])
  })

  test('every key of the MQTT form is a message, in order (rhizo-server handled each one)', () => {
    assert.deepEqual(decodeFolderPayload('{"watchdog": {}, "custom": {"x": 1}}'), [
      { kind: 'message', type: 'watchdog', parameters: {} },
      { kind: 'message', type: 'custom', parameters: { x: 1 } },
    ])
  })

  test('the websocket form {"type", "parameters"} is accepted too; "channel" is ignored', () => {
    assert.deepEqual(decodeFolderPayload('{"type": "set_light", "parameters": {"on": true}, "channel": "x"}'), [
      { kind: 'message', type: 'set_light', parameters: { on: true } },
    ])
  })

  test('a "folder" key is refused on MQTT, where the topic names the folder', () => {
    assertInvalid(
      () => decodeFolderPayload('{"type": "x", "parameters": {}, "folder": "/other/org"}'),
      /topic names the folder/,
    )
  })

  test('missing or null parameters are an empty object, as rhizo-server stored them', () => {
    assert.deepEqual(decodeFolderPayload('{"type": "ping"}'), [{ kind: 'message', type: 'ping', parameters: {} }])
    assert.deepEqual(decodeFolderPayload('{"ping": null}'), [{ kind: 'message', type: 'ping', parameters: {} }])
  })

  test("an empty object decodes to no messages (rhizo's browser could publish {})", () => {
    assert.deepEqual(decodeFolderPayload('{}'), [])
  })

  test("rhizo's update message stays a message (it is relayed) and expands to sequence values", () => {
    // rhizo-client sequences.py update_multiple: params = {'$t': timestamp.isoformat() + ' Z', name: str(value)}
    const payload = '{"update": {"$t": "2024-05-01T12:00:00.123456 Z", "humidity": "40", "temperature": "21.5"}}'
    const [message] = decodeFolderPayload(payload)
    assert.equal(message?.kind, 'message')
    assert.equal((message as { type: string }).type, 'update')
    assert.deepEqual(expandUpdate((message as { parameters: unknown }).parameters), {
      timestamp: NOON,
      values: [
        { sequence: 'humidity', value: '40' },
        { sequence: 'temperature', value: '21.5' },
      ],
    })
  })

  test('an update with a bad "$t" or a bad value is refused when decoded, not later', () => {
    assertInvalid(() => decodeFolderPayload('{"update": {"$t": "noon", "a": "1"}}'), /invalid timestamp "noon"/)
    assertInvalid(
      () => decodeFolderPayload('{"update": {"a": {"nested": 1}}}'),
      /value of "a" must be a string or number/,
    )
  })

  test('update_sequence becomes a store of the given path and value; numbers become text', () => {
    // rhizo-client sequences.update over the websocket: send('update_sequence', {'sequence': name, 'value': value})
    assert.deepEqual(decodeFolderPayload('{"update_sequence": {"sequence": "testFloatSeq", "value": 50.5}}'), [
      { kind: 'store', sequence: 'testFloatSeq', value: '50.5' },
    ])
    assert.deepEqual(
      decodeFolderPayload(
        '{"type": "update_sequence", "parameters": {"sequence": "/acme/pi/folder/testSub", "value": "bar"}}',
      ),
      [{ kind: 'store', sequence: '/acme/pi/folder/testSub', value: 'bar' }],
    )
  })

  test('update_sequence honours a timestamp, and an empty one means now', () => {
    const withTime = decodeMessage('update_sequence', {
      sequence: 't',
      value: '1',
      timestamp: '2024-05-01T12:00:00.123Z',
    })
    assert.deepEqual(withTime, { kind: 'store', sequence: 't', value: '1', timestamp: NOON })
    assert.deepEqual(decodeMessage('update_sequence', { sequence: 't', value: '1', timestamp: '' }), {
      kind: 'store',
      sequence: 't',
      value: '1',
    })
  })

  test('rhizo-server\'s legacy spellings updateSequence and setNode ("node") store too', () => {
    assert.deepEqual(decodeMessage('updateSequence', { sequence: 't', value: 2 }), {
      kind: 'store',
      sequence: 't',
      value: '2',
    })
    assert.deepEqual(decodeMessage('setNode', { node: 't', value: 'on' }), {
      kind: 'store',
      sequence: 't',
      value: 'on',
    })
  })

  test('update_sequence without a sequence or a value is refused', () => {
    assertInvalid(() => decodeFolderPayload('{"update_sequence": {"value": 1}}'), /needs a "sequence" path/)
    assertInvalid(() => decodeFolderPayload('{"update_sequence": {"sequence": "t"}}'), /needs a "value"/)
    assertInvalid(() => decodeMessage('setNode', { sequence: 't', value: 1 }), /needs a "node" path/)
  })

  test('an "encoded" update_sequence value must be base64 and is marked for decoding', () => {
    assert.deepEqual(decodeMessage('update_sequence', { sequence: 'image', value: 'aGVsbG8=', encoded: true }), {
      kind: 'store',
      sequence: 'image',
      value: 'aGVsbG8=',
      encoding: 'base64',
    })
    assertInvalid(
      () => decodeMessage('update_sequence', { sequence: 'image', value: 'not base64!', encoded: 1 }),
      /not base64/,
    )
  })

  test("write_resource (rhizo's socket_receiver.py) stores data at a path, adding the leading slash it may lack", () => {
    assert.deepEqual(decodeMessage('write_resource', { path: 'acme/pi/note', data: 'hello' }), {
      kind: 'store',
      sequence: '/acme/pi/note',
      value: 'hello',
    })
    assert.deepEqual(decodeMessage('write_resource', { path: '/acme/pi/t', data: 21.5 }), {
      kind: 'store',
      sequence: '/acme/pi/t',
      value: '21.5',
    })
    assertInvalid(
      () => decodeMessage('write_resource', { data: 'x' }),
      /expected data and path parameters for write_resource message/,
    )
    assertInvalid(() => decodeMessage('write_resource', { path: '/acme/pi/t' }), /expected data and path parameters/)
  })

  test('JSON that is not an object, or not JSON at all, is refused', () => {
    assertInvalid(() => decodeFolderPayload('[1, 2]'), /must be an object/)
    assertInvalid(() => decodeFolderPayload('{"watchdog": '), /not valid JSON/)
  })

  test(`a message type longer than ${MAX_MESSAGE_TYPE_LENGTH} characters is refused`, () => {
    const longest = 't'.repeat(MAX_MESSAGE_TYPE_LENGTH)
    assert.deepEqual(decodeFolderPayload(JSON.stringify({ [longest]: {} })), [
      { kind: 'message', type: longest, parameters: {} },
    ])
    assertInvalid(() => decodeFolderPayload(JSON.stringify({ [longest + 't']: {} })), /longer than 40 characters/)
    assertInvalid(() => decodeFolderPayload(JSON.stringify({ type: longest + 't', parameters: {} })), /longer than 40/)
  })

  test('empty types and types with control characters are refused', () => {
    assertInvalid(() => decodeFolderPayload('{"": {}}'), /non-empty string/)
    assertInvalid(() => decodeFolderPayload('{"a\\nb": {}}'), /control characters/)
  })

  test('parameters that are not an object are refused', () => {
    assertInvalid(() => decodeFolderPayload('{"watchdog": 5}'), /parameters of "watchdog" must be an object/)
    assertInvalid(() => decodeFolderPayload('{"watchdog": [1]}'), /must be an object/)
    assertInvalid(() => decodeFolderPayload('{"type": "x", "parameters": "on"}'), /parameters of "x" must be an object/)
  })

  test(`at most ${MAX_MESSAGES_PER_PAYLOAD} messages in one JSON object`, () => {
    const many = Object.fromEntries(Array.from({ length: MAX_MESSAGES_PER_PAYLOAD + 1 }, (_, i) => [`t${i}`, {}]))
    assertInvalid(() => decodeFolderPayload(JSON.stringify(many)), /at most 100 messages/)
  })
})

describe('payloads whose messages are only kept (their decoding waits until they are kept)', () => {
  const unlessKept = (text: string) => decodeFolderPayloadUnlessKept(Buffer.from(text), SERVER_HANDLED_TYPES)

  test('a JSON object of other types stays text, and decodes when kept to what decodeFolderPayload gives', () => {
    for (const text of [
      '{"temp": {"v": 21.5, "unit": "C"}}',
      '{"a": {}, "b": {"x": [1, {"y": null}]}, "c": null}',
      '{}',
      '{"say": {"text": "update is due"}}',
    ]) {
      const [kept, ...rest] = unlessKept(text)
      assert.deepEqual([kept, rest], [{ kind: 'kept', text }, []], text)
      assert.deepEqual(decodeKept(kept as { kind: 'kept'; text: string }), decodeFolderPayload(text), text)
    }
  })

  test('anything the server acts on is decoded at once: every server-handled type, sequence values, the {"type"} form, CSV', () => {
    for (const type of SERVER_HANDLED_TYPES) {
      const text = JSON.stringify({
        note: {},
        [type]:
          type === 'update'
            ? { a: 1 }
            : type === 'setNode'
              ? { node: 'a', value: 1 }
              : type.startsWith('update')
                ? { sequence: 'a', value: 1 }
                : {},
      })
      assert.deepEqual(unlessKept(text), decodeFolderPayload(text), type)
    }
    for (const text of [
      '{"write_resource": {"path": "acme/pi/t", "data": "1"}}',
      '{"type": "note", "parameters": {}}',
      's,temp,,21.5',
      '{"note": {"type": "kept but decoded now"}}',
    ]) {
      assert.deepEqual(unlessKept(text), decodeFolderPayload(text), text)
    }
  })

  test('escaped keys cannot hide an acted-on type: a backslash anywhere means decoding at once', () => {
    assert.deepEqual(unlessKept('{"upd\\u0061te": {"a": 1}}'), [
      { kind: 'message', type: 'update', parameters: { a: 1 } },
    ])
    assert.deepEqual(unlessKept('{"note": {"text": "a \\"quote\\""}}'), [
      { kind: 'message', type: 'note', parameters: { text: 'a "quote"' } },
    ])
  })

  test('bad JSON in a kept payload is refused when kept, as decodeFolderPayload refuses it', () => {
    for (const [text, reason] of [
      ['{"note": 5}', /parameters of "note" must be an object/],
      ['{"note": {}', /not valid JSON/],
      [`{"${'t'.repeat(41)}": {}}`, /longer than 40/],
    ] as const) {
      const [kept] = unlessKept(text)
      assert.equal(kept!.kind, 'kept', text)
      assertInvalid(() => decodeKept(kept as { kind: 'kept'; text: string }), reason, text)
      assertInvalid(() => decodeFolderPayload(text), reason, text)
    }
    assertInvalid(() => unlessKept(''), /empty payload/)
    assertInvalid(
      () => decodeFolderPayloadUnlessKept(Buffer.from([0x7b, 0xff]), SERVER_HANDLED_TYPES),
      /not valid UTF-8/,
    )
  })
})

describe('the update message', () => {
  test('a missing, null or empty "$t" means now', () => {
    for (const t of [undefined, null, '']) {
      assert.deepEqual(expandUpdate({ $t: t, a: '1' }), { values: [{ sequence: 'a', value: '1' }] }, String(t))
    }
  })

  test('numbers and booleans become text; names with a sub-folder are kept as given', () => {
    // an older rhizo-client update_multiple sent names relative to the controller, e.g. "status/processor_usage"
    assert.deepEqual(expandUpdate({ 'status/processor_usage': 12.5, flag: true }).values, [
      { sequence: 'status/processor_usage', value: '12.5' },
      { sequence: 'flag', value: 'true' },
    ])
  })

  test('parameters that are not an object, null values and empty names are refused', () => {
    assertInvalid(() => expandUpdate([1]), /must be an object/)
    assertInvalid(() => expandUpdate('a=1'), /must be an object/)
    assertInvalid(() => expandUpdate({ a: null }), /value of "a"/)
    assertInvalid(() => expandUpdate({ '': '1' }), /empty sequence name/)
  })

  test(`at most ${MAX_UPDATE_VALUES} sequences per update`, () => {
    const values = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`s${i}`, i]))
    assert.equal(expandUpdate(values(MAX_UPDATE_VALUES)).values.length, MAX_UPDATE_VALUES)
    assertInvalid(() => expandUpdate(values(MAX_UPDATE_VALUES + 1)), /at most 1000 sequences/)
  })
})

describe('a raw value published to a sequence topic', () => {
  test('the whole payload is the value, commas and JSON-looking text included', () => {
    assert.deepEqual(decodeSequencePayload(Buffer.from('21.5')), { value: '21.5' })
    assert.deepEqual(decodeSequencePayload('s,a,b,c'), { value: 's,a,b,c' })
    assert.deepEqual(decodeSequencePayload('{"on": true}'), { value: '{"on": true}' })
  })

  test('a trailing line end (echo | mosquitto_pub) is not part of the value', () => {
    assert.deepEqual(decodeSequencePayload('21.5\n'), { value: '21.5' })
    assert.deepEqual(decodeSequencePayload('line 1\nline 2\r\n'), { value: 'line 1\nline 2' })
  })

  test('empty payloads and bytes that are not UTF-8 are refused', () => {
    assertInvalid(() => decodeSequencePayload(Buffer.alloc(0)), /empty payload/)
    assertInvalid(() => decodeSequencePayload(Buffer.from([0xc3, 0x28])), /not valid UTF-8/)
  })
})

describe("rhizo's JSON websocket frames", () => {
  test("rhizo-client's frame (compact JSON plus newline) with a folder decodes to folder and message", () => {
    const frame = JSON.stringify({ type: 'custom', parameters: { a: 1 }, folder: '/acme/pi' }) + '\n'
    assert.deepEqual(decodeWebSocketMessage(frame), {
      folder: '/acme/pi',
      message: { kind: 'message', type: 'custom', parameters: { a: 1 } },
    })
  })

  test('update_sequence over the websocket is a store', () => {
    assert.deepEqual(
      decodeWebSocketMessage('{"type":"update_sequence","parameters":{"sequence":"log","value":"hi"}}'),
      {
        message: { kind: 'store', sequence: 'log', value: 'hi' },
      },
    )
  })

  test('a frame without a string type, or with a folder that is not a path, is refused', () => {
    assertInvalid(() => decodeWebSocketMessage('{"ping": {}}'), /needs a string "type"/)
    assertInvalid(() => decodeWebSocketMessage('{"type": "x", "folder": 42}'), /"folder" must be a folder path/)
  })
})

describe('announcing stored values', () => {
  test('encodeDisplay writes "d,<path>,<timestamp>,<value>" with an ISO UTC timestamp', () => {
    assert.equal(encodeDisplay('temperature', NOON, '21.5'), 'd,temperature,2024-05-01T12:00:00.123Z,21.5')
  })

  test('an announced line decodes back to the same display value, commas and line breaks included', () => {
    const value = 'WARNING: 3,4\nsecond line'
    assert.deepEqual(decodeFolderPayload(encodeDisplay('log', NOON, value)), [
      { kind: 'display', sequence: 'log', timestamp: NOON, value },
    ])
  })

  test('a path that would break the line format is refused', () => {
    assertInvalid(() => encodeDisplay('a,b', NOON, '1'), /without commas/)
    assertInvalid(() => encodeDisplay('', NOON, '1'), /without commas/)
    assertInvalid(() => encodeDisplay('t', new Date(NaN), '1'), /invalid date/)
  })
})

describe('timestamps', () => {
  test('every form rhizo emitted, and common ISO 8601 variants, parse to the same instant', () => {
    const cases: [unknown, string][] = [
      ['2024-05-01T12:00:00.123456 Z', '2024-05-01T12:00:00.123Z'], // rhizo-client
      ['2024-05-01T12:00:00 Z', '2024-05-01T12:00:00.000Z'], // rhizo-client, whole second
      ['2024-05-01T12:00:00.123456Z', '2024-05-01T12:00:00.123Z'], // rhizo-server
      ['2024-05-01T12:00:00Z', '2024-05-01T12:00:00.000Z'],
      ['2024-05-01T12:00:00.5Z', '2024-05-01T12:00:00.500Z'],
      ['2024-05-01T12:00:00.123999999Z', '2024-05-01T12:00:00.123Z'], // truncated to milliseconds
      ['2024-05-01T12:00:00', '2024-05-01T12:00:00.000Z'], // no zone: UTC, like rhizo's naive datetimes
      ['2024-05-01 12:00:00.25', '2024-05-01T12:00:00.250Z'],
      ['2024-05-01T14:00:00+02:00', '2024-05-01T12:00:00.000Z'],
      ['2024-05-01T07:30:00-0430', '2024-05-01T12:00:00.000Z'],
      ['2024-02-29T00:00:00Z', '2024-02-29T00:00:00.000Z'],
      ['2000-02-29T00:00:00Z', '2000-02-29T00:00:00.000Z'], // a leap year though divisible by 100
      ['1969-12-31T23:59:59-01:00', '1970-01-01T00:59:59.000Z'], // in range once in UTC
      [1714564800, '2024-05-01T12:00:00.000Z'], // JSON number: Unix seconds
      [1714564800.5, '2024-05-01T12:00:00.500Z'],
    ]
    for (const [input, expected] of cases) assert.equal(parseTimestamp(input).toISOString(), expected, String(input))
  })

  test('anything else is refused as invalid', () => {
    const bad: unknown[] = [
      '',
      'yesterday',
      '2024-05-01',
      '1714564800',
      '2024-05-01T12:00Z',
      '2024-13-01T00:00:00Z',
      '2023-02-29T00:00:00Z',
      '2024-05-01T24:00:00Z',
      '2024-05-01T12:00:60Z',
      '2024-05-01T12:00:00+00:00 Z',
      '2024-05-01T12:00:00+25:00',
      ' 2024-05-01T12:00:00Z',
      '1969-12-31T23:59:59Z',
      '0099-01-01T00:00:00Z',
      '1900-02-29T00:00:00Z',
      '2024-04-31T00:00:00Z',
      -1,
      1e15,
      Number.NaN,
      Infinity,
      null,
      undefined,
      true,
      {},
      [],
    ]
    for (const input of bad)
      assertInvalid(() => parseTimestamp(input), /timestamp|range|numeric/, JSON.stringify(input) ?? String(input))
  })

  test('formatTimestamp writes ISO 8601 UTC with a trailing Z, and parses back unchanged', () => {
    assert.equal(formatTimestamp(NOON), '2024-05-01T12:00:00.123Z')
    assert.equal(parseTimestamp(formatTimestamp(NOON)).getTime(), NOON.getTime())
    assertInvalid(() => formatTimestamp(new Date(NaN)), /invalid date/)
  })
})
