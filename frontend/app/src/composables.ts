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
