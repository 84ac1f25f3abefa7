// /metrics under `tendril serve --workers`: a scrape lands on any one worker, so the worker asks the
// primary, which gathers every worker's registry (prom-client's AggregatorRegistry, over the cluster's
// IPC channel) and answers with all of them. Each worker's series keep their own broker_id label.
import cluster, { type Worker } from 'node:cluster'
import { randomUUID } from 'node:crypto'
import { AggregatorRegistry, type Registry } from 'prom-client'

const REQUEST = 'tendril:metrics-request'
const ANSWER = 'tendril:metrics'
/** prom-client gives up on silent workers after 5 s; the asking worker waits a little longer. */
const WAIT_MS = 6000

type Answer = { type: typeof ANSWER; id: string; text?: string; error?: string }

/** In the primary: answers the workers' requests with the metrics of all of them. */
export function answerMetricsRequests(): void {
  const aggregator = new AggregatorRegistry()
  cluster.on('message', (worker: Worker, message: { type?: string; id?: string }) => {
    if (message?.type !== REQUEST) return
    const reply = (answer: Omit<Answer, 'type' | 'id'>) =>
      worker.isConnected() && worker.send({ type: ANSWER, id: message.id, ...answer })
    aggregator.clusterMetrics().then(
      (text) => reply({ text }),
      (err: Error) => reply({ error: err.message }),
    )
  })
}

/** In a worker: hands its registry to the primary's gatherings; returns how to ask for them all. */
export function metricsOfAllWorkers(registry: Registry): () => Promise<string> {
  AggregatorRegistry.setRegistries([registry])
  new AggregatorRegistry() // answers the primary's requests for this worker's metrics
  return () =>
    new Promise((resolve, reject) => {
      const id = randomUUID()
      const timer = setTimeout(() => settle({ error: 'the primary did not answer' }), WAIT_MS)
      const onMessage = (message: Answer) => message?.type === ANSWER && message.id === id && settle(message)
      function settle(answer: Omit<Answer, 'type' | 'id'>) {
        clearTimeout(timer)
        process.off('message', onMessage)
        if (answer.text !== undefined) resolve(answer.text)
        else reject(new Error(`metrics of the workers not gathered: ${answer.error}`))
      }
      process.on('message', onMessage)
      process.send!({ type: REQUEST, id })
    })
}
