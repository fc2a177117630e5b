/**
 * The grid preview, redrawn as the parameters change: one request once the user pauses typing (debounced), the
 * request before it aborted, and an answer that arrives after a newer question ignored, so the chart never shows
 * the ladder of parameters that are no longer in the form. A 400 gives its messages per field, for the form to
 * show beside each field before the user even saves.
 */
import { onScopeDispose, ref, shallowRef, watch, type Ref } from 'vue'
import { ApiError, type FieldErrors } from '@/api'
import { strategiesApi, type Preview, type PreviewInput } from '@/api/strategies'

export type PreviewFetch = (input: PreviewInput, signal: AbortSignal) => Promise<Preview>

export interface PreviewOptions {
  delayMs?: number
  fetch?: PreviewFetch
}

export function usePreview(request: () => PreviewInput | null, options: PreviewOptions = {}) {
  const delayMs = options.delayMs ?? 400
  const fetchPreview = options.fetch ?? strategiesApi.preview
  const preview = shallowRef<Preview | null>(null)
  const loading = ref(false)
  /** Why there is no preview: the parameters (fieldErrors) or something else (the message). */
  const error = ref<string | null>(null)
  const fieldErrors: Ref<FieldErrors> = ref({})
  let timer: ReturnType<typeof setTimeout> | undefined
  let controller: AbortController | undefined
  let asked = 0
  let lastKey = ''

  async function run(input: PreviewInput): Promise<void> {
    controller?.abort()
    const mine = new AbortController()
    controller = mine
    const ticket = ++asked
    loading.value = true
    try {
      const answer = await fetchPreview(input, mine.signal)
      if (ticket !== asked) return
      preview.value = answer
      error.value = null
      fieldErrors.value = {}
    } catch (caught) {
      if (ticket !== asked || (caught as Error)?.name === 'AbortError') return
      // A ladder for other parameters would mislead: the chart empties and says why.
      preview.value = null
      if (caught instanceof ApiError && caught.status === 400 && Object.keys(caught.fields).length) {
        fieldErrors.value = caught.fields
        error.value = null
      } else {
        fieldErrors.value = {}
        error.value = caught instanceof ApiError ? caught.detail : String(caught)
      }
    } finally {
      if (ticket === asked) loading.value = false
    }
  }

  function schedule(input: PreviewInput | null): void {
    const key = JSON.stringify(input)
    // The getter answers a new object on every change of the form, even of a field the preview ignores.
    if (key === lastKey) return
    lastKey = key
    clearTimeout(timer)
    if (input === null) {
      controller?.abort()
      asked++
      preview.value = null
      error.value = null
      fieldErrors.value = {}
      loading.value = false
      return
    }
    // Shown at once, so the chart dims while the user types rather than after the pause.
    loading.value = true
    timer = setTimeout(() => void run(input), delayMs)
  }

  watch(request, schedule, { deep: true, immediate: true })
  onScopeDispose(() => {
    clearTimeout(timer)
    controller?.abort()
  })

  return {
    preview,
    loading,
    error,
    fieldErrors,
    /** Ask again now (a retry after an error). */
    refresh: () => {
      const input = request()
      lastKey = JSON.stringify(input)
      clearTimeout(timer)
      if (input) void run(input)
    },
  }
}
