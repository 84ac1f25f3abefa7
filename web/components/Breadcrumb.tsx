// Where a folder is: Home › org › folder › … as links, the last one the current page.
import { encodePath } from '../api.ts'

export function Breadcrumb({ path }: { path: string }) {
  const names = path.split('/').filter(Boolean)
  return (
    <nav aria-label="Breadcrumb" class="breadcrumb">
      <ol>
        <li>
          <a href="/">Home</a>
        </li>
        {names.map((name, i) => {
          const href = encodePath('/' + names.slice(0, i + 1).join('/'))
          const last = i === names.length - 1
          return (
            <li key={href}>
              {last ? (
                <a href={href} aria-current="page">
                  {name}
                </a>
              ) : (
                <a href={href}>{name}</a>
              )}
            </li>
          )
        })}
      </ol>
    </nav>
  )
}
