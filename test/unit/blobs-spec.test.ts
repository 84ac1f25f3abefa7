// Choosing a blob store from its spec: every documented form, and a clear error for anything else.
import assert from 'node:assert/strict'
import { join, resolve } from 'node:path'
import { describe, test } from 'node:test'
import { createBlobStore, FsBlobStore, MemoryBlobStore, MirrorBlobStore, S3BlobStore } from '../../core/blobs/index.ts'

const dataDir = '/srv/tendril'

describe('blob store specs', () => {
  test('fs alone means <dataDir>/blobs; fs:PATH names the directory', () => {
    assert.equal((createBlobStore('fs', dataDir) as FsBlobStore).root, join(dataDir, 'blobs'))
    assert.equal((createBlobStore('fs:/mnt/blobs', dataDir) as FsBlobStore).root, '/mnt/blobs')
    assert.equal((createBlobStore('fs:rel/blobs', dataDir) as FsBlobStore).root, resolve('rel/blobs'))
  })

  test('memory: is an in-process store', () => {
    assert.ok(createBlobStore('memory:', dataDir) instanceof MemoryBlobStore)
  })

  test('an s3:// URL gives the bucket, a prefix and the client options', async () => {
    const store = createBlobStore(
      's3://tendril-blobs/prod/eu?endpoint=http://127.0.0.1:9000&region=eu-west-1&forcePathStyle=true',
      dataDir,
    )
    assert.ok(store instanceof S3BlobStore)
    assert.deepEqual(store.location, {
      bucket: 'tendril-blobs',
      prefix: 'prod/eu/',
      endpoint: 'http://127.0.0.1:9000',
      region: 'eu-west-1',
      forcePathStyle: true,
    })
    assert.equal(store.keyOf('ab'.repeat(32)), `prod/eu/ab/ab/${'ab'.repeat(32)}`)
    await store.close()
    const bare = createBlobStore('s3://tendril-blobs', dataDir) as S3BlobStore
    assert.deepEqual(bare.location, {
      bucket: 'tendril-blobs',
      prefix: '',
      endpoint: undefined,
      region: undefined,
      forcePathStyle: false,
    })
    await bare.close()
  })

  test('mirror:A,B joins two stores, even when a path holds a comma', () => {
    const mirror = createBlobStore('mirror:fs:/a,b,memory:', dataDir)
    assert.ok(mirror instanceof MirrorBlobStore)
    assert.equal((mirror.stores[0] as FsBlobStore).root, '/a,b')
    assert.ok(mirror.stores[1] instanceof MemoryBlobStore)
  })

  test('malformed specs fail with a message that says what is wrong', () => {
    const cases: [string, RegExp][] = [
      ['', /unknown blob store/],
      ['ftp://host/x', /unknown blob store .*fs:PATH/],
      ['fs:', /needs a directory/],
      ['s3://', /not a valid|bucket name/],
      ['s3://UPPER', /bucket name/],
      ['s3://tendril-blobs?endpoint=ftp://x', /http/],
      ['s3://tendril-blobs?bucket=x', /unknown S3 option "bucket"/],
      ['s3://tendril-blobs?forcePathStyle=yes', /true or false/],
      ['s3://key:secret@tendril-blobs', /credentials/],
      ['mirror:fs', /exactly two/],
      ['mirror:fs,memory:,memory:', /exactly two/],
      ['mirror:fs,mirror:fs,memory:', /exactly two|nest/],
      ['mirror:fs,nonsense', /exactly two|unknown/],
    ]
    for (const [spec, message] of cases)
      assert.throws(() => createBlobStore(spec, dataDir), message, JSON.stringify(spec))
  })
})
