// Tendril controllers SDK (work in progress: see issue 5).
export const SDK_VERSION = '0.1.0'
