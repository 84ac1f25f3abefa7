// Thumbnails with sharp: the longest side is bounded, the aspect ratio kept, small images are not
// enlarged, transparency is flattened for JPEG, and streams work like bytes.
import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { describe, test } from 'node:test'
import sharp from 'sharp'
import { makeThumbnail } from '../../core/images/thumbnails.ts'

const image = (width: number, height: number, format: 'jpeg' | 'png', alpha = false) =>
  sharp({
    create: {
      width,
      height,
      channels: alpha ? 4 : 3,
      background: alpha ? { r: 200, g: 30, b: 30, alpha: 0.5 } : { r: 20, g: 120, b: 200 },
    },
  })
    [format]()
    .toBuffer()

describe('makeThumbnail', () => {
  test('a landscape JPEG is scaled to 240 px wide, keeping its aspect ratio', async () => {
    const thumb = await makeThumbnail(await image(1200, 800, 'jpeg'), 240)
    assert.deepEqual([thumb.width, thumb.height, thumb.format], [240, 160, 'jpg'])
    const meta = await sharp(thumb.data).metadata()
    assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 240, 160])
  })

  test('a portrait PNG is bounded by its height and comes out as JPEG', async () => {
    const thumb = await makeThumbnail(await image(300, 1000, 'png'), 120)
    const meta = await sharp(thumb.data).metadata()
    assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 36, 120])
  })

  test('an image smaller than the bound keeps its size', async () => {
    const thumb = await makeThumbnail(await image(100, 50, 'jpeg'), 240)
    assert.deepEqual([thumb.width, thumb.height], [100, 50])
  })

  test('transparency is flattened onto white (JPEG has no alpha)', async () => {
    const thumb = await makeThumbnail(await image(400, 400, 'png', true), 120)
    const { data, info } = await sharp(thumb.data).raw().toBuffer({ resolveWithObject: true })
    assert.equal(info.channels, 3)
    // half-transparent red over white: red stays high, green and blue are lifted well above 30
    assert.ok(data[0]! > 200 && data[1]! > 100 && data[2]! > 100, `pixel ${[...data.subarray(0, 3)]}`)
  })

  test('a stream in small chunks gives the same result as bytes', async () => {
    const bytes = await image(1000, 500, 'jpeg')
    const chunks = Array.from({ length: Math.ceil(bytes.length / 100) }, (_, i) =>
      bytes.subarray(i * 100, (i + 1) * 100),
    )
    const thumb = await makeThumbnail(Readable.from(chunks), 240)
    assert.deepEqual([thumb.width, thumb.height], [240, 120])
  })

  test('bytes that are not an image are refused', async () => {
    await assert.rejects(makeThumbnail(Buffer.from('definitely not a jpeg'), 240))
    await assert.rejects(makeThumbnail(Readable.from([Buffer.from('nor is this')]), 240))
  })
})
