import { onBeforeUnmount, onMounted, ref, type Ref } from 'vue'

/** Date.now(), refreshed every `intervalMs`: ages ("12 s ago") and the stale mark move without a new request. */
export function useNow(intervalMs = 1000): Ref<number> {
  const now = ref(Date.now())
  let timer: ReturnType<typeof setInterval> | undefined
  onMounted(() => {
    timer = setInterval(() => (now.value = Date.now()), intervalMs)
  })
  onBeforeUnmount(() => clearInterval(timer))
  return now
}

/** Whether the viewport is phone-sized (the side nav becomes a drawer). */
export function useIsPhone(query = '(max-width: 767px)'): Ref<boolean> {
  const media = globalThis.matchMedia?.(query)
  const phone = ref(media?.matches ?? false)
  const update = (event: MediaQueryListEvent) => (phone.value = event.matches)
  onMounted(() => media?.addEventListener('change', update))
  onBeforeUnmount(() => media?.removeEventListener('change', update))
  return phone
}

export interface Poll {
  /** Date.now() of the last answer that got through; null before the first. */
  lastSuccess: Ref<number | null>
  /** The last failure, cleared by the next success. */
  error: Ref<unknown>
  /** Ask now (after a retry button, or when the tab shows again). */
  refresh: () => Promise<void>
}

/**
 * Call `load` every `intervalMs`, one call at a time (the next waits for the previous answer, so a slow server is
 * never asked twice at once), paused while the tab is hidden and resumed at once when it shows.
 */
export function usePoll(load: (signal: AbortSignal) => Promise<void>, intervalMs: number): Poll {
  const lastSuccess = ref<number | null>(null)
  const error = ref<unknown>(null)
  let timer: ReturnType<typeof setTimeout> | undefined
  let controller: AbortController | undefined
  let stopped = false
  let inFlight: Promise<void> | null = null

  function schedule(): void {
    clearTimeout(timer)
    if (!stopped && globalThis.document?.visibilityState !== 'hidden') timer = setTimeout(refresh, intervalMs)
  }

  function refresh(): Promise<void> {
    if (inFlight) return inFlight
    clearTimeout(timer)
    controller = new AbortController()
    inFlight = load(controller.signal)
      .then(() => {
        lastSuccess.value = Date.now()
        error.value = null
      })
      .catch((reason: unknown) => {
        if ((reason as Error)?.name !== 'AbortError') error.value = reason
      })
      .finally(() => {
        inFlight = null
        schedule()
      })
    return inFlight
  }

  const onVisibility = () => {
    if (document.visibilityState === 'visible') void refresh()
  }
  onMounted(() => {
    document.addEventListener('visibilitychange', onVisibility)
    void refresh()
  })
  onBeforeUnmount(() => {
    stopped = true
    clearTimeout(timer)
    controller?.abort()
    document.removeEventListener('visibilitychange', onVisibility)
  })
  return { lastSuccess, error, refresh }
}
