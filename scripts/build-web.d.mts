export function buildWeb(): Promise<boolean>
export function watchWeb(log?: { info?: (message: string) => void }): Promise<{ stop(): Promise<void> }>
