import { ref } from 'vue'
import { ReauthenticationRequired, type Flow } from '@/api/allauth'

export interface ReauthRequest {
  flows: Flow[]
  resolve: (confirmed: boolean) => void
}

/**
 * Runs a Security page action; when allauth wants the user to confirm it's them first (401 with the ways to do so),
 * asks through the reauthentication dialog (`request`) and runs the action again once they have.
 */
export function useReauth() {
  const request = ref<ReauthRequest | null>(null)

  async function guarded<T>(action: () => Promise<T>): Promise<T | undefined> {
    try {
      return await action()
    } catch (error) {
      if (!(error instanceof ReauthenticationRequired)) throw error
      const confirmed = await new Promise<boolean>((resolve) => {
        request.value = { flows: error.flows, resolve }
      })
      request.value = null
      return confirmed ? await action() : undefined
    }
  }

  return { request, guarded }
}
