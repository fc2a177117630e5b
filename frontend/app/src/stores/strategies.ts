import { defineStore } from 'pinia'
import { computed, ref, shallowRef } from 'vue'
import { strategiesApi, type Strategy, type StrategyInput } from '@/api/strategies'
import type { RuntimeStatus, StrategyState } from '@/api/types'
import { stateOf } from '@/pages/dashboard/rows'

/** The user's strategies, and what their engines are doing (from /api/strategies/running). */
export const useStrategiesStore = defineStore('strategies', () => {
  const items = ref<Strategy[]>([])
  const loaded = ref(false)
  const error = ref<unknown>(null)
  /** The running list by strategy id: a strategy not in it is stopped (or has not reached an engine yet). */
  const runtime = shallowRef(new Map<number, RuntimeStatus>())

  const byId = computed(() => new Map(items.value.map((s) => [s.id, s])))

  async function load(): Promise<void> {
    try {
      items.value = await strategiesApi.list()
      loaded.value = true
      error.value = null
    } catch (caught) {
      error.value = caught
    }
  }

  async function loadRuntime(signal?: AbortSignal): Promise<void> {
    const running = await strategiesApi.running(signal)
    runtime.value = new Map(running.map((s) => [s.id, s]))
  }

  function stateOfStrategy(strategy: Strategy): StrategyState {
    const live = runtime.value.get(strategy.id)
    if (live) return stateOf(live)
    // Not on the running list yet: just started (the list lags a second), or stopped.
    return strategy.desired_state === 'running' ? 'starting' : 'stopped'
  }

  function upsert(strategy: Strategy): void {
    if (byId.value.has(strategy.id))
      items.value = items.value.map((s) => (s.id === strategy.id ? strategy : s))
    else items.value = [...items.value, strategy].sort((a, b) => a.name.localeCompare(b.name))
  }

  async function save(id: number | null, input: StrategyInput): Promise<Strategy> {
    const strategy = id === null ? await strategiesApi.create(input) : await strategiesApi.update(id, input)
    upsert(strategy)
    return strategy
  }

  async function remove(id: number): Promise<void> {
    await strategiesApi.remove(id)
    items.value = items.value.filter((s) => s.id !== id)
  }

  async function start(id: number): Promise<Strategy> {
    const strategy = await strategiesApi.start(id)
    upsert(strategy)
    return strategy
  }

  async function stop(id: number, cancelAll: boolean): Promise<Strategy> {
    const strategy = await strategiesApi.stop(id, cancelAll)
    upsert(strategy)
    return strategy
  }

  return {
    items,
    loaded,
    error,
    runtime,
    byId,
    load,
    loadRuntime,
    stateOf: stateOfStrategy,
    upsert,
    save,
    remove,
    start,
    stop,
  }
})
