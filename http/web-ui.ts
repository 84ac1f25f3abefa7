// The browser UI: its bundles under /assets/ (content-hashed names, cached for good) and, for any
// other page a browser asks for (Accept: text/html), the one app shell that loads them. The shell
// names its bundles from web/dist/manifest.json, written by scripts/build-web.mjs.
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import express, { Router, type Request } from 'express'

export const WEB_DIST = fileURLToPath(new URL('../web/dist', import.meta.url))

interface Manifest {
  scripts: string[]
  styles: string[]
}

/** Paths that are never a page of the UI: the API, the bundles and the sockets keep their own answers. */
const NOT_PAGES = /^\/(api|assets|mqtt|health)(\/|$)/

const escapeAttribute = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;')

function shellHtml(manifest: Manifest): string {
  const styles = manifest.styles.map((href) => `<link rel="stylesheet" href="/${escapeAttribute(href)}">`).join('\n')
  const scripts = manifest.scripts
    .map((src) => `<script type="module" src="/${escapeAttribute(src)}"></script>`)
    .join('\n')
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Tendril</title>
<link rel="icon" href="data:,">
${styles}
${scripts}
</head>
<body>
<div id="app"><noscript>Tendril's web UI needs JavaScript.</noscript></div>
</body>
</html>
`
}

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Tendril</title></head><body>
<h1>The web UI is not built</h1><p>Run <code>npm install</code> (or <code>node scripts/build-web.mjs</code>) in Tendril's folder, then reload.</p></body></html>`

/** The shell, read again only when the manifest changes (a rebuild with `serve --dev`). */
function shellReader(dist: string) {
  const manifestPath = join(dist, 'manifest.json')
  let cached: { mtimeMs: number; html: string } | undefined
  return (): string | undefined => {
    let mtimeMs: number
    try {
      mtimeMs = statSync(manifestPath).mtimeMs
    } catch {
      return undefined
    }
    if (cached?.mtimeMs !== mtimeMs)
      cached = { mtimeMs, html: shellHtml(JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest) }
    return cached.html
  }
}

/** A browser navigating: a GET for HTML (curl and API clients send no text/html and keep the JSON 404). */
const wantsPage = (req: Request) =>
  (req.method === 'GET' || req.method === 'HEAD') &&
  !NOT_PAGES.test(req.path) &&
  (req.get('accept') ?? '').includes('text/html')

export function webUiRoutes(dist = WEB_DIST): Router {
  const router = Router()
  router.use(
    '/assets',
    express.static(join(dist, 'assets'), {
      immutable: true,
      maxAge: '365d',
      index: false,
      redirect: false,
      fallthrough: true,
    }),
  )
  const shell = shellReader(dist)
  router.use((req, res, next) => {
    if (!wantsPage(req)) return next()
    const html = shell()
    res.set('cache-control', 'no-cache') // a new build's names are picked up on the next load
    res.set('vary', 'accept')
    if (html === undefined) return void res.status(503).type('html').send(NOT_BUILT)
    res.type('html').send(html)
  })
  return router
}
