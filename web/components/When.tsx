// A moment as "3 min ago" with the full local time on hover, or a word for never (one form on every page).
import { localTime, timeAgo } from '../format.ts'

export function When({ at, never }: { at: string | null | undefined; never: string }) {
  if (!at) return <>{never}</>
  return (
    <time dateTime={at} title={localTime(at)}>
      {timeAgo(at)}
    </time>
  )
}
