import { defineStore } from 'pinia'
import { computed, ref, shallowRef } from 'vue'
import { ApiError } from '@/api'
import { accountsApi, type Account, type AccountInput } from '@/api/accounts'
import { exchangesApi, type ExchangeInfo, type ReplayDataset } from '@/api/exchanges'

/** The user's exchange accounts, and the exchanges an account can name (asked once per visit). */
export const useAccountsStore = defineStore('accounts', () => {
  const items = ref<Account[]>([])
  const loaded = ref(false)
  const loading = ref(false)
  /** Why the list could not be loaded (the page shows it with a retry). */
  const error = ref<string | null>(null)
  const exchanges = shallowRef<ExchangeInfo[]>([])
  const exchangesError = ref<string | null>(null)
  /** The candle data sets a paper account can replay. */
  const datasets = shallowRef<ReplayDataset[]>([])
  let exchangesAsked: Promise<void> | null = null

  const byId = computed(() => new Map(items.value.map((account) => [account.id, account])))

  async function load(): Promise<void> {
    loading.value = true
    try {
      items.value = await accountsApi.list()
      loaded.value = true
      error.value = null
    } catch (caught) {
      error.value = caught instanceof ApiError ? caught.detail : String(caught)
    } finally {
      loading.value = false
    }
  }

  /** The exchanges and the paper data sets: what the account form offers, asked together once per visit. */
  function loadExchanges(): Promise<void> {
    exchangesAsked ??= Promise.all([exchangesApi.list(), exchangesApi.datasets()])
      .then(([list, sets]) => {
        exchanges.value = list
        datasets.value = sets
        exchangesError.value = null
      })
      .catch((caught: unknown) => {
        exchangesAsked = null // a retry may work
        exchangesError.value = caught instanceof ApiError ? caught.detail : String(caught)
      })
    return exchangesAsked
  }

  function upsert(account: Account): void {
    const at = items.value.findIndex((a) => a.id === account.id)
    if (at === -1) items.value = [...items.value, account].sort((a, b) => a.name.localeCompare(b.name))
    else items.value = items.value.map((a) => (a.id === account.id ? account : a))
  }

  /** Create (id null) or edit; the API's 400 is thrown for the form to show. */
  async function save(id: number | null, input: AccountInput): Promise<Account> {
    const account = id === null ? await accountsApi.create(input) : await accountsApi.update(id, input)
    upsert(account)
    return account
  }

  async function remove(id: number): Promise<void> {
    await accountsApi.remove(id)
    items.value = items.value.filter((a) => a.id !== id)
  }

  return {
    items,
    loaded,
    loading,
    error,
    byId,
    exchanges,
    exchangesError,
    datasets,
    exchange: (id: string) => exchanges.value.find((e) => e.id === id),
    load,
    loadExchanges,
    save,
    remove,
  }
})
