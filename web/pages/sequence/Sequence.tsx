// A sequence's page: the explorer for its kind (numeric chart, text log, image filmstrip) and its settings.
import type { Described } from '../../api.ts'
import { Breadcrumb } from '../../components/Breadcrumb.tsx'
import { encodePath } from '../../api.ts'
import { Images } from './Images.tsx'
import { NumericView } from './Numeric.tsx'
import { Settings } from './Settings.tsx'
import { TextLog } from './TextLog.tsx'
import './sequence.css'

const KIND: Record<number, string> = { 1: 'Numeric sequence', 2: 'Text sequence', 3: 'Image sequence' }

export function SequencePage({ path, meta }: { path: string; meta: Described }) {
  const dataType = Number(meta.system_attributes?.data_type ?? 1)
  return (
    <>
      <Breadcrumb path={path} />
      <h1>
        {meta.name} <span class="kind-note">{KIND[dataType] ?? 'Sequence'}</span>
      </h1>
      {dataType === 2 ? (
        <TextLog path={path} meta={meta} />
      ) : dataType === 3 ? (
        <Images path={path} meta={meta} />
      ) : (
        <NumericView path={path} meta={meta} />
      )}
      <Settings path={path} meta={meta} />
      <p>
        <a href={encodePath(path.slice(0, path.lastIndexOf('/')))}>Back to the folder</a>
      </p>
    </>
  )
}
